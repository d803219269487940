/**
 * The one place where a Lambda function's secure defaults live: Node.js 24 on arm64, a minified ESM bundle, explicit
 * memory and timeout, its own encrypted log group with retention, X-Ray active tracing, a dedicated role that starts
 * with nothing but its own log stream, and environment variables restricted to the names declared in
 * functions/shared/environment.ts and tables.ts (so no secret can be smuggled into a function's configuration).
 */
import { fileURLToPath } from 'node:url';
import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc } from 'aws-cdk-lib/aws-ec2';
import { Peer, Port, SecurityGroup, SubnetType } from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../../functions/shared/environment.ts';
import { TABLE_KEYS, tableEnvVar } from '../../../functions/shared/tables.ts';

/** Repository root: entries, the lock file and esbuild's working directory are resolved from here. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const LOG_RETENTION = RetentionDays.ONE_MONTH;

/** Some bundled dependencies still call `require`; ESM output needs it recreated. */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

const ALLOWED_ENV_NAMES: ReadonlySet<string> = new Set([
  ...Object.values(ENV).filter((name) => !name.endsWith('_')),
  ...TABLE_KEYS.map((key) => tableEnvVar(key)),
]);

function isAllowedEnvName(name: string): boolean {
  // State-machine ARNs: the declared prefix followed by the workflow name in SCREAMING_SNAKE.
  return ALLOWED_ENV_NAMES.has(name) || new RegExp(`^${ENV.stateMachineArnPrefix}[A-Z_]+$`).test(name);
}

export interface SecureFunctionProps {
  /** Entry relative to the repository root, e.g. `functions/processor/handler.ts`. */
  readonly entry: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly logKey: IKey;
  /** Environment variables by their declared names only. */
  readonly environment?: Readonly<Record<string, string>>;
  /** Functions that call Virtuous run in the VPC's private subnets so their egress leaves through the NAT's EIPs. */
  readonly vpc?: IVpc;
  readonly reservedConcurrentExecutions?: number;
  /** For asynchronously invoked functions: where an event goes after Lambda's own retries fail. */
  readonly asyncFailureQueue?: IQueue;
}

export class SecureFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;
  readonly securityGroup: ISecurityGroup | undefined;

  constructor(scope: Construct, id: string, props: SecureFunctionProps) {
    super(scope, id);
    const environment = { ...(props.environment ?? {}) };
    for (const name of Object.keys(environment)) {
      if (!isAllowedEnvName(name)) {
        throw new Error(`${this.node.path}: environment variable ${name} is not declared in functions/shared`);
      }
    }

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: LOG_RETENTION,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${id}: only what its code calls`,
    });
    this.logGroup.grantWrite(this.role);

    if (props.vpc) {
      this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
        vpc: props.vpc,
        description: `${id}: HTTPS out only (Virtuous through NAT, AWS services through endpoints)`,
        allowAllOutbound: false,
      });
      this.securityGroup.addEgressRule(Peer.anyIpv4(), Port.tcp(443), 'HTTPS to Virtuous and AWS endpoints');
      // Lambda's Hyperplane ENIs are created with the execution role; EC2 has no resource-level scoping for these.
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'VpcNetworkInterfaces',
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeSubnets',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: ['*'],
        }),
      );
    }

    // Lambda writes failed asynchronous events to the DLQ with this role: encrypted queues need the key as well.
    props.asyncFailureQueue?.encryptionMasterKey?.grant(this.role, 'kms:GenerateDataKey', 'kms:Decrypt');

    this.function = new NodejsFunction(this, 'Function', {
      entry: `${PROJECT_ROOT}${props.entry}`,
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      description: props.description,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      tracing: Tracing.ACTIVE,
      environment,
      environmentEncryption: props.logKey,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      deadLetterQueueEnabled: props.asyncFailureQueue !== undefined ? true : undefined,
      deadLetterQueue: props.asyncFailureQueue,
      vpc: props.vpc,
      vpcSubnets: props.vpc ? { subnetType: SubnetType.PRIVATE_WITH_EGRESS } : undefined,
      securityGroups: this.securityGroup ? [this.securityGroup] : undefined,
      bundling: {
        format: OutputFormat.ESM,
        minify: true,
        sourceMap: false,
        target: 'node24',
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
      },
    });
  }
}

// biome-ignore-all lint/suspicious/noExplicitAny: CloudFormation template JSON is untyped; these helpers and assertions walk it structurally
/**
 * Turns the synthesized template's IAM documents into plain policies for the IAM simulator: intrinsic functions
 * are resolved to the fixed ARNs the resources would have in the test account and region.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { type CfnElement, Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

export const ACCOUNT = '111111111111';
export const REGION = 'us-east-1';
export const PARTITION = 'aws';

export type SimulationOutcome = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

/** One request to the IAM simulator in the test account, without service or resource control policies. */
export interface SimulationRequest {
  readonly principal: string;
  readonly identityPolicies: { name: string; policy: unknown }[];
  readonly action: string;
  readonly resource: string;
  readonly context?: Record<string, string | string[]>;
  readonly resourcePolicy?: unknown;
  readonly sessionPolicy?: unknown;
}

/** What IAM decides for the request; a request the simulator cannot evaluate fails the test instead. */
export async function simulate(request: SimulationRequest): Promise<SimulationOutcome> {
  const result = await runSimulation(
    {
      identityPolicies: request.identityPolicies,
      sessionPolicy: request.sessionPolicy,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: request.resourcePolicy,
      request: {
        principal: request.principal,
        action: request.action,
        resource: { accountId: ACCOUNT, resource: request.resource },
        contextVariables: request.context ?? {},
      },
    },
    {},
  );
  if (result.resultType === 'error') throw new Error(`simulation error: ${result.errors.message}`);
  return result.overallResult as SimulationOutcome;
}

/** The logical id a construct (or its default CloudFormation resource) has in the synthesized template. */
export function logicalId(construct: IConstruct): string {
  return Stack.of(construct).getLogicalId((construct.node.defaultChild ?? construct) as CfnElement);
}

type Template = { Resources: Record<string, { Type: string; Properties?: any }> };

export class TemplatePolicies {
  constructor(private readonly template: Template) {}

  resource(logicalId: string): { Type: string; Properties?: any } {
    const resource = this.template.Resources[logicalId];
    if (!resource) throw new Error(`no resource ${logicalId}`);
    return resource;
  }

  roleName(logicalId: string): string {
    return (this.resource(logicalId).Properties?.RoleName as string | undefined) ?? logicalId;
  }

  roleArn(logicalId: string): string {
    return `arn:${PARTITION}:iam::${ACCOUNT}:role/${this.roleName(logicalId)}`;
  }

  /** Every identity policy attached to a role: its inline Policies and every AWS::IAM::Policy naming it. */
  identityPolicies(roleLogicalId: string): { name: string; policy: any }[] {
    const role = this.resource(roleLogicalId);
    const policies: { name: string; policy: any }[] = [];
    for (const inline of (role.Properties?.Policies ?? []) as any[]) {
      policies.push({ name: inline.PolicyName, policy: this.resolve(inline.PolicyDocument) });
    }
    if ((role.Properties?.ManagedPolicyArns ?? []).length > 0) {
      throw new Error(`${roleLogicalId} has managed policies: the simulation would not see them`);
    }
    for (const [id, resource] of Object.entries(this.template.Resources)) {
      if (resource.Type !== 'AWS::IAM::Policy') continue;
      const roles = (resource.Properties?.Roles ?? []) as any[];
      if (roles.some((r) => r.Ref === roleLogicalId)) {
        policies.push({ name: id, policy: this.resolve(resource.Properties?.PolicyDocument) });
      }
    }
    return policies;
  }

  trustPolicy(roleLogicalId: string): any {
    return this.resolve(this.resource(roleLogicalId).Properties?.AssumeRolePolicyDocument);
  }

  keyPolicy(keyLogicalId: string): any {
    return this.resolve(this.resource(keyLogicalId).Properties?.KeyPolicy);
  }

  keyArn(keyLogicalId: string): string {
    return `arn:${PARTITION}:kms:${REGION}:${ACCOUNT}:key/${keyLogicalId.toLowerCase()}`;
  }

  resolve(value: any): any {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    if (value === null || typeof value !== 'object') return value;
    const keys = Object.keys(value);
    if (keys.length === 1) {
      const [key] = keys as [string];
      const arg = value[key];
      if (key === 'Ref') return this.ref(arg);
      if (key === 'Fn::GetAtt') return this.getAtt(arg[0], arg[1]);
      if (key === 'Fn::Join') return (this.resolve(arg[1]) as unknown[]).map(String).join(arg[0]);
      if (key === 'Fn::Select') return (this.resolve(arg[1]) as unknown[])[Number(this.resolve(arg[0]))];
      if (key === 'Fn::Split') return String(this.resolve(arg[1])).split(arg[0]);
      if (key.startsWith('Fn::')) throw new Error(`unresolved intrinsic ${key}`);
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.resolve(v)]));
  }

  private ref(name: string): string {
    const pseudo: Record<string, string> = {
      'AWS::Partition': PARTITION,
      'AWS::Region': REGION,
      'AWS::AccountId': ACCOUNT,
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackName': 'VirtuousIntegration-staging',
    };
    if (pseudo[name]) return pseudo[name];
    const resource = this.resource(name);
    const props = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::SNS::Topic':
        return `arn:${PARTITION}:sns:${REGION}:${ACCOUNT}:${props.TopicName ?? name}`;
      case 'AWS::StepFunctions::StateMachine':
        return `arn:${PARTITION}:states:${REGION}:${ACCOUNT}:stateMachine:${props.StateMachineName ?? name}`;
      case 'AWS::SQS::Queue':
        return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${props.QueueName ?? name}`;
      case 'AWS::IAM::Role':
        return this.roleName(name);
      case 'AWS::DynamoDB::Table':
        return props.TableName ?? name;
      case 'AWS::S3::Bucket':
        return (props.BucketName ?? name).toLowerCase();
      case 'AWS::KMS::Key':
        return name.toLowerCase();
      case 'AWS::ApiGateway::RestApi':
        return name.toLowerCase();
      default:
        return name;
    }
  }

  private getAtt(name: string, attribute: string): string {
    const resource = this.resource(name);
    const props = resource.Properties ?? {};
    if (attribute !== 'Arn') {
      if (resource.Type === 'AWS::SQS::Queue' && attribute === 'QueueName') return props.QueueName ?? name;
      if (resource.Type === 'AWS::SQS::Queue' && attribute === 'QueueUrl') return this.ref(name);
      if (resource.Type === 'AWS::EC2::EIP') return `eip-${name}`;
      return `${name}.${attribute}`;
    }
    switch (resource.Type) {
      case 'AWS::IAM::Role':
        return this.roleArn(name);
      case 'AWS::KMS::Key':
        return this.keyArn(name);
      case 'AWS::DynamoDB::Table':
        return `arn:${PARTITION}:dynamodb:${REGION}:${ACCOUNT}:table/${props.TableName ?? name}`;
      case 'AWS::SQS::Queue':
        return `arn:${PARTITION}:sqs:${REGION}:${ACCOUNT}:${props.QueueName ?? name}`;
      case 'AWS::Lambda::Function':
        return `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:function:${props.FunctionName ?? name}`;
      case 'AWS::S3::Bucket':
        return `arn:${PARTITION}:s3:::${(props.BucketName ?? name).toLowerCase()}`;
      case 'AWS::Logs::LogGroup':
        return `arn:${PARTITION}:logs:${REGION}:${ACCOUNT}:log-group:${props.LogGroupName ?? name}:*`;
      case 'AWS::KinesisFirehose::DeliveryStream':
        return `arn:${PARTITION}:firehose:${REGION}:${ACCOUNT}:deliverystream/${props.DeliveryStreamName ?? name}`;
      case 'AWS::SNS::Topic':
      case 'AWS::StepFunctions::StateMachine':
        return this.ref(name);
      default:
        throw new Error(`no ARN model for ${resource.Type} (${name})`);
    }
  }
}

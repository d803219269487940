/**
 * The workers' network: a two-AZ VPC whose private subnets reach the internet only through one NAT gateway per AZ,
 * each on an Elastic IP, so the egress addresses customers allowlist in Virtuous never change by accident.
 * AWS-service traffic stays on VPC endpoints; flow logs are kept.
 *
 * By default the Elastic IPs are created here, with a retain policy: stack updates keep them, and deleting the stack
 * leaves them allocated (orphaned, still billed) instead of releasing them. A new stack never picks them up by
 * itself: it would allocate new addresses. To keep the customers' allowlisted addresses across a recreated stack,
 * give it the existing allocations (context `egressIpAllocations`); the stack then creates no Elastic IP and puts
 * its NAT gateways on those (docs/runbooks/egress-ip-change.md).
 */
import { CfnOutput, CfnResource, RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  CfnEIP,
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  InterfaceVpcEndpointAwsService,
  IpAddresses,
  NatProvider,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { StringListParameter } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { LOG_RETENTION } from './secure-function.ts';

export const AZ_COUNT = 2;
export const VPC_CIDR = '10.40.0.0/16';

/** An Elastic IP allocated before this stack (kept from a stack that was deleted, or allocated by hand). */
export interface EgressIpAllocation {
  readonly allocationId: string;
  /** Its public address: what the outputs and the SSM parameter publish to customers. */
  readonly publicIp: string;
}

export interface NetworkProps {
  readonly environmentName: string;
  readonly logKey: IKey;
  /** One per availability zone, in order: the NAT gateways use these instead of new Elastic IPs. */
  readonly existingEgressIps?: readonly EgressIpAllocation[];
}

export class Network extends Construct {
  readonly vpc: Vpc;
  /** The Elastic IPs this stack created; empty when it was given existing allocations. */
  readonly egressIps: readonly CfnEIP[];
  readonly flowLogGroup: LogGroup;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);

    const existing = props.existingEgressIps;
    if (existing !== undefined && existing.length !== AZ_COUNT) {
      throw new Error(`egressIpAllocations must name exactly ${AZ_COUNT} Elastic IPs, one per availability zone`);
    }
    this.egressIps =
      existing !== undefined
        ? []
        : Array.from({ length: AZ_COUNT }, (_, index) => {
            const eip = new CfnEIP(this, `EgressIp${index + 1}`, {
              domain: 'vpc',
              tags: [{ key: 'Name', value: `virtuous-${props.environmentName}-egress-${index + 1}` }],
            });
            // The addresses are part of the customer documentation: deleting the stack must not release them (a
            // later stack can take them over through existingEgressIps).
            eip.applyRemovalPolicy(RemovalPolicy.RETAIN);
            return eip;
          });
    const allocationIds = existing?.map((ip) => ip.allocationId) ?? this.egressIps.map((eip) => eip.attrAllocationId);
    const publicIps = existing?.map((ip) => ip.publicIp) ?? this.egressIps.map((eip) => eip.ref);

    this.flowLogGroup = new LogGroup(this, 'FlowLogs', {
      retention: LOG_RETENTION,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.vpc = new Vpc(this, 'Vpc', {
      ipAddresses: IpAddresses.cidr(VPC_CIDR),
      maxAzs: AZ_COUNT,
      natGateways: AZ_COUNT,
      natGatewayProvider: NatProvider.gateway({ eipAllocationIds: allocationIds }),
      subnetConfiguration: [
        // Public subnets hold only the NAT gateways: nothing launched there gets a public address by default.
        { name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'workers', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
      ],
      flowLogs: {
        all: {
          destination: FlowLogDestination.toCloudWatchLogs(this.flowLogGroup),
          trafficType: FlowLogTrafficType.ALL,
        },
      },
    });

    this.ownRestrictDefaultSecurityGroupLogs(props.logKey);

    this.vpc.addGatewayEndpoint('DynamoDb', { service: GatewayVpcEndpointAwsService.DYNAMODB });
    this.vpc.addGatewayEndpoint('S3', { service: GatewayVpcEndpointAwsService.S3 });
    const interfaceEndpoints: Record<string, InterfaceVpcEndpointAwsService> = {
      Sqs: InterfaceVpcEndpointAwsService.SQS,
      SecretsManager: InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      Sts: InterfaceVpcEndpointAwsService.STS,
      Kms: InterfaceVpcEndpointAwsService.KMS,
      Logs: InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
      StepFunctions: InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
      Sns: InterfaceVpcEndpointAwsService.SNS,
    };
    // One security group for every interface endpoint: HTTPS from inside the VPC only, nothing out.
    const endpointSecurityGroup = new SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc: this.vpc,
      description: 'AWS service endpoints: HTTPS from the VPC only',
      allowAllOutbound: false,
    });
    endpointSecurityGroup.addIngressRule(Peer.ipv4(VPC_CIDR), Port.tcp(443), 'HTTPS from the workers');
    for (const [name, service] of Object.entries(interfaceEndpoints)) {
      this.vpc.addInterfaceEndpoint(name, {
        service,
        privateDnsEnabled: true,
        open: false,
        securityGroups: [endpointSecurityGroup],
        subnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      });
    }

    new StringListParameter(this, 'EgressIpsParameter', {
      parameterName: `/virtuous/${props.environmentName}/egress-ips`,
      description: 'Public IPv4 addresses the workers use to call Virtuous (customers allowlist these)',
      stringListValue: publicIps,
    });
    publicIps.forEach((ip, index) => {
      new CfnOutput(Stack.of(this), `EgressIp${index + 1}`, {
        value: ip,
        description: `Egress IP ${index + 1} of ${AZ_COUNT}: give it to customers to allowlist`,
      });
    });
  }

  /**
   * The VPC's default security group is stripped of its rules by a CDK custom resource (its Lambda runs once per
   * deployment). Its log group is created here first, with retention and encryption, instead of implicitly by
   * Lambda without either; the provider runs on arm64 like every other function.
   */
  private ownRestrictDefaultSecurityGroupLogs(logKey: IKey): void {
    const stack = Stack.of(this);
    const provider = stack.node.tryFindChild('Custom::VpcRestrictDefaultSGCustomResourceProvider');
    const handler = provider?.node.tryFindChild('Handler');
    const customResource = this.vpc.node.tryFindChild('RestrictDefaultSecurityGroupCustomResource');
    if (!(handler instanceof CfnResource) || !customResource) return;
    handler.addPropertyOverride('Architectures', ['arm64']);
    const logGroup = new LogGroup(this, 'RestrictDefaultSecurityGroupLogs', {
      logGroupName: `/aws/lambda/${handler.ref}`,
      retention: LOG_RETENTION,
      encryptionKey: logKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    customResource.node.addDependency(logGroup);
  }
}

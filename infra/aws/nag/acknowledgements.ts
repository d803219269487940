/**
 * Every cdk-nag and Control Tower (cfn-guard) finding this stack accepts, each with the specific reason it is
 * acceptable here, placed on the narrowest construct that produces it. docs/security/cdk-nag-acknowledgements.md
 * summarizes them for reviewers. A finding that appears and is not listed here fails synthesis (and the infra tests
 * name it).
 */
import { type CfnElement, Stack, Token, Validations } from 'aws-cdk-lib';
import { CfnTable } from 'aws-cdk-lib/aws-dynamodb';
import { CfnLogGroup } from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';
import { LOG_RETENTION } from '../constructs/secure-function.ts';
import { WORKER_SPECS, type WorkerName } from '../constructs/workers.ts';
import type { IntegrationStack } from '../integration-stack.ts';
import { controlTowerAcknowledgementId } from './control-tower.ts';

function ack(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** Acknowledges a Control Tower proactive control (`CT.S3.PR.9`) for the findings at or below `scope`. */
function ackControl(scope: IConstruct, controlId: string, reason: string): void {
  ack(scope, controlTowerAcknowledgementId(controlId), reason);
}

/** `<LogicalId.Arn>` as cdk-nag prints an ARN reference in a finding id. */
function arnRef(construct: IConstruct): string {
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  return `<${Stack.of(construct).getLogicalId(element)}.Arn>`;
}

const KMS_GRANT_WILDCARDS =
  'CDK grants for KMS-encrypted tables, queues and topics use kms:GenerateDataKey* / kms:ReEncrypt* on the one data key ARN only; the wildcard covers the data-key variants DynamoDB/SQS/SNS request, not other keys';

export function acknowledgeStackFindings(stack: IntegrationStack): void {
  // Whole-design decisions.
  ack(
    stack,
    'NIST.800.53.R5-IAMNoInlinePolicy',
    'Each role gets its own policy generated from least-privilege grants on specific resources; shared customer-managed policies would be broader and reused across roles',
  );
  ack(
    stack,
    'NIST.800.53.R5-LambdaConcurrency',
    'Concurrency is bounded where it matters without reserving account capacity: the processor by the SQS event source maxConcurrency, the API by stage/method throttling and WAF, scheduled functions by one invocation per schedule',
  );

  // Ingress.
  const { ingress } = stack;
  ack(
    ingress.api,
    'AwsSolutions-APIG2',
    'Every method has a request validator for its path parameter and required headers; bodies are deliberately not validated by API Gateway because the signature is computed over the exact raw bytes, which the verifier checks (and it answers 400/413/415 itself)',
  );
  for (const provider of ['virtuous', 'stripe']) {
    const method = ingress.api.root.resourceForPath(`/webhooks/${provider}/{customerId}`).node.findChild('POST');
    const reason = `Webhook senders (${provider}) cannot use IAM or Cognito: each delivery is authenticated by an HMAC-SHA256 signature over the raw body with the customer's webhook secret, checked in the verifier before anything is enqueued`;
    ack(method, 'AwsSolutions-APIG4', reason);
    ack(method, 'AwsSolutions-COG4', reason);
  }
  ack(
    ingress.api.root.resourceForPath('/lifecycle/{proxy+}').node.findChild('ANY'),
    'AwsSolutions-COG4',
    'The lifecycle API is called by partner platform backends with AWS SigV4 (authorizationType AWS_IAM): machine callers, no user pool',
  );
  const cloudWatchRole = ingress.api.node.tryFindChild('CloudWatchRole');
  if (cloudWatchRole) {
    ack(
      cloudWatchRole,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      'The account-level API Gateway logging role needs exactly the AWS-maintained push-to-CloudWatch policy; API Gateway assumes it for execution logs only',
    );
  }
  ack(
    ingress.api.deploymentStage,
    'NIST.800.53.R5-APIGWCacheEnabledAndEncrypted',
    'Caching is wrong for this API: every webhook POST and lifecycle call must reach its function; nothing is cacheable and a cache would hold request data',
  );
  ack(
    ingress.api.deploymentStage,
    'NIST.800.53.R5-APIGWSSLEnabled',
    'Backend client certificates authenticate API Gateway to HTTP backends; all integrations here are Lambda proxy integrations invoked through IAM',
  );

  // State.
  ack(
    stack.state,
    'NIST.800.53.R5-DynamoDBInBackupPlan',
    'Tables have point-in-time recovery (35 days). A separate AWS Backup plan would keep copies of customer data beyond offboarding, defeating provable deletion',
  );
  for (const queue of [stack.state.deadLetterQueue, stack.state.scheduleDeadLetterQueue]) {
    ack(queue, 'Serverless-SQSRedrivePolicy', 'Dead-letter queue: the end of a redrive chain, alarmed on depth > 0');
  }
  // Point-in-time recovery is off only where a table's schema says a backup would defeat it (functions/shared/tables.ts).
  for (const construct of stack.state.node.findAll()) {
    if (
      construct instanceof CfnTable &&
      stack.resolve(construct.pointInTimeRecoverySpecification)?.pointInTimeRecoveryEnabled === false
    ) {
      const reason =
        'Customer data keys are destroyed at offboarding (crypto-shredding); a point-in-time-recovery copy would keep them restorable for 35 days after the customer has been told their data is gone';
      ack(construct, 'AwsSolutions-DDB3', reason);
      ack(construct, 'NIST.800.53.R5-DynamoDBPITREnabled', reason);
      ackControl(construct, 'CT.DYNAMODB.PR.1', reason);
    }
  }

  // Network.
  for (const subnet of stack.network.vpc.publicSubnets) {
    ack(
      subnet,
      'NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW',
      'Public subnets hold only the NAT gateways (with the published Elastic IPs) that give the private worker subnets their egress; no workload runs there',
    );
  }

  // Observability.
  const { observability } = stack;
  ack(
    observability.accessLogBucket,
    'NIST.800.53.R5-S3DefaultEncryptionKMS',
    'S3 server access logs can only be delivered to a bucket with SSE-S3 default encryption; this bucket holds access records only',
  );
  for (const scope of [observability, stack.state.importsBucket]) {
    ack(
      scope,
      'NIST.800.53.R5-S3BucketReplicationEnabled',
      'Single-region by design: replicating log archives, imports or debug captures to another region would copy customer data outside the deletion scope',
    );
  }
  const archiveGrantReason =
    'Firehose delivery role generated by the L2 construct: S3 object actions on the one archive bucket and the data key only';
  for (const id of [
    'AwsSolutions-IAM5[Action::s3:Abort*]',
    'AwsSolutions-IAM5[Action::s3:DeleteObject*]',
    'AwsSolutions-IAM5[Action::s3:GetBucket*]',
    'AwsSolutions-IAM5[Action::s3:GetObject*]',
    'AwsSolutions-IAM5[Action::s3:List*]',
    `AwsSolutions-IAM5[Resource::${arnRef(observability.archiveBucket)}/*]`,
    'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
    'AwsSolutions-IAM5[Action::kms:ReEncrypt*]',
  ]) {
    ack(observability.archiveStream, id, archiveGrantReason);
  }

  // Customer-secrets roles: the wildcard IS the per-customer scoping (ABAC on the session tag).
  const secretPatternId = `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:*/${stack.secrets.environmentName}/<aws:PrincipalTag/customer_id>/*]`;
  ack(
    stack.secrets,
    secretPatternId,
    "Attribute-based scoping: the session may touch only secrets named for its own customer_id session tag AND tagged with it; the trailing wildcard is the secret's random ARN suffix and kind",
  );

  ack(
    stack.secrets,
    'AwsSolutions-IAM5[Resource::*]',
    'secretsmanager:ListSecrets has no resource-level permissions; the store uses it only to tell an absent secret from a denied one (a tag-scoped session gets AccessDenied for a secret that does not exist). It returns names and tags, never values',
  );

  // Workers.
  const { workers, workflows } = stack;
  ack(workers, 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]', KMS_GRANT_WILDCARDS);
  ack(workers, 'AwsSolutions-IAM5[Action::kms:ReEncrypt*]', KMS_GRANT_WILDCARDS);
  ack(
    workers,
    'AwsSolutions-IAM5[Resource::*]',
    'Only for actions without resource-level permissions: X-Ray PutTraceSegments/PutTelemetryRecords, the EC2 network-interface actions Lambda needs to attach functions to the VPC, and cloudtrail:LookupEvents (read-only, incident response)',
  );
  for (const [name, spec] of Object.entries(WORKER_SPECS) as [WorkerName, (typeof WORKER_SPECS)[WorkerName]][]) {
    const worker = workers.functions[name];
    if (!spec.invokedBySchedule) {
      const reason =
        'Invoked synchronously (API Gateway, the SQS event source with its own redrive to the DLQ, or Step Functions with Retry/Catch): failures return to the caller, there is no asynchronous event to dead-letter';
      ack(worker.function, 'NIST.800.53.R5-LambdaDLQ', reason);
      ack(worker.function, 'Serverless-LambdaDLQ', reason);
    }
    if (!spec.callsVirtuous) {
      ack(
        worker.function,
        'NIST.800.53.R5-LambdaInsideVPC',
        'Does not call Virtuous or any non-AWS endpoint, so it needs no fixed egress IP; it reaches AWS APIs over TLS with IAM',
      );
    }
    for (const workflow of spec.startsWorkflows ?? []) {
      ack(
        worker.role,
        `AwsSolutions-IAM5[Resource::${stack.resolve(workflows.executionArnPattern(workflow))}]`,
        'DescribeExecution of executions this function started: execution ARNs are only known at run time, scoped to one state machine',
      );
    }
  }
  const offboarding = workers.functions['tasks:offboarding'];
  ack(
    offboarding.role,
    'AwsSolutions-IAM5[Action::s3:DeleteObject*]',
    "Offboarding deletes the customer's debug captures (object and version deletes) in the one debug bucket",
  );
  ack(
    offboarding.role,
    `AwsSolutions-IAM5[Resource::${arnRef(observability.debugBucket)}/*]`,
    "Offboarding deletes the customer's debug captures; keys are per customer and only known at run time",
  );
  ack(
    workers.functions.webhookVerifier.role,
    `AwsSolutions-IAM5[Resource::${arnRef(observability.debugBucket)}/*]`,
    'The verifier puts (s3:PutObject only) debug captures of a customer whose time-limited debug flag is on; keys are per customer and delivery, only known at run time',
  );
  ack(
    workers.functions.bulkLoader.role,
    `AwsSolutions-IAM5[Resource::${arnRef(stack.state.importsBucket)}/*]`,
    'The bulk loader reads one export object per run (s3:GetObject only) from the imports bucket; object keys are chosen by the partner per load',
  );
  ack(
    workers.functions.processor.function,
    'Serverless-LambdaEventSourceMappingDestination',
    'SQS event sources do not support on-failure destinations; failed messages go to the inbound DLQ through the queue redrive policy (maxReceiveCount), alarmed on depth',
  );

  // Workflows and schedules: invoking a function includes its versions/aliases (`:*`).
  ack(
    workflows,
    'AwsSolutions-IAM5[Resource::*]',
    'Only for actions without resource-level permissions: X-Ray tracing and the CloudWatch Logs log-delivery actions Step Functions needs to write execution logs',
  );
  for (const [name, machine] of Object.entries(workflows.machines)) {
    const tasks = workers.functions[`tasks:${name}` as WorkerName];
    ack(
      machine,
      `AwsSolutions-IAM5[Resource::${arnRef(tasks.function)}:*]`,
      `The ${name} workflow invokes only its own tasks function (any version or alias of it)`,
    );
  }
  ack(
    workflows.machines['incident-response'],
    `AwsSolutions-IAM5[Resource::${stack.resolve(workflows.executionArnPattern('token-rotation'))}]`,
    'startExecution.sync:2 observes and can stop the token-rotation execution it started; its ARN is only known at run time',
  );
  for (const name of ['reconciler', 'rotationScheduler', 'deletionDrill'] as const) {
    ack(
      stack,
      `AwsSolutions-IAM5[Resource::${arnRef(workers.functions[name].function)}:*]`,
      `EventBridge Scheduler role for the ${name} schedule: lambda:InvokeFunction on that one function (any version)`,
    );
  }

  acknowledgeControlTowerFindings(stack);
}

/**
 * The Control Tower proactive controls (cfn-guard) this stack does not meet, by control id. Every other bundled
 * control passes or does not apply; CT.KMS.PR.3 (grants only for AWS resources) is met in secrets.ts.
 */
function acknowledgeControlTowerFindings(stack: IntegrationStack): void {
  const { observability, state, workers, ingress } = stack;

  // Every log group keeps 30 days (LOG_RETENTION): acknowledged per log group, so one with another retention fails.
  for (const construct of stack.node.findAll()) {
    if (
      construct instanceof CfnLogGroup &&
      !Token.isUnresolved(construct.retentionInDays) &&
      construct.retentionInDays === LOG_RETENTION
    ) {
      ackControl(
        construct,
        'CT.CLOUDWATCH.PR.2',
        'Log groups keep 30 days by design: customers are told logs expire after 30 days (docs/customer-setup.md retention table). Investigations use the one-year KMS-encrypted S3 archive that the function, workflow and API access log groups feed through subscription filters',
      );
    }
  }

  ackControl(
    ingress.api,
    'CT.LAMBDA.PR.2',
    "Each invoke permission names apigateway.amazonaws.com with SourceArn set to this API's own execute-api ARN for one method and path (and the console's test-invoke stage); the control's rule cannot evaluate the Fn::Join that builds that ARN, so it reads the permission as unrestricted",
  );
  for (const [name, spec] of Object.entries(WORKER_SPECS) as [WorkerName, (typeof WORKER_SPECS)[WorkerName]][]) {
    if (spec.callsVirtuous) continue;
    ackControl(
      workers.functions[name].function,
      'CT.LAMBDA.PR.3',
      'Does not call Virtuous or any non-AWS endpoint, so it needs no fixed egress IP from the VPC; it reaches AWS APIs over TLS with IAM',
    );
  }
  const restrictDefaultSecurityGroup = stack.node.tryFindChild('Custom::VpcRestrictDefaultSGCustomResourceProvider');
  if (restrictDefaultSecurityGroup) {
    ackControl(
      restrictDefaultSecurityGroup,
      'CT.LAMBDA.PR.3',
      "CDK's deployment-time handler that removes every rule from the VPC's default security group: it runs only during a deployment and calls only the EC2 API",
    );
  }

  for (const queue of [state.deadLetterQueue, state.scheduleDeadLetterQueue]) {
    ackControl(
      queue,
      'CT.SQS.PR.1',
      'Dead-letter queue: the end of a redrive chain (inbound queue, EventBridge Scheduler targets), alarmed on depth > 0; a further DLQ would hide failed messages from the tools that replay them',
    );
  }

  const { accessLogBucket } = observability;
  ackControl(
    accessLogBucket,
    'CT.S3.PR.10',
    'S3 server access logs can only be delivered to a bucket with SSE-S3 default encryption; this bucket holds access records only',
  );
  ackControl(
    accessLogBucket,
    'CT.S3.PR.2',
    'It is the server-access-log target of the other buckets; logging it into itself would loop and logging it elsewhere needs another bucket with the same finding',
  );
  for (const scope of [observability, state.importsBucket]) {
    ackControl(
      scope,
      'CT.S3.PR.9',
      'Object Lock would make objects undeletable until their retention ends, defeating provable deletion: offboarding deletes debug captures and imports, and lifecycle rules expire archives and access logs on schedule',
    );
    ackControl(
      scope,
      'CT.S3.PR.4',
      'Nothing reacts to object events: the bulk loader is started by the partner with the object key, Firehose writes the archive, operators read debug captures on request; event notifications would need a consumer that has no job here',
    );
  }
}

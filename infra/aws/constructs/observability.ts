/**
 * What operators see and what is kept: the operators' and customers' SNS topics, the alarms and the dashboard,
 * the cold log archive (CloudWatch Logs → Firehose → S3: Glacier after 30 days, deleted after a year) and the
 * expiring debug-capture bucket. Every bucket is KMS-encrypted, TLS-only, public-access-blocked and access-logged.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Rule } from 'aws-cdk-lib/aws-events';
import { SnsTopic } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { DeliveryStream, EnableLogging, S3Bucket, StreamEncryption } from 'aws-cdk-lib/aws-kinesisfirehose';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { FilterPattern, type ILogGroup, LogGroup, RetentionDays, SubscriptionFilter } from 'aws-cdk-lib/aws-logs';
import { FirehoseDestination } from 'aws-cdk-lib/aws-logs-destinations';
import { Bucket, BucketEncryption, StorageClass } from 'aws-cdk-lib/aws-s3';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../../functions/shared/observability.ts';
import { dataKeyBucket, PRIVATE_BUCKET } from './secure-storage.ts';

/** Custom metrics the functions emit (Powertools EMF, dimension `service` plus the ones named here). */
export const PRODUCT_METRICS = {
  signatureFailures: 'SignatureFailures',
  deadLettersCreated: 'DeadLettersCreated',
  customersPaused: 'CustomersPaused',
  tokenRotationOverdue: 'TokenRotationOverdue',
  reconciliationFailures: 'ReconciliationFailures',
  virtuousRateLimited: 'VirtuousRateLimited',
  writesInDoubt: 'WritesInDoubt',
  deletionDrillFailures: 'DeletionDrillFailures',
} as const;

export const WEBHOOK_PROVIDERS = ['virtuous', 'stripe'] as const;

export interface ObservabilityProps {
  readonly environmentName: string;
  readonly dataKey: IKey;
  readonly operatorEmails: readonly string[];
}

export interface MonitoredResources {
  readonly functions: Readonly<Record<string, IFunction>>;
  readonly stateMachines: Readonly<Record<string, IStateMachine>>;
  readonly deadLetterQueues: Readonly<Record<string, IQueue>>;
  /** Log groups copied to the cold archive. */
  readonly archivedLogGroups: Readonly<Record<string, ILogGroup>>;
}

export class Observability extends Construct {
  readonly operatorAlerts: Topic;
  readonly customerNotifications: Topic;
  readonly accessLogBucket: Bucket;
  readonly archiveBucket: Bucket;
  readonly debugBucket: Bucket;
  readonly archiveStream: DeliveryStream;
  readonly dashboard: Dashboard;
  private readonly alarmAction: SnsAction;
  private readonly prefix: string;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    this.prefix = `virtuous-${props.environmentName}`;

    this.operatorAlerts = new Topic(this, 'OperatorAlerts', {
      topicName: `${this.prefix}-operator-alerts`,
      masterKey: props.dataKey,
      enforceSSL: true,
    });
    for (const email of props.operatorEmails) this.operatorAlerts.addSubscription(new EmailSubscription(email));
    this.customerNotifications = new Topic(this, 'CustomerNotifications', {
      topicName: `${this.prefix}-customer-notifications`,
      masterKey: props.dataKey,
      enforceSSL: true,
    });
    this.alarmAction = new SnsAction(this.operatorAlerts);

    // S3 server access logs cannot be delivered to a KMS-encrypted bucket: this one uses SSE-S3 and holds only
    // access records (no object content).
    this.accessLogBucket = new Bucket(this, 'AccessLogs', {
      ...PRIVATE_BUCKET,
      encryption: BucketEncryption.S3_MANAGED,
      lifecycleRules: [{ expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(1) }],
    });

    this.archiveBucket = new Bucket(this, 'LogArchive', {
      ...dataKeyBucket(props.dataKey, this.accessLogBucket, 'log-archive/'),
      lifecycleRules: [
        {
          transitions: [{ storageClass: StorageClass.GLACIER, transitionAfter: Duration.days(30) }],
          expiration: Duration.days(365),
          noncurrentVersionExpiration: Duration.days(1),
        },
      ],
    });

    // Request bodies captured behind the per-customer, time-limited debug flag. Versioning is on (the
    // compliance packs require it) with noncurrent versions gone a day later, so nothing outlives 31 days.
    this.debugBucket = new Bucket(this, 'DebugCaptures', {
      ...dataKeyBucket(props.dataKey, this.accessLogBucket, 'debug-captures/'),
      lifecycleRules: [{ expiration: Duration.days(30), noncurrentVersionExpiration: Duration.days(1) }],
    });

    const archiveErrors = new LogGroup(this, 'LogArchiveStreamErrors', {
      retention: RetentionDays.ONE_MONTH,
      encryptionKey: props.dataKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.archiveStream = new DeliveryStream(this, 'LogArchiveStream', {
      deliveryStreamName: `${this.prefix}-log-archive`,
      encryption: StreamEncryption.customerManagedKey(props.dataKey),
      destination: new S3Bucket(this.archiveBucket, {
        encryptionKey: props.dataKey,
        dataOutputPrefix: 'logs/!{timestamp:yyyy/MM/dd}/',
        errorOutputPrefix: 'errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/',
        bufferingInterval: Duration.minutes(5),
        loggingConfig: new EnableLogging(archiveErrors),
      }),
    });

    this.dashboard = new Dashboard(this, 'Dashboard', { dashboardName: `${this.prefix}-integration` });
  }

  /**
   * Tells operators at once when anyone changes or disables the secrets key, or replaces a secret's resource policy
   * (the break-glass path goes through both, so it can never happen quietly). Needs CloudTrail management events,
   * on by default.
   */
  watchKeyChanges(key: IKey, deadLetterQueue: IQueue): void {
    const rule = new Rule(this, 'SecretsKeyChanged', {
      description: 'Secrets key policy changed, key disabled or scheduled for deletion',
      eventPattern: {
        source: ['aws.kms'],
        detailType: ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['kms.amazonaws.com'],
          eventName: ['PutKeyPolicy', 'DisableKey', 'ScheduleKeyDeletion', 'CreateGrant'],
          requestParameters: { keyId: [key.keyArn, key.keyId] },
        },
      },
    });
    rule.addTarget(new SnsTopic(this.operatorAlerts, { deadLetterQueue, retryAttempts: 10 }));
    // The other half of a break-glass change is a secret's resource policy. Not narrowed to this stack's secret
    // names: a caller may name a secret by name, ARN or partial ARN, and any such change in the account is rare
    // enough that operators should see it.
    const policyRule = new Rule(this, 'SecretResourcePolicyChanged', {
      description: 'A Secrets Manager resource policy was replaced or deleted',
      eventPattern: {
        source: ['aws.secretsmanager'],
        detailType: ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['secretsmanager.amazonaws.com'],
          eventName: ['PutResourcePolicy', 'DeleteResourcePolicy'],
        },
      },
    });
    policyRule.addTarget(new SnsTopic(this.operatorAlerts, { deadLetterQueue, retryAttempts: 10 }));
    // EventBridge publishes to the KMS-encrypted topic, so it may use the data key for that.
    this.operatorAlerts.masterKey?.addToResourcePolicy(
      new PolicyStatement({
        sid: 'EventBridgePublishesToEncryptedTopics',
        principals: [new ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
  }

  /** Alarms, dashboard widgets and archive subscriptions over the resources the other constructs created. */
  monitor(resources: MonitoredResources): void {
    // One role for every subscription filter (instead of one per log group): put records into the archive stream.
    const subscriptionRole = new Role(this, 'ArchiveSubscriptionRole', {
      assumedBy: new ServicePrincipal('logs.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: 'CloudWatch Logs subscription filters: deliver log events to the archive stream',
    });
    this.archiveStream.grantPutRecords(subscriptionRole);
    const archiveDestination = new FirehoseDestination(this.archiveStream, { role: subscriptionRole });
    for (const [name, logGroup] of Object.entries(resources.archivedLogGroups)) {
      new SubscriptionFilter(this, `Archive${name}`, {
        logGroup,
        destination: archiveDestination,
        filterPattern: FilterPattern.allEvents(),
      });
    }

    const signatureFailures = WEBHOOK_PROVIDERS.map((provider) =>
      productMetric(PRODUCT_METRICS.signatureFailures, { provider }),
    );
    WEBHOOK_PROVIDERS.forEach((provider, index) => {
      this.alarm(`SignatureFailureSpike-${provider}`, signatureFailures[index] as Metric, {
        threshold: 20,
        description: `More than 20 ${provider} webhook signature failures in 5 minutes: forged traffic or a secret out of sync`,
      });
    });
    const productAlarms: [string, string, number, string][] = [
      [
        'DeadLettersGrowing',
        PRODUCT_METRICS.deadLettersCreated,
        0,
        'Records exceeded their attempts and were dead-lettered',
      ],
      ['CustomersPaused', PRODUCT_METRICS.customersPaused, 0, 'A customer was paused (revoked credential or 401)'],
      [
        'TokenRotationOverdue',
        PRODUCT_METRICS.tokenRotationOverdue,
        0,
        'An API token is older than its rotation policy',
      ],
      ['ReconciliationFailures', PRODUCT_METRICS.reconciliationFailures, 0, 'A reconciliation run failed'],
      [
        'VirtuousRateLimited',
        PRODUCT_METRICS.virtuousRateLimited,
        10,
        'Virtuous answered 429 more than 10 times in 5 minutes',
      ],
      [
        'WritesInDoubt',
        PRODUCT_METRICS.writesInDoubt,
        0,
        'A Virtuous transaction was sent but its answer was lost: kept in_doubt (not re-sent) until reconciliation decides',
      ],
      [
        'DeletionDrillFailed',
        PRODUCT_METRICS.deletionDrillFailures,
        0,
        'The deletion drill failed: offboarding left residue or did not complete (runbook: offboarding and deletion verification)',
      ],
    ];
    for (const [id, metricName, threshold, description] of productAlarms) {
      this.alarm(id, productMetric(metricName), { threshold, description });
    }

    for (const [name, queue] of Object.entries(resources.deadLetterQueues)) {
      this.alarm(`${name}Depth`, queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }), {
        threshold: 0,
        statistic: 'Maximum',
        description: `${name} holds messages: something failed after all its retries`,
      });
    }
    for (const [name, fn] of Object.entries(resources.functions)) {
      this.alarm(`${name}Errors`, fn.metricErrors({ period: Duration.minutes(5) }), {
        threshold: 0,
        description: `${name} raised errors`,
      });
      this.alarm(`${name}Throttles`, fn.metricThrottles({ period: Duration.minutes(5) }), {
        threshold: 0,
        description: `${name} was throttled`,
      });
    }
    for (const [name, machine] of Object.entries(resources.stateMachines)) {
      const failures = new MathExpression({
        expression: 'failed + timedOut + aborted',
        usingMetrics: {
          failed: machine.metricFailed({ period: Duration.minutes(5) }),
          timedOut: machine.metricTimedOut({ period: Duration.minutes(5) }),
          aborted: machine.metricAborted({ period: Duration.minutes(5) }),
        },
        period: Duration.minutes(5),
        label: `${name} failures`,
      });
      this.alarm(`${name}WorkflowFailures`, failures, { threshold: 0, description: `${name} workflow failed` });
    }

    this.dashboard.addWidgets(
      new TextWidget({
        markdown: `# Virtuous integration (${this.prefix})\nWebhooks, sync, lifecycle workflows. Alarms go to the operators topic.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      graph('Webhook signature failures', signatureFailures),
      graph('Sync health', [
        productMetric(PRODUCT_METRICS.deadLettersCreated),
        productMetric(PRODUCT_METRICS.virtuousRateLimited),
        productMetric(PRODUCT_METRICS.reconciliationFailures),
      ]),
      graph(
        'Dead-letter queues',
        Object.values(resources.deadLetterQueues).map((q) => q.metricApproximateNumberOfMessagesVisible()),
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Lambda errors',
        Object.values(resources.functions).map((fn) => fn.metricErrors()),
      ),
      graph(
        'Lambda throttles',
        Object.values(resources.functions).map((fn) => fn.metricThrottles()),
      ),
      graph(
        'Workflow failures',
        Object.values(resources.stateMachines).map((m) => m.metricFailed()),
      ),
    );
  }

  private alarm(
    id: string,
    metric: IMetric,
    options: { threshold: number; description: string; statistic?: string },
  ): Alarm {
    const alarm = new Alarm(this, `${id}Alarm`, {
      alarmName: `${this.prefix}-${id}`,
      alarmDescription: options.description,
      metric: metric instanceof Metric && options.statistic ? metric.with({ statistic: options.statistic }) : metric,
      threshold: options.threshold,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(this.alarmAction);
    alarm.addOkAction(this.alarmAction);
    return alarm;
  }
}

/** Powertools adds the `service` dimension to every metric, so alarms must name it to match the emitted series. */
function productMetric(metricName: string, dimensions: Record<string, string> = {}): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: SERVICE_NAME, ...dimensions },
    statistic: 'Sum',
    period: Duration.minutes(5),
  });
}

function graph(title: string, metrics: IMetric[]): GraphWidget {
  return new GraphWidget({ title, left: metrics, width: 8, height: 6 });
}

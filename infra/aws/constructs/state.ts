/**
 * Durable state: every DynamoDB table declared in functions/shared/tables.ts (keys and TTL come from there, never
 * restated here) and the inbound queue with its dead-letter queue.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Bucket, type IBucket } from 'aws-cdk-lib/aws-s3';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  type KeyAttribute,
  TABLE_KEYS,
  TABLES,
  type TableKey,
  type TableSchema,
  tableName,
} from '../../../functions/shared/tables.ts';
import { dataKeyBucket, dataKeyQueue } from './secure-storage.ts';

/** How often SQS hands a message to the processor before it moves to the DLQ. */
export const MAX_RECEIVE_COUNT = 5;

export interface StateProps {
  readonly environmentName: string;
  readonly dataKey: IKey;
  /** The queue's consumer timeout: the visibility timeout is six times this (AWS guidance for Lambda consumers). */
  readonly processorTimeout: Duration;
  /** Where S3 server access logs of the imports bucket go. */
  readonly accessLogBucket: IBucket;
}

function attribute(key: KeyAttribute): { name: string; type: AttributeType } {
  return { name: key.name, type: key.type === 'S' ? AttributeType.STRING : AttributeType.NUMBER };
}

export class State extends Construct {
  readonly tables: Readonly<Record<TableKey, Table>>;
  readonly inboundQueue: Queue;
  readonly deadLetterQueue: Queue;
  /** Scheduled and event-driven deliveries that failed after their retries (schedules, key-change alerts). */
  readonly scheduleDeadLetterQueue: Queue;
  /** History exports a partner drops for a customer's bulk load; read only by the bulk loader, gone after 7 days. */
  readonly importsBucket: Bucket;

  constructor(scope: Construct, id: string, props: StateProps) {
    super(scope, id);
    const production = props.environmentName === 'production';

    const tables = {} as Record<TableKey, Table>;
    for (const key of TABLE_KEYS) {
      const schema: TableSchema = TABLES[key];
      const sortKey = 'sortKey' in schema ? schema.sortKey : undefined;
      const ttl = 'timeToLiveAttribute' in schema ? schema.timeToLiveAttribute : undefined;
      tables[key] = new Table(this, `${key[0]?.toUpperCase()}${key.slice(1)}Table`, {
        tableName: tableName(props.environmentName, key),
        partitionKey: attribute(schema.partitionKey),
        sortKey: sortKey ? attribute(sortKey) : undefined,
        timeToLiveAttribute: ttl,
        billingMode: BillingMode.PAY_PER_REQUEST,
        encryption: TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: props.dataKey,
        // Off only for the customer data keys (tables.ts): a restorable copy would undo their destruction.
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: schema.pointInTimeRecovery !== false },
        deletionProtection: production,
        removalPolicy: production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      });
    }
    this.tables = tables;

    this.deadLetterQueue = new Queue(this, 'InboundDeadLetterQueue', {
      queueName: `virtuous-${props.environmentName}-inbound-dlq`,
      ...dataKeyQueue(props.dataKey),
      retentionPeriod: Duration.days(14),
    });
    this.importsBucket = new Bucket(this, 'Imports', {
      ...dataKeyBucket(props.dataKey, props.accessLogBucket, 'imports/'),
      lifecycleRules: [{ expiration: Duration.days(7), noncurrentVersionExpiration: Duration.days(1) }],
    });

    this.scheduleDeadLetterQueue = new Queue(this, 'ScheduleDeadLetterQueue', {
      queueName: `virtuous-${props.environmentName}-schedule-dlq`,
      ...dataKeyQueue(props.dataKey),
      retentionPeriod: Duration.days(14),
    });
    this.inboundQueue = new Queue(this, 'InboundQueue', {
      queueName: `virtuous-${props.environmentName}-inbound`,
      ...dataKeyQueue(props.dataKey),
      retentionPeriod: Duration.days(4),
      // The verifier enqueues the raw body Base64-encoded (functions/queue/inbound-message.ts): a 256 KiB body is
      // ~342 KiB on the queue, above SQS's old 256 KiB default, so the limit is set to the 1 MiB maximum.
      maxMessageSizeBytes: 1_048_576,
      visibilityTimeout: Duration.seconds(props.processorTimeout.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
  }
}

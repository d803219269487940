/**
 * Wires the sync engine to real local stand-ins (dynalite, local-aws-sqs via test/support/local-aws.ts) and drives
 * the processor the way the Lambda event source does: receive up to 10, invoke, delete only what succeeded.
 */
import { randomUUID } from 'node:crypto';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { MemoryKeyring } from '../../../functions/credentials/keyring.ts';
import { createLocalPayloadSealer } from '../../../functions/crypto/local-payload-sealer.ts';
import type { CustomerRecord, CustomerStatus } from '../../../functions/customers/customer.ts';
import { DynamoCustomerRepository } from '../../../functions/customers/dynamo-customer-repository.ts';
import type { CustomerNotification, Notifier, OperatorAlert } from '../../../functions/notifications/notifier.ts';
import { createProcessorHandler, type ProcessorHandler } from '../../../functions/processor/handler.ts';
import { createInboundMessage, serializeInboundMessage } from '../../../functions/queue/inbound-message.ts';
import { createDeadLetters } from '../../../functions/sync/dead-letters.ts';
import { createDynamoDeliveryLog } from '../../../functions/sync/delivery-log.ts';
import { createDynamoSyncStateRepository } from '../../../functions/sync/dynamo-sync-state-repository.ts';
import { createHeldMessages } from '../../../functions/sync/held-messages.ts';
import { createSqsMessageQueue } from '../../../functions/sync/message-queue.ts';
import { CountingMetrics } from '../../../functions/sync/sync-metrics.ts';
import { DEFAULT_SYNC_PROCESSOR_CONFIG, type SyncProcessorConfig } from '../../../functions/sync/sync-processor.ts';
import type { VirtuousApi } from '../../../functions/virtuous/api.ts';
import { deliveryId } from '../../../functions/webhooks/delivery-id.ts';
import type { LocalAws } from '../../support/local-aws.ts';
import { sqsRecord } from '../../support/sqs-records.ts';

export class RecordingNotifier implements Notifier {
  readonly customer: CustomerNotification[] = [];
  readonly operators: OperatorAlert[] = [];
  async notifyCustomer(notification: CustomerNotification) {
    this.customer.push(notification);
  }
  async alertOperators(alert: OperatorAlert) {
    this.operators.push(alert);
  }
}

export interface Harness {
  readonly customers: DynamoCustomerRepository;
  readonly syncState: ReturnType<typeof createDynamoSyncStateRepository>;
  readonly deliveries: ReturnType<typeof createDynamoDeliveryLog>;
  readonly deadLetters: ReturnType<typeof createDeadLetters>;
  readonly held: ReturnType<typeof createHeldMessages>;
  readonly queue: ReturnType<typeof createSqsMessageQueue>;
  readonly sealer: ReturnType<typeof createLocalPayloadSealer>;
  readonly notifier: RecordingNotifier;
  readonly metrics: CountingMetrics;
  readonly handler: ProcessorHandler;
  addCustomer(customerId: string, status?: CustomerStatus): Promise<void>;
  /** A verified webhook delivery as the verifier enqueues it. */
  sendDelivery(customerId: string, provider: 'stripe' | 'virtuous', body: unknown): Promise<void>;
  /** The same, from the exact bytes a sender signed (e.g. a simulator webhook delivery). */
  sendDeliveryBytes(customerId: string, provider: 'stripe' | 'virtuous', rawBody: Buffer): Promise<void>;
  sendRaw(body: string): Promise<void>;
  /** Polls until the queue yields nothing visible; returns how many batches ran. */
  drain(options?: {
    maxBatches?: number;
    visibilityTimeoutSeconds?: number;
    onBatch?: (failed: number) => void;
  }): Promise<number>;
  scanTable(table: keyof LocalAws['tableNames']): Promise<Record<string, unknown>[]>;
}

export function createHarness(
  aws: LocalAws,
  virtuousFor: (customerId: string) => VirtuousApi,
  config: Partial<SyncProcessorConfig> = {},
  clock: () => Date = () => new Date(),
): Harness {
  const client = aws.documentClient;
  const customers = new DynamoCustomerRepository(client, aws.tableNames.customers);
  const syncState = createDynamoSyncStateRepository(client, aws.tableNames.syncRecords);
  const deliveries = createDynamoDeliveryLog(client, aws.tableNames.deliveries);
  const sealer = createLocalPayloadSealer(new MemoryKeyring());
  const queue = createSqsMessageQueue(aws.sqs, aws.queues.inboundUrl);
  const deadLetters = createDeadLetters({ client, table: aws.tableNames.deadLetters, sealer, queue, syncState });
  const held = createHeldMessages({ client, table: aws.tableNames.heldMessages, sealer, queue });
  const notifier = new RecordingNotifier();
  const metrics = new CountingMetrics();
  const handler = createProcessorHandler({
    customers,
    syncState,
    deliveries,
    deadLetters,
    held,
    virtuousFor,
    notifier,
    metrics,
    clock,
    config: { ...DEFAULT_SYNC_PROCESSOR_CONFIG, workerId: () => `test-${randomUUID()}`, ...config },
  });

  async function sendRaw(body: string) {
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: aws.queues.inboundUrl, MessageBody: body }));
  }

  return {
    customers,
    syncState,
    deliveries,
    deadLetters,
    held,
    queue,
    sealer,
    notifier,
    metrics,
    handler,
    async addCustomer(customerId, status = 'active') {
      const now = new Date().toISOString();
      const record: CustomerRecord = {
        customerId,
        status,
        sensitivity: 'standard',
        tokenRotationDays: 180,
        createdAt: now,
        updatedAt: now,
      };
      await customers.create(record);
    },
    async sendDelivery(customerId, provider, body) {
      await this.sendDeliveryBytes(customerId, provider, Buffer.from(JSON.stringify(body), 'utf8'));
    },
    async sendDeliveryBytes(customerId, provider, rawBody) {
      const message = createInboundMessage({
        deliveryId: deliveryId(provider, customerId, rawBody),
        customerId,
        provider,
        receivedAt: new Date(),
        rawBody,
      });
      await sendRaw(serializeInboundMessage(message));
    },
    sendRaw,
    async drain(options = {}) {
      const maxBatches = options.maxBatches ?? 500;
      let batches = 0;
      while (batches < maxBatches) {
        const received = await aws.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: aws.queues.inboundUrl,
            MaxNumberOfMessages: 10,
            // Short, so a failed message comes back soon (the stand-in counts ChangeMessageVisibility as a receive).
            VisibilityTimeout: options.visibilityTimeoutSeconds ?? 1,
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
            AttributeNames: ['All'],
          }),
        );
        const messages = received.Messages ?? [];
        if (messages.length === 0) {
          const attributes = await aws.sqs.send(
            new GetQueueAttributesCommand({
              QueueUrl: aws.queues.inboundUrl,
              AttributeNames: ['ApproximateNumberOfMessages'],
            }),
          );
          if (Number(attributes.Attributes?.ApproximateNumberOfMessages ?? '0') === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        batches += 1;
        const event: SQSEvent = {
          Records: messages.map((message) =>
            sqsRecord({
              messageId: message.MessageId as string,
              receiptHandle: message.ReceiptHandle as string,
              body: message.Body as string,
              receiveCount: message.Attributes?.ApproximateReceiveCount ?? '1',
            }),
          ),
        };
        const response = await handler(event);
        const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
        options.onBatch?.(failed.size);
        const done = messages.filter((message) => !failed.has(message.MessageId as string));
        if (done.length > 0) {
          await aws.sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: aws.queues.inboundUrl,
              Entries: done.map((message, index) => ({
                Id: `d${index}`,
                ReceiptHandle: message.ReceiptHandle as string,
              })),
            }),
          );
        }
      }
      return batches;
    },
    async scanTable(table) {
      const items: Record<string, unknown>[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await client.send(
          new ScanCommand({ TableName: aws.tableNames[table], ExclusiveStartKey: startKey }),
        );
        items.push(...((page.Items ?? []) as Record<string, unknown>[]));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      return items;
    },
  };
}

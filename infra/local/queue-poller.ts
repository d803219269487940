/**
 * The SQS event source mapping stand-in: receives batches of up to 10 messages from the inbound queue, hands them
 * to the processor handler as the same SQS event Lambda delivers, and honours partial batch failures
 * (`batchItemFailures`): only the messages that succeeded are deleted; the failed ones become visible again after
 * their visibility timeout and count towards the DLQ redrive, as on AWS. A handler that throws fails the whole batch.
 *
 * Stopping: no new receive starts, the batch in flight finishes, and the receipt handles of messages this poller
 * still holds invisible are returned, so the backlog saver sees every message.
 */
import { randomUUID } from 'node:crypto';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { lambdaContext } from './api-gateway.ts';
import { LOCAL_REGION } from './aws-environment.ts';

export type SqsBatchHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

export interface PollerStats {
  readonly batches: number;
  readonly received: number;
  readonly succeeded: number;
  readonly failed: number;
}

export interface QueuePollerOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly handler: SqsBatchHandler;
  readonly functionName: string;
  readonly waitTimeSeconds: number;
  readonly visibilityTimeoutSeconds: number;
  /** Called with an error the poller itself hit (never with message content). */
  readonly onError?: (error: unknown) => void;
}

/** Pause after a failed receive, so an unreachable queue is not hammered. */
const RECEIVE_ERROR_BACKOFF_MS = 1_000;

export function toSqsRecord(message: Message, queueArn: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  const messageAttributes: SQSRecord['messageAttributes'] = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: value.DataType ?? 'String',
      ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
      ...(value.BinaryValue === undefined ? {} : { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
      stringListValues: [],
      binaryListValues: [],
    };
  }
  return {
    messageId: message.MessageId ?? randomUUID(),
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: LOCAL_REGION,
  };
}

export class QueuePoller {
  private running = false;
  private loop: Promise<void> | undefined;
  /** Receipt handle → time (ms) its visibility ends: messages this poller holds that are not deleted. */
  private readonly held = new Map<string, number>();
  private stats = { batches: 0, received: 0, succeeded: 0, failed: 0 };
  private busy = false;

  constructor(private readonly options: QueuePollerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  get statistics(): PollerStats {
    return { ...this.stats };
  }

  /** True while a batch is being processed. */
  get processing(): boolean {
    return this.busy;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let messages: Message[];
      try {
        const answer = await this.options.client.send(
          new ReceiveMessageCommand({
            QueueUrl: this.options.queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: this.options.waitTimeSeconds,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
        );
        messages = answer.Messages ?? [];
      } catch (error) {
        if (!this.running) break;
        this.options.onError?.(error);
        await new Promise((resolve) => setTimeout(resolve, RECEIVE_ERROR_BACKOFF_MS));
        continue;
      }
      if (messages.length === 0) {
        if (this.options.waitTimeSeconds === 0) await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      // A batch already received is always processed, even when stop() came meanwhile: it is in flight.
      await this.processBatch(messages);
    }
  }

  private async processBatch(messages: Message[]): Promise<void> {
    this.busy = true;
    const visibleAgainAt = Date.now() + this.options.visibilityTimeoutSeconds * 1_000;
    const records = messages.map((message) => toSqsRecord(message, this.options.queueArn));
    for (const record of records) this.held.set(record.receiptHandle, visibleAgainAt);
    this.stats.batches += 1;
    this.stats.received += records.length;
    let failedIds: Set<string>;
    try {
      const context = lambdaContext(this.options.functionName, randomUUID());
      const response = await this.options.handler({ Records: records }, context);
      failedIds = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
    } catch (error) {
      this.options.onError?.(error);
      failedIds = new Set(records.map((record) => record.messageId));
    }
    const succeeded = records.filter((record) => !failedIds.has(record.messageId));
    this.stats.failed += records.length - succeeded.length;
    try {
      if (succeeded.length > 0) {
        const result = await this.options.client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.options.queueUrl,
            Entries: succeeded.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
          }),
        );
        const notDeleted = new Set((result.Failed ?? []).map((entry) => Number(entry.Id)));
        succeeded.forEach((record, index) => {
          if (!notDeleted.has(index)) {
            this.held.delete(record.receiptHandle);
            this.stats.succeeded += 1;
          }
        });
      }
    } catch (error) {
      // Not deleted: the messages come back after their visibility timeout and the processor de-duplicates them.
      this.options.onError?.(error);
    } finally {
      this.busy = false;
    }
  }

  /** Stops receiving, waits for the batch in flight, and returns the receipt handles still held invisible. */
  async stop(): Promise<string[]> {
    if (!this.running) return this.heldHandles();
    this.running = false;
    // A long poll in progress is not aborted: its answer may already hold messages, which must not vanish
    // unprocessed; it ends within the configured wait time.
    await this.loop;
    return this.heldHandles();
  }

  private heldHandles(): string[] {
    const now = Date.now();
    return [...this.held.entries()].filter(([, until]) => until > now).map(([handle]) => handle);
  }
}

export async function queueArn(client: SQSClient, queueUrl: string): Promise<string> {
  const answer = await client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  return answer.Attributes?.QueueArn ?? `arn:aws:sqs:${LOCAL_REGION}:000000000000:local`;
}

/** Messages waiting plus messages in flight (received, not yet deleted). */
export async function queueDepth(client: SQSClient, queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const answer = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(answer.Attributes?.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(answer.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
}

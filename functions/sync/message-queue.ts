/**
 * Puts message bodies (webhook deliveries being replayed or released, bulk-load pages) back on the inbound queue.
 * The SQS implementation is also the local one (local-aws-sqs via AWS_ENDPOINT_URL_SQS).
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { TransientError } from '../shared/errors.ts';

export interface MessageQueue {
  /** Resolves once the queue accepted every body. */
  send(bodies: readonly string[]): Promise<void>;
}

const SQS_BATCH = 10;
const SQS_TIMEOUT_MS = 5000;
const MAX_ROUNDS = 3;

export function createSqsMessageQueue(sqs: SQSClient, queueUrl: string): MessageQueue {
  return {
    async send(bodies) {
      for (let offset = 0; offset < bodies.length; offset += SQS_BATCH) {
        let entries = bodies
          .slice(offset, offset + SQS_BATCH)
          .map((body, index) => ({ Id: `m${index}`, MessageBody: body }));
        // Entries SQS refused individually are sent again, a bounded number of times.
        for (let round = 0; entries.length > 0; round += 1) {
          if (round === MAX_ROUNDS) {
            throw new TransientError('QUEUE_SEND_FAILED', `sqs refused ${entries.length} message(s)`);
          }
          let failedIds: Set<string>;
          try {
            const result = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }), {
              abortSignal: AbortSignal.timeout(SQS_TIMEOUT_MS),
            });
            failedIds = new Set((result.Failed ?? []).map((failure) => failure.Id ?? ''));
          } catch (cause) {
            throw new TransientError('QUEUE_SEND_FAILED', 'sqs SendMessageBatch failed', { cause });
          }
          entries = entries.filter((entry) => failedIds.has(entry.Id));
        }
      }
    },
  };
}

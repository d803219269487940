/**
 * Messages of a paused customer, held in DynamoDB (TABLES.heldMessages, payload sealed, purpose `held-message`)
 * instead of on the queue. Why not leave them on the queue with a long visibility timeout: every receive counts
 * towards the redrive policy's maxReceiveCount, so a pause longer than a few receives would push them into the DLQ,
 * and an SQS message lives at most 14 days. Held items live until the customer resumes (release re-enqueues them)
 * or is offboarded (deleted with the customer's data).
 */
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { PayloadSealer, SealedPayload } from '../crypto/payload-sealer.ts';
import { send } from './dynamo-call.ts';
import type { MessageQueue } from './message-queue.ts';

export const HELD_MESSAGE_PURPOSE = 'held-message';

export interface HeldMessages {
  /** Keeps a message body; holding the same id twice keeps one copy. */
  hold(customerId: string, heldId: string, messageBody: string, reason: string, now: Date): Promise<void>;
  count(customerId: string): Promise<number>;
  /** Re-enqueues every held message of the customer, then deletes it. Returns how many were released. */
  release(customerId: string): Promise<number>;
}

interface HeldItem {
  readonly customerId: string;
  readonly heldId: string;
  readonly reason: string;
  readonly heldAt: string;
  readonly payload: SealedPayload;
}

export function createHeldMessages(deps: {
  client: DynamoDBDocumentClient;
  table: string;
  sealer: PayloadSealer;
  queue: MessageQueue;
}): HeldMessages {
  const { client, table, sealer } = deps;

  async function* pages(customerId: string, projection?: string) {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await send<{ Items?: HeldItem[]; LastEvaluatedKey?: Record<string, unknown> }>(
        client,
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'customerId = :customer',
          ExpressionAttributeValues: { ':customer': customerId },
          ...(projection ? { ProjectionExpression: projection } : {}),
          ExclusiveStartKey: startKey,
          Limit: 100,
        }),
        'Query(held messages)',
      );
      yield page.Items ?? [];
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }

  return {
    async hold(customerId, heldId, messageBody, reason, now) {
      const payload = await sealer.seal(messageBody, { customerId, purpose: HELD_MESSAGE_PURPOSE });
      const item: HeldItem = { customerId, heldId, reason, heldAt: now.toISOString(), payload };
      await send(client, new PutCommand({ TableName: table, Item: item }), 'PutItem(held message)');
    },

    async count(customerId) {
      let total = 0;
      for await (const items of pages(customerId, 'heldId')) total += items.length;
      return total;
    },

    async release(customerId) {
      let released = 0;
      for await (const items of pages(customerId)) {
        const bodies = await Promise.all(
          items.map((item) => sealer.open(item.payload, { customerId, purpose: HELD_MESSAGE_PURPOSE })),
        );
        // Enqueue before delete: a crash in between re-sends on the next release, and the processor's delivery
        // log and sync-state claim absorb the copy; the reverse order could lose a message.
        await deps.queue.send(bodies);
        for (const item of items) {
          await send(
            client,
            new DeleteCommand({ TableName: table, Key: { customerId, heldId: item.heldId } }),
            'DeleteItem(held message)',
          );
        }
        released += items.length;
      }
      return released;
    },
  };
}

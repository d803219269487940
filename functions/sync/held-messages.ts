/**
 * Messages of a paused customer, held in DynamoDB (TABLES.heldMessages, payload sealed, purpose `held-message`)
 * instead of on the queue. Why not leave them on the queue with a long visibility timeout: every receive counts
 * towards the redrive policy's maxReceiveCount, so a pause longer than a few receives would push them into the DLQ,
 * and an SQS message lives at most 14 days. Held items live until the customer resumes (release re-enqueues them)
 * or is offboarded (deleted with the customer's data).
 */
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { PayloadSealer, SealedPayload } from '../crypto/payload-sealer.ts';
import { ConditionFailed, queryPages, send, sendConditional } from './dynamo-call.ts';
import type { MessageQueue } from './message-queue.ts';

export const HELD_MESSAGE_PURPOSE = 'held-message';

/**
 * How long a releaser owns the items it claimed (open, enqueue, delete a page of ≤ 100 takes seconds). Two releases
 * at once (a resume and the hourly reconciler, or two resumes) each enqueue only what they claimed; a releaser that
 * died leaves its claims to lapse, and the next release takes them.
 */
export const RELEASE_LEASE_MS = 60_000;

export interface HeldMessages {
  /** Keeps a message body; holding the same id twice keeps one copy. */
  hold(customerId: string, heldId: string, messageBody: string, reason: string, now: Date): Promise<void>;
  count(customerId: string): Promise<number>;
  /**
   * Re-enqueues every held message of the customer, then deletes it. Returns how many this call released: each item
   * is claimed first, so concurrent releases do not enqueue the same message twice.
   */
  release(customerId: string): Promise<number>;
}

interface HeldItem {
  readonly customerId: string;
  readonly heldId: string;
  readonly reason: string;
  readonly heldAt: string;
  readonly payload: SealedPayload;
  /** Epoch ms until which a release owns the item. */
  readonly releaseLeaseUntil?: number;
}

export function createHeldMessages(deps: {
  client: DynamoDBDocumentClient;
  table: string;
  sealer: PayloadSealer;
  queue: MessageQueue;
  now?: () => number;
}): HeldMessages {
  const { client, table, sealer } = deps;
  const now = deps.now ?? Date.now;

  /** Returns the lease end when this call now owns the item, undefined when another release does or it is gone. */
  async function claim(customerId: string, heldId: string): Promise<number | undefined> {
    const at = now();
    const claimed = await sendConditional(
      client,
      new UpdateCommand({
        TableName: table,
        Key: { customerId, heldId },
        UpdateExpression: 'SET releaseLeaseUntil = :until',
        ConditionExpression:
          'attribute_exists(heldId) AND (attribute_not_exists(releaseLeaseUntil) OR releaseLeaseUntil < :now)',
        ExpressionAttributeValues: { ':until': at + RELEASE_LEASE_MS, ':now': at },
      }),
      'UpdateItem(claim held message)',
    );
    return claimed instanceof ConditionFailed ? undefined : at + RELEASE_LEASE_MS;
  }

  function pages(customerId: string, projection?: string): AsyncGenerator<HeldItem[]> {
    return queryPages<HeldItem>(
      client,
      {
        TableName: table,
        KeyConditionExpression: 'customerId = :customer',
        ExpressionAttributeValues: { ':customer': customerId },
        ...(projection ? { ProjectionExpression: projection } : {}),
        Limit: 100,
      },
      'Query(held messages)',
    );
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
      for await (const page of pages(customerId)) {
        const items: (HeldItem & { readonly leaseUntil: number })[] = [];
        for (const item of page) {
          const leaseUntil = await claim(customerId, item.heldId);
          if (leaseUntil !== undefined) items.push({ ...item, leaseUntil });
        }
        if (items.length === 0) continue;
        const bodies = await Promise.all(
          items.map((item) => sealer.open(item.payload, { customerId, purpose: HELD_MESSAGE_PURPOSE })),
        );
        // Enqueue before delete: a crash in between re-sends on the next release, and the processor's delivery
        // log and sync-state claim absorb the copy; the reverse order could lose a message.
        await deps.queue.send(bodies);
        for (const item of items) {
          // Only our claim: the same message held anew meanwhile (paused again) was rewritten without it and stays.
          await sendConditional(
            client,
            new DeleteCommand({
              TableName: table,
              Key: { customerId, heldId: item.heldId },
              ConditionExpression: 'releaseLeaseUntil = :until',
              ExpressionAttributeValues: { ':until': item.leaseUntil },
            }),
            'DeleteItem(held message)',
          );
        }
        released += items.length;
      }
      return released;
    },
  };
}

/**
 * Dead letters (TABLES.deadLetters): what failed permanently or ran out of attempts, kept visible and replayable.
 * The item holds identifiers, codes and counts; the original queue message is stored only sealed (PayloadSealer,
 * purpose `dead-letter`) and is removed once the dead letter is resolved. Expiry: 90 days after resolution, none
 * while open.
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { PayloadSealer, SealedPayload } from '../crypto/payload-sealer.ts';
import { PermanentError } from '../shared/errors.ts';
import { ConditionFailed, queryPages, send, sendConditional } from './dynamo-call.ts';
import type { MessageQueue } from './message-queue.ts';
import type { SyncStateRepository } from './sync-state-repository.ts';

export const DEAD_LETTER_RETENTION_DAYS = 90;
export const DEAD_LETTER_PURPOSE = 'dead-letter';

export type DeadLetterResolution = 'open' | 'replayed' | 'discarded';

export interface DeadLetterSummary {
  readonly customerId: string;
  /** Stable for the failed unit (delivery id, bulk item), so a re-delivery does not create a second one. */
  readonly deadLetterId: string;
  /** What was being done: `gift`, `contact`, `refund`, `confirmation`, `parse`, ... */
  readonly operation: string;
  readonly recordKey?: string;
  readonly statusCode?: number;
  readonly attempts: number;
  readonly errorCode: string;
  readonly resolution: DeadLetterResolution;
  readonly createdAt: string;
  readonly resolvedAt?: string;
  readonly expiresAt?: number;
}

interface DeadLetterItem extends DeadLetterSummary {
  readonly payload?: SealedPayload;
}

export interface NewDeadLetter
  extends Pick<
    DeadLetterSummary,
    'customerId' | 'deadLetterId' | 'operation' | 'recordKey' | 'statusCode' | 'attempts' | 'errorCode'
  > {
  /**
   * The queue message body to keep (sealed) for replay. Absent only for a reversal reconciliation sent: resetting
   * its refund is the whole replay (the next reconciliation or gift confirmation sends it).
   */
  readonly messageBody?: string;
}

export interface ReplayOptions {
  /**
   * The operator looked in Virtuous and found no reversal for an in-doubt refund. Virtuous cannot be asked for a
   * reversal by our reference, so this statement is the only way such a refund is sent again. Gifts and contacts
   * ignore it: reconciliation decides those.
   */
  readonly checked?: boolean;
}

export interface DeadLetters {
  /** Creates (or re-opens a resolved) dead letter; false when the same one is already open. */
  add(deadLetter: NewDeadLetter, now: Date): Promise<boolean>;
  list(customerId: string, resolution?: DeadLetterResolution): Promise<DeadLetterSummary[]>;
  /** Re-enqueues the original message, resets its sync record so it may be submitted, marks it replayed. */
  replay(customerId: string, deadLetterId: string, now: Date, options?: ReplayOptions): Promise<DeadLetterSummary>;
  discard(customerId: string, deadLetterId: string, now: Date): Promise<DeadLetterSummary>;
}

export interface DeadLetterDeps {
  readonly client: DynamoDBDocumentClient;
  readonly table: string;
  readonly sealer: PayloadSealer;
  readonly queue: MessageQueue;
  readonly syncState: SyncStateRepository;
}

function summary(item: DeadLetterItem): DeadLetterSummary {
  const { payload: _sealed, ...rest } = item;
  return rest;
}

export function createDeadLetters(deps: DeadLetterDeps): DeadLetters {
  const { client, table, sealer } = deps;

  async function getOpen(customerId: string, deadLetterId: string): Promise<DeadLetterItem> {
    const result = await send<{ Item?: DeadLetterItem }>(
      client,
      new GetCommand({ TableName: table, Key: { customerId, deadLetterId }, ConsistentRead: true }),
      'GetItem(dead letter)',
    );
    if (!result.Item) throw new PermanentError('DEAD_LETTER_NOT_FOUND', `no dead letter ${deadLetterId}`);
    if (result.Item.resolution !== 'open') {
      throw new PermanentError(
        'DEAD_LETTER_RESOLVED',
        `dead letter ${deadLetterId} is already ${result.Item.resolution}`,
      );
    }
    return result.Item;
  }

  async function resolve(
    item: DeadLetterItem,
    resolution: Exclude<DeadLetterResolution, 'open'>,
    now: Date,
  ): Promise<DeadLetterSummary> {
    const expiresAt = Math.floor(now.getTime() / 1000) + DEAD_LETTER_RETENTION_DAYS * 86_400;
    const result = await sendConditional<{ Attributes?: DeadLetterItem }>(
      client,
      new UpdateCommand({
        TableName: table,
        Key: { customerId: item.customerId, deadLetterId: item.deadLetterId },
        // The sealed payload goes with the resolution: a resolved dead letter keeps no content.
        UpdateExpression: 'SET resolution = :resolution, resolvedAt = :now, expiresAt = :expiresAt REMOVE payload',
        ConditionExpression: 'resolution = :open',
        ExpressionAttributeValues: {
          ':resolution': resolution,
          ':now': now.toISOString(),
          ':expiresAt': expiresAt,
          ':open': 'open',
        },
        ReturnValues: 'ALL_NEW',
      }),
      'UpdateItem(resolve dead letter)',
    );
    if (result instanceof ConditionFailed || !result.Attributes) {
      throw new PermanentError('DEAD_LETTER_RESOLVED', `dead letter ${item.deadLetterId} was resolved concurrently`);
    }
    return summary(result.Attributes);
  }

  return {
    async add(deadLetter, now) {
      const payload =
        deadLetter.messageBody === undefined
          ? undefined
          : await sealer.seal(deadLetter.messageBody, {
              customerId: deadLetter.customerId,
              purpose: DEAD_LETTER_PURPOSE,
            });
      const item: DeadLetterItem = {
        customerId: deadLetter.customerId,
        deadLetterId: deadLetter.deadLetterId,
        operation: deadLetter.operation,
        ...(deadLetter.recordKey === undefined ? {} : { recordKey: deadLetter.recordKey }),
        ...(deadLetter.statusCode === undefined ? {} : { statusCode: deadLetter.statusCode }),
        attempts: deadLetter.attempts,
        errorCode: deadLetter.errorCode,
        resolution: 'open',
        createdAt: now.toISOString(),
        ...(payload === undefined ? {} : { payload }),
      };
      const result = await sendConditional(
        client,
        new PutCommand({
          TableName: table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(deadLetterId) OR resolution <> :open',
          ExpressionAttributeValues: { ':open': 'open' },
        }),
        'PutItem(dead letter)',
      );
      return !(result instanceof ConditionFailed);
    },

    async list(customerId, resolution) {
      const items: DeadLetterSummary[] = [];
      const pages = queryPages<DeadLetterItem>(
        client,
        {
          TableName: table,
          KeyConditionExpression: 'customerId = :customer',
          ...(resolution === undefined
            ? { ExpressionAttributeValues: { ':customer': customerId } }
            : {
                FilterExpression: 'resolution = :resolution',
                ExpressionAttributeValues: { ':customer': customerId, ':resolution': resolution },
              }),
          ProjectionExpression:
            'customerId, deadLetterId, operation, recordKey, statusCode, attempts, errorCode, resolution, createdAt, resolvedAt, expiresAt',
        },
        'Query(dead letters)',
      );
      for await (const page of pages) items.push(...page.map(summary));
      return items;
    },

    async replay(customerId, deadLetterId, now, options = {}) {
      const item = await getOpen(customerId, deadLetterId);
      const record = item.recordKey ? await deps.syncState.get(customerId, item.recordKey) : undefined;
      const checkedRefund = record?.state === 'in_doubt' && record.kind === 'refund' && options.checked === true;
      if (!item.payload && !(record?.kind === 'refund')) {
        throw new PermanentError('DEAD_LETTER_EMPTY', `dead letter ${deadLetterId} has no payload`);
      }
      if (record?.state === 'in_doubt' && !checkedRefund) {
        // Virtuous may hold it already. Gifts and contacts: only reconciliation's verdict (not found after the batch
        // window) frees them. Refunds: Virtuous cannot be asked, so the operator looks and says `checked`.
        throw new PermanentError(
          'OUTCOME_UNDECIDED',
          record.kind === 'refund'
            ? `dead letter ${deadLetterId}: the reversal may have reached Virtuous; replay with checked once you have looked`
            : `dead letter ${deadLetterId}: the write may have reached Virtuous; replay after reconciliation reports it`,
        );
      }
      const body = item.payload
        ? await sealer.open(item.payload, { customerId, purpose: DEAD_LETTER_PURPOSE })
        : undefined;
      if (item.recordKey) {
        await deps.syncState.resetForReplay(customerId, item.recordKey, now, { inDoubtChecked: checkedRefund });
      }
      if (body !== undefined) await deps.queue.send([body]);
      return resolve(item, 'replayed', now);
    },

    async discard(customerId, deadLetterId, now) {
      return resolve(await getOpen(customerId, deadLetterId), 'discarded', now);
    },
  };
}

/** SyncStateRepository on DynamoDB (TABLES.syncRecords: pk customerId, sk recordKey). Works unchanged on dynalite. */
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { TransientError } from '../shared/errors.ts';
import { ConditionFailed, queryPages, send, sendConditional } from './dynamo-call.ts';
import {
  OUTCOME_UNKNOWN_NOT_FOUND,
  parseRecordKey,
  SETTLED_STATES,
  type SyncRecord,
  type SyncState,
} from './sync-record.ts';
import type { ClaimRequest, ClaimResult, RefundFacts, SyncStateRepository } from './sync-state-repository.ts';

const CLAIMABLE: readonly SyncState[] = ['pending', 'deferred'];
/** States a newer source version may leave again (a contact changed after we submitted it). */
const REVISABLE: readonly SyncState[] = ['submitted', 'confirmed', 'needs_update', 'failed'];

export function createDynamoSyncStateRepository(client: DynamoDBDocumentClient, table: string): SyncStateRepository {
  const key = (customerId: string, recordKey: string) => ({ customerId, recordKey });

  async function get(customerId: string, recordKey: string): Promise<SyncRecord | undefined> {
    const result = await send<{ Item?: SyncRecord }>(
      client,
      new GetCommand({ TableName: table, Key: key(customerId, recordKey), ConsistentRead: true }),
      'GetItem',
    );
    return result.Item;
  }

  async function transition(
    customerId: string,
    recordKey: string,
    update: string,
    condition: string,
    values: Record<string, unknown>,
    operation: string,
  ): Promise<SyncRecord | undefined> {
    const result = await sendConditional<{ Attributes?: SyncRecord }>(
      client,
      new UpdateCommand({
        TableName: table,
        Key: key(customerId, recordKey),
        UpdateExpression: update,
        ConditionExpression: condition,
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
      operation,
    );
    return result instanceof ConditionFailed ? undefined : result.Attributes;
  }

  return {
    get,

    async claim(request: ClaimRequest): Promise<ClaimResult> {
      const now = request.now.toISOString();
      const values: Record<string, unknown> = {
        ':submitting': 'submitting',
        ':owner': request.owner,
        ':leaseUntil': new Date(request.now.getTime() + request.leaseMs).toISOString(),
        ':now': now,
        ':zero': 0,
        ':one': 1,
        ':version': request.version,
        ':kind': request.kind,
        ':source': request.source,
        ':sourceId': request.sourceId,
      };
      const sets = [
        '#state = :submitting',
        'leaseOwner = :owner',
        'leaseUntil = :leaseUntil',
        'attempts = if_not_exists(attempts, :zero) + :one',
        'version = :version',
        'kind = :kind',
        '#source = :source',
        'sourceId = :sourceId',
        'createdAt = if_not_exists(createdAt, :now)',
        'updatedAt = :now',
      ];
      setAmountIfKnown(sets, values, request);
      const claimable = inList('c', CLAIMABLE, values);
      const revisable = inList('r', REVISABLE, values);
      const condition = [
        'attribute_not_exists(recordKey)',
        `#state IN (${claimable})`,
        '(#state = :submitting AND leaseUntil < :now)',
        `(#state IN (${revisable}) AND version < :version)`,
      ].join(' OR ');
      const result = await sendConditional<{ Attributes?: SyncRecord }>(
        client,
        new UpdateCommand({
          TableName: table,
          Key: key(request.customerId, request.recordKey),
          // A new claim starts a new submission: the delivery that made the last one is no longer its author.
          UpdateExpression: `SET ${sets.join(', ')} REMOVE submittedByDelivery`,
          ConditionExpression: condition,
          ExpressionAttributeNames: { '#state': 'state', '#source': 'source' },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
        'UpdateItem(claim)',
      );
      if (!(result instanceof ConditionFailed) && result.Attributes) {
        return { outcome: 'claimed', record: result.Attributes };
      }
      // dynalite ignores ReturnValuesOnConditionCheckFailure, so the reason is read back.
      const current = await get(request.customerId, request.recordKey);
      if (!current) {
        // Deleted between the write and the read: only offboarding deletes records, so retrying later is right.
        throw new TransientError('CLAIM_RACE', 'sync record vanished during claim');
      }
      if (SETTLED_STATES.has(current.state)) return { outcome: 'settled', record: current };
      return { outcome: 'in_flight', record: current };
    },

    async markSubmitted(customerId, recordKey, owner, now, deliveryId) {
      const values: Record<string, unknown> = {
        ':submitted': 'submitted',
        ':submitting': 'submitting',
        ':owner': owner,
        ':now': now.toISOString(),
      };
      let sets = '#state = :submitted, submittedAt = :now, updatedAt = :now';
      if (deliveryId !== undefined) {
        sets += ', submittedByDelivery = :deliveryId';
        values[':deliveryId'] = deliveryId;
      }
      const updated = await transition(
        customerId,
        recordKey,
        `SET ${sets} REMOVE leaseOwner, leaseUntil, lastErrorCode`,
        '#state = :submitting AND leaseOwner = :owner',
        values,
        'UpdateItem(submitted)',
      );
      return updated !== undefined;
    },

    async markApplied(customerId, recordKey, owner, now) {
      const updated = await transition(
        customerId,
        recordKey,
        'SET #state = :confirmed, submittedAt = :now, confirmedAt = :now, updatedAt = :now REMOVE leaseOwner, leaseUntil, lastErrorCode',
        '#state = :submitting AND leaseOwner = :owner',
        { ':confirmed': 'confirmed', ':submitting': 'submitting', ':owner': owner, ':now': now.toISOString() },
        'UpdateItem(applied)',
      );
      return updated !== undefined;
    },

    async release(customerId, recordKey, owner, to, errorCode, now) {
      await transition(
        customerId,
        recordKey,
        'SET #state = :to, lastErrorCode = :code, updatedAt = :now REMOVE leaseOwner, leaseUntil',
        '#state = :submitting AND leaseOwner = :owner',
        { ':to': to, ':code': errorCode, ':submitting': 'submitting', ':owner': owner, ':now': now.toISOString() },
        'UpdateItem(release)',
      );
    },

    async markInDoubt(customerId, recordKey, owner, errorCode, deadLetterId, now) {
      const updated = await transition(
        customerId,
        recordKey,
        'SET #state = :inDoubt, submittedAt = :now, updatedAt = :now, lastErrorCode = :code, deadLetterId = :deadLetterId ' +
          'REMOVE leaseOwner, leaseUntil',
        '#state = :submitting AND leaseOwner = :owner',
        {
          ':inDoubt': 'in_doubt',
          ':submitting': 'submitting',
          ':owner': owner,
          ':code': errorCode,
          ':deadLetterId': deadLetterId,
          ':now': now.toISOString(),
        },
        'UpdateItem(in_doubt)',
      );
      return updated !== undefined;
    },

    async confirm(customerId, recordKey, virtuousId, now) {
      const identity = parseRecordKey(recordKey);
      if (!identity) return undefined;
      // An upsert: a gift or contact Virtuous already has under our source and id gets a confirmed record even if we
      // never sent it (another tool did, or our record was lost), so the source event can never send it again.
      const result = await send<{ Attributes?: SyncRecord }>(
        client,
        new UpdateCommand({
          TableName: table,
          Key: key(customerId, recordKey),
          UpdateExpression:
            'SET #state = :confirmed, virtuousId = :id, confirmedAt = if_not_exists(confirmedAt, :now), updatedAt = :now, ' +
            'kind = if_not_exists(kind, :kind), #source = if_not_exists(#source, :source), ' +
            'sourceId = if_not_exists(sourceId, :sourceId), attempts = if_not_exists(attempts, :zero), ' +
            'version = if_not_exists(version, :zero), createdAt = if_not_exists(createdAt, :now) ' +
            'REMOVE leaseOwner, leaseUntil',
          ExpressionAttributeNames: { '#state': 'state', '#source': 'source' },
          ExpressionAttributeValues: {
            ':confirmed': 'confirmed',
            ':id': virtuousId,
            ':now': now.toISOString(),
            ':kind': identity.kind,
            ':source': identity.source,
            ':sourceId': identity.sourceId,
            ':zero': 0,
          },
          ReturnValues: 'ALL_OLD',
        }),
        'UpdateItem(confirm)',
      );
      const before = result.Attributes;
      const { leaseOwner: _owner, leaseUntil: _until, ...rest } = before ?? ({} as Partial<SyncRecord>);
      const record: SyncRecord = {
        attempts: 0,
        version: 0,
        createdAt: now.toISOString(),
        ...rest,
        customerId,
        recordKey,
        kind: rest.kind ?? identity.kind,
        source: rest.source ?? identity.source,
        sourceId: rest.sourceId ?? identity.sourceId,
        state: 'confirmed',
        virtuousId,
        confirmedAt: before?.confirmedAt ?? now.toISOString(),
        updatedAt: now.toISOString(),
      };
      return {
        record,
        changed: before?.state !== 'confirmed' || before.virtuousId !== virtuousId,
        ...(before?.state === undefined ? {} : { previousState: before.state }),
      };
    },

    async markNeedsUpdate(customerId, recordKey, now, reason) {
      const updated =
        reason === undefined
          ? await transition(
              customerId,
              recordKey,
              'SET #state = :needs, updatedAt = :now',
              '#state = :submitted',
              { ':needs': 'needs_update', ':submitted': 'submitted', ':now': now.toISOString() },
              'UpdateItem(needs_update)',
            )
          : await transition(
              customerId,
              recordKey,
              'SET #state = :needs, needsUpdateReason = :reason, updatedAt = :now',
              '#state = :inDoubt',
              { ':needs': 'needs_update', ':reason': reason, ':inDoubt': 'in_doubt', ':now': now.toISOString() },
              'UpdateItem(needs_update)',
            );
      return updated !== undefined;
    },

    async deferRefund(facts: RefundFacts) {
      const now = facts.now.toISOString();
      const values: Record<string, unknown> = {
        ':deferred': 'deferred',
        ':kind': 'refund',
        ':source': facts.source,
        ':sourceId': facts.sourceId,
        ':reverses': facts.reversesRecordKey,
        ':refundDate': facts.refundDate,
        ':zero': 0,
        ':now': now,
      };
      const sets = [
        '#state = if_not_exists(#state, :deferred)',
        'kind = :kind',
        '#source = :source',
        'sourceId = :sourceId',
        'reversesRecordKey = :reverses',
        'refundDate = :refundDate',
        'attempts = if_not_exists(attempts, :zero)',
        'version = if_not_exists(version, :zero)',
        'createdAt = if_not_exists(createdAt, :now)',
        'updatedAt = :now',
      ];
      setAmountIfKnown(sets, values, facts);
      const result = await send<{ Attributes?: SyncRecord }>(
        client,
        new UpdateCommand({
          TableName: table,
          Key: key(facts.customerId, facts.recordKey),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ExpressionAttributeNames: { '#state': 'state', '#source': 'source' },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
        'UpdateItem(defer refund)',
      );
      // The gift remembers its waiting refunds, so its confirmation can apply them without a scan.
      await send(
        client,
        new UpdateCommand({
          TableName: table,
          Key: key(facts.customerId, facts.reversesRecordKey),
          UpdateExpression:
            'SET deferredRefunds = list_append(if_not_exists(deferredRefunds, :empty), :refund), updatedAt = :now, ' +
            '#state = if_not_exists(#state, :pending), attempts = if_not_exists(attempts, :zero), ' +
            'version = if_not_exists(version, :zero), createdAt = if_not_exists(createdAt, :now)',
          ConditionExpression: 'attribute_not_exists(deferredRefunds) OR NOT contains(deferredRefunds, :refundKey)',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':empty': [],
            ':refund': [facts.recordKey],
            ':refundKey': facts.recordKey,
            ':pending': 'pending',
            ':zero': 0,
            ':now': now,
          },
        }),
        'UpdateItem(link refund)',
      ).catch((error: unknown) => {
        // Already linked: a re-delivery of the same refund.
        if ((error as { code?: string }).code !== 'STATE_STORE_CONFLICT') throw error;
      });
      return result.Attributes as SyncRecord;
    },

    async resetForReplay(customerId, recordKey, now, options = {}) {
      const checked = options.inDoubtChecked === true;
      await transition(
        customerId,
        recordKey,
        'SET #state = :pending, updatedAt = :now REMOVE lastErrorCode, needsUpdateReason, deadLetterId',
        // An in-doubt write Virtuous never had is sent again only by this explicit operator replay; an in-doubt
        // refund only on the operator's word that Virtuous shows no reversal.
        `#state = :failed OR (#state = :needs AND needsUpdateReason = :unknown)${
          checked ? ' OR (#state = :inDoubt AND kind = :refund)' : ''
        }`,
        {
          ':pending': 'pending',
          ':failed': 'failed',
          ':needs': 'needs_update',
          ':unknown': OUTCOME_UNKNOWN_NOT_FOUND,
          ':now': now.toISOString(),
          ...(checked ? { ':inDoubt': 'in_doubt', ':refund': 'refund' } : {}),
        },
        'UpdateItem(reset)',
      );
    },

    async listByState(customerId, states) {
      const records: SyncRecord[] = [];
      const values: Record<string, unknown> = { ':customer': customerId };
      const wanted = inList('s', states, values);
      const pages = queryPages<SyncRecord>(
        client,
        {
          TableName: table,
          KeyConditionExpression: 'customerId = :customer',
          FilterExpression: `#state IN (${wanted})`,
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: values,
        },
        'Query(by state)',
      );
      for await (const page of pages) records.push(...page);
      return records;
    },
  };
}

/** Binds each item to `:<prefix><index>` in `values`; returns the placeholders, comma-separated, for an IN list. */
function inList(prefix: string, items: readonly string[], values: Record<string, unknown>): string {
  return items
    .map((item, index) => {
      const placeholder = `:${prefix}${index}`;
      values[placeholder] = item;
      return placeholder;
    })
    .join(', ');
}

/** Sets amount and currency when the event carries them; an unknown one leaves the stored value alone. */
function setAmountIfKnown(
  sets: string[],
  values: Record<string, unknown>,
  facts: { readonly amount?: number; readonly currencyCode?: string },
): void {
  if (facts.amount !== undefined) {
    sets.push('amount = :amount');
    values[':amount'] = facts.amount;
  }
  if (facts.currencyCode !== undefined) {
    sets.push('currencyCode = :currencyCode');
    values[':currencyCode'] = facts.currencyCode;
  }
}

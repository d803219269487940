/**
 * Reconciliation of one customer: what the webhooks did not tell us, asked of Virtuous directly.
 *
 * 1. Missed webhooks: gifts and contacts modified in Virtuous since the checkpoint (Query by modifiedDateTimeUtc,
 *    paged, bounded) that carry our transaction source/id or reference are confirmed with their Virtuous id.
 * 2. Stuck submissions: records `submitted` longer than the batch window (default 36 h: one nightly batch plus
 *    margin) are looked up by source and id; found → confirmed; still 404 → needs_update and reported (Virtuous
 *    parked the transaction for an admin, e.g. a contact it could not match).
 *    In-doubt records (a write whose answer was lost) older than the window get the same lookup: found → confirmed
 *    (their kept dead letter discarded); still 404 → needs_update with reason `outcome_unknown_not_found`, reported;
 *    their dead letter, kept sealed since the write, may then be replayed once by an operator. Nothing re-sends them
 *    on its own: a lookup 404 can also mean a transaction Virtuous parked, and a second copy is the harm avoided.
 * 3. Refunds waiting for a gift that is now confirmed are applied.
 * Every run writes one log record (counts only) and a failed run is counted (metric ReconciliationFailures).
 * A run whose customer left `active` (offboarding paused it while the run waited on Virtuous) stops before its next
 * write and writes nothing more, not even its log record: offboarding may already have purged the customer's tables.
 */
import { randomBytes } from 'node:crypto';
import type { CustomerRepository } from '../customers/customer.ts';
import { errorCode, isWriteOutcomeUnknown } from '../shared/errors.ts';
import { logger } from '../shared/observability.ts';
import type { QueryPage, VirtuousApi } from '../virtuous/api.ts';
import { createActiveCustomerGate, isCustomerNotActive } from './active-customer-gate.ts';
import type { CheckpointStore } from './checkpoints.ts';
import type { DeadLetters } from './dead-letters.ts';
import { discardConfirmedInDoubt } from './in-doubt.ts';
import type { ReconciliationLog, ReconciliationRun } from './reconciliation-log.ts';
import { SYNC_METRICS, type SyncMetrics } from './sync-metrics.ts';
import { OUTCOME_UNKNOWN_NOT_FOUND, recordKey, type SyncRecord } from './sync-record.ts';
import type { SyncStateRepository } from './sync-state-repository.ts';

export const RECONCILIATION_CHECKPOINT = 'reconciliation:modified-since';
const MAX_REPORTED_KEYS = 50;

export interface ReconciliationConfig {
  /** How long a transaction may wait for Virtuous's nightly batch before it counts as stuck. */
  readonly batchWindowMs: number;
  /** First run without a checkpoint looks back this far. */
  readonly initialLookbackMs: number;
  /** Re-read this much before the checkpoint: Virtuous's clock and ours differ, re-confirming is idempotent. */
  readonly overlapMs: number;
  readonly queryPageSize: number;
  /** Bound on query pages per kind per run; the checkpoint only advances past what was read. */
  readonly maxQueryPages: number;
}

export const DEFAULT_RECONCILIATION_CONFIG: ReconciliationConfig = {
  batchWindowMs: 36 * 3_600_000,
  initialLookbackMs: 7 * 24 * 3_600_000,
  overlapMs: 15 * 60_000,
  queryPageSize: 1_000,
  maxQueryPages: 20,
};

export interface ReconciliationDeps {
  readonly syncState: SyncStateRepository;
  readonly checkpoints: CheckpointStore;
  readonly log: ReconciliationLog;
  readonly virtuousFor: (customerId: string) => VirtuousApi;
  /** Sends the reversing transaction of a deferred refund (the processor's own path, so claims are shared). */
  readonly applyDeferredRefund: (customerId: string, refundKey: string, giftVirtuousId: number) => Promise<void>;
  readonly metrics: SyncMetrics;
  readonly clock: () => Date;
  /** Discards the dead letter an in-doubt record kept once Virtuous shows the record (optional: tests without it). */
  readonly deadLetters?: Pick<DeadLetters, 'discard'>;
  readonly reconciliationConfig?: Partial<ReconciliationConfig>;
  /** Re-read before writes so a run overtaken by offboarding stops (optional: unit tests of the run's logic). */
  readonly customers?: Pick<CustomerRepository, 'get'>;
}

export async function reconcileCustomer(deps: ReconciliationDeps, customerId: string): Promise<ReconciliationRun> {
  const config = { ...DEFAULT_RECONCILIATION_CONFIG, ...deps.reconciliationConfig };
  const started = deps.clock();
  // The run id is the log table's sort key (a put overwrites): its suffix comes from the CSPRNG, not Math.random.
  const runId = `${started.toISOString()}#${randomBytes(6).toString('hex')}`;
  const counts = {
    missedWebhooksRecovered: 0,
    stuckConfirmed: 0,
    needsUpdate: 0,
    inDoubtConfirmed: 0,
    outcomeUnknownNotFound: 0,
    refundsApplied: 0,
    virtuousCalls: 0,
  };
  const needsUpdateKeys: string[] = [];
  const outcomeUnknownKeys: string[] = [];
  const checkpoint = await deps.checkpoints.get(customerId, RECONCILIATION_CHECKPOINT);
  const since = checkpoint?.position ?? new Date(started.getTime() - config.initialLookbackMs).toISOString();
  const api = deps.virtuousFor(customerId);
  const confirmedGifts = new Map<string, number>();
  const gate = createActiveCustomerGate(deps.customers, customerId);

  const finish = async (outcome: 'completed' | 'failed' | 'stopped', error?: unknown): Promise<ReconciliationRun> => {
    const run: ReconciliationRun = {
      customerId,
      runId,
      startedAt: started.toISOString(),
      finishedAt: deps.clock().toISOString(),
      outcome,
      ...(error === undefined ? {} : { errorCode: errorCode(error) }),
      since,
      ...counts,
      needsUpdateKeys: needsUpdateKeys.slice(0, MAX_REPORTED_KEYS),
      outcomeUnknownKeys: outcomeUnknownKeys.slice(0, MAX_REPORTED_KEYS),
    };
    if (outcome === 'stopped') return run;
    if (!(await gate.isActive())) return { ...run, outcome: 'stopped' };
    await deps.log.put(run);
    return run;
  };

  const querySince = new Date(Date.parse(since) - config.overlapMs).toISOString();
  /**
   * Pages through one kind's records modified since the checkpoint and confirms the ones we sent (`ourKey` names
   * them). Returns false when the page bound stopped it before the end, so the checkpoint must not advance.
   */
  const confirmModifiedSince = async <R extends { readonly id: number }>(
    query: (sinceUtc: string, skip: number, take: number) => Promise<QueryPage<R>>,
    ourKey: (record: R) => string | undefined,
    onConfirmed?: (key: string, virtuousId: number) => void,
  ): Promise<boolean> => {
    for (let page = 0; page < config.maxQueryPages; page += 1) {
      const skip = page * config.queryPageSize;
      counts.virtuousCalls += 1;
      const result = await query(querySince, skip, config.queryPageSize);
      gate.invalidate();
      for (const record of result.list) {
        const key = ourKey(record);
        if (key === undefined) continue;
        await gate.assertActive();
        const confirmed = await deps.syncState.confirm(customerId, key, record.id, deps.clock());
        if (!confirmed) continue;
        if (confirmed.previousState === 'in_doubt') counts.inDoubtConfirmed += 1;
        await discardConfirmedInDoubt(deps.deadLetters, confirmed, deps.clock());
        onConfirmed?.(key, record.id);
        if (confirmed.changed) {
          counts.missedWebhooksRecovered += 1;
          deps.metrics.count(SYNC_METRICS.recordsConfirmed);
          deps.metrics.count(SYNC_METRICS.missedWebhooksRecovered);
        }
      }
      if (result.list.length < config.queryPageSize || skip + result.list.length >= result.total) return true;
    }
    return false;
  };

  try {
    // 1. Missed webhooks.
    const giftsComplete = await confirmModifiedSince(
      (sinceUtc, skip, take) => api.queryGiftsModifiedSince(sinceUtc, skip, take),
      (gift) =>
        gift.transactionSource && gift.transactionId
          ? recordKey('gift', gift.transactionSource, gift.transactionId)
          : undefined,
      (key, virtuousId) => confirmedGifts.set(key, virtuousId),
    );
    const contactsComplete = await confirmModifiedSince(
      (sinceUtc, skip, take) => api.queryContactsModifiedSince(sinceUtc, skip, take),
      (contact) =>
        contact.referenceSource && contact.referenceId
          ? recordKey('contact', contact.referenceSource, contact.referenceId)
          : undefined,
    );
    const complete = giftsComplete && contactsComplete;

    // 2. Stuck submissions.
    const cutoff = started.getTime() - config.batchWindowMs;
    const stuck = (await deps.syncState.listByState(customerId, ['submitted', 'in_doubt'])).filter(
      (record) => record.kind !== 'refund' && Date.parse(record.submittedAt ?? record.updatedAt) < cutoff,
    );
    for (const record of stuck) {
      counts.virtuousCalls += 1;
      const found = await lookup(api, record);
      gate.invalidate();
      await gate.assertActive();
      if (found !== undefined) {
        const confirmed = await deps.syncState.confirm(customerId, record.recordKey, found, deps.clock());
        if (confirmed?.changed) {
          counts.stuckConfirmed += 1;
          deps.metrics.count(SYNC_METRICS.recordsConfirmed);
        }
        if (confirmed?.previousState === 'in_doubt') counts.inDoubtConfirmed += 1;
        await discardConfirmedInDoubt(deps.deadLetters, confirmed, deps.clock());
        if (record.kind === 'gift') confirmedGifts.set(record.recordKey, found);
      } else if (record.state === 'in_doubt') {
        if (
          await deps.syncState.markNeedsUpdate(customerId, record.recordKey, deps.clock(), OUTCOME_UNKNOWN_NOT_FOUND)
        ) {
          counts.needsUpdate += 1;
          counts.outcomeUnknownNotFound += 1;
          needsUpdateKeys.push(record.recordKey);
          outcomeUnknownKeys.push(record.recordKey);
          deps.metrics.count(SYNC_METRICS.recordsNeedingUpdate);
        }
      } else if (await deps.syncState.markNeedsUpdate(customerId, record.recordKey, deps.clock())) {
        counts.needsUpdate += 1;
        needsUpdateKeys.push(record.recordKey);
        deps.metrics.count(SYNC_METRICS.recordsNeedingUpdate);
      }
    }

    // 3. Refunds whose gift is now known.
    for (const refund of await deps.syncState.listByState(customerId, ['deferred', 'pending'])) {
      if (refund.kind !== 'refund' || !refund.reversesRecordKey) continue;
      const giftId =
        confirmedGifts.get(refund.reversesRecordKey) ??
        (await deps.syncState.get(customerId, refund.reversesRecordKey))?.virtuousId;
      if (giftId === undefined) continue;
      await gate.assertActive();
      counts.virtuousCalls += 1;
      try {
        await deps.applyDeferredRefund(customerId, refund.recordKey, giftId);
      } catch (error) {
        // A reversal whose answer was lost is kept in doubt for an operator (dead letter, alert); the run goes on.
        if (!isWriteOutcomeUnknown(error)) throw error;
        logger.warn('deferred refund in doubt', { customerId, recordKey: refund.recordKey, runId });
        continue;
      } finally {
        gate.invalidate();
      }
      counts.refundsApplied += 1;
    }

    if (complete) {
      await gate.assertActive();
      await deps.checkpoints.put(
        customerId,
        RECONCILIATION_CHECKPOINT,
        { position: started.toISOString(), status: 'completed' },
        deps.clock(),
      );
    }
    const run = await finish('completed');
    if (counts.needsUpdate > 0) {
      logger.warn('reconciliation found records needing update', {
        customerId,
        needsUpdate: counts.needsUpdate,
        // In-doubt writes Virtuous never showed: the operator decides (replay the dead letter once, or discard it).
        outcomeUnknownNotFound: counts.outcomeUnknownNotFound,
        reason: counts.outcomeUnknownNotFound > 0 ? OUTCOME_UNKNOWN_NOT_FOUND : undefined,
        runId,
      });
    }
    return run;
  } catch (error) {
    if (isCustomerNotActive(error)) {
      logger.info('reconciliation stopped: customer no longer active', { customerId, runId });
      return finish('stopped');
    }
    deps.metrics.count(SYNC_METRICS.reconciliationFailures);
    logger.error('reconciliation failed', { customerId, runId, errorCode: errorCode(error) });
    return finish('failed', error);
  }
}

async function lookup(api: VirtuousApi, record: SyncRecord): Promise<number | undefined> {
  if (record.kind === 'gift') return (await api.findGiftByTransaction(record.source, record.sourceId))?.id;
  return (await api.findContactByReference(record.source, record.sourceId))?.id;
}

/**
 * Metric names of the sync engine. The CDK alarms key on the first block, so these strings are a contract.
 * Domain code counts through this small interface; the handlers back it with Powertools metrics.
 */
export const SYNC_METRICS = {
  deadLettersCreated: 'DeadLettersCreated',
  customersPaused: 'CustomersPaused',
  reconciliationFailures: 'ReconciliationFailures',
  virtuousRateLimited: 'VirtuousRateLimited',
  unknownEvents: 'UnknownEvents',
  recordsSubmitted: 'RecordsSubmitted',
  recordsConfirmed: 'RecordsConfirmed',
  duplicateDeliveries: 'DuplicateDeliveries',
  messagesHeld: 'MessagesHeld',
  messagesDiscarded: 'MessagesDiscarded',
  messagesReleased: 'MessagesReleased',
  refundsDeferred: 'RefundsDeferred',
  refundsApplied: 'RefundsApplied',
  partialRefundsSkipped: 'PartialRefundsSkipped',
  recordsNeedingUpdate: 'RecordsNeedingUpdate',
  missedWebhooksRecovered: 'MissedWebhooksRecovered',
  bulkEventsEnqueued: 'BulkEventsEnqueued',
  /** Transaction writes whose outcome was unknown (sent, answer lost): kept in_doubt for reconciliation. */
  writesInDoubt: 'WritesInDoubt',
} as const;

export type SyncMetricName = (typeof SYNC_METRICS)[keyof typeof SYNC_METRICS];

export interface SyncMetrics {
  count(name: SyncMetricName, value?: number): void;
}

/** Counts in memory: tests, benchmarks, and the one-machine runtime's status output. */
export class CountingMetrics implements SyncMetrics {
  readonly counts = new Map<SyncMetricName, number>();
  count(name: SyncMetricName, value = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
  }
  get(name: SyncMetricName): number {
    return this.counts.get(name) ?? 0;
  }
}

/** Runs `task` over `items` with at most `limit` in flight, keeping results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T);
    }
  });
  await Promise.all(workers);
  return results;
}

/**
 * A reconciliation run's id is the sort key of its log record (a put overwrites). Its suffix must come from the
 * CSPRNG: two runs that start in the same millisecond keep two records even when Math.random is predictable.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { reconcileCustomer } from '../../../functions/sync/reconciliation.ts';
import type { ReconciliationRun } from '../../../functions/sync/reconciliation-log.ts';
import { CountingMetrics } from '../../../functions/sync/sync-metrics.ts';
import type { SyncStateRepository } from '../../../functions/sync/sync-state-repository.ts';
import type { VirtuousApi } from '../../../functions/virtuous/api.ts';

const STARTED = new Date('2026-03-01T02:00:00.000Z');

function deps(runs: ReconciliationRun[]) {
  const emptyPage = async (_since: string, skip: number, take: number) => ({ list: [], total: 0, skip, take });
  return {
    syncState: { listByState: async () => [] } as unknown as SyncStateRepository,
    checkpoints: { get: async () => undefined, put: async () => undefined },
    log: {
      put: async (run: ReconciliationRun) => {
        runs.push(run);
      },
      list: async () => [],
    },
    virtuousFor: () =>
      ({ queryGiftsModifiedSince: emptyPage, queryContactsModifiedSince: emptyPage }) as unknown as VirtuousApi,
    applyDeferredRefund: async () => undefined,
    metrics: new CountingMetrics(),
    clock: () => STARTED,
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('reconciliation run id', () => {
  it('differs between runs started in the same millisecond, whatever Math.random returns', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.123456789);
    const runs: ReconciliationRun[] = [];
    await reconcileCustomer(deps(runs), 'customer-a');
    await reconcileCustomer(deps(runs), 'customer-a');

    expect(runs).toHaveLength(2);
    expect(runs.map((run) => run.outcome)).toEqual(['completed', 'completed']);
    const [first, second] = runs.map((run) => run.runId);
    expect(first).not.toBe(second);
    expect(first).toMatch(/^2026-03-01T02:00:00\.000Z#[0-9a-f]{12}$/);
  });
});

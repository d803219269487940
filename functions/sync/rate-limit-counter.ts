/**
 * Counts Virtuous 429 answers (metric VirtuousRateLimited) by wrapping the fetch the client uses: the client retries
 * a 429 on its own, so the count must be taken where the answer arrives, not where an error surfaces.
 */
import { SYNC_METRICS, type SyncMetrics } from './sync-metrics.ts';

export function countingRateLimits(metrics: SyncMetrics, inner: typeof fetch = globalThis.fetch): typeof fetch {
  return async (input, init) => {
    const response = await inner(input, init);
    if (response.status === 429) metrics.count(SYNC_METRICS.virtuousRateLimited);
    return response;
  };
}

/** SyncMetrics on the shared Powertools metrics emitter (EMF, namespace of functions/shared/observability.ts). */
import { MetricUnit, metrics } from '../shared/observability.ts';
import type { SyncMetrics } from './sync-metrics.ts';

export const powertoolsSyncMetrics: SyncMetrics = {
  count(name, value = 1) {
    metrics.addMetric(name, MetricUnit.Count, value);
  },
};

export function flushPowertoolsMetrics(): void {
  metrics.publishStoredMetrics();
}

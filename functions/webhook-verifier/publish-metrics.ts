/**
 * Publishes the metrics a verifier request recorded, and only when it recorded some. Powertools' logMetrics publishes
 * on every request and warns ("No application metrics to publish") when there are none, and even its
 * `hasStoredMetrics()` reads the environment on every call; the verifier records a metric only for a refusal, a
 * failure or a debug capture, so an accepted delivery costs no EMF line, no warning and no environment read.
 * Accepted volume is visible from API Gateway's Count and the queue's NumberOfMessagesSent.
 */
import type { Metrics } from '@aws-lambda-powertools/metrics';

export interface RecordedMetrics {
  /** Call when (or before) a request adds a metric, so the end of that request publishes it. */
  recorded(): void;
  /** The cold-start metric on the first request of the container. */
  atStart(functionName: string): void;
  /** Publishes what requests recorded since the last publish, if any. */
  atEnd(): void;
}

export function recordedMetricsPublisher(metrics: Metrics): RecordedMetrics {
  let coldStart = true;
  // Requests of the one-machine runtime may overlap: a request that ends publishes what any of them stored, and one
  // that records after that sets the flag again for its own end.
  let pending = false;
  return {
    recorded() {
      pending = true;
    },
    atStart(functionName) {
      if (!coldStart) return;
      coldStart = false;
      metrics.captureColdStartMetric(functionName);
    },
    atEnd() {
      if (!pending) return;
      pending = false;
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    },
  };
}

/**
 * Middy middleware that publishes the metrics a request recorded, and only when it recorded some. Powertools'
 * logMetrics publishes on every request and warns ("No application metrics to publish") when there are none; the
 * verifier records a metric only for a refusal or a failure, so an accepted delivery costs no EMF line and no warning.
 * Accepted volume is visible from API Gateway's Count and the queue's NumberOfMessagesSent.
 */
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { MiddlewareObj } from '@middy/core';

export function publishRecordedMetrics(metrics: Metrics): MiddlewareObj {
  let coldStart = true;
  const publish = (): void => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  };
  return {
    before: (request) => {
      if (!coldStart) return;
      coldStart = false;
      metrics.captureColdStartMetric(request.context.functionName);
    },
    after: publish,
    onError: publish,
  };
}

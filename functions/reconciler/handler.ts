/**
 * The hourly reconciler (EventBridge Scheduler): fans out over active customers, or runs one customer on demand
 * (`{ "customerId": "acme" }`). For each: messages held while the customer was paused go back on the queue (a
 * resume that did not release them is caught here within the hour), then reconciliation runs. One customer's
 * failure is logged, counted and recorded in its log; the others still run.
 */
import type { Context } from 'aws-lambda';
import type { CustomerRepository } from '../customers/customer.ts';
import { errorCode } from '../shared/errors.ts';
import { isCustomerId } from '../shared/identifiers.ts';
import { logger } from '../shared/observability.ts';
import { createAwsSyncDependencies } from '../sync/aws-wiring.ts';
import type { HeldMessages } from '../sync/held-messages.ts';
import { flushPowertoolsMetrics } from '../sync/powertools-metrics.ts';
import { type ReconciliationDeps, reconcileCustomer } from '../sync/reconciliation.ts';
import { mapLimit, SYNC_METRICS } from '../sync/sync-metrics.ts';

export interface ReconcilerDeps extends ReconciliationDeps {
  readonly customers: CustomerRepository;
  readonly held: HeldMessages;
  /** Customers reconciled at the same time (they share nothing but this function's time). */
  readonly concurrency?: number;
  readonly flushMetrics?: () => void;
}

export interface ReconcilerEvent {
  readonly customerId?: string;
}

export interface ReconcilerResult {
  readonly customers: number;
  readonly failed: number;
  readonly released: number;
  readonly needsUpdate: number;
  readonly recovered: number;
}

export type ReconcilerHandler = (event: ReconcilerEvent, context?: Context) => Promise<ReconcilerResult>;

export function createReconcilerHandler(deps: ReconcilerDeps): ReconcilerHandler {
  return async (event) => {
    const only = event?.customerId;
    if (only !== undefined && !isCustomerId(only)) {
      return { customers: 0, failed: 0, released: 0, needsUpdate: 0, recovered: 0 };
    }
    const candidates = only === undefined ? await deps.customers.list() : [await deps.customers.get(only)];
    const active = candidates
      .filter((customer) => customer?.status === 'active')
      .map((customer) => customer?.customerId as string);
    let failed = 0;
    let released = 0;
    let needsUpdate = 0;
    let recovered = 0;
    await mapLimit(active, deps.concurrency ?? 4, async (customerId) => {
      try {
        const count = await deps.held.release(customerId);
        if (count > 0) {
          released += count;
          deps.metrics.count(SYNC_METRICS.messagesReleased, count);
          logger.info('held messages released', { customerId, count });
        }
      } catch (error) {
        logger.error('releasing held messages failed', { customerId, errorCode: errorCode(error) });
      }
      const run = await reconcileCustomer(deps, customerId);
      if (run.outcome === 'failed') failed += 1;
      needsUpdate += run.needsUpdate;
      recovered += run.missedWebhooksRecovered + run.stuckConfirmed;
    });
    deps.flushMetrics?.();
    return { customers: active.length, failed, released, needsUpdate, recovered };
  };
}

let awsHandler: Promise<ReconcilerHandler> | undefined;

export const handler = async (event: ReconcilerEvent, context: Context): Promise<ReconcilerResult> => {
  logger.addContext(context);
  awsHandler ??= createAwsSyncDependencies(process.env, {
    functionName: context.functionName,
    tokenReason: 'sync:reconcile',
  }).then(
    (deps) => createReconcilerHandler({ ...deps, flushMetrics: flushPowertoolsMetrics }),
    (error: unknown) => {
      awsHandler = undefined;
      throw error;
    },
  );
  return (await awsHandler)(event, context);
};

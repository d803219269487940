/**
 * The bulk loader: puts a customer's history on the inbound queue in pages, resumable from its checkpoint.
 * Event: `{ customerId, loadId?, export?: { bucket, key } }` (loadId defaults to the lifecycle's `initial-load`).
 * A run stops a minute before the function's own timeout and answers `completed: false`; invoking it again
 * continues where it stopped.
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import type { CustomerRepository } from '../customers/customer.ts';
import { ForbiddenInputError } from '../shared/errors.ts';
import { assertCustomerId } from '../shared/identifiers.ts';
import { logger } from '../shared/observability.ts';
import { createAwsSyncDependencies } from '../sync/aws-wiring.ts';
import { type BulkLoadDeps, type BulkLoadResult, type HistorySource, runBulkLoad } from '../sync/bulk-load.ts';
import { flushPowertoolsMetrics } from '../sync/powertools-metrics.ts';
import { s3JsonlHistorySource } from '../sync/s3-history-source.ts';

export const INITIAL_LOAD_ID = 'initial-load';
const LOAD_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const DEADLINE_MARGIN_MS = 60_000;

export interface BulkLoaderEvent {
  readonly customerId: string;
  readonly loadId?: string;
  readonly export?: { readonly bucket: string; readonly key: string };
}

export interface BulkLoaderDeps extends BulkLoadDeps {
  readonly customers: CustomerRepository;
  readonly historySourceFor: (event: BulkLoaderEvent) => HistorySource;
  readonly flushMetrics?: () => void;
}

export type BulkLoaderHandler = (
  event: BulkLoaderEvent,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
) => Promise<BulkLoadResult & { readonly customerId: string; readonly loadId: string }>;

export function createBulkLoaderHandler(deps: BulkLoaderDeps): BulkLoaderHandler {
  return async (event, context) => {
    const customerId = assertCustomerId(event?.customerId);
    const loadId = event.loadId ?? INITIAL_LOAD_ID;
    if (!LOAD_ID.test(loadId))
      throw new ForbiddenInputError('INVALID_LOAD_ID', 'loadId must be 1-128 of [A-Za-z0-9_.:-]');
    const customer = await deps.customers.get(customerId);
    if (!customer || (customer.status !== 'active' && customer.status !== 'onboarding')) {
      throw new ForbiddenInputError('CUSTOMER_NOT_SYNCING', 'the customer is not active');
    }
    const deadline = context
      ? deps.clock().getTime() + context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS
      : undefined;
    try {
      const result = await runBulkLoad(deps, {
        customerId,
        loadId,
        source: deps.historySourceFor(event),
        ...(deadline === undefined ? {} : { deadline }),
      });
      return { customerId, loadId, ...result };
    } finally {
      deps.flushMetrics?.();
    }
  };
}

let awsHandler: Promise<BulkLoaderHandler> | undefined;

export const handler = async (event: BulkLoaderEvent, context: Context) => {
  logger.addContext(context);
  awsHandler ??= createAwsSyncDependencies(process.env, { functionName: context.functionName }).then(
    (deps) => {
      const s3 = new S3Client({ maxAttempts: 3, requestHandler: { connectionTimeout: 2_000, requestTimeout: 30_000 } });
      return createBulkLoaderHandler({
        ...deps,
        historySourceFor: (request) => {
          if (!request.export) throw new ForbiddenInputError('MISSING_EXPORT', 'the event names no history export');
          return s3JsonlHistorySource(s3, request.export.bucket, request.export.key);
        },
        flushMetrics: flushPowertoolsMetrics,
      });
    },
    (error: unknown) => {
      awsHandler = undefined;
      throw error;
    },
  );
  return (await awsHandler)(event, context);
};

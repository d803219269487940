/**
 * The bulk loader: puts a customer's history on the inbound queue in pages, resumable from its checkpoint.
 * Event: `{ customerId, loadId?, export?: { bucket, key } }` (an export in the imports bucket) or
 * `{ customerId, loadId?, source: 'stripe-connect' }` (the customer's connected Stripe account, read with OAuth);
 * loadId defaults to the lifecycle's `initial-load`. A run stops a minute before the function's own timeout and
 * answers `completed: false`; invoking it again continues where it stopped. A revoked Stripe grant stops the run
 * with `stoppedBy: 'credential_revoked'` (customer paused, one alert, checkpoint kept).
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { SourceTokenManager } from '../credentials/source-tokens.ts';
import { createStripeConnectRefresher } from '../credentials/stripe-connect-oauth.ts';
import type { CustomerRepository } from '../customers/customer.ts';
import { ENV } from '../shared/environment.ts';
import { ForbiddenInputError } from '../shared/errors.ts';
import { assertCustomerId } from '../shared/identifiers.ts';
import { logger } from '../shared/observability.ts';
import { createAwsSyncDependencies, type SyncEngineDeps } from '../sync/aws-wiring.ts';
import { type BulkLoadDeps, type BulkLoadResult, type HistorySource, runBulkLoad } from '../sync/bulk-load.ts';
import { flushPowertoolsMetrics } from '../sync/powertools-metrics.ts';
import { STRIPE_API_BASE_URL } from '../sync/stripe-history-source.ts';
import { historySourceSelector } from './history-sources.ts';

export const INITIAL_LOAD_ID = 'initial-load';
const LOAD_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const DEADLINE_MARGIN_MS = 60_000;

export interface BulkLoaderEvent {
  readonly customerId: string;
  readonly loadId?: string;
  readonly export?: { readonly bucket: string; readonly key: string };
  /** `stripe-connect`: read the history from the customer's connected Stripe account instead of an export. */
  readonly source?: string;
}

export interface BulkLoaderDeps extends BulkLoadDeps {
  readonly customers: CustomerRepository;
  readonly historySourceFor: (event: BulkLoaderEvent & { readonly customerId: string }) => HistorySource;
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
        source: deps.historySourceFor({ ...event, customerId }),
        ...(deadline === undefined ? {} : { deadline }),
      });
      return { customerId, loadId, ...result };
    } finally {
      deps.flushMetrics?.();
    }
  };
}

const CLIENT_SETTINGS = {
  maxAttempts: 3,
  requestHandler: { connectionTimeout: 2_000, requestTimeout: 30_000 },
} as const;

/**
 * Stripe Connect over OAuth: the platform's OAuth client from Secrets Manager (by name, read with this function's
 * role), the customer's refresh token from the customer-scoped SecretStore (rotated tokens written back).
 */
function stripeConnectTokens(deps: SyncEngineDeps, env: NodeJS.ProcessEnv): SourceTokenManager {
  const refresher = createStripeConnectRefresher(env);
  return new SourceTokenManager({ store: deps.secrets, refresher, customers: deps.customers, notifier: deps.notifier });
}

let awsHandler: Promise<BulkLoaderHandler> | undefined;

export const handler = async (event: BulkLoaderEvent, context: Context) => {
  logger.addContext(context);
  awsHandler ??= createAwsSyncDependencies(process.env, { functionName: context.functionName }).then(
    (deps) => {
      let s3: S3Client | undefined;
      let tokens: SourceTokenManager | undefined;
      return createBulkLoaderHandler({
        ...deps,
        historySourceFor: historySourceSelector({
          s3: () => {
            s3 ??= new S3Client(CLIENT_SETTINGS);
            return s3;
          },
          stripeConnect: () => {
            tokens ??= stripeConnectTokens(deps, process.env);
            return { tokens, apiBaseUrl: process.env[ENV.stripeApiBaseUrl] || STRIPE_API_BASE_URL };
          },
        }),
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

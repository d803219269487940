/**
 * Connecting a customer's source platform (Stripe): its webhook endpoint signing secret, which the webhook verifier
 * checks Stripe's deliveries against, and its Stripe Connect OAuth refresh token, with which the Stripe history is
 * loaded. Each value is validated before it is stored, stored only through the SecretStore (every access audited,
 * the name from secret-names.ts), and never echoed, logged or put into an execution.
 *
 * - Webhook secret: must have the shape of a Stripe endpoint signing secret (`whsec_…`); Stripe offers no call that
 *   checks one, so its shape is what can be checked. A wrong secret shows as refused deliveries (401).
 * - Refresh token: validated by refreshing it at the configured Stripe Connect OAuth token endpoint, with the
 *   partner platform's OAuth client. When the refresh rotates the refresh token, the submitted one is spent and the
 *   new one is stored instead. The access token of that refresh is dropped.
 * - Either becomes the current version at once; an earlier one is deleted (no overlap: connect the new webhook
 *   secret right when you roll it in Stripe).
 *
 * The Stripe history load: onboarding starts it when the customer has a refresh token by then. A refresh token
 * connected later starts it here, once: for an active customer whose initial-load checkpoint has no Stripe load yet.
 * A customer still onboarding gets it from onboarding; a paused one gets it when the token is connected again after
 * resume (a customer paused because Stripe revoked the grant re-authorizes this way, then resumes).
 */
import type { OAuthRefresher } from '../credentials/oauth-refresher.ts';
import type { AccessContext, SecretRef, SecretStore } from '../credentials/secret-store.ts';
import type { CustomerStatus } from '../customers/customer.ts';
import type { InitialLoadStarter, SyncControl } from '../lifecycle/ports.ts';
import { CredentialRevokedError, PermanentError } from '../shared/errors.ts';
import { logger } from '../shared/observability.ts';
import { STRIPE_OAUTH_SOURCE } from '../sync/stripe-history-source.ts';
import { ApiRefusal, type LifecycleApiDeps } from './lifecycle-api.ts';

export type SourceCredential = 'webhook_secret' | 'refresh_token';

/** Sources a customer can connect; each needs a verifier and, for OAuth, a refresher configuration. */
export const CONNECTABLE_SOURCES: ReadonlySet<string> = new Set([STRIPE_OAUTH_SOURCE]);

/** What connecting a refresh token needs beyond the lifecycle API's own dependencies. */
export interface SourceCredentialServices {
  /** Refreshes at the source's OAuth token endpoint; without it a refresh token is refused (501). */
  readonly refresher?: OAuthRefresher;
  /** The initial-load checkpoint and the starter: without them no history load is started here. */
  readonly syncControl?: SyncControl;
  readonly initialLoads?: InitialLoadStarter;
}

/**
 * What became of the Stripe history load: `started` now; `already_started` earlier (onboarding or an earlier
 * connection); `at_onboarding` (the running onboarding starts it); `not_started` (the customer is paused: connect the
 * token again after resume); `not_applicable` (a webhook secret); `not_configured` (no starter on this deployment).
 */
export type HistoryLoad =
  | 'started'
  | 'already_started'
  | 'at_onboarding'
  | 'not_started'
  | 'not_applicable'
  | 'not_configured';

/** Stripe's endpoint signing secrets: `whsec_` and a base64-like key. */
const STRIPE_WEBHOOK_SECRET = /^whsec_[A-Za-z0-9+/=_-]{16,250}$/;

/** Statuses whose source credentials may be (re)connected: not while failed, offboarding or offboarded. */
const MAY_CONNECT: ReadonlySet<CustomerStatus> = new Set(['onboarding', 'active', 'paused']);

const CONNECT: AccessContext = { reason: 'source:connect' };

export async function connectSourceCredential(
  deps: LifecycleApiDeps,
  request: { customerId: string; source: string; credential: SourceCredential; value: string },
): Promise<{ historyLoad: HistoryLoad }> {
  const { customerId, source, credential } = request;
  if (!CONNECTABLE_SOURCES.has(source)) throw new ApiRefusal(404, 'UNKNOWN_SOURCE', 'no such source platform');
  const record = await deps.customers.get(customerId);
  if (record === undefined || record.status === 'offboarded') {
    throw new ApiRefusal(404, 'CUSTOMER_NOT_FOUND', `customer ${customerId} is not connected`);
  }
  if (!MAY_CONNECT.has(record.status)) {
    throw new ApiRefusal(409, 'CUSTOMER_NOT_CONNECTABLE', `customer ${customerId} is ${record.status}`);
  }

  if (credential === 'webhook_secret') {
    if (!STRIPE_WEBHOOK_SECRET.test(request.value)) {
      throw new ApiRefusal(422, 'WEBHOOK_SECRET_REJECTED', 'this is not a Stripe webhook signing secret (whsec_…)');
    }
    await storeAsOnlyVersion(deps.secrets, { customerId, kind: 'source_webhook_secret', source }, request.value);
    logger.info('source credential connected', { customerId, source, credential });
    return { historyLoad: 'not_applicable' };
  }

  const refresher = deps.sourceCredentials?.refresher;
  if (refresher === undefined) {
    throw new ApiRefusal(501, 'NOT_CONFIGURED', `no ${source} OAuth client is configured on this deployment`);
  }
  let rotated: string | undefined;
  try {
    rotated = (await refresher.refresh(source, request.value)).refreshToken;
  } catch (error) {
    if (
      error instanceof CredentialRevokedError ||
      (error instanceof PermanentError && error.code === 'OAUTH_REFRESH_REFUSED')
    ) {
      throw new ApiRefusal(422, 'REFRESH_TOKEN_REJECTED', `${source} did not accept the refresh token`);
    }
    // Unreachable or unavailable: 503 (retry); our OAuth client refused (OAUTH_CLIENT_REJECTED): an operator problem.
    throw error;
  }
  await storeAsOnlyVersion(deps.secrets, { customerId, kind: 'refresh_token', source }, rotated ?? request.value);
  logger.info('source credential connected', {
    customerId,
    source,
    credential,
    rotatedByRefresh: rotated !== undefined,
  });
  return { historyLoad: await startHistoryLoad(deps, customerId) };
}

/** pending → current, then the version it replaced is deleted: the connected value is the only one in use. */
async function storeAsOnlyVersion(secrets: SecretStore, ref: SecretRef, value: string): Promise<void> {
  await secrets.putPending(ref, value, CONNECT);
  await secrets.promotePending(ref, CONNECT);
  await secrets.deletePrevious(ref, CONNECT);
}

async function startHistoryLoad(deps: LifecycleApiDeps, customerId: string): Promise<HistoryLoad> {
  // Read after storing: onboarding activates the customer before it requests the initial loads, so a customer still
  // onboarding here is one whose RequestInitialLoad will find the token.
  const record = await deps.customers.get(customerId);
  if (record?.status === 'onboarding') return 'at_onboarding';
  const { syncControl, initialLoads } = deps.sourceCredentials ?? {};
  if (syncControl === undefined || initialLoads === undefined) return 'not_configured';
  const now = () => deps.clock.now().toISOString();
  const checkpoint = await syncControl.requestInitialLoad(customerId, now());
  if (checkpoint.started.includes('stripe-connect')) return 'already_started';
  // The bulk loader loads only for active (or onboarding) customers.
  if (record?.status !== 'active') return 'not_started';
  await initialLoads.start(customerId, 'stripe-connect');
  await syncControl.recordInitialLoadStarted(customerId, 'stripe-connect', now());
  logger.info('stripe history load started', { customerId });
  return 'started';
}

/**
 * Onboarding's last sync step: request the initial-load checkpoint and start the loads a new customer needs, a
 * reconciliation run (whatever changed in Virtuous is matched) and, when the customer connected Stripe, a Stripe
 * Connect bulk load. The checkpoint is the guard: once it left `requested`, a retried step starts nothing; a load
 * already recorded as started is not started again. A crash between a start and its record starts that load once
 * more: both loads are idempotent (sync records dedupe what they submit).
 */
import type { SecretStore } from '../credentials/secret-store.ts';
import { logger } from '../shared/observability.ts';
import { STRIPE_OAUTH_SOURCE } from '../sync/stripe-history-source.ts';
import type { Clock, InitialLoad, InitialLoadStarter, SyncControl } from './ports.ts';

export interface InitialLoadDeps {
  readonly secrets: SecretStore;
  readonly syncControl: SyncControl;
  readonly initialLoads: InitialLoadStarter;
  readonly clock: Clock;
}

export interface InitialLoadOutcome {
  /** The loads this run started (empty on a retry after every start was recorded). */
  readonly started: readonly InitialLoad[];
}

export async function startInitialLoads(
  deps: InitialLoadDeps,
  step: { readonly customerId: string; readonly executionId: string },
): Promise<InitialLoadOutcome> {
  const { customerId } = step;
  const checkpoint = await deps.syncControl.requestInitialLoad(customerId, deps.clock.now().toISOString());
  if (checkpoint.status !== 'requested') return { started: [] };
  const wanted: InitialLoad[] = ['reconciliation'];
  if (await hasStripeConnection(deps.secrets, step)) wanted.push('stripe-connect');
  const started: InitialLoad[] = [];
  for (const load of wanted) {
    if (checkpoint.started.includes(load)) continue;
    await deps.initialLoads.start(customerId, load);
    await deps.syncControl.recordInitialLoadStarted(customerId, load, deps.clock.now().toISOString());
    started.push(load);
  }
  await deps.syncControl.completeInitialLoadRequest(customerId, deps.clock.now().toISOString());
  logger.info('initial loads started', { customerId, started: started.join(',') });
  return { started };
}

/** The SecretStore has no existence check: the value is read (audited under this reason) and dropped at once. */
async function hasStripeConnection(
  secrets: SecretStore,
  step: { readonly customerId: string; readonly executionId: string },
): Promise<boolean> {
  const version = await secrets.read(
    { customerId: step.customerId, kind: 'refresh_token', source: STRIPE_OAUTH_SOURCE },
    'current',
    { reason: 'onboarding:initial-load', requestId: step.executionId },
  );
  return version !== undefined;
}

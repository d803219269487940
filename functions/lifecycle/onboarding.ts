/**
 * Onboarding, after the lifecycle API validated the customer's key and stored it as pending: promote the key, record
 * the organization, create and store the webhook secret, subscribe, activate, request the initial load, notify.
 * Every step is safe to run twice (Step Functions retries it). `compensate` undoes what exists.
 */
import type { SecretStore } from '../credentials/secret-store.ts';
import type { CustomerRepository } from '../customers/customer.ts';
import type { Notifier } from '../notifications/notifier.ts';
import { errorCode, isWriteOutcomeUnknown, PermanentError, TransientError } from '../shared/errors.ts';
import { logger } from '../shared/observability.ts';
import type { VirtuousApi } from '../virtuous/api.ts';
import { startInitialLoads } from './initial-load.ts';
import { requireCustomer } from './lock.ts';
import type { Clock, InitialLoadStarter, SyncControl, VirtuousConnector } from './ports.ts';
import { type LifecycleSettings, requireWebhookBaseUrl, webhookPayloadUrl } from './settings.ts';
import { generateWebhookSecret, subscriptionFor } from './webhook-secret.ts';

export interface OnboardingDeps {
  readonly customers: CustomerRepository;
  readonly secrets: SecretStore;
  readonly virtuous: VirtuousConnector;
  readonly notifier: Notifier;
  readonly syncControl: SyncControl;
  readonly initialLoads: InitialLoadStarter;
  readonly clock: Clock;
  readonly settings: LifecycleSettings;
}

export interface Step {
  readonly customerId: string;
  readonly executionId: string;
}

/** Promotes the pending key; a retry after a successful promotion finds no pending version but a current one. */
export async function promoteOnboardingToken(deps: OnboardingDeps, step: Step): Promise<void> {
  const ref = { customerId: step.customerId, kind: 'api_token' } as const;
  try {
    await deps.secrets.promotePending(ref, { reason: 'onboarding:promote', requestId: step.executionId });
  } catch (error) {
    if (!(error instanceof PermanentError)) throw error;
    const current = await deps.secrets.read(ref, 'current', {
      reason: 'onboarding:check-promoted',
      requestId: step.executionId,
    });
    if (current === undefined) throw error;
  }
  await deps.customers.update(step.customerId, { tokenPromotedAt: deps.clock.now().toISOString() });
}

/** Confirms the promoted key reaches an enabled organization, the same one the API saw at submission. */
export async function recordOrganization(deps: OnboardingDeps, step: Step): Promise<{ organizationId: string }> {
  const record = await requireCustomer(deps.customers, step.customerId);
  const organization = await deps.virtuous
    .forCustomer(step.customerId, { stage: 'current', reason: 'onboarding:verify-organization' })
    .currentOrganization();
  if (!organization.isEnabled) {
    throw new PermanentError('ORGANIZATION_DISABLED', `the organization of ${step.customerId} is not enabled`);
  }
  const organizationId = String(organization.organizationUserId);
  if (record.organizationId !== undefined && record.organizationId !== organizationId) {
    throw new PermanentError('ORGANIZATION_MISMATCH', `the key of ${step.customerId} points at another organization`);
  }
  await deps.customers.update(step.customerId, { organizationId });
  return { organizationId };
}

/** Creates the webhook secret unless a current one exists (a retry after success). */
export async function createWebhookSecret(deps: OnboardingDeps, step: Step): Promise<void> {
  const ref = { customerId: step.customerId, kind: 'webhook_secret' } as const;
  const existing = await deps.secrets.read(ref, 'current', {
    reason: 'onboarding:check-webhook-secret',
    requestId: step.executionId,
  });
  if (existing !== undefined) return;
  await deps.secrets.putPending(ref, generateWebhookSecret(), {
    reason: 'onboarding:create-webhook-secret',
    requestId: step.executionId,
  });
  await deps.secrets.promotePending(ref, { reason: 'onboarding:create-webhook-secret', requestId: step.executionId });
}

export async function createWebhookSubscription(
  deps: OnboardingDeps,
  step: Step,
): Promise<{ webhookSubscriptionId: number }> {
  const record = await requireCustomer(deps.customers, step.customerId);
  if (record.webhookSubscriptionId !== undefined) return { webhookSubscriptionId: record.webhookSubscriptionId };
  const payloadUrl = webhookPayloadUrl({ webhookPublicBaseUrl: requireWebhookBaseUrl(deps.settings) }, step.customerId);
  const secret = await deps.secrets.read({ customerId: step.customerId, kind: 'webhook_secret' }, 'current', {
    reason: 'onboarding:subscribe',
    requestId: step.executionId,
  });
  if (secret === undefined) {
    throw new PermanentError('WEBHOOK_SECRET_MISSING', `no webhook secret for ${step.customerId}`);
  }
  if (record.webhookCreateAttempt !== undefined) {
    // An earlier run POSTed and died before saving the id (a crash, a timeout, a lost write): the subscription may
    // exist, and a second POST would leave the first delivering forever with a secret we still hold.
    await alertPossibleOrphan(deps, step, {});
    throw outcomeUnknown(step);
  }
  // Written before the POST so that a run which dies after it is recognised by the retry instead of POSTing again.
  await deps.customers.update(step.customerId, {
    webhookCreateAttempt: { executionId: step.executionId, attemptedAt: deps.clock.now().toISOString() },
  });
  let created: Awaited<ReturnType<VirtuousApi['createWebhook']>>;
  try {
    created = await deps.virtuous
      .forCustomer(step.customerId, { stage: 'current', reason: 'onboarding:subscribe' })
      .createWebhook(subscriptionFor(payloadUrl, secret.value));
  } catch (error) {
    if (!isWriteOutcomeUnknown(error)) {
      // Virtuous answered and created nothing: the retry may POST again. Should this write fail, the retry sees the
      // marker and takes the orphan path: the safe side.
      await deps.customers.update(step.customerId, { webhookCreateAttempt: undefined });
      throw error;
    }
    await alertPossibleOrphan(deps, step, error);
    // Not a TransientError: the state machine must not POST again (a second subscription nobody could find).
    throw outcomeUnknown(step, error);
  }
  await deps.customers.update(step.customerId, { webhookSubscriptionId: created.id, webhookCreateAttempt: undefined });
  logger.info('webhook subscription created', { customerId: step.customerId, webhookSubscriptionId: created.id });
  return { webhookSubscriptionId: created.id };
}

/** The subscription POST was sent and its answer lost: onboarding fails and is compensated, never retried. */
export const WEBHOOK_CREATE_OUTCOME_UNKNOWN = 'WEBHOOK_CREATE_OUTCOME_UNKNOWN';

function outcomeUnknown(step: Step, cause?: Error & { statusCode?: number }): PermanentError {
  return new PermanentError(
    WEBHOOK_CREATE_OUTCOME_UNKNOWN,
    `the webhook subscription of ${step.customerId} may or may not have been created`,
    cause === undefined ? {} : { cause, ...(cause.statusCode === undefined ? {} : { statusCode: cause.statusCode }) },
  );
}

/** Operator alert: Virtuous may hold a subscription whose id we never learned (there is no list endpoint). */
export const POSSIBLE_ORPHAN_SUBSCRIPTION = 'POSSIBLE_ORPHAN_SUBSCRIPTION';

/**
 * Compensation deletes the webhook secret, so an orphan's deliveries fail our signature check and Virtuous drops
 * them after its retries: harmless, but only a person can remove it (Virtuous admin, by its payload URL).
 */
async function alertPossibleOrphan(deps: OnboardingDeps, step: Step, error: { statusCode?: number }): Promise<void> {
  const details = {
    executionId: step.executionId,
    error: WEBHOOK_CREATE_OUTCOME_UNKNOWN,
    ...(error.statusCode === undefined ? {} : { statusCode: error.statusCode }),
  };
  try {
    await deps.notifier.alertOperators({
      customerId: step.customerId,
      code: POSSIBLE_ORPHAN_SUBSCRIPTION,
      severity: 'warning',
      details,
    });
  } catch (alertError) {
    // A failed alert must not turn this step into a retried one (a second POST); the log carries the same facts.
    logger.error('possible orphan webhook subscription, alert not sent', {
      customerId: step.customerId,
      ...details,
      alertCode: POSSIBLE_ORPHAN_SUBSCRIPTION,
      errorCode: errorCode(alertError),
    });
  }
}

export async function activateCustomer(deps: OnboardingDeps, step: Step): Promise<void> {
  const record = await requireCustomer(deps.customers, step.customerId);
  if (record.status === 'active') return;
  await deps.customers.update(
    step.customerId,
    { status: 'active', updatedAt: deps.clock.now().toISOString() },
    { expectedStatus: 'onboarding' },
  );
}

/** Starts the reconciliation and, for a customer with a Stripe connection, the Stripe bulk load; once only. */
export async function requestInitialLoad(deps: OnboardingDeps, step: Step): Promise<void> {
  await startInitialLoads(deps, step);
}

export async function notifySyncActive(deps: OnboardingDeps, step: Step): Promise<void> {
  await deps.notifier.notifyCustomer({ customerId: step.customerId, type: 'sync_active' });
}

/**
 * Undoes a failed onboarding: deletes the subscription (while the key still works), then every secret of the
 * customer, and marks the customer failed. Each part is idempotent, so a retried compensation converges.
 */
export async function compensateOnboarding(
  deps: OnboardingDeps,
  step: Step & { readonly failedWith: string },
): Promise<{ subscriptionDeleted: boolean; secretsDeleted: number }> {
  const record = await deps.customers.get(step.customerId);
  let subscriptionDeleted = false;
  if (record?.webhookSubscriptionId !== undefined) {
    try {
      await deps.virtuous
        .forCustomer(step.customerId, { stage: 'current', reason: 'onboarding:compensate' })
        .deleteWebhook(record.webhookSubscriptionId);
      subscriptionDeleted = true;
    } catch (error) {
      // A transient failure is retried by the state machine; a key Virtuous refuses cannot delete anything, and the
      // secrets must go regardless: the operators get the subscription id to remove it by hand.
      if (error instanceof TransientError) throw error;
      await deps.notifier.alertOperators({
        customerId: step.customerId,
        code: 'ONBOARDING_SUBSCRIPTION_NOT_DELETED',
        severity: 'critical',
        details: { webhookSubscriptionId: record.webhookSubscriptionId, error: errorCode(error) },
      });
    }
  }
  const { deletedSecrets } = await deps.secrets.deleteCustomer(step.customerId, {
    reason: 'onboarding:compensate',
    requestId: step.executionId,
  });
  if (record !== undefined) {
    await deps.customers.update(step.customerId, {
      status: 'failed',
      statusReason: `onboarding_failed:${safeCode(step.failedWith)}`,
      webhookSubscriptionId: undefined,
      webhookCreateAttempt: undefined,
      updatedAt: deps.clock.now().toISOString(),
    });
  }
  logger.warn('onboarding compensated', {
    customerId: step.customerId,
    subscriptionDeleted,
    secretsDeleted: deletedSecrets,
  });
  return { subscriptionDeleted, secretsDeleted: deletedSecrets };
}

/** Error names from the execution are identifiers; anything else is reduced to a fixed code. */
export function safeCode(value: unknown): string {
  return typeof value === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(value) ? value : errorCode(value);
}

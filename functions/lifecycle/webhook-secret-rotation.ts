/**
 * Webhook-secret rotation. Virtuous signs with one secret only, so the order matters: the new secret is stored as
 * pending (the verifier accepts current and pending from then on, and the workflow waits out the verifier's cache),
 * the subscription is switched (GET, then a full PUT with the new secret), the new secret is promoted and the old one
 * stays accepted until `previousWebhookSecretValidUntil`, then it is deleted and the window cleared.
 * The PUT always carries this deployment's own payload URL, never the one read back: a subscription redirected in
 * Virtuous would otherwise be confirmed, with a fresh secret, by every rotation.
 */
import type { SecretStore } from '../credentials/secret-store.ts';
import type { CustomerRepository } from '../customers/customer.ts';
import type { Notifier } from '../notifications/notifier.ts';
import { PermanentError } from '../shared/errors.ts';
import { logger } from '../shared/observability.ts';
import { requireCustomer } from './lock.ts';
import type { Step } from './onboarding.ts';
import type { Clock, VirtuousConnector } from './ports.ts';
import { type LifecycleSettings, requireWebhookBaseUrl, webhookPayloadUrl } from './settings.ts';
import { generateWebhookSecret } from './webhook-secret.ts';

export interface WebhookSecretRotationDeps {
  readonly customers: CustomerRepository;
  readonly secrets: SecretStore;
  readonly virtuous: VirtuousConnector;
  readonly notifier: Notifier;
  readonly clock: Clock;
  readonly settings: Pick<LifecycleSettings, 'webhookSecretOverlapSeconds' | 'webhookPublicBaseUrl'>;
}

const webhookSecret = (customerId: string) => ({ customerId, kind: 'webhook_secret' }) as const;

async function subscriptionId(deps: WebhookSecretRotationDeps, customerId: string): Promise<number> {
  const record = await requireCustomer(deps.customers, customerId);
  if (record.status !== 'active' && record.status !== 'paused') {
    throw new PermanentError('CUSTOMER_NOT_ACTIVE', `customer ${customerId} is ${record.status}`);
  }
  if (record.webhookSubscriptionId === undefined) {
    throw new PermanentError('NO_WEBHOOK_SUBSCRIPTION', `customer ${customerId} has no webhook subscription`);
  }
  return record.webhookSubscriptionId;
}

/** A fresh pending secret; a retry replaces an earlier pending one, which no sender has used yet. */
export async function generatePendingWebhookSecret(deps: WebhookSecretRotationDeps, step: Step): Promise<void> {
  await subscriptionId(deps, step.customerId);
  await deps.secrets.putPending(webhookSecret(step.customerId), generateWebhookSecret(), {
    reason: 'rotation:generate-webhook-secret',
    requestId: step.executionId,
  });
}

/**
 * GET then full PUT, so every other field of the subscription survives, except the payload URL: that is always ours.
 * A URL read back that differs is reported before it is overwritten (a retry after the PUT reads ours and stays quiet,
 * so alerting afterwards could lose the alert). The alert names no URL: a redirected one is attacker-chosen text and
 * may carry anything in its path, query or user part, so only whether the host still matched is reported.
 */
async function putSubscriptionSecret(
  deps: WebhookSecretRotationDeps,
  step: Step,
  id: number,
  stage: 'pending' | 'current',
  reason: string,
): Promise<boolean> {
  const payloadUrl = webhookPayloadUrl({ webhookPublicBaseUrl: requireWebhookBaseUrl(deps.settings) }, step.customerId);
  const secret = await deps.secrets.read(webhookSecret(step.customerId), stage, {
    reason,
    requestId: step.executionId,
  });
  if (secret === undefined) return false;
  const api = deps.virtuous.forCustomer(step.customerId, { stage: 'current', reason });
  const existing = await api.getWebhook(id);
  const { id: _id, ...fields } = existing;
  if (existing.payloadUrl !== payloadUrl) {
    logger.warn('webhook payload URL differs from ours; restoring it', {
      customerId: step.customerId,
      webhookSubscriptionId: id,
    });
    await deps.notifier.alertOperators({
      customerId: step.customerId,
      code: 'WEBHOOK_PAYLOAD_URL_MISMATCH',
      severity: 'critical',
      details: {
        webhookSubscriptionId: id,
        executionId: step.executionId,
        step: reason,
        hostMatched: hostOf(existing.payloadUrl) === hostOf(payloadUrl),
      },
    });
  }
  await api.replaceWebhook(id, { ...fields, payloadUrl, secret: secret.value });
  return true;
}

function hostOf(url: string): string | undefined {
  return URL.canParse(url) ? new URL(url).host.toLowerCase() : undefined;
}

export async function replaceSubscriptionSecret(deps: WebhookSecretRotationDeps, step: Step): Promise<void> {
  const id = await subscriptionId(deps, step.customerId);
  const replaced = await putSubscriptionSecret(deps, step, id, 'pending', 'rotation:replace-subscription');
  if (!replaced) {
    throw new PermanentError('NO_PENDING_WEBHOOK_SECRET', `no pending webhook secret for ${step.customerId}`);
  }
}

/** Promotes and opens the overlap window; a retry after success returns the window already recorded. */
export async function promoteWebhookSecret(
  deps: WebhookSecretRotationDeps,
  step: Step,
): Promise<{ previousValidUntil: string }> {
  const validUntil = new Date(deps.clock.now().getTime() + deps.settings.webhookSecretOverlapSeconds * 1000);
  // The window opens before the promotion so that no instant exists in which the old secret is previous but refused.
  const before = await requireCustomer(deps.customers, step.customerId);
  await deps.customers.update(step.customerId, { previousWebhookSecretValidUntil: validUntil.toISOString() });
  try {
    await deps.secrets.promotePending(webhookSecret(step.customerId), {
      reason: 'rotation:promote-webhook-secret',
      requestId: step.executionId,
    });
  } catch (error) {
    if (!(error instanceof PermanentError) || before.previousWebhookSecretValidUntil === undefined) throw error;
    // Already promoted by an earlier attempt: keep the window that attempt opened.
    await deps.customers.update(step.customerId, {
      previousWebhookSecretValidUntil: before.previousWebhookSecretValidUntil,
    });
    return { previousValidUntil: before.previousWebhookSecretValidUntil };
  }
  return { previousValidUntil: validUntil.toISOString() };
}

export async function retirePreviousWebhookSecret(deps: WebhookSecretRotationDeps, step: Step): Promise<void> {
  await deps.secrets.deletePrevious(webhookSecret(step.customerId), {
    reason: 'rotation:retire-webhook-secret',
    requestId: step.executionId,
  });
  await deps.customers.update(step.customerId, { previousWebhookSecretValidUntil: undefined });
  logger.info('webhook secret rotated', { customerId: step.customerId });
}

export async function notifyWebhookSecretRotated(deps: WebhookSecretRotationDeps, step: Step): Promise<void> {
  await deps.notifier.notifyCustomer({ customerId: step.customerId, type: 'webhook_secret_rotated' });
}

/**
 * Undoes an unfinished rotation: if a pending secret still exists, the subscription may already carry it, so the
 * subscription is put back on the current secret before the pending one is discarded. After a promotion there is
 * nothing to undo: the new secret is current and the window closes on its own.
 */
export async function compensateWebhookSecretRotation(
  deps: WebhookSecretRotationDeps,
  step: Step,
): Promise<{ subscriptionRestored: boolean }> {
  const record = await deps.customers.get(step.customerId);
  const pending = await deps.secrets.read(webhookSecret(step.customerId), 'pending', {
    reason: 'rotation:compensate',
    requestId: step.executionId,
  });
  let subscriptionRestored = false;
  if (pending !== undefined && record?.webhookSubscriptionId !== undefined) {
    subscriptionRestored = await putSubscriptionSecret(
      deps,
      step,
      record.webhookSubscriptionId,
      'current',
      'rotation:compensate',
    );
  }
  await deps.secrets.discardPending(webhookSecret(step.customerId), {
    reason: 'rotation:compensate',
    requestId: step.executionId,
  });
  // A window opened for a promotion that never happened would let a stale previous secret back in later.
  if (pending !== undefined && record?.previousWebhookSecretValidUntil !== undefined) {
    await deps.customers.update(step.customerId, { previousWebhookSecretValidUntil: undefined });
  }
  return { subscriptionRestored };
}

/**
 * API-token rotation on the Secrets Manager model: the customer's admin creates a new key and submits it (stored as
 * pending), the workflow validates it live against the same organization, promotes it, confirms a worker-style call
 * succeeds with it, then deletes the previous version and asks the admin to revoke the old key in Virtuous (the API
 * offers no key revocation endpoint).
 */
import type { SecretStore } from '../credentials/secret-store.ts';
import type { CustomerRepository } from '../customers/customer.ts';
import type { Notifier } from '../notifications/notifier.ts';
import { PermanentError } from '../shared/errors.ts';
import { logger } from '../shared/observability.ts';
import { requireCustomer } from './lock.ts';
import type { Step } from './onboarding.ts';
import type { Clock, VirtuousConnector } from './ports.ts';

export interface TokenRotationDeps {
  readonly customers: CustomerRepository;
  readonly secrets: SecretStore;
  readonly virtuous: VirtuousConnector;
  readonly notifier: Notifier;
  readonly clock: Clock;
}

const apiToken = (customerId: string) => ({ customerId, kind: 'api_token' }) as const;

/**
 * Parks the task token in the customer record (the lifecycle API completes it when the key arrives) and asks the
 * customer for a new key. Runs again harmlessly: the same token is stored, the customer is asked again.
 */
export async function requestNewToken(
  deps: TokenRotationDeps,
  step: Step & { readonly taskToken: string; readonly expedited: boolean },
): Promise<void> {
  const record = await requireCustomer(deps.customers, step.customerId);
  if (record.status !== 'active' && record.status !== 'paused') {
    throw new PermanentError('CUSTOMER_NOT_ACTIVE', `customer ${step.customerId} is ${record.status}`);
  }
  await deps.customers.update(step.customerId, { awaitingTokenTaskToken: step.taskToken });
  await deps.notifier.notifyCustomer({
    customerId: step.customerId,
    type: 'token_rotation_requested',
    details: { expedited: step.expedited },
  });
}

/** Live check of the submitted key: enabled organization, and whether it is the customer's organization. */
export async function validateNewToken(deps: TokenRotationDeps, step: Step): Promise<{ organizationMatches: boolean }> {
  const record = await requireCustomer(deps.customers, step.customerId);
  const organization = await deps.virtuous
    .forCustomer(step.customerId, { stage: 'pending', reason: 'rotation:validate' })
    .currentOrganization();
  if (!organization.isEnabled) {
    throw new PermanentError(
      'ORGANIZATION_DISABLED',
      `the new key of ${step.customerId} reaches a disabled organization`,
    );
  }
  const organizationMatches = String(organization.organizationUserId) === record.organizationId;
  return { organizationMatches };
}

/** A key for another organization is an incident: the pending key goes, operators get a critical alert. */
export async function stopOnOrganizationMismatch(deps: TokenRotationDeps, step: Step): Promise<void> {
  await deps.secrets.discardPending(apiToken(step.customerId), {
    reason: 'rotation:organization-mismatch',
    requestId: step.executionId,
  });
  await deps.customers.update(step.customerId, { awaitingTokenTaskToken: undefined });
  await deps.notifier.alertOperators({
    customerId: step.customerId,
    code: 'ORGANIZATION_MISMATCH',
    severity: 'critical',
    details: { executionId: step.executionId, workflow: 'token-rotation' },
  });
  await deps.notifier.notifyCustomer({
    customerId: step.customerId,
    type: 'token_rotation_failed',
    details: { reason: 'organization_mismatch' },
  });
}

/** pending → current; a retry after success finds the submitted version already current. */
export async function cutOverToken(
  deps: TokenRotationDeps,
  step: Step & { readonly tokenVersionId: string },
): Promise<void> {
  try {
    await deps.secrets.promotePending(apiToken(step.customerId), {
      reason: 'rotation:promote',
      requestId: step.executionId,
    });
  } catch (error) {
    if (!(error instanceof PermanentError)) throw error;
    const current = await deps.secrets.read(apiToken(step.customerId), 'current', {
      reason: 'rotation:check-promoted',
      requestId: step.executionId,
    });
    if (current?.versionId !== step.tokenVersionId) throw error;
  }
  await deps.customers.update(step.customerId, {
    tokenPromotedAt: deps.clock.now().toISOString(),
    awaitingTokenTaskToken: undefined,
  });
  logger.info('api token cut over', { customerId: step.customerId });
}

/** The call a worker makes, with the key workers now read: it must succeed and reach the same organization. */
export async function confirmNewToken(deps: TokenRotationDeps, step: Step): Promise<void> {
  const record = await requireCustomer(deps.customers, step.customerId);
  const organization = await deps.virtuous
    .forCustomer(step.customerId, { stage: 'current', reason: 'rotation:confirm' })
    .currentOrganization();
  if (String(organization.organizationUserId) !== record.organizationId) {
    throw new PermanentError(
      'ORGANIZATION_MISMATCH',
      `the promoted key of ${step.customerId} reaches another organization`,
    );
  }
}

export async function retireOldToken(deps: TokenRotationDeps, step: Step): Promise<void> {
  await deps.secrets.deletePrevious(apiToken(step.customerId), {
    reason: 'rotation:retire',
    requestId: step.executionId,
  });
  await deps.notifier.notifyCustomer({
    customerId: step.customerId,
    type: 'token_revocation_requested',
    details: { executionId: step.executionId },
  });
}

export async function notifyTokenRotated(deps: TokenRotationDeps, step: Step): Promise<void> {
  await deps.notifier.notifyCustomer({ customerId: step.customerId, type: 'token_rotated' });
}

/**
 * Undoes an unfinished rotation: a pending key that was never promoted is discarded and the waiting task token is
 * forgotten. After a cut-over there is no pending version and the new key stays current (it was validated).
 */
export async function compensateTokenRotation(
  deps: Pick<TokenRotationDeps, 'secrets' | 'customers'>,
  step: Step,
): Promise<void> {
  await deps.secrets.discardPending(apiToken(step.customerId), {
    reason: 'rotation:compensate',
    requestId: step.executionId,
  });
  const record = await deps.customers.get(step.customerId);
  if (record?.awaitingTokenTaskToken !== undefined) {
    await deps.customers.update(step.customerId, { awaitingTokenTaskToken: undefined });
  }
}

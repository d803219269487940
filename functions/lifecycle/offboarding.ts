/**
 * Offboarding with provable deletion: pause at once (then wait, in the state machine, for sync runs that read the
 * status before the pause to finish their writes), delete the webhook subscription while the key still works, ask
 * the customer's admin to revoke the key (Virtuous has no revocation endpoint), delete every secret, every debug
 * capture and every item of the customer in every table that holds customer data, destroy the customer's data key
 * (crypto-shredding: what was sealed under it stays unreadable in every copy the purge cannot reach), reduce the
 * customer record to an offboarded marker, and keep a deletion record: counts, timestamps, the destroyed key's id and
 * fingerprint, and what remains where, until when and why (the secret-access audit rows, identifiers only, are kept
 * until their TTL for investigations after the customer left). No PII.
 */
import type { AuditLog } from '../credentials/audit-log.ts';
import type { SecretStore } from '../credentials/secret-store.ts';
import { shredCustomerKey } from '../crypto/customer-key-shredding.ts';
import type { CustomerKeyStore } from '../crypto/customer-keys.ts';
import type { CustomerRepository } from '../customers/customer.ts';
import type { DebugCaptureStore } from '../debug-captures/debug-capture-store.ts';
import type { Notifier } from '../notifications/notifier.ts';
import { CredentialRevokedError, PermanentError, RecoverableError } from '../shared/errors.ts';
import { logger } from '../shared/observability.ts';
import type { TableKey } from '../shared/tables.ts';
import { ALL_AUDIT_ROWS, describeRemains } from './deletion-reach.ts';
import { requireCustomer } from './lock.ts';
import { type Step, safeCode } from './onboarding.ts';
import type { Clock, CustomerDataStore, DeletionRecord, VirtuousConnector } from './ports.ts';

export interface OffboardingDeps {
  readonly customers: CustomerRepository;
  readonly secrets: SecretStore;
  readonly virtuous: VirtuousConnector;
  readonly notifier: Notifier;
  readonly clock: Clock;
  readonly customerData: CustomerDataStore;
  readonly debugCaptures: DebugCaptureStore;
  readonly audit: Pick<AuditLog, 'accessesBetween'>;
  readonly customerKeys: CustomerKeyStore;
}

/** Items deleted per task invocation: keeps each Lambda run short; the state machine loops until done. */
export const PURGE_BATCH_ITEMS = 2_000;

export async function pauseForOffboarding(deps: OffboardingDeps, step: Step): Promise<{ startedAt: string }> {
  const record = await requireCustomer(deps.customers, step.customerId);
  if (record.status === 'offboarded') {
    throw new PermanentError('ALREADY_OFFBOARDED', `customer ${step.customerId} is already offboarded`);
  }
  const startedAt = deps.clock.now().toISOString();
  if (record.status !== 'offboarding') {
    await deps.customers.update(step.customerId, {
      status: 'offboarding',
      statusReason: 'offboarding',
      updatedAt: startedAt,
    });
  }
  return { startedAt };
}

export type SubscriptionOutcome = DeletionRecord['webhookSubscription'];

/**
 * Deletes the subscription so Virtuous stops delivering. A key the customer already revoked cannot delete it: that
 * is recorded (and the operators alerted) rather than blocking the deletion of the customer's data.
 */
export async function deleteWebhookSubscription(
  deps: OffboardingDeps,
  step: Step,
): Promise<{ webhookSubscription: SubscriptionOutcome }> {
  const record = await requireCustomer(deps.customers, step.customerId);
  if (record.webhookSubscriptionId === undefined) return { webhookSubscription: 'none' };
  try {
    await deps.virtuous
      .forCustomer(step.customerId, { stage: 'current', reason: 'offboarding:delete-subscription' })
      .deleteWebhook(record.webhookSubscriptionId);
  } catch (error) {
    if (
      !(error instanceof RecoverableError || error instanceof CredentialRevokedError || error instanceof PermanentError)
    ) {
      throw error;
    }
    await deps.notifier.alertOperators({
      customerId: step.customerId,
      code: 'OFFBOARDING_SUBSCRIPTION_NOT_DELETED',
      severity: 'warning',
      details: { webhookSubscriptionId: record.webhookSubscriptionId, error: error.code },
    });
    return { webhookSubscription: 'not_deleted_credential_rejected' };
  }
  // The id stays on the record (reduced away at the end) so a repeated step deletes again (404 = deleted) and
  // reports the same outcome.
  return { webhookSubscription: 'deleted' };
}

export async function requestTokenRevocation(deps: OffboardingDeps, step: Step): Promise<void> {
  await deps.notifier.notifyCustomer({
    customerId: step.customerId,
    type: 'token_revocation_requested',
    details: { executionId: step.executionId, offboarding: true },
  });
}

/**
 * Deletes every secret of the customer. The count comes from the audit trail of this execution's deletions, so a
 * repeated step (which finds nothing left) still reports what the first one deleted.
 */
export async function deleteCustomerSecrets(
  deps: OffboardingDeps,
  step: Step & { readonly startedAt: string },
): Promise<{ secretsDeleted: number }> {
  const { deletedSecrets } = await deps.secrets.deleteCustomer(step.customerId, {
    reason: 'offboarding:delete-secrets',
    requestId: step.executionId,
  });
  const entries = await deps.audit.accessesBetween(step.customerId, step.startedAt, deps.clock.now().toISOString());
  const audited = entries
    .filter((entry) => entry.action === 'delete_customer' && entry.requestId === step.executionId)
    .reduce((sum, entry) => sum + (entry.deletedSecrets ?? 0), 0);
  return { secretsDeleted: Math.max(audited, deletedSecrets) };
}

/**
 * Counted after every secret access of the workflow. A retry re-counts the same data (nothing writes for a customer
 * that is offboarding). The secret-access audit is not among the purged tables: its rows stay until their TTL.
 */
export async function inventoryCustomerData(
  deps: OffboardingDeps,
  step: Step,
): Promise<{ tables: Partial<Record<TableKey, number>>; debugCaptures: number }> {
  const [tables, captures] = await Promise.all([
    deps.customerData.inventory(step.customerId),
    deps.debugCaptures.list(step.customerId),
  ]);
  return { tables, debugCaptures: captures.length };
}

export async function purgeCustomerData(
  deps: OffboardingDeps,
  step: Step,
): Promise<{ done: boolean; deletedThisRound: number }> {
  const [{ deleted, done }] = await Promise.all([
    deps.customerData.purge(step.customerId, PURGE_BATCH_ITEMS),
    deps.debugCaptures.deleteCustomer(step.customerId),
  ]);
  return { done, deletedThisRound: deleted };
}

export async function finishOffboarding(
  deps: OffboardingDeps,
  step: Step & {
    readonly startedAt: string;
    readonly tables: Partial<Record<TableKey, number>>;
    readonly debugCaptures: number;
    readonly secretsDeleted: number;
    readonly webhookSubscription: SubscriptionOutcome;
  },
): Promise<{ deletedAt: string }> {
  const now = deps.clock.now();
  const deletedAt = now.toISOString();
  const remaining = await deps.customerData.inventory(step.customerId);
  const left = Object.values(remaining).reduce((sum, count) => sum + (count ?? 0), 0);
  if (left > 0) throw new PermanentError('PURGE_INCOMPLETE', `${left} item(s) of ${step.customerId} remain`);
  // After the purge: nothing sealed for the customer is left to open, and everything copied elsewhere goes dark.
  const cryptoShredding = await shredCustomerKey(deps.customerKeys, step.customerId, now);
  const auditRows = await deps.audit.accessesBetween(step.customerId, ALL_AUDIT_ROWS.from, ALL_AUDIT_ROWS.to);
  const remains = describeRemains(now, auditRows, step.secretsDeleted);
  await deps.customerData.reduceToOffboardedMarker(step.customerId, deletedAt);
  await deps.customerData.putDeletionRecord({
    customerId: step.customerId,
    deletedAt,
    executionId: step.executionId,
    startedAt: step.startedAt,
    tables: step.tables,
    secretsDeleted: step.secretsDeleted,
    debugCapturesDeleted: step.debugCaptures,
    webhookSubscription: step.webhookSubscription,
    tokenRevocation: 'requested_from_customer_admin',
    customerRecord: 'reduced_to_offboarded_marker',
    cryptoShredding,
    remains,
  });
  logger.info('customer offboarded', { customerId: step.customerId, deletedAt });
  return { deletedAt };
}

export async function notifyOffboarded(deps: OffboardingDeps, step: Step & { readonly deletedAt: string }) {
  await deps.notifier.notifyCustomer({
    customerId: step.customerId,
    type: 'offboarding_complete',
    details: { deletionRecordId: step.deletedAt },
  });
}

/**
 * The customer's data is gone and the deletion record stored, but the notice carrying it could not be sent: a re-run
 * cannot help (the customer is offboarded), so operators are told to send the record themselves.
 */
export async function alertOffboardedNoticeNotSent(
  deps: OffboardingDeps,
  step: Step & { readonly deletedAt: string; readonly failedWith: string },
): Promise<void> {
  await deps.notifier.alertOperators({
    customerId: step.customerId,
    code: 'OFFBOARDING_NOTICE_NOT_SENT',
    severity: 'critical',
    details: { executionId: step.executionId, deletionRecordId: step.deletedAt, error: safeCode(step.failedWith) },
  });
}

/** A failed offboarding leaves the customer paused (status offboarding, nothing syncs); it is safe to run again. */
export async function markOffboardingFailed(deps: OffboardingDeps, step: Step & { readonly failedWith: string }) {
  const record = await deps.customers.get(step.customerId);
  if (record === undefined || record.status === 'offboarded') return;
  await deps.customers.update(step.customerId, {
    status: 'offboarding',
    statusReason: 'offboarding_failed',
    updatedAt: deps.clock.now().toISOString(),
  });
}

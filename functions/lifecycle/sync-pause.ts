/**
 * Pausing and resuming a customer's sync by hand (operator or platform), beside the automatic pause on a revoked
 * credential (processor, source-token manager).
 *
 * Resume: the customer's current Virtuous key is checked live first (GET /api/Organization/Current), so a customer
 * paused for a refused key resumes only after a new key is in place (a completed token rotation); otherwise the
 * released messages would pause it again at once. Then one conditional update paused → active (only its winner
 * notifies `sync_resumed`), then every held message goes back on the inbound queue at once. The processor's claims
 * keep a re-released message from being sent twice. A resume of an already active customer releases whatever is
 * still held (a resume whose release failed part-way) and notifies nobody: it is safe to repeat.
 *
 * Refusals are PermanentErrors with a code the API maps to 404/409; a TransientError means try again.
 */
import type { CustomerRecord, CustomerRepository } from '../customers/customer.ts';
import type { Notifier } from '../notifications/notifier.ts';
import { errorCode, PermanentError, RecoverableError, TransientError } from '../shared/errors.ts';
import { assertCustomerId } from '../shared/identifiers.ts';
import { logger } from '../shared/observability.ts';
import type { HeldMessages } from '../sync/held-messages.ts';
import type { Clock, VirtuousConnector } from './ports.ts';

export interface SyncPauseDeps {
  readonly customers: CustomerRepository;
  readonly held: Pick<HeldMessages, 'release'>;
  readonly virtuous: Pick<VirtuousConnector, 'forCustomer'>;
  readonly notifier: Notifier;
  readonly clock: Clock;
}

/** Codes of a refused pause or resume (PermanentError.code). */
export const SYNC_PAUSE_REFUSALS = {
  notFound: 'CUSTOMER_NOT_FOUND',
  notPaused: 'CUSTOMER_NOT_PAUSED',
  notActive: 'CUSTOMER_NOT_ACTIVE',
  workflowInProgress: 'WORKFLOW_IN_PROGRESS',
  tokenRejected: 'VIRTUOUS_TOKEN_REJECTED',
  organizationDisabled: 'ORGANIZATION_DISABLED',
  organizationMismatch: 'ORGANIZATION_MISMATCH',
} as const;

/** Reason recorded for a pause by hand; an optional code narrows it (`operator_paused:<code>`). */
export const OPERATOR_PAUSE_REASON = 'operator_paused';
const REASON_CODE = /^[a-z0-9_]{1,40}$/;

export interface ResumeResult {
  readonly customerId: string;
  readonly status: 'active';
  /** Held messages put back on the inbound queue by this call. */
  readonly released: number;
  /** The pause reason this call lifted; absent when the customer was already active. */
  readonly resumedFrom?: string;
  readonly alreadyActive: boolean;
}

export interface PauseResult {
  readonly customerId: string;
  readonly status: 'paused';
  readonly statusReason: string;
}

function refuse(code: string, message: string): never {
  throw new PermanentError(code, message);
}

async function existing(deps: Pick<SyncPauseDeps, 'customers'>, customerId: string): Promise<CustomerRecord> {
  const record = await deps.customers.get(customerId);
  if (record === undefined || record.status === 'offboarded') {
    refuse(SYNC_PAUSE_REFUSALS.notFound, `customer ${customerId} is not connected`);
  }
  return record;
}

/** The stored key must still reach the customer's own, enabled organization. */
async function assertTokenAccepted(deps: SyncPauseDeps, record: CustomerRecord): Promise<void> {
  const { customerId } = record;
  let organization: Awaited<ReturnType<ReturnType<VirtuousConnector['forCustomer']>['currentOrganization']>>;
  try {
    organization = await deps.virtuous
      .forCustomer(customerId, { stage: 'current', reason: 'lifecycle:resume' })
      .currentOrganization();
  } catch (error) {
    if (error instanceof RecoverableError || error instanceof PermanentError) {
      logger.warn('resume refused: Virtuous key not accepted', { customerId, errorCode: errorCode(error) });
      refuse(
        SYNC_PAUSE_REFUSALS.tokenRejected,
        'Virtuous does not accept the stored key: complete a token rotation (rotate-token) first',
      );
    }
    throw error;
  }
  if (!organization.isEnabled) {
    refuse(SYNC_PAUSE_REFUSALS.organizationDisabled, 'the key reaches an organization that is not enabled');
  }
  if (record.organizationId !== undefined && String(organization.organizationUserId) !== record.organizationId) {
    logger.warn('resume refused: key reaches another organization', { customerId });
    refuse(SYNC_PAUSE_REFUSALS.organizationMismatch, 'the stored key reaches another organization');
  }
}

async function release(deps: SyncPauseDeps, customerId: string): Promise<number> {
  try {
    return await deps.held.release(customerId);
  } catch (error) {
    // The customer is active: a repeated resume, or the hourly reconciler, releases what is left.
    logger.error('releasing held messages failed', { customerId, errorCode: errorCode(error) });
    throw new TransientError('HELD_RELEASE_INCOMPLETE', 'not every held message was released; resume again');
  }
}

export async function resumeCustomerSync(deps: SyncPauseDeps, customerIdInput: string): Promise<ResumeResult> {
  const customerId = assertCustomerId(customerIdInput);
  const record = await existing(deps, customerId);
  if (record.status === 'active') {
    const released = await release(deps, customerId);
    return { customerId, status: 'active', released, alreadyActive: true };
  }
  if (record.status !== 'paused') {
    refuse(SYNC_PAUSE_REFUSALS.notPaused, `customer ${customerId} is ${record.status}, not paused`);
  }
  if (record.lock !== undefined) {
    refuse(SYNC_PAUSE_REFUSALS.workflowInProgress, `a ${record.lock.workflow} workflow is running for the customer`);
  }
  await assertTokenAccepted(deps, record);

  const resumedFrom = record.statusReason ?? 'unspecified';
  try {
    await deps.customers.update(
      customerId,
      { status: 'active', statusReason: undefined, updatedAt: deps.clock.now().toISOString() },
      { expectedStatus: 'paused' },
    );
  } catch (error) {
    if (!(error instanceof TransientError)) throw error;
    // Lost a race: a concurrent resume won (it notifies), or the customer moved on (offboarding, paused anew).
    const now = await deps.customers.get(customerId);
    if (now?.status !== 'active') throw error;
    const released = await release(deps, customerId);
    return { customerId, status: 'active', released, alreadyActive: true };
  }
  logger.info('customer resumed', { customerId, resumedFrom });
  let released: number;
  try {
    released = await release(deps, customerId);
  } finally {
    await notify(deps, customerId, 'sync_resumed', { reason: resumedFrom });
  }
  return { customerId, status: 'active', released, resumedFrom, alreadyActive: false };
}

export async function pauseCustomerSync(
  deps: Omit<SyncPauseDeps, 'held' | 'virtuous'>,
  customerIdInput: string,
  reasonCode?: string,
): Promise<PauseResult> {
  const customerId = assertCustomerId(customerIdInput);
  if (reasonCode !== undefined && !REASON_CODE.test(reasonCode)) {
    throw new PermanentError('INVALID_REASON', 'reason must be 1-40 lowercase letters, digits or "_"');
  }
  const statusReason = reasonCode === undefined ? OPERATOR_PAUSE_REASON : `${OPERATOR_PAUSE_REASON}:${reasonCode}`;
  const record = await existing(deps, customerId);
  if (record.status !== 'active') {
    refuse(SYNC_PAUSE_REFUSALS.notActive, `customer ${customerId} is ${record.status}, not active`);
  }
  try {
    await deps.customers.update(
      customerId,
      { status: 'paused', statusReason, updatedAt: deps.clock.now().toISOString() },
      { expectedStatus: 'active' },
    );
  } catch (error) {
    if (!(error instanceof TransientError)) throw error;
    const now = await deps.customers.get(customerId);
    refuse(SYNC_PAUSE_REFUSALS.notActive, `customer ${customerId} is ${now?.status ?? 'gone'}, not active`);
  }
  logger.info('customer paused by hand', { customerId, reason: statusReason });
  await notify(deps, customerId, 'sync_paused', { reason: statusReason });
  try {
    await deps.notifier.alertOperators({
      customerId,
      code: 'CUSTOMER_PAUSED_BY_HAND',
      severity: 'info',
      details: { reason: statusReason },
    });
  } catch (error) {
    logger.error('operator alert failed', { customerId, errorCode: errorCode(error) });
  }
  return { customerId, status: 'paused', statusReason };
}

/** The status change is done and must not be undone by a failed notification; the failure is logged for operators. */
async function notify(
  deps: Pick<SyncPauseDeps, 'notifier'>,
  customerId: string,
  type: 'sync_resumed' | 'sync_paused',
  details: Record<string, string>,
): Promise<void> {
  try {
    await deps.notifier.notifyCustomer({ customerId, type, details });
  } catch (error) {
    logger.error('customer notification failed', { customerId, type, errorCode: errorCode(error) });
  }
}

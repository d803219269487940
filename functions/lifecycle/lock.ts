/**
 * The per-customer workflow lock: at most one lifecycle workflow runs per customer. A nested execution (incident
 * response → expedited token rotation) runs under its parent's lock instead of taking its own.
 */
import type { CustomerRecord, CustomerRepository, WorkflowName } from '../customers/customer.ts';
import { PermanentError } from '../shared/errors.ts';
import type { Clock } from './ports.ts';

export interface LockRequest {
  readonly customerId: string;
  readonly workflow: WorkflowName;
  readonly executionId: string;
  readonly parentExecutionId?: string;
}

export async function requireCustomer(customers: CustomerRepository, customerId: string): Promise<CustomerRecord> {
  const record = await customers.get(customerId);
  if (record === undefined) throw new PermanentError('CUSTOMER_NOT_FOUND', `customer ${customerId} does not exist`);
  return record;
}

export async function acquireWorkflowLock(
  customers: CustomerRepository,
  clock: Clock,
  request: LockRequest,
): Promise<{ lockHolder: string }> {
  const record = await requireCustomer(customers, request.customerId);
  if (request.parentExecutionId !== undefined) {
    if (record.lock?.executionId !== request.parentExecutionId) {
      throw new PermanentError(
        'PARENT_LOCK_NOT_HELD',
        `the parent execution does not hold ${request.customerId}'s lock`,
      );
    }
    return { lockHolder: request.parentExecutionId };
  }
  // A retried AcquireLock whose first attempt succeeded must not fail on its own lock.
  if (record.lock?.executionId === request.executionId) return { lockHolder: request.executionId };
  await customers.acquireLock(request.customerId, {
    workflow: request.workflow,
    executionId: request.executionId,
    acquiredAt: clock.now().toISOString(),
  });
  return { lockHolder: request.executionId };
}

/** Releases the lock this execution took; a nested execution leaves its parent's lock alone. Idempotent. */
export async function releaseWorkflowLock(
  customers: CustomerRepository,
  request: Pick<LockRequest, 'customerId' | 'executionId' | 'parentExecutionId'>,
): Promise<void> {
  if (request.parentExecutionId !== undefined) return;
  await customers.releaseLock(request.customerId, request.executionId);
}

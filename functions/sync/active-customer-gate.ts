/**
 * The check a long sync run makes before it writes for a customer: is the customer still `active`? Offboarding pauses
 * the customer first and purges later; a run that started before the pause must not write after the purge. The
 * status is re-read after every wait on Virtuous (the run may have been held there through a whole offboarding) and,
 * during a stretch of writes, at least every ACTIVE_RECHECK_MS, so a write lands at most that long (plus one DynamoDB
 * call) after the pause: offboarding's settle wait (statemachines/offboarding.asl.json) is longer than that.
 */
import type { CustomerRepository, CustomerStatus } from '../customers/customer.ts';
import { PermanentError } from '../shared/errors.ts';

export const ACTIVE_RECHECK_MS = 5_000;
export const CUSTOMER_NOT_ACTIVE = 'CUSTOMER_NOT_ACTIVE';

export interface ActiveCustomerGate {
  /** Forgets the last answer: the next check reads the status again (call it after each wait on Virtuous). */
  invalidate(): void;
  /** Whether the customer is still active (read again when the last answer is stale or was forgotten). */
  isActive(): Promise<boolean>;
  /** Throws PermanentError CUSTOMER_NOT_ACTIVE when the customer is no longer active. */
  assertActive(): Promise<void>;
}

export interface ActiveCustomerGateOptions {
  /** The statuses the run may write under (default: active only). */
  readonly statuses?: readonly CustomerStatus[];
  /** Real elapsed time, not the injected business clock: a fixed test clock must not freeze the re-check. */
  readonly now?: () => number;
}

/** Without a repository (unit tests of the run's logic) every check passes. */
export function createActiveCustomerGate(
  customers: Pick<CustomerRepository, 'get'> | undefined,
  customerId: string,
  options: ActiveCustomerGateOptions = {},
): ActiveCustomerGate {
  const statuses = options.statuses ?? ['active'];
  const now = options.now ?? (() => performance.now());
  let checkedAt: number | undefined;
  const isActive = async (): Promise<boolean> => {
    if (customers === undefined) return true;
    if (checkedAt !== undefined && now() - checkedAt < ACTIVE_RECHECK_MS) return true;
    const record = await customers.get(customerId);
    if (record === undefined || !statuses.includes(record.status)) return false;
    checkedAt = now();
    return true;
  };
  return {
    invalidate() {
      checkedAt = undefined;
    },
    isActive,
    async assertActive() {
      if (!(await isActive())) {
        throw new PermanentError(CUSTOMER_NOT_ACTIVE, `customer ${customerId} is no longer active`);
      }
    },
  };
}

export function isCustomerNotActive(error: unknown): boolean {
  return error instanceof PermanentError && error.code === CUSTOMER_NOT_ACTIVE;
}

/**
 * Customer records in memory for unit tests, keeping the contract of the DynamoDB repository: create refuses an
 * existing id, update refuses a missing customer (PermanentError) and a lost expectedStatus race (TransientError).
 */
import type { CustomerRecord, CustomerRepository, CustomerStatus } from '../../functions/customers/customer.ts';
import { PermanentError, TransientError } from '../../functions/shared/errors.ts';

export class InMemoryCustomers implements CustomerRepository {
  readonly records: Map<string, CustomerRecord>;
  /** Updates applied so far: lets a test show that a path wrote nothing. */
  updates = 0;

  constructor(records: readonly CustomerRecord[] = []) {
    this.records = new Map(records.map((r) => [r.customerId, r]));
  }

  async get(customerId: string) {
    return this.records.get(customerId);
  }

  async create(record: CustomerRecord) {
    if (this.records.has(record.customerId)) {
      throw new PermanentError('CUSTOMER_EXISTS', `customer ${record.customerId} already exists`);
    }
    this.records.set(record.customerId, record);
  }

  async update(
    customerId: string,
    changes: Partial<Omit<CustomerRecord, 'customerId' | 'createdAt'>>,
    options?: { expectedStatus?: CustomerStatus | readonly CustomerStatus[] },
  ) {
    const current = this.records.get(customerId);
    if (current === undefined) throw new PermanentError('CUSTOMER_NOT_FOUND', `customer ${customerId} does not exist`);
    const expected = options?.expectedStatus;
    if (expected !== undefined && ![expected].flat().includes(current.status)) {
      throw new TransientError('CUSTOMER_STATUS_CHANGED', `customer ${customerId} is no longer in the expected status`);
    }
    const next = { ...current, ...changes } as CustomerRecord;
    this.records.set(customerId, next);
    this.updates += 1;
    return next;
  }

  async acquireLock() {}

  async releaseLock() {}

  async list() {
    return [...this.records.values()];
  }
}

/** A standard-sensitivity customer record created and last updated at `at`, with `extra` laid over it. */
export function customerRecord(
  customerId: string,
  status: CustomerStatus,
  at: string,
  extra: Partial<CustomerRecord> = {},
): CustomerRecord {
  return {
    customerId,
    status,
    sensitivity: 'standard',
    tokenRotationDays: 180,
    createdAt: at,
    updatedAt: at,
    ...extra,
  };
}

/**
 * The customers table in dynalite for one test file, and customers created in it already holding a workflow's lock:
 * what tests of the code that releases locks after an execution ends start from.
 *
 *   const local = useLocalCustomers('releaser');   // at file level: starts dynalite in beforeAll, stops it in afterAll
 *   const customerId = await local.lockedCustomer('onboarding', executionArn);
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import type { CustomerRecord, WorkflowName } from '../../functions/customers/customer.ts';
import { DynamoCustomerRepository } from '../../functions/customers/dynamo-customer-repository.ts';
import { acquireWorkflowLock } from '../../functions/lifecycle/lock.ts';
import { systemClock } from '../../functions/lifecycle/ports.ts';
import { type LocalAws, startLocalAws } from './local-aws.ts';

export const TEST_ACCOUNT = '123456789012';

/** A fresh Step Functions execution ARN of `workflow`, as the test state machines would name it. */
export const testExecutionArn = (workflow: WorkflowName): string =>
  `arn:aws:states:us-east-1:${TEST_ACCOUNT}:execution:virtuous-test-${workflow}:${randomUUID()}`;

type CustomerFields = Omit<CustomerRecord, 'customerId' | 'createdAt' | 'updatedAt'>;

export interface LocalCustomers {
  /** The repository over dynalite; only inside tests (it exists from beforeAll on). */
  readonly customers: DynamoCustomerRepository;
  /** Creates a customer with a fresh id `<prefix>-<n>` and returns the id. */
  createCustomer(fields: CustomerFields): Promise<string>;
  /** Creates a customer and lets `holder`, an execution of `workflow`, take its lock. */
  lockedCustomer(workflow: WorkflowName, holder: string, fields: CustomerFields): Promise<string>;
}

export function useLocalCustomers(prefix: string): LocalCustomers {
  let aws: LocalAws | undefined;
  let repository: DynamoCustomerRepository | undefined;
  let seq = 0;

  beforeAll(async () => {
    aws = await startLocalAws();
    repository = new DynamoCustomerRepository(aws.documentClient, aws.tableNames.customers);
  });
  afterAll(async () => {
    await aws?.stop();
  });

  const local: LocalCustomers = {
    get customers() {
      if (repository === undefined) throw new Error('the local customers table is used outside a test');
      return repository;
    },
    async createCustomer(fields) {
      seq += 1;
      const customerId = `${prefix}-${seq}`;
      const now = new Date().toISOString();
      await local.customers.create({ ...fields, customerId, createdAt: now, updatedAt: now });
      return customerId;
    },
    async lockedCustomer(workflow, holder, fields) {
      const customerId = await local.createCustomer(fields);
      await acquireWorkflowLock(local.customers, systemClock, { customerId, workflow, executionId: holder });
      return customerId;
    },
  };
  return local;
}

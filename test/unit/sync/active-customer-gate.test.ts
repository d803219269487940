/**
 * How stale the "still active" answer may be bounds how long after offboarding's pause a sync write can land: the
 * settle wait of statemachines/offboarding.asl.json must stay longer than this.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CustomerRecord, CustomerStatus } from '../../../functions/customers/customer.ts';
import { PROCESSOR_TIMEOUT_SECONDS } from '../../../functions/processor/limits.ts';
import { ACTIVE_RECHECK_MS, createActiveCustomerGate } from '../../../functions/sync/active-customer-gate.ts';
import { DYNAMO_TIMEOUT_MS } from '../../../functions/sync/dynamo-call.ts';

function customers(status: { value: CustomerStatus }) {
  let reads = 0;
  return {
    reads: () => reads,
    async get(customerId: string) {
      reads += 1;
      return { customerId, status: status.value } as CustomerRecord;
    },
  };
}

describe('active customer gate', () => {
  it('re-reads the status once the last answer is ACTIVE_RECHECK_MS old, and stops the run when it changed', async () => {
    const status = { value: 'active' as CustomerStatus };
    const repository = customers(status);
    let now = 0;
    const gate = createActiveCustomerGate(repository, 'gate-a', { now: () => now });

    await gate.assertActive();
    status.value = 'offboarding';
    now = ACTIVE_RECHECK_MS - 1;
    await gate.assertActive();
    expect(repository.reads()).toBe(1);

    now = ACTIVE_RECHECK_MS;
    await expect(gate.assertActive()).rejects.toMatchObject({ name: 'PermanentError', code: 'CUSTOMER_NOT_ACTIVE' });
    expect(repository.reads()).toBe(2);
  });

  it('reads again after a wait on Virtuous (invalidate), however little time passed', async () => {
    const status = { value: 'active' as CustomerStatus };
    const repository = customers(status);
    const gate = createActiveCustomerGate(repository, 'gate-b', { now: () => 0 });

    expect(await gate.isActive()).toBe(true);
    status.value = 'paused';
    gate.invalidate();
    expect(await gate.isActive()).toBe(false);
    expect(repository.reads()).toBe(2);
  });

  it('takes the statuses a run may write under (a bulk load also while onboarding)', async () => {
    const status = { value: 'onboarding' as CustomerStatus };
    const gate = createActiveCustomerGate(customers(status), 'gate-d', {
      statuses: ['active', 'onboarding'],
      now: () => 0,
    });
    expect(await gate.isActive()).toBe(true);
    status.value = 'offboarding';
    gate.invalidate();
    expect(await gate.isActive()).toBe(false);
  });

  it('a missing customer record is not active', async () => {
    const gate = createActiveCustomerGate({ get: async () => undefined }, 'gate-c', { now: () => 0 });
    expect(await gate.isActive()).toBe(false);
  });

  it("offboarding's settle wait outlasts the re-check interval plus a DynamoDB call and a processor run", () => {
    const asl = JSON.parse(
      readFileSync(new URL('../../../statemachines/offboarding.asl.json', import.meta.url), 'utf8'),
    );
    expect(asl.States.PauseSync.Next).toBe('SettleInFlightWrites');
    const settle = asl.States.SettleInFlightWrites;
    expect(settle).toMatchObject({ Type: 'Wait', Next: 'DeleteWebhookSubscription' });
    // A processor run ends within the Lambda's timeout, which CDK deploys from the same constant.
    expect(settle.Seconds * 1000).toBeGreaterThan(
      Math.max(ACTIVE_RECHECK_MS + DYNAMO_TIMEOUT_MS, PROCESSOR_TIMEOUT_SECONDS * 1000),
    );
  });
});

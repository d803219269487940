// The drill's bounds and failure classification with in-memory fakes: waits stop at their budget, a crash inside a
// step becomes DRILL_ERROR with a code (never a message), and the report carries no key.
import { describe, expect, it } from 'vitest';
import { MemoryKeyring } from '../../../functions/credentials/keyring.ts';
import { createCustomerKeySealer } from '../../../functions/crypto/customer-key-sealer.ts';
import type { CustomerRecord } from '../../../functions/customers/customer.ts';
import { DRILL_SANDBOX_CUSTOMER_ID, runDeletionDrill } from '../../../functions/deletion-drill/drill.ts';
import type { ExecutionDescription } from '../../../functions/lifecycle/ports.ts';
import type { LifecycleApiDeps } from '../../../functions/lifecycle-api/lifecycle-api.ts';
import { TransientError } from '../../../functions/shared/errors.ts';
import { registerSecret } from '../../support/canaries.ts';
import { InMemorySecretStore } from '../../support/in-memory-secret-store.ts';

const NOW = new Date('2026-11-29T03:00:00.000Z');

async function setup(describe: (id: string) => ExecutionDescription | undefined) {
  const secrets = new InMemorySecretStore(() => NOW);
  const key = registerSecret('sandbox-key-0123456789abcdef');
  await secrets.seedCurrent({ customerId: DRILL_SANDBOX_CUSTOMER_ID, kind: 'api_token' }, key);
  const records = new Map<string, CustomerRecord>();
  const started: string[] = [];
  const lifecycle: LifecycleApiDeps = {
    customers: {
      get: async (id) => records.get(id),
      create: async (r) => {
        records.set(r.customerId, r);
      },
      update: async (id, changes) => {
        const next = { ...(records.get(id) as CustomerRecord), ...changes } as CustomerRecord;
        records.set(id, next);
        return next;
      },
      acquireLock: async () => undefined,
      releaseLock: async () => undefined,
      list: async () => [...records.values()],
    },
    secrets,
    virtuous: {
      forCustomer: () => {
        throw new Error('not used');
      },
      forToken: () => ({
        currentOrganization: async () => ({ organizationName: 'Sandbox', organizationUserId: 7, isEnabled: true }),
      }),
    } as unknown as LifecycleApiDeps['virtuous'],
    starter: {
      start: async (workflow) => {
        started.push(workflow);
        return { executionId: `${workflow}-1` };
      },
      describe: async (id) => describe(id),
      sendTaskSuccess: async () => undefined,
    },
    clock: { now: () => NOW },
    settings: { tokenRotationDays: { high: 90, standard: 180 } },
  };
  return { lifecycle, started, key };
}

/** Sealing of the drill's canary under a real (in-memory) customer key; the dead letter goes nowhere. */
function sealing() {
  const customerKeys = new MemoryKeyring().customerKeys;
  return {
    customerKeys,
    sealer: createCustomerKeySealer({ keys: customerKeys }),
    deadLetters: { add: async () => true },
    audit: { accessesBetween: async () => [] },
  };
}

describe('deletion drill bounds', () => {
  it('gives up on an execution that never ends after its budget, and still offboards the drill customer', async () => {
    const t = await setup((id) => ({ executionId: id, status: id.startsWith('onboarding') ? 'RUNNING' : 'SUCCEEDED' }));
    let sleeps = 0;
    const report = await runDeletionDrill({
      lifecycle: t.lifecycle,
      customerData: { inventory: async () => ({}) },
      debugCaptures: { list: async () => [] },
      ...sealing(),
      sleep: async () => {
        sleeps += 1;
      },
      limits: { onboardingMs: 50, offboardingMs: 50, pollMs: 10 },
    });
    expect(report).toMatchObject({ ok: false, failure: 'DRILL_ONBOARDING_FAILED', onboarding: 'DRILL_TIMEOUT' });
    expect(report.offboarding).toBe('SUCCEEDED');
    expect(t.started).toEqual(['onboarding', 'offboarding']);
    // Bounded by the poll count, not only by wall time.
    expect(sleeps).toBeLessThanOrEqual(6);
  });

  it('reports a crash in a step as DRILL_ERROR with its code only', async () => {
    const t = await setup((id) => ({ executionId: id, status: 'SUCCEEDED' }));
    const report = await runDeletionDrill({
      lifecycle: t.lifecycle,
      customerData: {
        inventory: async () => {
          throw new TransientError('STATE_STORE_UNAVAILABLE', `table down while checking ${t.key}`);
        },
      },
      debugCaptures: { list: async () => [] },
      ...sealing(),
      sleep: async () => undefined,
    });
    expect(report).toMatchObject({
      ok: false,
      failure: 'DRILL_ERROR',
      detail: 'STATE_STORE_UNAVAILABLE',
      onboarding: 'SUCCEEDED',
      offboarding: 'SUCCEEDED',
    });
    expect(JSON.stringify(report)).not.toContain(t.key);
  });
});

/**
 * A failed onboarding on AWS: compensation deletes the customer's secrets with Secrets Manager's recovery window, so
 * they wait 7-30 days in "scheduled for deletion", where every write to them is refused. A retry must work at once
 * (the lifecycle API stores the new key, onboarding stores a new webhook secret) and nothing of the failed attempt
 * may be readable again. Runs on the Secrets Manager model (test/support/secrets-manager-model.ts).
 */
import { describe, expect, it } from 'vitest';
import {
  compensateOnboarding,
  createWebhookSecret,
  type OnboardingDeps,
  promoteOnboardingToken,
} from '../../../functions/lifecycle/onboarding.ts';
import type { VirtuousConnector } from '../../../functions/lifecycle/ports.ts';
import { type LifecycleApiDeps, receiveOnboardingToken } from '../../../functions/lifecycle-api/lifecycle-api.ts';
import type { Notifier } from '../../../functions/notifications/notifier.ts';
import { makeAwsHarness } from '../../contract/secret-store/aws-harness.ts';
import { registerSecret } from '../../support/canaries.ts';
import { InMemoryCustomers } from '../../support/in-memory-customers.ts';

const INSPECT = { reason: 'test:inspect' };

function virtuous(): VirtuousConnector {
  return {
    forCustomer: () => {
      throw new Error('not used');
    },
    forToken: () => ({
      currentOrganization: async () => ({ organizationName: 'Org', organizationUserId: 7, isEnabled: true }),
    }),
  };
}

const notifier: Notifier = { notifyCustomer: async () => undefined, alertOperators: async () => undefined };

function setup() {
  let now = Date.parse('2026-12-01T10:00:00Z');
  const harness = makeAwsHarness({
    now: () => now,
    overrides: {
      sleep: async (ms) => {
        now += ms;
      },
    },
  });
  // Secrets Manager frees a force-deleted secret's name in the background, a moment later.
  harness.model.forcedDeletionDelayMs = 1_000;
  const customers = new InMemoryCustomers();
  let executions = 0;
  const api: LifecycleApiDeps = {
    customers,
    secrets: harness.store,
    virtuous: virtuous(),
    starter: {
      start: async () => ({ executionId: `exec-${++executions}` }),
      describe: async () => undefined,
      sendTaskSuccess: async () => undefined,
    },
    clock: { now: () => new Date() },
    settings: { tokenRotationDays: { high: 90, standard: 180 } },
  };
  const onboarding = {
    customers,
    secrets: harness.store,
    virtuous: virtuous(),
    notifier,
    clock: { now: () => new Date() },
  } as unknown as OnboardingDeps;
  return { harness, customers, api, onboarding };
}

describe('onboarding retried after a failed, compensated attempt (Secrets Manager scheduled deletion)', () => {
  it('stores the new key and a new webhook secret at once; nothing of the failed attempt can be read again', async () => {
    const { harness, customers, api, onboarding } = setup();
    const customerId = 'retry-acme';
    const apiToken = { customerId, kind: 'api_token' } as const;
    const webhookSecret = { customerId, kind: 'webhook_secret' } as const;
    const firstKey = registerSecret('vkey_first_attempt_0123456789abcdef');
    const secondKey = registerSecret('vkey_second_attempt_0123456789abcdef');

    await receiveOnboardingToken(api, { customerId, token: firstKey, sensitivity: 'standard' });
    const step = { customerId, executionId: 'exec-1' };
    await promoteOnboardingToken(onboarding, step);
    await createWebhookSecret(onboarding, step);
    const firstWebhookSecret = await harness.store.read(webhookSecret, 'current', INSPECT);
    registerSecret(firstWebhookSecret?.value ?? '');

    // A later step failed: compensation deletes every secret of the customer, with the recovery window.
    expect(await compensateOnboarding(onboarding, { ...step, failedWith: 'ORGANIZATION_DISABLED' })).toMatchObject({
      secretsDeleted: 2,
    });
    const names = [`virtuous/test/${customerId}/api_token`, `virtuous/test/${customerId}/webhook_secret`];
    for (const name of names) expect(harness.model.secrets.get(name)?.deletedDate).toBeInstanceOf(Date);
    expect((await customers.get(customerId))?.status).toBe('failed');

    // The retry: accepted at once, not refused with SECRET_SCHEDULED_FOR_DELETION for the next 7 days.
    await expect(
      receiveOnboardingToken(api, { customerId, token: secondKey, sensitivity: 'standard' }),
    ).resolves.toEqual({ executionId: 'exec-2' });
    const retry = { customerId, executionId: 'exec-2' };
    await promoteOnboardingToken(onboarding, retry);
    await createWebhookSecret(onboarding, retry);

    expect((await harness.store.read(apiToken, 'current', INSPECT))?.value).toBe(secondKey);
    const secondWebhookSecret = await harness.store.read(webhookSecret, 'current', INSPECT);
    expect(secondWebhookSecret?.value).toBeDefined();
    expect(secondWebhookSecret?.value).not.toBe(firstWebhookSecret?.value);
    for (const ref of [apiToken, webhookSecret]) {
      expect(await harness.store.read(ref, 'previous', INSPECT)).toBeUndefined();
      expect(await harness.store.read(ref, 'pending', INSPECT)).toBeUndefined();
    }
    // The failed attempt's secrets were deleted for good and created anew: each holds the retry's version only.
    for (const name of names) {
      const secret = harness.model.secrets.get(name);
      expect(secret?.deletedDate).toBeUndefined();
      expect(Object.values(harness.model.stagesOf(name))).toEqual([['AWSCURRENT']]);
    }
    const forced = harness.model.log.filter((entry) => entry.op === 'DeleteSecret').map((entry) => entry.id);
    // Scheduled by the compensation (with the recovery window), then forced by the retry.
    expect(forced.slice(0, 2).sort()).toEqual([...names].sort());
    expect(forced.slice(2)).toEqual(names);
    expect((await customers.get(customerId))?.status).toBe('onboarding');
  });
});

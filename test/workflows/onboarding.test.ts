import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import type { CustomerRepository } from '../../functions/customers/customer.ts';
import { createVirtuousConnector } from '../../functions/lifecycle/virtuous-connector.ts';
import { createOnboardingTasks } from '../../functions/lifecycle-tasks/onboarding.ts';
import { PermanentError, TransientError } from '../../functions/shared/errors.ts';
import { InMemoryRateBudget } from '../../functions/virtuous/rate-budget.ts';
import { registerSecret } from '../support/canaries.ts';
import {
  enteredStates,
  failingFirst,
  leaksInEvents,
  retriesOf,
  useWorkflowTestEnv,
  withDeps,
} from '../support/workflow-runner.ts';
import {
  callApi,
  executionFrom,
  INSPECT,
  secretsExistFor,
  sha256,
  withTransientFailures,
} from './lifecycle-fixtures.ts';

const env = useWorkflowTestEnv();
let counter = 0;

/** Submits a fresh organization's key through the lifecycle API and waits for the onboarding execution. */
async function onboard() {
  const customerId = `onb-${++counter}`;
  const org = env().sim.organization();
  const response = await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/api-token`, { token: org.apiKey });
  const execution = executionFrom(env(), response);
  expect(response.body).not.toContain(org.apiKey);
  const outcome = await execution.result;
  return { customerId, org, execution, outcome };
}

describe('onboarding workflow (statemachines/onboarding.asl.json)', () => {
  it('promotes the key, subscribes with a fresh secret, activates, requests the initial load and notifies', async () => {
    const { customerId, org, execution, outcome } = await onboard();

    expect(outcome.status).toBe('SUCCEEDED');
    const record = await env().deps.customers.get(customerId);
    expect(record?.status).toBe('active');
    expect(record?.lock).toBeUndefined();
    const snapshot = env().sim.control.inspect(org.organizationId);
    expect(record?.organizationId).toBe(String(snapshot.organizationUserId));
    expect(snapshot.webhooks).toHaveLength(1);
    const [webhook] = snapshot.webhooks;
    expect(webhook?.id).toBe(record?.webhookSubscriptionId);
    expect(webhook?.payloadUrl).toBe(`https://hooks.partner.example/webhooks/virtuous/${customerId}`);
    expect(webhook?.active).toBe(true);
    expect(webhook?.flags.giftCreate).toBe(true);

    const token = await env().secrets.read({ customerId, kind: 'api_token' }, 'current', INSPECT);
    expect(token?.value).toBe(org.apiKey);
    expect(await env().secrets.read({ customerId, kind: 'api_token' }, 'pending', INSPECT)).toBeUndefined();
    const secret = await env().secrets.read({ customerId, kind: 'webhook_secret' }, 'current', INSPECT);
    expect(Buffer.from(secret?.value ?? '', 'base64')).toHaveLength(32);
    expect(webhook?.secretSha256).toBe(sha256(secret?.value ?? ''));
    expect(record?.webhookCreateAttempt).toBeUndefined();

    const checkpoint = await env().aws.documentClient.send(
      new GetCommand({
        TableName: env().aws.tableNames.checkpoints,
        Key: { customerId, checkpointName: 'initial-load' },
      }),
    );
    // A customer without a Stripe connection gets the reconciliation only; the checkpoint names it, no secrets.
    expect(checkpoint.Item).toMatchObject({ status: 'started', startedLoads: new Set(['reconciliation']) });
    expect(env().initialLoads.loadsFor(customerId)).toEqual(['reconciliation']);
    expect(env().notifier.typesFor(customerId)).toEqual(['sync_active']);
    expect(enteredStates(execution).at(-1)).toBe('Onboarded');
    expect(leaksInEvents(execution)).toBe(0);
  });

  it('retries transient failures of the secret store and of Virtuous, then succeeds without duplicates', async () => {
    await withTransientFailures(
      env(),
      { promotePending: 1, virtuous: { method: 'createWebhook', times: 2, statusCode: 503 } },
      async () => {
        const { customerId, org, execution, outcome } = await onboard();
        expect(outcome.status).toBe('SUCCEEDED');
        expect(retriesOf(execution)).toMatchObject({ PromoteToken: 1, CreateWebhookSubscription: 2 });
        expect(env().sim.control.inspect(org.organizationId).webhooks).toHaveLength(1);
        expect((await env().deps.customers.get(customerId))?.status).toBe('active');
        expect(leaksInEvents(execution)).toBe(0);
      },
    );
  });

  it('compensates a permanent failure: subscription deleted, every secret gone, customer failed, both notified', async () => {
    await withDeps(
      env(),
      (original) => ({
        syncControl: failingFirst(original.syncControl, 'requestInitialLoad', 10, () => new PermanentError('NO', 'x')),
      }),
      async () => {
        const { customerId, org, execution, outcome } = await onboard();
        expect(outcome).toMatchObject({ status: 'FAILED', error: 'OnboardingFailed' });
        expect(enteredStates(execution)).toEqual(
          expect.arrayContaining(['CreateWebhookSubscription', 'CompensateOnboarding', 'NotifyFailure']),
        );
        expect(env().sim.control.inspect(org.organizationId).webhooks).toHaveLength(0);
        expect(secretsExistFor(env(), customerId)).toBe(false);
        const record = await env().deps.customers.get(customerId);
        expect(record?.status).toBe('failed');
        expect(record?.statusReason).toBe('onboarding_failed:PermanentError');
        expect(record?.webhookSubscriptionId).toBeUndefined();
        expect(record?.lock).toBeUndefined();
        expect(env().notifier.typesFor(customerId)).toEqual(['onboarding_failed']);
        expect(env().notifier.alertCodesFor(customerId)).toContain('WORKFLOW_FAILED:onboarding');
        expect(leaksInEvents(execution)).toBe(0);
      },
    );
  });

  it('still deletes every secret when the key is revoked mid-onboarding, and names the orphaned subscription', async () => {
    const original = env().deps;
    let revokeKey: string | undefined;
    env().deps = {
      ...original,
      syncControl: {
        requestInitialLoad: async () => {
          if (revokeKey !== undefined) env().sim.control.revokeApiKey(revokeKey);
          throw new PermanentError('NO', 'x');
        },
        recordInitialLoadStarted: async () => undefined,
        completeInitialLoadRequest: async () => undefined,
      },
    };
    const customerId = `onb-${++counter}`;
    const org = env().sim.organization();
    revokeKey = org.apiKey;
    try {
      const response = await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/api-token`, {
        token: org.apiKey,
      });
      const { executionId } = JSON.parse(response.body) as { executionId: string };
      const outcome = await env().starter.executions.get(executionId)?.result;
      expect(outcome).toMatchObject({ status: 'FAILED', error: 'OnboardingFailed' });
      const [webhook] = env().sim.control.inspect(org.organizationId).webhooks;
      expect(env().notifier.alerts).toContainEqual(
        expect.objectContaining({
          customerId,
          code: 'ONBOARDING_SUBSCRIPTION_NOT_DELETED',
          severity: 'critical',
          details: expect.objectContaining({ webhookSubscriptionId: webhook?.id }),
        }),
      );
      expect(secretsExistFor(env(), customerId)).toBe(false);
      expect((await env().deps.customers.get(customerId))?.status).toBe('failed');
    } finally {
      env().deps = original;
    }
  });

  it('a subscription create answered after Virtuous stored it: not retried, compensated, orphan named to operators', async () => {
    const customerId = `onb-${++counter}`;
    const org = env().sim.organization();
    const original = env().deps;
    // A short client timeout; the fault is switched on for the create call only (the simulator applies it per org).
    const connector = createVirtuousConnector({
      baseUrl: env().sim.baseUrl,
      secrets: env().secrets,
      budget: new InMemoryRateBudget({ hourlyBudget: 1_000 }),
      allowLoopbackHttp: true,
      timeoutMs: 300,
      client: { backoff: { baseDelayMs: 1, maxDelayMs: 5 } },
    });
    env().deps = {
      ...original,
      virtuous: {
        ...connector,
        forCustomer: (id, options) => {
          const client = connector.forCustomer(id, options);
          return {
            ...client,
            createWebhook: async (subscription) => {
              env().sim.control.setFaults(org.organizationId, { timeoutAfterProcessingRatio: 1 });
              try {
                return await client.createWebhook(subscription);
              } finally {
                env().sim.control.setFaults(org.organizationId, {});
              }
            },
          };
        },
      },
    };
    try {
      const response = await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/api-token`, {
        token: org.apiKey,
      });
      const execution = executionFrom(env(), response);
      const outcome = await execution.result;
      expect(outcome).toMatchObject({ status: 'FAILED', error: 'OnboardingFailed' });
      expect(retriesOf(execution).CreateWebhookSubscription).toBeUndefined();
      expect(enteredStates(execution)).toEqual(
        expect.arrayContaining(['CreateWebhookSubscription', 'CompensateOnboarding', 'NotifyFailure']),
      );
      expect(enteredStates(execution)).not.toContain('ActivateCustomer');
      const snapshot = env().sim.control.inspect(org.organizationId);
      // The one POST Virtuous stored: its id never reached us, so nothing could delete it.
      expect(snapshot.webhooks).toHaveLength(1);
      expect(snapshot.requests.filter((request) => request.route.startsWith('POST /api/Webhook'))).toHaveLength(1);
      expect(snapshot.faultsInjected.timeoutAfterProcessing).toBe(1);
      expect(env().notifier.alerts).toContainEqual({
        customerId,
        code: 'POSSIBLE_ORPHAN_SUBSCRIPTION',
        severity: 'warning',
        details: { executionId: execution.executionId, error: 'WEBHOOK_CREATE_OUTCOME_UNKNOWN' },
      });
      expect(env().notifier.alertCodesFor(customerId)).toContain('WORKFLOW_FAILED:onboarding');
      // Its deliveries can no longer be verified: Virtuous gives them up after its retries.
      expect(secretsExistFor(env(), customerId)).toBe(false);
      const record = await env().deps.customers.get(customerId);
      expect(record?.status).toBe('failed');
      expect(record?.webhookSubscriptionId).toBeUndefined();
      expect(env().notifier.typesFor(customerId)).toEqual(['onboarding_failed']);
      expect(leaksInEvents(execution)).toBe(0);
    } finally {
      env().deps = original;
    }
  });

  it('a task that dies after the subscription POST and before saving its id: the retry never POSTs again', async () => {
    const markersBeforePost: (string | undefined)[] = [];
    let idWritesFailed = 0;
    await withDeps(
      env(),
      (original) => ({
        // The write of the new id fails once, right after Virtuous stored the subscription: the task "dies" there.
        customers: new Proxy(original.customers, {
          get(target, property, receiver) {
            const value = Reflect.get(target, property, receiver);
            if (property !== 'update') return typeof value === 'function' ? value.bind(target) : value;
            const update: CustomerRepository['update'] = async (customerId, changes, options) => {
              if (changes.webhookSubscriptionId !== undefined && idWritesFailed === 0) {
                idWritesFailed += 1;
                throw new TransientError('DYNAMO_UNAVAILABLE', 'injected crash after the subscription POST');
              }
              return target.update(customerId, changes, options);
            };
            return update;
          },
        }),
        virtuous: {
          ...original.virtuous,
          forCustomer: (id, options) => {
            const client = original.virtuous.forCustomer(id, options);
            return {
              ...client,
              createWebhook: async (subscription) => {
                markersBeforePost.push((await original.customers.get(id))?.webhookCreateAttempt?.executionId);
                return client.createWebhook(subscription);
              },
            };
          },
        },
      }),
      async () => {
        const { customerId, org, execution, outcome } = await onboard();
        expect(outcome).toMatchObject({ status: 'FAILED', error: 'OnboardingFailed' });
        expect(idWritesFailed).toBe(1);
        expect(markersBeforePost).toEqual([execution.executionId]);
        expect(retriesOf(execution).CreateWebhookSubscription).toBe(1);
        expect(enteredStates(execution)).toEqual(
          expect.arrayContaining(['CreateWebhookSubscription', 'CompensateOnboarding', 'NotifyFailure']),
        );
        expect(enteredStates(execution)).not.toContain('ActivateCustomer');
        const snapshot = env().sim.control.inspect(org.organizationId);
        expect(snapshot.webhooks).toHaveLength(1);
        expect(snapshot.requests.filter((request) => request.route.startsWith('POST /api/Webhook'))).toHaveLength(1);
        expect(env().notifier.alerts).toContainEqual({
          customerId,
          code: 'POSSIBLE_ORPHAN_SUBSCRIPTION',
          severity: 'warning',
          details: { executionId: execution.executionId, error: 'WEBHOOK_CREATE_OUTCOME_UNKNOWN' },
        });
        // The orphan's deliveries fail our signature check once the secret is gone.
        expect(secretsExistFor(env(), customerId)).toBe(false);
        const record = await env().deps.customers.get(customerId);
        expect(record?.status).toBe('failed');
        expect(record?.statusReason).toBe('onboarding_failed:PermanentError');
        expect(record?.webhookSubscriptionId).toBeUndefined();
        expect(record?.webhookCreateAttempt).toBeUndefined();
        expect(record?.lock).toBeUndefined();
        expect(env().notifier.typesFor(customerId)).toEqual(['onboarding_failed']);
        expect(leaksInEvents(execution)).toBe(0);
      },
    );
  });

  it('refuses a key of a disabled organization before storing anything or starting a workflow', async () => {
    const customerId = `onb-${++counter}`;
    const org = env().sim.organization({ isEnabled: false });
    const before = env().starter.executions.size;
    const response = await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/api-token`, {
      token: org.apiKey,
    });
    expect(response.statusCode).toBe(422);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'ORGANIZATION_DISABLED' });
    expect(response.body).not.toContain(org.apiKey);
    expect(env().starter.executions.size).toBe(before);
    expect(await env().deps.customers.get(customerId)).toBeUndefined();
    expect(secretsExistFor(env(), customerId)).toBe(false);
  });

  it('answers a malformed body with the shape problem, never the data', async () => {
    const response = await callApi(env(), 'POST', '/lifecycle/customers/onb-x/api-token', {
      token: 'short',
      email: 'canary.donor@pii-canary.example',
    });
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('token');
    expect(response.body).not.toContain('short');
    expect(response.body).not.toContain('canary');
  });

  describe('initial load', () => {
    const checkpointOf = async (customerId: string) =>
      (
        await env().aws.documentClient.send(
          new GetCommand({
            TableName: env().aws.tableNames.checkpoints,
            Key: { customerId, checkpointName: 'initial-load' },
          }),
        )
      ).Item;

    it('starts a Stripe Connect bulk load as well when the customer stored a Stripe refresh token', async () => {
      const customerId = `onb-${++counter}`;
      const refreshToken = `rt_${sha256(customerId).slice(0, 24)}`;
      registerSecret(refreshToken);
      const ref = { customerId, kind: 'refresh_token', source: 'stripe' } as const;
      await env().secrets.putPending(ref, refreshToken, INSPECT);
      await env().secrets.promotePending(ref, INSPECT);
      const org = env().sim.organization();
      const response = await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/api-token`, {
        token: org.apiKey,
      });
      const execution = executionFrom(env(), response);
      expect((await execution.result).status).toBe('SUCCEEDED');
      expect(env().initialLoads.loadsFor(customerId)).toEqual(['reconciliation', 'stripe-connect']);
      const checkpoint = await checkpointOf(customerId);
      expect(checkpoint).toMatchObject({
        status: 'started',
        startedLoads: new Set(['reconciliation', 'stripe-connect']),
      });
      expect(JSON.stringify(checkpoint, (_key, value) => (value instanceof Set ? [...value] : value))).not.toContain(
        refreshToken,
      );
      expect(leaksInEvents(execution)).toBe(0);
    });

    it('starts nothing twice: a second run of the task, and a retry after a start whose record was lost', async () => {
      const { customerId, execution } = await onboard();
      expect(env().initialLoads.loadsFor(customerId)).toEqual(['reconciliation']);
      const tasks = createOnboardingTasks(env().deps);
      await tasks.RequestInitialLoad?.({
        task: 'RequestInitialLoad',
        executionId: execution.executionId,
        input: { customerId },
      });
      expect(env().initialLoads.loadsFor(customerId)).toEqual(['reconciliation']);
      expect((await checkpointOf(customerId))?.status).toBe('started');

      await withDeps(
        env(),
        (original) => ({
          syncControl: failingFirst(
            original.syncControl,
            'completeInitialLoadRequest',
            1,
            () => new TransientError('DYNAMO_UNAVAILABLE', 'x'),
          ),
        }),
        async () => {
          const second = await onboard();
          expect(second.outcome.status).toBe('SUCCEEDED');
          expect(retriesOf(second.execution).RequestInitialLoad).toBe(1);
          expect(env().initialLoads.loadsFor(second.customerId)).toEqual(['reconciliation']);
          expect((await checkpointOf(second.customerId))?.status).toBe('started');
        },
      );
    });
  });
});

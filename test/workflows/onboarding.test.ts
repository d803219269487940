import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { createVirtuousConnector } from '../../functions/lifecycle/virtuous-connector.ts';
import { PermanentError, TransientError } from '../../functions/shared/errors.ts';
import { InMemoryRateBudget } from '../../functions/virtuous/rate-budget.ts';
import {
  enteredStates,
  failingFirst,
  leaksInEvents,
  retriesOf,
  useWorkflowTestEnv,
  virtuousFailingFirst,
  withDeps,
} from '../support/workflow-runner.ts';
import { callApi, executionFrom, INSPECT, secretsExistFor, sha256 } from './lifecycle-fixtures.ts';

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

    const checkpoint = await env().aws.documentClient.send(
      new GetCommand({
        TableName: env().aws.tableNames.checkpoints,
        Key: { customerId, checkpointName: 'initial-load' },
      }),
    );
    expect(checkpoint.Item?.status).toBe('requested');
    expect(env().notifier.typesFor(customerId)).toEqual(['sync_active']);
    expect(enteredStates(execution).at(-1)).toBe('Onboarded');
    expect(leaksInEvents(execution)).toBe(0);
  });

  it('retries transient failures of the secret store and of Virtuous, then succeeds without duplicates', async () => {
    await withDeps(
      env(),
      (original) => ({
        secrets: failingFirst(
          original.secrets,
          'promotePending',
          1,
          () => new TransientError('SECRETS_THROTTLED', 'x'),
        ),
        virtuous: virtuousFailingFirst(
          original.virtuous,
          'createWebhook',
          2,
          () => new TransientError('VIRTUOUS_UNAVAILABLE', 'x', { statusCode: 503 }),
        ),
      }),
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
});

import { describe, expect, it } from 'vitest';
import type { Notifier } from '../../functions/notifications/notifier.ts';
import { TransientError } from '../../functions/shared/errors.ts';
import { createVirtuousClient } from '../../functions/virtuous/client.ts';
import { InMemoryRateBudget } from '../../functions/virtuous/rate-budget.ts';
import { secretStoreTokenSource } from '../../functions/virtuous/token-source.ts';
import {
  enteredStates,
  leaksInEvents,
  retriesOf,
  useWorkflowTestEnv,
  virtuousFailingFirst,
  withDeps,
} from '../support/workflow-runner.ts';
import { callApi, executionFrom, INSPECT, onboardedCustomer, rotationWaiting } from './lifecycle-fixtures.ts';

const env = useWorkflowTestEnv();

async function startRotation(customerId: string, body?: unknown) {
  return executionFrom(
    env(),
    await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/workflows/token-rotation`, body),
  );
}

async function submitKey(customerId: string, token: string) {
  await rotationWaiting(env(), customerId);
  const response = await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/rotation-token`, { token });
  expect(response.statusCode).toBe(202);
  expect(response.body).not.toContain(token);
}

describe('API-token rotation workflow (statemachines/token-rotation.asl.json)', () => {
  it('waits for the new key, validates it against the same organization, cuts over and retires the old one', async () => {
    const { customerId, org } = await onboardedCustomer(env(), 'rot');
    const execution = await startRotation(customerId);
    const newKey = env().sim.addKey(org.organizationId);
    await submitKey(customerId, newKey);

    const outcome = await execution.result;
    expect(outcome.status).toBe('SUCCEEDED');
    expect((await env().secrets.read({ customerId, kind: 'api_token' }, 'current', INSPECT))?.value).toBe(newKey);
    expect(await env().secrets.read({ customerId, kind: 'api_token' }, 'previous', INSPECT)).toBeUndefined();
    expect(await env().secrets.read({ customerId, kind: 'api_token' }, 'pending', INSPECT)).toBeUndefined();
    const record = await env().deps.customers.get(customerId);
    expect(record?.lock).toBeUndefined();
    expect(record?.awaitingTokenTaskToken).toBeUndefined();
    expect(env().notifier.typesFor(customerId)).toEqual([
      'sync_active',
      'token_rotation_requested',
      'token_revocation_requested',
      'token_rotated',
    ]);
    expect(enteredStates(execution)).toEqual(
      expect.arrayContaining(['RequestNewToken', 'ValidateNewToken', 'CutOver', 'ConfirmNewToken', 'RetireOldToken']),
    );
    expect(leaksInEvents(execution)).toBe(0);
    const status = await callApi(env(), 'GET', `/lifecycle/executions/${encodeURIComponent(execution.executionId)}`);
    expect(JSON.parse(status.body)).toMatchObject({ status: 'SUCCEEDED', workflow: 'token-rotation' });
  });

  it('stops and alerts when the new key belongs to another organization, keeping the current key', async () => {
    const { customerId, org } = await onboardedCustomer(env(), 'rot');
    const execution = await startRotation(customerId);
    const foreign = env().sim.organization();
    await submitKey(customerId, foreign.apiKey);

    const outcome = await execution.result;
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'OrganizationMismatch' });
    expect((await env().secrets.read({ customerId, kind: 'api_token' }, 'current', INSPECT))?.value).toBe(org.apiKey);
    expect(await env().secrets.read({ customerId, kind: 'api_token' }, 'pending', INSPECT)).toBeUndefined();
    expect(env().notifier.alerts).toContainEqual(
      expect.objectContaining({ customerId, code: 'ORGANIZATION_MISMATCH', severity: 'critical' }),
    );
    expect(env().notifier.typesFor(customerId)).toContain('token_rotation_failed');
    expect((await env().deps.customers.get(customerId))?.lock).toBeUndefined();
    expect(leaksInEvents(execution)).toBe(0);
  });

  it('retries a transient failure of the confirming call, then completes', async () => {
    const { customerId, org } = await onboardedCustomer(env(), 'rot');
    await withDeps(
      env(),
      (original) => ({
        virtuous: virtuousFailingFirst(
          original.virtuous,
          'currentOrganization',
          2,
          () => new TransientError('VIRTUOUS_UNAVAILABLE', 'x', { statusCode: 502 }),
          'rotation:confirm',
        ),
      }),
      async () => {
        const execution = await startRotation(customerId);
        await submitKey(customerId, env().sim.addKey(org.organizationId));
        expect((await execution.result).status).toBe('SUCCEEDED');
        expect(retriesOf(execution)).toMatchObject({ ConfirmNewToken: 2 });
      },
    );
  });

  it('compensates a key Virtuous rejects: pending discarded, current untouched, customer and operators told', async () => {
    const { customerId, org } = await onboardedCustomer(env(), 'rot');
    const execution = await startRotation(customerId);
    const newKey = env().sim.addKey(org.organizationId);
    env().sim.control.revokeApiKey(newKey);
    await submitKey(customerId, newKey);

    const outcome = await execution.result;
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'TokenRotationFailed' });
    expect(enteredStates(execution)).toContain('CompensateTokenRotation');
    expect((await env().secrets.read({ customerId, kind: 'api_token' }, 'current', INSPECT))?.value).toBe(org.apiKey);
    expect(await env().secrets.read({ customerId, kind: 'api_token' }, 'pending', INSPECT)).toBeUndefined();
    expect(env().notifier.typesFor(customerId)).toContain('token_rotation_failed');
    expect(env().notifier.alertCodesFor(customerId)).toContain('WORKFLOW_FAILED:token-rotation');
    expect((await env().deps.customers.get(customerId))?.lock).toBeUndefined();
    expect(leaksInEvents(execution)).toBe(0);
  });

  it('refuses a second workflow for a customer while one runs, and a key nobody waits for', async () => {
    const { customerId, org } = await onboardedCustomer(env(), 'rot');
    const execution = await startRotation(customerId);
    await rotationWaiting(env(), customerId);
    const second = await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/workflows/offboarding`);
    expect(second.statusCode).toBe(409);
    await submitKey(customerId, env().sim.addKey(org.organizationId));
    expect((await execution.result).status).toBe('SUCCEEDED');
    const late = await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/rotation-token`, {
      token: env().sim.addKey(org.organizationId),
    });
    expect(late.statusCode).toBe(409);
  });

  it('lets a second workflow started behind the API fail on the lock without releasing the holder', async () => {
    const { customerId, org } = await onboardedCustomer(env(), 'rot');
    const rotation = await startRotation(customerId);
    await rotationWaiting(env(), customerId);
    const intruding = env().run('webhook-secret-rotation', { customerId });
    expect(await intruding.result).toMatchObject({ status: 'FAILED', error: 'LockNotAcquired' });
    expect(enteredStates(intruding)).not.toContain('GenerateWebhookSecret');
    expect(env().notifier.alertCodesFor(customerId)).toContain('LOCK_NOT_ACQUIRED:webhook-secret-rotation');
    expect((await env().deps.customers.get(customerId))?.lock?.executionId).toBe(rotation.executionId);
    await submitKey(customerId, env().sim.addKey(org.organizationId));
    expect((await rotation.result).status).toBe('SUCCEEDED');
    expect((await env().deps.customers.get(customerId))?.lock).toBeUndefined();
  });

  it('keeps Virtuous calls succeeding through the cut-over, even when the admin revokes the old key at once', async () => {
    const { customerId, org } = await onboardedCustomer(env(), 'rot');
    const original = env().deps;
    const notifier: Notifier = {
      notifyCustomer: async (notification) => {
        // The admin acts on the revocation request immediately: every worker still holding the old key gets 401.
        if (notification.customerId === customerId && notification.type === 'token_revocation_requested') {
          env().sim.control.revokeApiKey(org.apiKey);
        }
        await original.notifier.notifyCustomer(notification);
      },
      alertOperators: (alert) => original.notifier.alertOperators(alert),
    };
    env().deps = { ...original, notifier };
    const worker = createVirtuousClient({
      baseUrl: env().sim.baseUrl,
      customerId,
      tokens: secretStoreTokenSource(env().secrets, customerId, 'sync:submit'),
      budget: new InMemoryRateBudget({ hourlyBudget: 100_000 }),
      allowLoopbackHttp: true,
      timeoutMs: 3_000,
      backoff: { baseDelayMs: 1, maxDelayMs: 5 },
    });
    let running = true;
    let succeeded = 0;
    let failed = 0;
    const load = Array.from({ length: 3 }, async () => {
      while (running) {
        try {
          await worker.currentOrganization();
          succeeded += 1;
        } catch {
          failed += 1;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    });
    const unauthorizedBefore = env().sim.control.unauthorizedRequests;
    try {
      const execution = await startRotation(customerId);
      await submitKey(customerId, env().sim.addKey(org.organizationId));
      expect((await execution.result).status).toBe('SUCCEEDED');
      // A few more calls after the revocation, all with whatever key the worker holds.
      const after = succeeded;
      await new Promise((resolve) => setTimeout(resolve, 100));
      running = false;
      await Promise.all(load);
      expect(succeeded).toBeGreaterThan(after);
      // Workers holding the old key did meet the revocation (401) and recovered by re-reading the current key.
      const unauthorized = env().sim.control.unauthorizedRequests - unauthorizedBefore;
      expect(unauthorized).toBeGreaterThan(0);
      expect(failed).toBe(0);
      console.log(
        `token cut-over under load: ${succeeded} worker calls succeeded, ${failed} failed, ${unauthorized} 401s recovered`,
      );
    } finally {
      running = false;
      env().deps = original;
    }
  });
});

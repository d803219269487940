/** Shared steps of the workflow tests: the lifecycle API over the test environment, onboarding, waiting. */
import { createHash } from 'node:crypto';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { expect } from 'vitest';
import { createLifecycleApiHandler } from '../../functions/lifecycle-api/handler.ts';
import type { LifecycleApiDeps } from '../../functions/lifecycle-api/lifecycle-api.ts';
import type { LocalExecution } from '../../functions/lifecycle-tasks/local-runner.ts';
import { TransientError } from '../../functions/shared/errors.ts';
import type { VirtuousApi } from '../../functions/virtuous/api.ts';
import { failingFirst, virtuousFailingFirst, type WorkflowTestEnv, withDeps } from '../support/workflow-runner.ts';

export function apiEvent(method: string, path: string, body?: unknown): APIGatewayProxyEvent {
  return {
    httpMethod: method,
    path,
    resource: '/lifecycle/{proxy+}',
    pathParameters: { proxy: path.replace(/^\/lifecycle\//, '') },
    body: body === undefined ? null : JSON.stringify(body),
    isBase64Encoded: false,
    headers: {},
  } as unknown as APIGatewayProxyEvent;
}

/** The audit context tests read secrets under: a reason of its own, never mistaken for a workflow's access. */
export const INSPECT = { reason: 'test:inspect' };

export const sha256 = (value: string): string => createHash('sha256').update(value, 'utf8').digest('hex');

/** The lifecycle API over the test environment's current dependencies, plus the optional ones a test adds. */
export function lifecycleApi(env: WorkflowTestEnv, extra: Partial<LifecycleApiDeps> = {}) {
  return createLifecycleApiHandler({
    customers: env.deps.customers,
    secrets: env.deps.secrets,
    virtuous: env.deps.virtuous,
    starter: env.starter,
    clock: env.deps.clock,
    settings: env.settings,
    ...extra,
  });
}

export function callApi(
  env: WorkflowTestEnv,
  method: string,
  path: string,
  body?: unknown,
): Promise<APIGatewayProxyResult> {
  return lifecycleApi(env)(apiEvent(method, path, body));
}

export function executionFrom(env: WorkflowTestEnv, response: APIGatewayProxyResult): LocalExecution {
  expect(response.statusCode).toBe(202);
  const { executionId } = JSON.parse(response.body) as { executionId: string };
  const execution = env.starter.executions.get(executionId);
  if (execution === undefined) throw new Error('the API did not start an execution');
  return execution;
}

let sequence = 0;

/** A fresh organization in the simulator and an active customer onboarded through the API and the workflow. */
export async function onboardedCustomer(env: WorkflowTestEnv, prefix: string) {
  const customerId = `${prefix}-${++sequence}`;
  const org = env.sim.organization();
  const execution = executionFrom(
    env,
    await callApi(env, 'POST', `/lifecycle/customers/${customerId}/api-token`, { token: org.apiKey }),
  );
  const outcome = await execution.result;
  expect(outcome.status).toBe('SUCCEEDED');
  return { customerId, org };
}

/** A fresh organization and a customer left as the lifecycle API leaves it before onboarding: key stored pending. */
export async function customerAwaitingOnboarding(env: WorkflowTestEnv, customerId: string) {
  const org = env.sim.organization();
  await env.secrets.putPending({ customerId, kind: 'api_token' }, org.apiKey, { reason: 'onboarding:receive' });
  const now = new Date().toISOString();
  await env.deps.customers.create({
    customerId,
    status: 'onboarding',
    sensitivity: 'standard',
    tokenRotationDays: 180,
    createdAt: now,
    updatedAt: now,
  });
  return org;
}

export async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Waits until the customer's token rotation parks its task token, i.e. the workflow waits for the new key. */
export async function rotationWaiting(env: WorkflowTestEnv, customerId: string): Promise<void> {
  await waitFor(async () => (await env.deps.customers.get(customerId))?.awaitingTokenTaskToken !== undefined);
}

export function secretsExistFor(env: WorkflowTestEnv, customerId: string): boolean {
  return env.storage.raw().includes(`/${customerId}/`);
}

/**
 * Runs `body` while the secret store's promotion and one Virtuous call throw a TransientError for their first calls:
 * what a workflow's retry policies must absorb without a duplicate.
 */
export function withTransientFailures<T>(
  env: WorkflowTestEnv,
  failures: {
    readonly promotePending: number;
    readonly virtuous: { readonly method: keyof VirtuousApi; readonly times: number; readonly statusCode: number };
  },
  body: () => Promise<T>,
): Promise<T> {
  const { method, times, statusCode } = failures.virtuous;
  return withDeps(
    env,
    (original) => ({
      secrets: failingFirst(
        original.secrets,
        'promotePending',
        failures.promotePending,
        () => new TransientError('SECRETS_THROTTLED', 'x'),
      ),
      virtuous: virtuousFailingFirst(
        original.virtuous,
        method,
        times,
        () => new TransientError('VIRTUOUS_UNAVAILABLE', 'x', { statusCode }),
      ),
    }),
    body,
  );
}

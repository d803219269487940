/**
 * Every Lambda task of every workflow meets one transient failure (a TransientError, as a throttled dependency or a
 * Lambda service hiccup would surface) on its first invocation: each must be retried once by its state's Retry and
 * the workflow must end as if nothing happened, without entering any compensation.
 */
import { describe, expect, it } from 'vitest';
import type { WorkflowName } from '../../functions/customers/customer.ts';
import type { LocalExecution, LocalTaskHandler } from '../../functions/lifecycle-tasks/local-runner.ts';
import { TransientError } from '../../functions/shared/errors.ts';
import { enteredStates, leaksInEvents, retriesOf, useWorkflowTestEnv } from '../support/workflow-runner.ts';
import { callApi, customerAwaitingOnboarding, onboardedCustomer, rotationWaiting } from './lifecycle-fixtures.ts';

const env = useWorkflowTestEnv();

const FAILURE_PATH = /^(Compensate|NotifyFailure|MarkOffboardingFailed|AlertLockNotAcquired|ReleaseLockAfter|StopOn)/;

function failingOnceEach(): {
  wrap: (name: string, handler: LocalTaskHandler) => LocalTaskHandler;
  failed: Set<string>;
} {
  const failed = new Set<string>();
  return {
    failed,
    wrap: (name, handler) => async (input) => {
      // The nested-execution state is not a Lambda task: Step Functions' own errors are what its Retry names.
      if (name !== 'RotateTokenExpedited' && !failed.has(name)) {
        failed.add(name);
        throw new TransientError('INJECTED', `first call of ${name} fails`);
      }
      return handler(input);
    },
  };
}

/** Checks the execution and the nested ones it started (states of the same name may fail in either). */
function expectEachRetriedOnce(executions: readonly LocalExecution[], failed: Set<string>): void {
  const retries: Record<string, number> = {};
  const entered = executions.flatMap((execution) => enteredStates(execution));
  for (const execution of executions) {
    for (const [name, count] of Object.entries(retriesOf(execution))) retries[name] = (retries[name] ?? 0) + count;
    expect(leaksInEvents(execution)).toBe(0);
  }
  const lambdaStates = [...failed].filter((name) => entered.includes(name));
  expect(lambdaStates.length).toBeGreaterThan(4);
  for (const name of lambdaStates) expect(retries[name], name).toBe(1);
  expect(entered.filter((name) => FAILURE_PATH.test(name))).toEqual([]);
}

async function runWithKey(workflow: WorkflowName, customerId: string, organizationId: number) {
  const { wrap, failed } = failingOnceEach();
  const before = new Set(env().starter.executions.keys());
  const execution = env().run(workflow, { customerId }, { wrapTask: wrap });
  if (workflow === 'token-rotation' || workflow === 'incident-response') {
    await rotationWaiting(env(), customerId);
    const response = await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/rotation-token`, {
      token: env().sim.addKey(organizationId),
    });
    expect(response.statusCode).toBe(202);
  }
  const outcome = await execution.result;
  const executions = [...env().starter.executions.values()].filter((e) => !before.has(e.executionId));
  return { executions, outcome, failed };
}

describe('one transient failure in every task is retried and absorbed', () => {
  it('onboarding', async () => {
    const customerId = 'transient-onboarding';
    const org = await customerAwaitingOnboarding(env(), customerId);
    const { executions, outcome, failed } = await runWithKey('onboarding', customerId, org.organizationId);
    expect(outcome.status).toBe('SUCCEEDED');
    expectEachRetriedOnce(executions, failed);
    expect(env().sim.control.inspect(org.organizationId).webhooks).toHaveLength(1);
  });

  it.each(['token-rotation', 'webhook-secret-rotation', 'incident-response', 'offboarding'] as const)(
    '%s',
    async (workflow) => {
      const { customerId, org } = await onboardedCustomer(env(), `transient-${workflow.slice(0, 8)}`);
      const { executions, outcome, failed } = await runWithKey(workflow, customerId, org.organizationId);
      expect(outcome.status).toBe('SUCCEEDED');
      expectEachRetriedOnce(executions, failed);
      expect((await env().deps.customers.get(customerId))?.lock).toBeUndefined();
    },
  );
});

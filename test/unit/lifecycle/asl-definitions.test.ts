import { StateMachine } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import type { WorkflowName } from '../../../functions/customers/customer.ts';
import type { LifecycleDeps } from '../../../functions/lifecycle-tasks/deps.ts';
import {
  type AslDocument,
  type AslState,
  allStates,
  bindTaskHandlers,
  loadDefinition,
} from '../../../functions/lifecycle-tasks/local-runner.ts';
import { TASK_TABLES } from '../../../functions/lifecycle-tasks/registry.ts';
import { TaskTokenBroker } from '../../../functions/lifecycle-tasks/task-token-broker.ts';
import { readWorkflowDefinition, WORKFLOWS } from '../../../statemachines/workflows.ts';

const NAMES = Object.keys(WORKFLOWS) as WorkflowName[];
const LAMBDA_ERRORS = [
  'TransientError',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];
/** setTimeout's ceiling: a longer timeout would fire at once in the local runner. */
const MAX_TIMER_SECONDS = Math.floor(2 ** 31 / 1000) - 1;

function successors(state: AslState): string[] {
  const next: string[] = [];
  if (typeof state.Next === 'string') next.push(state.Next);
  if (typeof state.Default === 'string') next.push(state.Default);
  for (const choice of (state.Choices as Array<{ Next: string }> | undefined) ?? []) next.push(choice.Next);
  for (const catcher of (state.Catch as Array<{ Next: string }> | undefined) ?? []) next.push(catcher.Next);
  return next;
}

/** Every path from `from` to a terminal state, as lists of state names (the graphs are small and loop only once). */
function pathsToEnd(document: AslDocument, from: string, seen: string[] = []): string[][] {
  const state = document.States[from];
  if (state === undefined) throw new Error(`missing state ${from}`);
  const path = [...seen, from];
  const next = successors(state).filter((name) => !seen.includes(name));
  if (next.length === 0) return [path];
  return next.flatMap((name) => pathsToEnd(document, name, path));
}

describe.each(NAMES)('%s state machine file', (workflow) => {
  const document = loadDefinition(workflow);
  const raw = readWorkflowDefinition(workflow);

  it('uses exactly the substitutions declared in statemachines/workflows.ts, and JSONPath only', () => {
    const placeholders = [...new Set([...raw.matchAll(/\$\{([A-Za-z0-9]+)\}/g)].map((match) => match[1]))].sort();
    expect(placeholders).toEqual([...WORKFLOWS[workflow].substitutions].sort());
    expect(raw).not.toMatch(/"QueryLanguage"|"Assign"|\{%/);
  });

  it('is valid ASL for the local interpreter and stays inside its timer range', () => {
    expect(() => new StateMachine(document as never, { validationOptions: { checkArn: false } })).not.toThrow();
    for (const [name, state] of [['(machine)', document as unknown as AslState] as const, ...allStates(document)]) {
      const timeout = state.TimeoutSeconds;
      if (typeof timeout === 'number') expect(timeout, name).toBeLessThanOrEqual(MAX_TIMER_SECONDS);
    }
  });

  it('retries every Lambda task on transient and Lambda service errors, bounded, with backoff and full jitter', () => {
    const tasks = allStates(document).filter(
      ([, state]) => state.Type === 'Task' && state.Resource?.includes('lambda'),
    );
    expect(tasks.length).toBeGreaterThan(3);
    for (const [name, state] of tasks) {
      const retrier = (state.Retry as Array<Record<string, unknown>> | undefined)?.[0];
      expect(retrier?.ErrorEquals, name).toEqual(LAMBDA_ERRORS);
      expect(retrier, name).toMatchObject({ JitterStrategy: 'FULL', BackoffRate: 2 });
      expect(retrier?.MaxAttempts as number, name).toBeLessThanOrEqual(10);
      expect(retrier?.MaxDelaySeconds as number, name).toBeLessThanOrEqual(300);
    }
  });

  it('names a task of its own task table in every Lambda task, and the local runner binds every Task state', () => {
    const table = TASK_TABLES[workflow]({} as LifecycleDeps);
    for (const [name, state] of allStates(document)) {
      if (state.Type !== 'Task' || !state.Resource?.includes('lambda')) continue;
      const payload = (state.Parameters as { Payload: { task: string } }).Payload;
      expect(Object.keys(table), name).toContain(payload.task);
    }
    expect(() => bindTaskHandlers(workflow, {} as LifecycleDeps, { broker: new TaskTokenBroker() })).not.toThrow();
  });

  it('takes the customer lock first and releases it on every path that took it', () => {
    expect(document.StartAt).toBe('AcquireLock');
    const paths = pathsToEnd(document, 'AcquireLock');
    expect(paths.length).toBeGreaterThan(2);
    for (const path of paths) {
      if (path.includes('LockNotAcquired')) continue;
      // A lock that could not be released ends in its own Fail state, after ReleaseLock was tried.
      const last = path.at(-1) as string;
      const releasesBeforeEnd = path.slice(0, -1).some((name) => name.startsWith('ReleaseLock'));
      expect(releasesBeforeEnd, `${path.join(' → ')}`).toBe(true);
      expect(['Succeed', 'Fail']).toContain(document.States[last]?.Type);
    }
  });

  it('catches every failure of every Task and Parallel state (compensation, notice, or a named Fail)', () => {
    for (const [name, state] of Object.entries(document.States)) {
      if (!['Task', 'Parallel'].includes(state.Type)) continue;
      const catchers = (state.Catch as Array<{ ErrorEquals: string[] }> | undefined) ?? [];
      expect(
        catchers.some((catcher) => catcher.ErrorEquals.includes('States.ALL')),
        name,
      ).toBe(true);
    }
  });
});

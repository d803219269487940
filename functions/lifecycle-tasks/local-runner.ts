/**
 * Runs a workflow's ASL file, as written, with aws-local-stepfunctions, binding every Task state to the same task
 * code its Lambda runs on AWS. Used by the workflow tests and by the one-machine runtime.
 *
 *  - `arn:aws:states:::lambda:invoke`: the payload goes through the workflow's task dispatcher; the answer comes back
 *    as `{ Payload }`, as the optimized Lambda integration returns it, after a JSON round trip.
 *  - `...lambda:invoke.waitForTaskToken`: the task runs, then waits on the TaskTokenBroker for the token
 *    `$$.Task.Token` resolved to (the run's context supplies a token per execution).
 *  - `arn:aws:states:::states:startExecution.sync:2`: the named workflow runs as a nested local execution.
 */
import { randomUUID } from 'node:crypto';
import { StateMachine } from 'aws-local-stepfunctions';
import { readWorkflowDefinition, WORKFLOWS } from '../../statemachines/workflows.ts';
import type { WorkflowName } from '../customers/customer.ts';
import { PermanentError } from '../shared/errors.ts';
import type { LifecycleDeps } from './deps.ts';
import { createTaskDispatcher } from './dispatch.ts';
import { TASK_TABLES } from './registry.ts';
import { TaskFailedError, type TaskTokenBroker } from './task-token-broker.ts';

/** One event of an execution's log (the package does not export the type by name). */
export type EventLog = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

const LOCAL_ACCOUNT = 'arn:aws:states:us-east-1:000000000000:stateMachine:';

/** Placeholder values for the one-machine run: state machine ARNs name the workflow they stand for. */
export function localSubstitutions(workflow: WorkflowName): Record<string, string> {
  return {
    TasksFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:lifecycle-tasks-${workflow}`,
    TokenRotationStateMachineArn: `${LOCAL_ACCOUNT}token-rotation`,
  };
}

/** The ASL document with its `${Name}` placeholders filled; a placeholder without a value is an error. */
export function loadDefinition(workflow: WorkflowName, substitutions = localSubstitutions(workflow)): AslDocument {
  const text = readWorkflowDefinition(workflow).replace(/\$\{([A-Za-z0-9]+)\}/g, (_match, name: string) => {
    const value = substitutions[name];
    if (value === undefined) throw new PermanentError('MISSING_SUBSTITUTION', `no value for \${${name}}`);
    return value;
  });
  return JSON.parse(text) as AslDocument;
}

export interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly Retry?: readonly unknown[];
  readonly Branches?: readonly AslDocument[];
  readonly [field: string]: unknown;
}

export interface AslDocument {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, AslState>>;
  readonly [field: string]: unknown;
}

/** Every state of the document, branches of Parallel states included, with its name. */
export function allStates(document: AslDocument): Array<[string, AslState]> {
  const states: Array<[string, AslState]> = [];
  for (const [name, state] of Object.entries(document.States)) {
    states.push([name, state]);
    for (const branch of state.Branches ?? []) states.push(...allStates(branch));
  }
  return states;
}

export interface LocalExecutionOutcome {
  readonly executionId: string;
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output?: unknown;
  /** The error name of a failed execution (a Fail state's Error, or the uncaught error's name). */
  readonly error?: string;
}

export interface LocalExecution {
  readonly executionId: string;
  readonly workflow: WorkflowName;
  /** Settles when the execution ends; never rejects for a failed execution (see `status`). */
  readonly result: Promise<LocalExecutionOutcome>;
  /** Every event of the execution so far (nested executions are separate executions with their own events). */
  readonly events: EventLog[];
  abort(): void;
}

export interface LocalRunOptions {
  readonly broker: TaskTokenBroker;
  readonly executionId?: string;
  /** Milliseconds to pause instead of each Retry interval (0 in tests); AWS behaviour when absent. */
  readonly retryIntervalMs?: number;
  /** Milliseconds to pause in named Wait states instead of their duration (0 in tests). */
  readonly waitOverridesMs?: Readonly<Record<string, number>>;
  /** Applies to every Wait state not named in `waitOverridesMs`. */
  readonly defaultWaitMs?: number;
  /** Observes each nested execution (the local runtime records it like any other execution). */
  readonly onNestedExecution?: (execution: LocalExecution) => void;
  /** Wraps each bound Task handler (tracing, or a test that delivers every invocation twice). */
  readonly wrapTask?: (stateName: string, handler: LocalTaskHandler) => LocalTaskHandler;
}

export type LocalTaskHandler = (input: unknown) => Promise<unknown>;

/** Task-state overrides for `aws-local-stepfunctions`, keyed by state name. */
export function bindTaskHandlers(
  workflow: WorkflowName,
  deps: LifecycleDeps,
  options: LocalRunOptions,
  document: AslDocument = loadDefinition(workflow),
): Record<string, LocalTaskHandler> {
  const dispatch = createTaskDispatcher(TASK_TABLES[workflow](deps));
  const handlers: Record<string, LocalTaskHandler> = {};
  for (const [name, state] of allStates(document)) {
    if (state.Type !== 'Task') continue;
    const resource = state.Resource ?? '';
    if (resource === 'arn:aws:states:::lambda:invoke') {
      handlers[name] = async (input) => ({ Payload: roundTrip(await dispatch(payloadOf(input))) });
    } else if (resource === 'arn:aws:states:::lambda:invoke.waitForTaskToken') {
      handlers[name] = async (input) => {
        const payload = payloadOf(input) as { taskToken?: unknown };
        if (typeof payload.taskToken !== 'string') {
          throw new PermanentError('MISSING_TASK_TOKEN', `state ${name} passed no task token`);
        }
        const waiting = options.broker.wait(payload.taskToken);
        try {
          await dispatch(payload);
        } catch (error) {
          options.broker.cancel(payload.taskToken);
          throw error;
        }
        return roundTrip(await waiting);
      };
    } else if (resource === 'arn:aws:states:::states:startExecution.sync:2') {
      handlers[name] = async (input) => runNested(deps, options, input);
    } else {
      throw new PermanentError('UNSUPPORTED_RESOURCE', `state ${name} uses a resource the local runner cannot bind`);
    }
    const bound = handlers[name];
    if (options.wrapTask !== undefined && bound !== undefined) handlers[name] = options.wrapTask(name, bound);
  }
  return handlers;
}

function payloadOf(input: unknown): unknown {
  return (input as { Payload?: unknown } | null)?.Payload;
}

/** What crosses the Lambda boundary is JSON: class instances, undefined members and dates do not survive it. */
function roundTrip<T>(value: T): T {
  return value === undefined ? ({} as T) : (JSON.parse(JSON.stringify(value)) as T);
}

async function runNested(deps: LifecycleDeps, options: LocalRunOptions, input: unknown) {
  const parameters = input as { StateMachineArn?: unknown; Input?: unknown };
  const arn = typeof parameters.StateMachineArn === 'string' ? parameters.StateMachineArn : '';
  const workflow = arn.startsWith(LOCAL_ACCOUNT) ? arn.slice(LOCAL_ACCOUNT.length) : '';
  if (!Object.hasOwn(WORKFLOWS, workflow)) {
    throw new PermanentError('UNKNOWN_STATE_MACHINE', 'the nested state machine is not a lifecycle workflow');
  }
  const { executionId: _parent, ...nestedOptions } = options;
  const execution = runWorkflowLocally(workflow as WorkflowName, parameters.Input, deps, nestedOptions);
  options.onNestedExecution?.(execution);
  const outcome = await execution.result;
  if (outcome.status !== 'SUCCEEDED') {
    // What startExecution.sync reports when the child fails.
    throw new TaskFailedError('States.TaskFailed', `nested execution failed with ${outcome.error ?? 'an error'}`);
  }
  return { Status: 'SUCCEEDED', ExecutionArn: execution.executionId, Output: outcome.output ?? {} };
}

/** Starts one execution of `workflow` from its file. */
export function runWorkflowLocally(
  workflow: WorkflowName,
  input: unknown,
  deps: LifecycleDeps,
  options: LocalRunOptions,
): LocalExecution {
  const executionId = options.executionId ?? `local:${workflow}:${randomUUID()}`;
  const document = loadDefinition(workflow);
  const runOptions = { ...options, executionId };
  const handlers = bindTaskHandlers(workflow, deps, runOptions, document);
  const retryIntervalOverrides: Record<string, number> = {};
  const waitTimeOverrides: Record<string, number> = {};
  for (const [name, state] of allStates(document)) {
    if (options.retryIntervalMs !== undefined && state.Retry !== undefined) {
      retryIntervalOverrides[name] = options.retryIntervalMs;
    }
    if (state.Type === 'Wait') {
      const override = options.waitOverridesMs?.[name] ?? options.defaultWaitMs;
      if (override !== undefined) waitTimeOverrides[name] = override;
    }
  }
  const machine = new StateMachine(document as never, { validationOptions: { checkArn: false } });
  const run = machine.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: handlers as never,
      retryIntervalOverrides,
      waitTimeOverrides,
    },
    context: {
      Execution: { Id: executionId, Name: executionId, Input: input as never, StartTime: new Date().toISOString() },
      Task: { Token: `${executionId}:task:${randomUUID()}` },
    },
  });
  const events: EventLog[] = [];
  const collected = (async () => {
    for await (const event of run.eventLogs) events.push(event);
  })();
  const result = run.result.then(
    (output): LocalExecutionOutcome => ({ executionId, status: 'SUCCEEDED', output }),
    (error: unknown): LocalExecutionOutcome => ({ executionId, status: 'FAILED', error: failureName(error) }),
  );
  return {
    executionId,
    workflow,
    events,
    result: result.then(async (outcome) => {
      await collected;
      return outcome;
    }),
    abort: () => run.abort(),
  };
}

function failureName(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? cause.name : 'UnknownError';
}

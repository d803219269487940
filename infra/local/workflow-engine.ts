/**
 * Step Functions on one machine: runs the lifecycle workflows from their ASL files (statemachines/workflows.ts) with
 * aws-local-stepfunctions, Task states bound to the same task handlers the deployed Lambdas run. Implements the
 * lifecycle domain's WorkflowStarter (start, describe, task success) plus what the local lifecycle API and the CLI
 * need: the step history of an execution and task failure.
 *
 * The history keeps state names, types, times and error names only, never state input or output: executions
 * carry identifiers by design, and the history is shown on terminals.
 *
 * Executions live in this process. On stop, executions still running get a grace period; the rest are aborted and
 * recorded as ABORTED. Every execution that ends ABORTED, TIMED_OUT or FAILED is handed to `onAbnormalEnd`, as the
 * EventBridge status-change rule hands it to the lock releaser on AWS, so its lock does not block the customer.
 */
import { randomUUID } from 'node:crypto';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  type RunOptions,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import type { WorkflowName } from '../../functions/customers/customer.ts';
import type { AbnormalStatus, EndedExecution } from '../../functions/lifecycle/abnormal-end.ts';
import type {
  ExecutionDescription,
  ExecutionStatus,
  WorkflowInput,
  WorkflowStarter,
} from '../../functions/lifecycle/ports.ts';
import { TaskFailedError } from '../../functions/lifecycle-tasks/task-token-broker.ts';
import { ForbiddenInputError, PermanentError } from '../../functions/shared/errors.ts';
import { readWorkflowDefinition, WORKFLOWS } from '../../statemachines/workflows.ts';
import { LOCAL_REGION } from './aws-environment.ts';

type JsonValue = Parameters<StateMachine['run']>[0];
type EventLog = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;
type TaskHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;

export const LOCAL_ACCOUNT = '000000000000';

export function stateMachineArn(workflow: WorkflowName): string {
  return `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:virtuous-local-${workflow}`;
}

export interface ExecutionStep {
  readonly state: string;
  readonly type: string;
  readonly event: 'entered' | 'exited' | 'failed' | 'retried' | 'caught';
  readonly at: string;
  /** Error name for failed/retried/caught steps (e.g. TransientError), never the cause text. */
  readonly error?: string;
  readonly attempt?: number;
}

export interface LocalExecution extends ExecutionDescription {
  readonly workflow: WorkflowName;
  readonly customerId: string;
  readonly steps: readonly ExecutionStep[];
}

/** What a binding gets to know about the execution it serves. */
export interface ExecutionHandle {
  readonly executionId: string;
  readonly workflow: WorkflowName;
  readonly customerId: string;
  /** Registers a task token the execution waits on; resolves with the output sent through sendTaskSuccess. */
  waitForTaskToken(taskToken: string): Promise<Readonly<Record<string, string | number | boolean>>>;
  /** Forgets a token whose task failed before anyone could complete it. */
  cancelTaskToken(taskToken: string): void;
  /** Runs another workflow to completion (the `startExecution.sync` integration): its output, or it throws. */
  runChild(workflow: WorkflowName, input: WorkflowInput): Promise<unknown>;
}

export type TaskBinder = (handle: ExecutionHandle) => TaskHandlers;

export interface WorkflowEngineOptions {
  /** Binds the Task states of a workflow to local handlers, by state name. */
  readonly bindTasks: (workflow: WorkflowName) => TaskBinder;
  /** Substitution values for `${Name}` placeholders (ARNs on AWS; any well-formed ARN locally). */
  readonly substitutions?: Readonly<Record<string, string>>;
  /**
   * Runs Wait states this many times faster (demos and tests), so a rotation's cache wait and overlap window take
   * seconds. Waits given by a path (`SecondsPath`) last `dynamicWaitSeconds / timeScale`.
   */
  readonly timeScale?: number;
  readonly dynamicWaitSeconds?: number;
  /** Every Retry pause lasts this many ms (tests). */
  readonly retryIntervalMs?: number;
  /**
   * Cleans up after an execution that ended ABORTED, TIMED_OUT or FAILED (the lock-releaser domain function:
   * releases the lock only if this execution still holds it). Failures are swallowed: the execution has ended.
   */
  readonly onAbnormalEnd?: (ended: EndedExecution) => Promise<unknown>;
  readonly onExecutionEnd?: (execution: LocalExecution) => void;
}

interface Running {
  record: MutableExecution;
  abort: () => void;
  result: Promise<unknown>;
}

interface MutableExecution {
  executionId: string;
  workflow: WorkflowName;
  customerId: string;
  status: ExecutionStatus;
  startedAt: string;
  stoppedAt?: string;
  error?: string;
  steps: ExecutionStep[];
  output?: unknown;
}

interface PendingTask {
  readonly executionId: string;
  resolve(output: Readonly<Record<string, string | number | boolean>>): void;
  reject(error: Error): void;
}

const ERROR_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;

function substitute(definition: string, values: Readonly<Record<string, string>>): StateMachineDefinition {
  const text = definition.replace(/\$\{(\w+)\}/g, (_placeholder, name: string) => {
    const value = values[name];
    if (value === undefined) {
      throw new PermanentError('MISSING_SUBSTITUTION', `workflow definition needs substitution ${name}`);
    }
    return value;
  });
  return JSON.parse(text) as StateMachineDefinition;
}

function defaultSubstitutions(): Record<string, string> {
  const values: Record<string, string> = {
    TasksFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:virtuous-local-lifecycle-tasks`,
  };
  for (const workflow of Object.keys(WORKFLOWS) as WorkflowName[]) {
    const key = `${workflow.replace(/(^|-)(\w)/g, (_, __, c: string) => c.toUpperCase())}StateMachineArn`;
    values[key] = stateMachineArn(workflow);
  }
  return values;
}

function stepOf(event: EventLog): ExecutionStep | undefined {
  const at = new Date(event.timestamp).toISOString();
  switch (event.type) {
    case 'StateEntered':
      return { state: event.state.name, type: event.state.type, event: 'entered', at };
    case 'StateExited':
      return { state: event.state.name, type: event.state.type, event: 'exited', at };
    case 'StateFailed':
      return { state: event.state.name, type: event.state.type, event: 'failed', at, error: event.Error };
    case 'StateRetried':
      return {
        state: event.state.name,
        type: event.state.type,
        event: 'retried',
        at,
        attempt: event.retry.attempt,
      };
    case 'StateCaught':
      return { state: event.state.name, type: event.state.type, event: 'caught', at };
    default:
      return undefined;
  }
}

function snapshot(record: MutableExecution): LocalExecution {
  return {
    executionId: record.executionId,
    workflow: record.workflow,
    customerId: record.customerId,
    status: record.status,
    startedAt: record.startedAt,
    ...(record.stoppedAt === undefined ? {} : { stoppedAt: record.stoppedAt }),
    ...(record.error === undefined ? {} : { error: record.error }),
    steps: [...record.steps],
  };
}

/** Error name of a failed execution: what the Fail state or the uncaught error said, never its cause. */
function failureName(error: unknown): string {
  if (error instanceof ExecutionError) {
    const cause = (error as { cause?: { name?: string; errorName?: string } }).cause;
    const name = cause?.errorName ?? cause?.name;
    if (typeof name === 'string' && ERROR_NAME.test(name)) return name;
    return 'States.Failed';
  }
  return 'States.Runtime';
}

export class LocalWorkflowEngine implements WorkflowStarter {
  private readonly machines = new Map<WorkflowName, StateMachine>();
  private readonly waitOverrides = new Map<WorkflowName, Record<string, number>>();
  private readonly retryOverrides = new Map<WorkflowName, Record<string, number>>();
  private readonly executions = new Map<string, MutableExecution>();
  private readonly running = new Map<string, Running>();
  private readonly pendingTasks = new Map<string, PendingTask>();
  private accepting = true;

  constructor(private readonly options: WorkflowEngineOptions) {
    const substitutions = { ...defaultSubstitutions(), ...options.substitutions };
    for (const workflow of Object.keys(WORKFLOWS) as WorkflowName[]) {
      const definition = substitute(readWorkflowDefinition(workflow), substitutions);
      this.machines.set(workflow, new StateMachine(definition, { validationOptions: { checkArn: false } }));
      const waits: Record<string, number> = {};
      const retries: Record<string, number> = {};
      for (const [name, state] of Object.entries(definition.States)) {
        const scale = options.timeScale ?? 1;
        if (state.Type === 'Wait' && scale !== 1) {
          const seconds = typeof state.Seconds === 'number' ? state.Seconds : (options.dynamicWaitSeconds ?? 60);
          waits[name] = Math.round((seconds * 1000) / scale);
        }
        if ('Retry' in state && state.Retry && options.retryIntervalMs !== undefined) {
          retries[name] = options.retryIntervalMs;
        }
      }
      this.waitOverrides.set(workflow, waits);
      this.retryOverrides.set(workflow, retries);
    }
  }

  async start(workflow: WorkflowName, input: WorkflowInput): Promise<{ executionId: string }> {
    const record = this.launch(workflow, input);
    return { executionId: record.executionId };
  }

  private launch(workflow: WorkflowName, input: WorkflowInput): MutableExecution {
    if (!this.accepting) throw new PermanentError('RUNTIME_STOPPING', 'the local runtime is stopping');
    const machine = this.machines.get(workflow);
    if (!machine) throw new ForbiddenInputError('UNKNOWN_WORKFLOW', 'unknown workflow name');
    const executionId = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:virtuous-local-${workflow}:${randomUUID()}`;
    const startedAt = new Date().toISOString();
    const record: MutableExecution = {
      executionId,
      workflow,
      customerId: input.customerId,
      status: 'RUNNING',
      startedAt,
      steps: [],
    };
    this.executions.set(executionId, record);

    const handle: ExecutionHandle = {
      executionId,
      workflow,
      customerId: input.customerId,
      waitForTaskToken: (taskToken) =>
        new Promise((resolve, reject) => {
          this.pendingTasks.set(taskToken, { executionId, resolve, reject });
        }),
      cancelTaskToken: (taskToken) => {
        this.pendingTasks.delete(taskToken);
      },
      runChild: async (child, childInput) => {
        const childRecord = this.launch(child, { ...childInput, parentExecutionId: executionId });
        await this.running.get(childRecord.executionId)?.result.catch(() => undefined);
        const finished = this.executions.get(childRecord.executionId);
        if (finished?.status !== 'SUCCEEDED') {
          // What startExecution.sync reports to the parent when the child does not succeed.
          throw new TaskFailedError('States.TaskFailed', `nested ${child} ended ${finished?.status ?? 'UNKNOWN'}`);
        }
        return finished.output ?? {};
      },
    };
    const execution = machine.run(input as unknown as JsonValue, {
      overrides: {
        taskResourceLocalHandlers: this.options.bindTasks(workflow)(handle),
        waitTimeOverrides: { ...this.waitOverrides.get(workflow) },
        retryIntervalOverrides: { ...this.retryOverrides.get(workflow) },
      },
      context: {
        Execution: {
          Id: executionId,
          Name: executionId.split(':').pop(),
          Input: input as unknown as JsonValue,
          StartTime: startedAt,
        },
        StateMachine: { Id: stateMachineArn(workflow), Name: `virtuous-local-${workflow}` },
        // Resolves `$$.Task.Token` in Parameters; the task binding replaces it with a fresh token per wait.
        Task: { Token: 'issued-by-the-local-task-binding' },
      },
    });
    const collect = (async () => {
      for await (const event of execution.eventLogs) {
        const step = stepOf(event);
        if (step) record.steps.push(step);
      }
    })().catch(() => undefined);
    const result = execution.result.then(
      async (output) => {
        await collect;
        record.status = 'SUCCEEDED';
        record.output = output;
      },
      async (error: unknown) => {
        await collect;
        let status: AbnormalStatus;
        if (error instanceof ExecutionAbortedError) {
          status = 'ABORTED';
          record.error = 'States.Aborted';
        } else if (error instanceof ExecutionTimeoutError) {
          status = 'TIMED_OUT';
          record.error = 'States.Timeout';
        } else {
          status = 'FAILED';
          record.error = failureName(error);
        }
        record.status = status;
        await this.options
          .onAbnormalEnd?.({
            workflow,
            executionId,
            status,
            customerId: record.customerId,
            ...(input.parentExecutionId === undefined ? {} : { parentExecutionId: input.parentExecutionId }),
          })
          .catch(() => undefined);
      },
    );
    const finished = result.finally(() => {
      record.stoppedAt = new Date().toISOString();
      this.running.delete(executionId);
      for (const [token, pending] of this.pendingTasks) {
        if (pending.executionId === executionId) this.pendingTasks.delete(token);
      }
      this.options.onExecutionEnd?.(snapshot(record));
    });
    this.running.set(executionId, { record, abort: execution.abort, result: finished });
    return record;
  }

  async describe(executionId: string): Promise<LocalExecution | undefined> {
    const record = this.executions.get(executionId);
    return record ? snapshot(record) : undefined;
  }

  list(): LocalExecution[] {
    return [...this.executions.values()].map(snapshot);
  }

  async sendTaskSuccess(taskToken: string, output: Readonly<Record<string, string | number | boolean>>) {
    const pending = this.pendingTasks.get(taskToken);
    if (!pending) throw new PermanentError('TASK_TOKEN_UNKNOWN', 'no execution waits on this task token');
    this.pendingTasks.delete(taskToken);
    pending.resolve(output);
  }

  async sendTaskFailure(taskToken: string, errorName: string): Promise<void> {
    if (!ERROR_NAME.test(errorName)) throw new ForbiddenInputError('INVALID_ERROR_NAME', 'error name is malformed');
    const pending = this.pendingTasks.get(taskToken);
    if (!pending) throw new PermanentError('TASK_TOKEN_UNKNOWN', 'no execution waits on this task token');
    this.pendingTasks.delete(taskToken);
    pending.reject(new TaskFailedError(errorName, 'task failed by an external caller'));
  }

  /** Resolves once the execution ended (or immediately when it already has), with its final description. */
  async waitFor(executionId: string, timeoutMs: number): Promise<LocalExecution | undefined> {
    const running = this.running.get(executionId);
    if (running) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        running.result.catch(() => undefined),
        new Promise((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    return this.describe(executionId);
  }

  /** Stops accepting executions; gives running ones `graceMs`, then aborts what is left. */
  async stop(graceMs: number): Promise<{ finished: number; aborted: number }> {
    this.accepting = false;
    const running = [...this.running.values()];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(running.map((entry) => entry.result.catch(() => undefined))),
      new Promise((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
    const left = [...this.running.values()];
    for (const entry of left) entry.abort();
    await Promise.all(left.map((entry) => entry.result.catch(() => undefined)));
    return { finished: running.length - left.length, aborted: left.length };
  }
}

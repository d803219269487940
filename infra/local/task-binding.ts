/**
 * Binds the Task states of an ASL file to local code, by what each state's Resource is on AWS:
 * - `arn:aws:states:::lambda:invoke` → the workflow's task dispatcher (the same code as the tasks Lambda) called
 *   with the state's `Payload`, answering `{ Payload: result }` like the optimized integration;
 * - `arn:aws:states:::lambda:invoke.waitForTaskToken` → the dispatcher is called with a fresh task token (it stores
 *   the token and asks for input), then the state waits until SendTaskSuccess/Failure arrives for that token;
 * - `arn:aws:states:::states:startExecution.sync:2` → the named workflow runs to completion as a child execution.
 * A Task with any other resource is refused when the runtime starts, not when a customer's execution reaches it.
 */
import { randomBytes } from 'node:crypto';
import type { WorkflowName } from '../../functions/customers/customer.ts';
import { PermanentError } from '../../functions/shared/errors.ts';
import { readWorkflowDefinition, WORKFLOWS } from '../../statemachines/workflows.ts';
import { stateMachineArn, type TaskBinder } from './workflow-engine.ts';

export type TaskDispatcher = (payload: unknown) => Promise<unknown>;

interface TaskState {
  readonly Type: string;
  readonly Resource?: string;
  readonly Parameters?: Record<string, unknown>;
}

type Binding = 'invoke' | 'invoke-wait' | 'start-execution-sync';

const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
const LAMBDA_INVOKE_WAIT = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
const START_EXECUTION_SYNC = /^arn:aws:states:::states:startExecution\.sync(:2)?$/;

function bindingOf(workflow: WorkflowName, name: string, state: TaskState): Binding {
  if (state.Resource === LAMBDA_INVOKE) return 'invoke';
  if (state.Resource === LAMBDA_INVOKE_WAIT) return 'invoke-wait';
  if (state.Resource !== undefined && START_EXECUTION_SYNC.test(state.Resource)) return 'start-execution-sync';
  throw new PermanentError(
    'UNSUPPORTED_TASK_RESOURCE',
    `${workflow}: Task state ${name} uses a resource the local runtime cannot run`,
  );
}

/** Task states of a workflow, with how each is bound; also collects the Task states inside Parallel/Map branches. */
export function taskStates(workflow: WorkflowName): Map<string, { state: TaskState; binding: Binding }> {
  const definition = JSON.parse(readWorkflowDefinition(workflow)) as { States: Record<string, unknown> };
  const found = new Map<string, { state: TaskState; binding: Binding }>();
  const visit = (states: Record<string, unknown>) => {
    for (const [name, raw] of Object.entries(states)) {
      const state = raw as TaskState & {
        Branches?: { States: Record<string, unknown> }[];
        Iterator?: { States: Record<string, unknown> };
        ItemProcessor?: { States: Record<string, unknown> };
      };
      if (state.Type === 'Task') found.set(name, { state, binding: bindingOf(workflow, name, state) });
      for (const branch of state.Branches ?? []) visit(branch.States);
      if (state.Iterator) visit(state.Iterator.States);
      if (state.ItemProcessor) visit(state.ItemProcessor.States);
    }
  };
  visit(definition.States);
  return found;
}

function workflowOfArn(arn: unknown): WorkflowName {
  for (const workflow of Object.keys(WORKFLOWS) as WorkflowName[]) {
    if (arn === stateMachineArn(workflow)) return workflow;
  }
  throw new PermanentError('UNKNOWN_STATE_MACHINE', 'startExecution names a state machine the runtime does not run');
}

/** What crosses a Lambda or service boundary is JSON: class instances and undefined members do not survive it. */
function roundTrip<T>(value: T): T {
  return value === undefined ? ({} as T) : (JSON.parse(JSON.stringify(value)) as T);
}

export function bindWorkflowTasks(workflow: WorkflowName, dispatcher: TaskDispatcher): TaskBinder {
  const states = taskStates(workflow);
  return (handle) => {
    const handlers: Record<string, (input: never) => Promise<never>> = {};
    for (const [name, { binding }] of states) {
      handlers[name] = (async (parameters: Record<string, unknown>) => {
        switch (binding) {
          case 'invoke':
            return { Payload: roundTrip(await dispatcher(parameters.Payload)) };
          case 'invoke-wait': {
            // A fresh token per wait, as Step Functions issues one per state entry.
            const taskToken = randomBytes(32).toString('base64url');
            const payload = { ...(parameters.Payload as Record<string, unknown>), taskToken };
            const waiting = handle.waitForTaskToken(taskToken);
            try {
              await dispatcher(payload);
            } catch (error) {
              handle.cancelTaskToken(taskToken);
              throw error;
            }
            return roundTrip(await waiting);
          }
          case 'start-execution-sync': {
            const child = workflowOfArn(parameters.StateMachineArn);
            const input = (parameters.Input ?? {}) as Parameters<typeof handle.runChild>[1];
            const output = await handle.runChild(child, input);
            return { Output: roundTrip(output), Status: 'SUCCEEDED' };
          }
        }
      }) as never;
    }
    return handlers as never;
  };
}

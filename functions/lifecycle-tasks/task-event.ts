/**
 * The payload every lifecycle Task state sends to its Lambda: the task name, the execution id, the task token of a
 * `.waitForTaskToken` state, and the execution's state data (identifiers and handles only, never a secret).
 */
import { z } from 'zod';
import { ForbiddenInputError } from '../shared/errors.ts';
import { assertCustomerId } from '../shared/identifiers.ts';

const TaskEventSchema = z.object({
  task: z.string().regex(/^[A-Za-z]{1,64}$/),
  executionId: z.string().min(1).max(256),
  taskToken: z.string().min(1).max(8192).optional(),
  input: z.record(z.string(), z.unknown()),
});

export type TaskEvent = z.infer<typeof TaskEventSchema>;

/** JSON the task hands back to the state machine (selected from `$.Payload`). */
export type TaskResult = Readonly<Record<string, unknown>>;

export type TaskFunction = (event: TaskEvent) => Promise<TaskResult>;

export type TaskTable = Readonly<Record<string, TaskFunction>>;

export function parseTaskEvent(raw: unknown): TaskEvent {
  const parsed = TaskEventSchema.safeParse(raw);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((issue) => issue.path.join('.') || '(root)'))].join(', ');
    throw new ForbiddenInputError('INVALID_TASK_EVENT', `task event has the wrong shape at: ${fields}`);
  }
  return parsed.data;
}

export function customerIdOf(event: TaskEvent): string {
  return assertCustomerId(event.input.customerId);
}

/** A nested execution (incident → token rotation) names its parent; it then runs under the parent's lock. */
export function parentExecutionIdOf(event: TaskEvent): string | undefined {
  const value = event.input.parentExecutionId;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A value the state machine put into the state data under `path` (dot-separated). */
export function field(event: TaskEvent, path: string): unknown {
  let value: unknown = event.input;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

export function requireString(event: TaskEvent, path: string): string {
  const value = field(event, path);
  if (typeof value !== 'string' || value === '') {
    throw new ForbiddenInputError('INVALID_TASK_INPUT', `task ${event.task} needs ${path}`);
  }
  return value;
}

export function requireTaskToken(event: TaskEvent): string {
  if (event.taskToken === undefined) {
    throw new ForbiddenInputError('MISSING_TASK_TOKEN', `task ${event.task} must run with .waitForTaskToken`);
  }
  return event.taskToken;
}

/** The error name a Catch put under `$.failure` (an identifier such as `TransientError` or `States.Timeout`). */
export function failureOf(event: TaskEvent): string {
  const error = field(event, 'failure.Error');
  return typeof error === 'string' ? error : 'UNKNOWN';
}

/**
 * The one-machine stand-in for Step Functions' task tokens: a `.waitForTaskToken` state's local handler waits here,
 * and the lifecycle API's `sendTaskSuccess` (through the local WorkflowStarter) completes it, exactly where on AWS
 * the API calls SendTaskSuccess.
 */
import { PermanentError } from '../shared/errors.ts';

export type TaskOutput = Readonly<Record<string, string | number | boolean>>;

interface Waiter {
  resolve(output: TaskOutput): void;
  reject(error: Error): void;
}

/** The error a failed task reports (SendTaskFailure), matched by the state machine's Catch on its name. */
export class TaskFailedError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export class TaskTokenBroker {
  private readonly waiters = new Map<string, Waiter>();

  /** Registers a waiter for `token`; the returned promise settles when the token is completed or cancelled. */
  wait(token: string): Promise<TaskOutput> {
    if (this.waiters.has(token)) throw new PermanentError('TASK_TOKEN_IN_USE', 'a task already waits on this token');
    return new Promise<TaskOutput>((resolve, reject) => {
      this.waiters.set(token, { resolve, reject });
    });
  }

  isWaiting(token: string): boolean {
    return this.waiters.has(token);
  }

  /** As SendTaskSuccess: an unknown or already completed token is refused (`TaskDoesNotExist` on AWS). */
  succeed(token: string, output: TaskOutput): void {
    this.take(token).resolve(output);
  }

  fail(token: string, error: string, cause: string): void {
    this.take(token).reject(new TaskFailedError(error, cause));
  }

  /** Drops a waiter without completing it (the execution that waited was aborted or its handler failed). */
  cancel(token: string): void {
    this.waiters.delete(token);
  }

  private take(token: string): Waiter {
    const waiter = this.waiters.get(token);
    if (waiter === undefined) throw new PermanentError('TASK_DOES_NOT_EXIST', 'no task waits on this token');
    this.waiters.delete(token);
    return waiter;
  }
}

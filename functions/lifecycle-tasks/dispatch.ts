/**
 * One Lambda per workflow serves all of that workflow's Task states: the payload names the task, the table maps it
 * to domain code. Errors keep their class name, which is what the state machine's Retry and Catch match on.
 */
import { ForbiddenInputError, isClassified, TransientError } from '../shared/errors.ts';
import { logger } from '../shared/observability.ts';
import { parseTaskEvent, type TaskResult, type TaskTable } from './task-event.ts';

export function createTaskDispatcher(tasks: TaskTable): (raw: unknown) => Promise<TaskResult> {
  return async (raw) => {
    const event = parseTaskEvent(raw);
    const task = Object.hasOwn(tasks, event.task) ? tasks[event.task] : undefined;
    if (task === undefined) throw new ForbiddenInputError('UNKNOWN_TASK', `no task named ${event.task}`);
    const customerId = typeof event.input.customerId === 'string' ? event.input.customerId : undefined;
    try {
      return await task(event);
    } catch (thrown) {
      const error = classifyAwsError(thrown);
      logger.warn('lifecycle task failed', {
        task: event.task,
        customerId,
        executionId: event.executionId,
        errorName: isClassified(error) ? error.name : 'UnclassifiedError',
        errorCode: isClassified(error) ? error.code : undefined,
      });
      throw error;
    }
  };
}

const THROTTLING = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'InternalServerError',
  'ServiceUnavailable',
]);

/**
 * AWS SDK errors arrive unclassified; the retryable ones (throttling, 5xx, the SDK's own `$retryable` mark) become
 * TransientError so the state machine's Retry applies to them, the rest keep their name and go to Catch.
 */
export function classifyAwsError(error: unknown): unknown {
  if (isClassified(error) || !(error instanceof Error)) return error;
  const meta = error as Error & { $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  const status = meta.$metadata?.httpStatusCode;
  if (meta.$retryable !== undefined || THROTTLING.has(error.name) || (status !== undefined && status >= 500)) {
    return new TransientError('AWS_RETRYABLE', `AWS call failed with ${error.name}`, { statusCode: status });
  }
  return error;
}

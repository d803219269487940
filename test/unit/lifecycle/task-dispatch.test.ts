import { describe, expect, it } from 'vitest';
import { classifyAwsError, createTaskDispatcher } from '../../../functions/lifecycle-tasks/dispatch.ts';
import { TaskTokenBroker } from '../../../functions/lifecycle-tasks/task-token-broker.ts';
import { PermanentError, TransientError } from '../../../functions/shared/errors.ts';

describe('task dispatcher', () => {
  const dispatch = createTaskDispatcher({
    Echo: async (event) => ({ customerId: event.input.customerId, executionId: event.executionId }),
    Fails: async () => {
      throw new PermanentError('NOPE', 'no');
    },
  });

  it('routes by task name and hands back the result', async () => {
    await expect(dispatch({ task: 'Echo', executionId: 'e-1', input: { customerId: 'acme' } })).resolves.toEqual({
      customerId: 'acme',
      executionId: 'e-1',
    });
  });

  it('refuses an unknown task or a malformed event with ForbiddenInputError naming the shape, not the data', async () => {
    await expect(dispatch({ task: 'Missing', executionId: 'e', input: {} })).rejects.toMatchObject({
      name: 'ForbiddenInputError',
      code: 'UNKNOWN_TASK',
    });
    await expect(
      dispatch({ task: 'Echo', executionId: 'e', input: 'canary.donor@pii-canary.example' }),
    ).rejects.toSatisfy(
      (error: Error) =>
        error.name === 'ForbiddenInputError' && error.message.includes('input') && !error.message.includes('canary'),
    );
    await expect(dispatch({ task: 'toString', executionId: 'e', input: {} })).rejects.toMatchObject({
      code: 'UNKNOWN_TASK',
    });
  });

  it('keeps the error class name the state machine matches on', async () => {
    await expect(dispatch({ task: 'Fails', executionId: 'e', input: {} })).rejects.toMatchObject({
      name: 'PermanentError',
    });
  });
});

describe('classifyAwsError', () => {
  it('turns retryable AWS SDK errors into TransientError and leaves the rest alone', () => {
    const throttled = Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
    const server = Object.assign(new Error('boom'), { name: 'InternalFailure', $metadata: { httpStatusCode: 500 } });
    const marked = Object.assign(new Error('x'), { name: 'Whatever', $retryable: {} });
    const validation = Object.assign(new Error('bad'), {
      name: 'ValidationException',
      $metadata: { httpStatusCode: 400 },
    });
    expect(classifyAwsError(throttled)).toBeInstanceOf(TransientError);
    expect(classifyAwsError(server)).toBeInstanceOf(TransientError);
    expect(classifyAwsError(marked)).toBeInstanceOf(TransientError);
    expect(classifyAwsError(validation)).toBe(validation);
    const ours = new PermanentError('X', 'y');
    expect(classifyAwsError(ours)).toBe(ours);
  });
});

describe('TaskTokenBroker', () => {
  it('completes a waiting task once, and refuses unknown or reused tokens like SendTaskSuccess', async () => {
    const broker = new TaskTokenBroker();
    const waiting = broker.wait('token-1');
    expect(broker.isWaiting('token-1')).toBe(true);
    broker.succeed('token-1', { tokenVersionId: 'v2' });
    await expect(waiting).resolves.toEqual({ tokenVersionId: 'v2' });
    expect(() => broker.succeed('token-1', {})).toThrow(expect.objectContaining({ code: 'TASK_DOES_NOT_EXIST' }));
    const failing = broker.wait('token-2');
    broker.fail('token-2', 'States.Timeout', 'no key');
    await expect(failing).rejects.toMatchObject({ name: 'States.Timeout' });
  });
});

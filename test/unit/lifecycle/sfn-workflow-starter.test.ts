import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { executionName, SfnWorkflowStarter } from '../../../functions/lifecycle/sfn-workflow-starter.ts';

const sfn = mockClient(SFNClient);
const ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:virtuous-prod-token-rotation';
const env = { STATE_MACHINE_ARN_TOKEN_ROTATION: ARN };
const NOW = new Date('2026-11-29T03:04:05.678Z');

afterEach(() => sfn.reset());

describe('SfnWorkflowStarter', () => {
  it('starts the configured state machine with ids only and a readable, unique execution name', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${ARN}:exec-1`, startDate: NOW });
    const starter = new SfnWorkflowStarter(env, new SFNClient({}), () => NOW);
    await expect(starter.start('token-rotation', { customerId: 'acme', expedited: true })).resolves.toEqual({
      executionId: `${ARN}:exec-1`,
    });
    const call = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(call?.stateMachineArn).toBe(ARN);
    expect(JSON.parse(call?.input ?? '{}')).toEqual({ customerId: 'acme', expedited: true });
    expect(call?.name).toBe('acme-token-rotation-20261129030405678');
    const long = executionName('incident-response', 'a'.repeat(64), NOW);
    expect(long.length).toBeLessThanOrEqual(80);
    expect(long).toMatch(/^[a-z-]+-20261129030405678$/);
  });

  it('refuses a workflow whose ARN the function was not given', async () => {
    const starter = new SfnWorkflowStarter(env, new SFNClient({}), () => NOW);
    await expect(starter.start('offboarding', { customerId: 'acme' })).rejects.toMatchObject({
      name: 'ForbiddenInputError',
      code: 'MISSING_SETTING',
    });
  });

  it('describes executions by status and error name, and a missing one as undefined', async () => {
    sfn
      .on(DescribeExecutionCommand, { executionArn: 'x1' })
      .resolves({
        stateMachineArn: ARN,
        status: 'FAILED',
        error: 'OrganizationMismatch',
        startDate: NOW,
        stopDate: NOW,
      })
      .on(DescribeExecutionCommand, { executionArn: 'x2' })
      .rejects(new ExecutionDoesNotExist({ message: 'no', $metadata: {} }));
    const starter = new SfnWorkflowStarter(env, new SFNClient({}), () => NOW);
    await expect(starter.describe('x1')).resolves.toEqual({
      executionId: 'x1',
      workflow: 'token-rotation',
      status: 'FAILED',
      error: 'OrganizationMismatch',
      startedAt: NOW.toISOString(),
      stoppedAt: NOW.toISOString(),
    });
    await expect(starter.describe('x2')).resolves.toBeUndefined();
  });

  it('completes a waiting task with its output, and classifies throttling as transient', async () => {
    sfn
      .on(SendTaskSuccessCommand)
      .resolvesOnce({})
      .rejects(Object.assign(new Error('slow'), { name: 'ThrottlingException' }));
    const starter = new SfnWorkflowStarter(env, new SFNClient({}), () => NOW);
    await starter.sendTaskSuccess('task-token', { tokenVersionId: 'v-2' });
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input).toEqual({
      taskToken: 'task-token',
      output: '{"tokenVersionId":"v-2"}',
    });
    await expect(starter.sendTaskSuccess('task-token', {})).rejects.toMatchObject({ name: 'TransientError' });
  });
});

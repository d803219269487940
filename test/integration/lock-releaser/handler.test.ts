/**
 * The lock-releaser Lambda with the event EventBridge delivers for "Step Functions Execution Status Change" (shape as
 * documented by Step Functions: detail.input is the execution input as a JSON string, output null on an abnormal
 * end), against the customers table in dynalite.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { WorkflowName } from '../../../functions/customers/customer.ts';
import { WORKFLOW_ENDED_ABNORMALLY } from '../../../functions/lifecycle/abnormal-end.ts';
import { stateMachineArnVariable } from '../../../functions/lifecycle/sfn-workflow-starter.ts';
import { createAwsLockReleaserDeps } from '../../../functions/lock-releaser/aws-deps.ts';
import { createLockReleaserHandler } from '../../../functions/lock-releaser/handler.ts';
import { ENV } from '../../../functions/shared/environment.ts';
import { PermanentError } from '../../../functions/shared/errors.ts';
import { tableEnvVar } from '../../../functions/shared/tables.ts';
import { WORKFLOWS } from '../../../statemachines/workflows.ts';
import { registerSecret } from '../../support/canaries.ts';
import { InMemorySecretStore } from '../../support/in-memory-secret-store.ts';
import {
  TEST_ACCOUNT as ACCOUNT,
  testExecutionArn as executionArn,
  useLocalCustomers,
} from '../../support/local-customers.ts';
import { RecordingNotifier } from '../../support/workflow-runner.ts';

const machineArn = (workflow: WorkflowName) =>
  `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:virtuous-test-${workflow}`;

function statusChange(
  workflow: WorkflowName,
  execution: string,
  status: string,
  input: string | null,
  extra: Record<string, unknown> = {},
) {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: ACCOUNT,
    time: '2026-11-29T04:00:00Z',
    region: 'us-east-1',
    resources: [execution],
    detail: {
      executionArn: execution,
      stateMachineArn: machineArn(workflow),
      name: execution.split(':').pop(),
      status,
      startDate: 1_795_000_000_000,
      stopDate: 1_795_000_060_000,
      input,
      output: null,
      inputDetails: { included: input !== null },
      outputDetails: null,
      ...extra,
    },
  };
}

const local = useLocalCustomers('releaser');

const lockedCustomer = (workflow: WorkflowName, holder: string) =>
  local.lockedCustomer(workflow, holder, { status: 'active', sensitivity: 'high', tokenRotationDays: 90 });

function setup() {
  const notifier = new RecordingNotifier();
  const secrets = new InMemorySecretStore();
  const arns = new Map((Object.keys(WORKFLOWS) as WorkflowName[]).map((w) => [machineArn(w), w]));
  const handler = createLockReleaserHandler({
    customers: local.customers,
    secrets,
    notifier,
    workflowOf: (arn) => arns.get(arn),
  });
  return { handler, notifier, secrets };
}

describe('lock-releaser handler', () => {
  it('an execution stopped from the console: its lock is released and the operators get ids and the status', async () => {
    const { handler, notifier } = setup();
    const x = executionArn('onboarding');
    const customerId = await lockedCustomer('onboarding', x);

    const result = await handler(
      statusChange('onboarding', x, 'ABORTED', JSON.stringify({ customerId }), { error: null, cause: null }),
    );

    expect(result).toEqual({ lockReleased: true, rotationCompensated: false, alerted: true });
    expect((await local.customers.get(customerId))?.lock).toBeUndefined();
    expect(notifier.alerts).toHaveLength(1);
    expect(notifier.alerts[0]).toEqual({
      customerId,
      code: WORKFLOW_ENDED_ABNORMALLY,
      severity: 'warning',
      details: {
        workflow: 'onboarding',
        executionId: x,
        status: 'ABORTED',
        lockReleased: true,
        rotationCompensated: false,
      },
    });
  });

  it('a timed-out nested rotation (input names its parent) is compensated; the parent keeps its lock', async () => {
    const { handler, secrets } = setup();
    const parent = executionArn('incident-response');
    const child = executionArn('token-rotation');
    const customerId = await lockedCustomer('incident-response', parent);
    const ref = { customerId, kind: 'api_token' } as const;
    await secrets.putPending(ref, registerSecret(`pending-${randomUUID()}`), { reason: 'test:submit' });
    await local.customers.update(customerId, { awaitingTokenTaskToken: registerSecret(`token-${randomUUID()}`) });
    const input = JSON.stringify({
      customerId,
      expedited: true,
      parentExecutionId: parent,
      AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: parent,
    });

    const result = await handler(statusChange('token-rotation', child, 'TIMED_OUT', input));

    expect(result).toEqual({ lockReleased: false, rotationCompensated: true, alerted: true });
    const record = await local.customers.get(customerId);
    expect(record?.lock?.executionId).toBe(parent);
    expect(record?.awaitingTokenTaskToken).toBeUndefined();
    expect(await secrets.read(ref, 'pending', { reason: 'test:check' })).toBeUndefined();
  });

  it('a FAILED execution whose Catch path already released the lock changes nothing and alerts no one', async () => {
    const { handler, notifier } = setup();
    const holder = executionArn('offboarding');
    const customerId = await lockedCustomer('offboarding', holder);
    const failed = executionArn('offboarding');

    const result = await handler(
      statusChange('offboarding', failed, 'FAILED', JSON.stringify({ customerId }), {
        error: 'LockNotAcquired',
        cause: 'another workflow holds the lock',
      }),
    );

    expect(result).toEqual({ lockReleased: false, rotationCompensated: false, alerted: false });
    expect((await local.customers.get(customerId))?.lock?.executionId).toBe(holder);
    expect(notifier.alerts).toEqual([]);
  });

  it('without the input in the event (inputDetails.included false) it alerts critically and touches nothing', async () => {
    const { handler, notifier } = setup();
    const x = executionArn('webhook-secret-rotation');
    const customerId = await lockedCustomer('webhook-secret-rotation', x);

    await handler(statusChange('webhook-secret-rotation', x, 'ABORTED', null));

    expect((await local.customers.get(customerId))?.lock?.executionId).toBe(x);
    expect(notifier.alerts).toEqual([
      expect.objectContaining({ severity: 'critical', details: expect.objectContaining({ customerUnknown: true }) }),
    ]);
    expect(notifier.alerts[0]?.customerId).toBeUndefined();
  });

  it('an input whose customer id is malformed counts as no customer', async () => {
    const { handler, notifier } = setup();
    const x = executionArn('onboarding');
    await handler(statusChange('onboarding', x, 'FAILED', JSON.stringify({ customerId: '../other' })));
    expect(notifier.alerts[0]?.details).toMatchObject({ customerUnknown: true, executionId: x });
  });

  it('ignores machines it does not own and statuses that are not abnormal; refuses other events', async () => {
    const { handler, notifier } = setup();
    const x = executionArn('onboarding');
    const customerId = await lockedCustomer('onboarding', x);
    const foreign = statusChange('onboarding', x, 'ABORTED', JSON.stringify({ customerId }));
    foreign.detail.stateMachineArn = `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:someone-else`;

    expect(await handler(foreign)).toEqual({ ignored: 'not_a_lifecycle_machine' });
    expect(await handler(statusChange('onboarding', x, 'SUCCEEDED', JSON.stringify({ customerId })))).toEqual({
      ignored: 'not_abnormal',
    });
    await expect(handler({ ...foreign, source: 'aws.ec2' })).rejects.toThrow(PermanentError);
    expect((await local.customers.get(customerId))?.lock?.executionId).toBe(x);
    expect(notifier.alerts).toEqual([]);
  });
});

describe('lock-releaser AWS wiring', () => {
  it('maps each lifecycle state machine ARN from the environment to its workflow, and nothing else', () => {
    const env: Record<string, string> = {
      [ENV.environmentName]: 'test',
      [ENV.operatorAlertsTopicArn]: `arn:aws:sns:us-east-1:${ACCOUNT}:operators`,
      [ENV.customerSecretsRoleArn]: `arn:aws:iam::${ACCOUNT}:role/writer`,
      [ENV.customerSecretsPurpose]: 'secret-lifecycle',
      [ENV.secretAccessRoleArns]: `arn:aws:iam::${ACCOUNT}:role/reader,arn:aws:iam::${ACCOUNT}:role/writer`,
      [ENV.secretsKmsKeyArn]: `arn:aws:kms:us-east-1:${ACCOUNT}:key/${randomUUID()}`,
      [tableEnvVar('customers')]: 'customers',
      [tableEnvVar('secretAudit')]: 'secret-audit',
    };
    for (const workflow of Object.keys(WORKFLOWS) as WorkflowName[]) {
      env[stateMachineArnVariable(workflow)] = machineArn(workflow);
    }
    const deps = createAwsLockReleaserDeps(env);
    for (const workflow of Object.keys(WORKFLOWS) as WorkflowName[]) {
      expect(deps.workflowOf(machineArn(workflow))).toBe(workflow);
    }
    expect(deps.workflowOf(`arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:other`)).toBeUndefined();
    const { [stateMachineArnVariable('offboarding')]: _missing, ...partial } = env;
    expect(() => createAwsLockReleaserDeps(partial)).toThrow();
  });
});

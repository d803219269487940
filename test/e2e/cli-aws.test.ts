// The CLI against a deployed stack (`--aws --stack-name`), with the AWS APIs mocked (aws-sdk-client-mock) and the
// stack's lifecycle API stood in by a loopback server: workflows start with StartExecution on the ARN the stack
// outputs name, progress comes from GetExecutionHistory, the exit code follows DescribeExecution's status, keys go
// SigV4-signed to the lifecycle API (never into an execution input), egress IPs come from the outputs.
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { registerSecret } from '../support/canaries.ts';
import {
  cliInProcess,
  type DeployedLifecycleApi,
  describeStack,
  EXECUTE_API_SIGNATURE,
  startDeployedLifecycleApi,
  useSigningCredentials,
} from './support.ts';

const STACK = 'Integration-test';
const ARN_PREFIX = 'arn:aws:states:us-east-1:111122223333:stateMachine:virtuous-production-';
const EXECUTION = 'arn:aws:states:us-east-1:111122223333:execution:virtuous-production-offboarding:run-1';

describe('the CLI against a deployed stack', () => {
  const sfn = mockClient(SFNClient);
  const cloudFormation = mockClient(CloudFormationClient);
  let api: DeployedLifecycleApi;
  let restoreEnv: () => void;

  beforeAll(async () => {
    restoreEnv = useSigningCredentials();
    api = await startDeployedLifecycleApi((_method, path) => {
      if (path.endsWith('/resume'))
        return [200, { customerId: 'acme', status: 'active', released: 2, alreadyActive: false }];
      if (path.endsWith('/pause')) {
        return [200, { customerId: 'acme', status: 'paused', statusReason: 'operator_paused:maintenance' }];
      }
      return [202, { executionId: EXECUTION.replace('offboarding', 'onboarding') }];
    });
  });

  afterEach(() => {
    sfn.reset();
    cloudFormation.reset();
  });

  afterAll(async () => {
    restoreEnv();
    sfn.restore();
    cloudFormation.restore();
    await api.close();
  });

  function stackOutputs() {
    describeStack(cloudFormation, STACK, {
      OffboardingStateMachineArn: `${ARN_PREFIX}offboarding`,
      OnboardingStateMachineArn: `${ARN_PREFIX}onboarding`,
      LifecycleApiUrl: api.url,
      EgressIp2: '198.51.100.7',
      EgressIp1: '203.0.113.10',
    });
  }

  function history(status: 'SUCCEEDED' | 'FAILED') {
    const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, seconds));
    sfn.on(DescribeExecutionCommand, { executionArn: EXECUTION }).resolves({
      executionArn: EXECUTION,
      stateMachineArn: `${ARN_PREFIX}offboarding`,
      status,
      startDate: at(0),
      ...(status === 'FAILED' ? { error: 'OffboardingFailed' } : {}),
    });
    sfn.on(GetExecutionHistoryCommand, { executionArn: EXECUTION }).resolves({
      events: [
        { id: 1, type: 'ExecutionStarted', timestamp: at(0) },
        { id: 2, type: 'TaskStateEntered', timestamp: at(1), stateEnteredEventDetails: { name: 'PauseCustomer' } },
        { id: 3, type: 'TaskStateExited', timestamp: at(2), stateExitedEventDetails: { name: 'PauseCustomer' } },
        { id: 4, type: 'TaskStateEntered', timestamp: at(3), stateEnteredEventDetails: { name: 'DeleteSecrets' } },
        ...(status === 'FAILED'
          ? [
              {
                id: 5,
                type: 'TaskFailed' as const,
                timestamp: at(4),
                taskFailedEventDetails: { resourceType: 'lambda', resource: 'invoke', error: 'PermanentError' },
              },
              {
                id: 6,
                type: 'ExecutionFailed' as const,
                timestamp: at(5),
                executionFailedEventDetails: { error: 'OffboardingFailed' },
              },
            ]
          : [
              {
                id: 5,
                type: 'TaskStateExited' as const,
                timestamp: at(4),
                stateExitedEventDetails: { name: 'DeleteSecrets' },
              },
            ]),
      ],
    });
  }

  it('starts a workflow on the state machine the stack names, follows its history, exits 0 when it succeeded', async () => {
    stackOutputs();
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });
    history('SUCCEEDED');
    const run = await cliInProcess(['offboard', 'acme', '--yes', '--aws', '--stack-name', STACK]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const start = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(start?.stateMachineArn).toBe(`${ARN_PREFIX}offboarding`);
    expect(JSON.parse(start?.input ?? '{}')).toEqual({ customerId: 'acme' });
    expect(run.stdout).toMatch(/^✔ PauseCustomer \(1\.0s\)$/m);
    expect(run.stdout).toMatch(/^✔ DeleteSecrets \(1\.0s\)$/m);
    expect(run.stdout).toMatch(/offboarding succeeded/);
    const historyCall = sfn.commandCalls(GetExecutionHistoryCommand)[0]?.args[0].input;
    expect(historyCall?.includeExecutionData).toBe(false);
  });

  it('exits 1 and names the error when the execution failed', async () => {
    stackOutputs();
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });
    history('FAILED');
    const run = await cliInProcess(['offboard', 'acme', '--yes', '--aws', '--stack-name', STACK]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/✖ DeleteSecrets failed: PermanentError/);
    expect(run.stdout).toMatch(/offboarding ended FAILED \(OffboardingFailed\)/);
  });

  it('sends the onboarding key SigV4-signed to the lifecycle API, never to Step Functions', async () => {
    stackOutputs();
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ status: 'SUCCEEDED', executionArn: EXECUTION, stateMachineArn: 'x', startDate: new Date() });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    const key = registerSecret('vsim_aws_target_key_0123456789abcdef');
    const run = await cliInProcess(['onboard', 'acme', '--aws', '--stack-name', STACK], key);
    expect(run.code).toBe(0);
    const call = api.received.at(-1);
    expect(call?.path).toBe('/prod/lifecycle/customers/acme/api-token');
    expect(call?.headers.authorization).toMatch(EXECUTE_API_SIGNATURE);
    expect(JSON.parse(call?.body ?? '{}')).toEqual({ token: key });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(run.stdout.includes(key)).toBe(false);
  });

  it('pauses and resumes through the SigV4-signed lifecycle API', async () => {
    stackOutputs();
    const paused = await cliInProcess(['pause', 'acme', '--reason', 'maintenance', '--aws', '--stack-name', STACK]);
    expect(paused.code).toBe(0);
    expect(api.received.at(-1)?.path).toBe('/prod/lifecycle/customers/acme/pause');
    expect(JSON.parse(api.received.at(-1)?.body ?? '')).toEqual({ reason: 'maintenance' });
    expect(paused.stdout).toContain('acme paused (operator_paused:maintenance)');
    const resumed = await cliInProcess(['resume', 'acme', '--aws', '--stack-name', STACK]);
    expect(resumed.code).toBe(0);
    const call = api.received.at(-1);
    expect(call?.path).toBe('/prod/lifecycle/customers/acme/resume');
    expect(call?.headers.authorization).toMatch(EXECUTE_API_SIGNATURE);
    expect(resumed.stdout).toContain('acme active; 2 held message(s) released');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('prints the egress IPs from the stack outputs, in order', async () => {
    stackOutputs();
    const run = await cliInProcess(['egress-ips', '--aws', '--stack-name', STACK]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('203.0.113.10\n198.51.100.7\n');
  });

  it('refuses --aws without a stack name, and a stack without the workflow, as usage errors', async () => {
    expect((await cliInProcess(['incident', 'acme', '--aws'])).code).toBe(2);
    stackOutputs();
    const run = await cliInProcess(['incident', 'acme', '--aws', '--stack-name', STACK]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no state machine output for incident-response/);
  });
});

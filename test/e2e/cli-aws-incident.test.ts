// `incident` against a deployed stack (`--aws --stack-name`): Step Functions and CloudFormation are mocked
// (aws-sdk-client-mock), the lifecycle API is a loopback server that checks every request is SigV4-signed and answers
// as the deployed routes do. The report is printed while the rotation waits; only then is the new key read (stdin)
// and handed over; the rotation's outcome is printed when the execution ends.
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncidentReport } from '../../functions/lifecycle/ports.ts';
import { registerSecret } from '../support/canaries.ts';
import {
  cliInProcess,
  type DeployedLifecycleApi,
  describeStack,
  expectAllSigned,
  startDeployedLifecycleApi,
  useSigningCredentials,
} from './support.ts';

const STACK = 'Integration-test';
const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:incident-response:7f1c';
const REPORT_ID = 'incident-20261129T101500Z-0a1b2c3d';
const NEW_KEY = registerSecret('vkey_aws_incident_0123456789abcdefghij');
const FOREIGN = 'arn:aws:sts::123456789012:assumed-role/DeveloperAccess/alice';

function report(rotated: boolean): IncidentReport {
  return {
    customerId: 'acme',
    reportId: REPORT_ID,
    executionId: EXECUTION,
    openedAt: '2026-11-29T10:15:00.000Z',
    compiledAt: '2026-11-29T10:15:40.000Z',
    investigatedFrom: '2026-11-22T10:15:00.000Z',
    investigatedTo: '2026-11-29T10:15:00.000Z',
    tokenRotation: rotated ? { status: 'rotated', recordedAt: '2026-11-29T10:20:00.000Z' } : { status: 'in_progress' },
    recentWrites: { total: 3, byKind: { gift: 2, contact: 1 }, sampleRecordKeys: ['gift#Stripe#pi_1'] },
    secretAccess: {
      totalAccesses: 12,
      unexpectedPrincipals: [],
      unexpectedAccesses: 0,
      peakHourlyAccesses: 4,
      volumeAnomaly: false,
    },
    secretsManagerTrail: {
      source: 'cloudtrail',
      status: 'checked',
      coveredFrom: '2026-11-22T10:15:00.000Z',
      coveredTo: '2026-11-29T10:15:00.000Z',
      deliveryLagMinutes: 15,
      completeUntil: '2026-11-29T10:00:00.000Z',
      truncated: false,
      totalCalls: 9,
      deniedCalls: 1,
      foreignCalls: 1,
      foreignPrincipals: [FOREIGN],
      peakHourlyCalls: 3,
      findings: [
        {
          kind: 'foreign_accessor',
          principal: FOREIGN,
          secretName: 'virtuous/prod/acme/api_token',
          calls: 1,
          firstAt: '2026-11-28T22:01:00.000Z',
          lastAt: '2026-11-28T22:01:00.000Z',
          errorCode: 'AccessDenied',
        },
      ],
      findingsTruncated: false,
    },
    compromiseIndicators: ['secrets_manager_foreign_accessor', 'secrets_manager_access_denied'],
  };
}

describe('incident against a deployed stack', () => {
  const sfn = mockClient(SFNClient);
  const cloudFormation = mockClient(CloudFormationClient);
  let api: DeployedLifecycleApi;
  let restoreEnv: () => void;
  let keyReceived = false;

  /** What the deployed routes answer, by method and path under /prod/lifecycle. */
  function route(method: string, path: string): [number, unknown] {
    if (method === 'GET' && path === '/customers/acme') {
      const customer = { customerId: 'acme', status: 'active', runningWorkflow: 'incident-response' };
      return [200, { customer: { ...customer, awaitingToken: !keyReceived } }];
    }
    if (method === 'GET' && path === '/customers/acme/incidents') {
      const { reportId, executionId, openedAt, compiledAt, tokenRotation, compromiseIndicators } = report(keyReceived);
      return [
        200,
        { incidents: [{ reportId, executionId, openedAt, compiledAt, tokenRotation, compromiseIndicators }] },
      ];
    }
    if (method === 'GET' && path === `/customers/acme/incidents/${REPORT_ID}`)
      return [200, { report: report(keyReceived) }];
    if (method === 'POST' && path === '/customers/acme/rotation-token') {
      keyReceived = true;
      return [202, { customerId: 'acme', accepted: true }];
    }
    return [404, { error: 'NOT_FOUND' }];
  }

  beforeAll(async () => {
    restoreEnv = useSigningCredentials();
    api = await startDeployedLifecycleApi(route);
    describeStack(cloudFormation, STACK, {
      LifecycleApiUrl: api.url,
      IncidentResponseStateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:incident-response',
    });
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });
    // Runs until the key is handed over; the nested rotation then ends and so does the incident.
    sfn.on(DescribeExecutionCommand).callsFake(async () => ({
      executionArn: EXECUTION,
      stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:incident-response',
      status: keyReceived ? 'SUCCEEDED' : 'RUNNING',
      startDate: new Date(),
    }));
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
  });

  afterAll(async () => {
    restoreEnv();
    sfn.restore();
    cloudFormation.restore();
    await api.close();
  });

  it('prints the report while the rotation waits, then reads and hands over the key, then the outcome', async () => {
    const run = await cliInProcess(['incident', 'acme', '--aws', '--stack-name', STACK], NEW_KEY);
    expect(run.stderr).not.toMatch(/error/);
    expect(run.code).toBe(0);

    const reportAt = run.stdout.indexOf(`incident report ${REPORT_ID}`);
    expect(reportAt).toBeGreaterThanOrEqual(0);
    expect(reportAt).toBeLessThan(run.stdout.indexOf('new key handed over'));
    expect(run.stdout).toMatch(/token rotation {5}in progress/);
    expect(run.stdout).toMatch(
      /secrets manager {4}CloudTrail: 2026-11-22T10:15:00.000Z to 2026-11-29T10:15:00.000Z, complete until 2026-11-29T10:00:00.000Z \(delivery lag up to 15 min\)/,
    );
    expect(run.stdout).toMatch(/9 reads, 1 denied, 1 by others than the integration/);
    expect(run.stdout).toContain(`foreign_accessor   ${FOREIGN} on virtuous/prod/acme/api_token: 1×`);
    expect(run.stdout).toMatch(
      new RegExp(`incident report ${REPORT_ID} updated: token rotated at 2026-11-29T10:20:00.000Z; indicators `),
    );

    // The key went only into the signed POST's body; the report was asked for before it was read.
    const calls = api.received.map((call) => `${call.method} ${call.path}`);
    const handover = calls.indexOf('POST /prod/lifecycle/customers/acme/rotation-token');
    expect(calls.indexOf(`GET /prod/lifecycle/customers/acme/incidents/${REPORT_ID}`)).toBeLessThan(handover);
    expect(JSON.parse(api.received[handover]?.body ?? '{}')).toEqual({ token: NEW_KEY });
    expectAllSigned(api.received);
    expect(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input).toBe(
      JSON.stringify({ customerId: 'acme' }),
    );
  }, 30_000);
});

// `status` and `dead-letters list|replay|discard` against a deployed stack (`--aws --stack-name`): the stack's outputs
// come from a mocked CloudFormation (aws-sdk-client-mock), its lifecycle API is a loopback server that checks every
// request is SigV4-signed and answers as the deployed routes do. Nothing goes to Step Functions.
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  cliInProcess,
  type DeployedLifecycleApi,
  describeStack,
  expectAllSigned,
  startDeployedLifecycleApi,
  useSigningCredentials,
} from './support.ts';

const STACK = 'Integration-test';
const LETTER_ID = 'delivery:evt_1#gift';

const CUSTOMERS = [
  { customerId: 'acme', status: 'active', runningWorkflow: 'token-rotation', awaitingToken: true },
  { customerId: 'zeta-org', status: 'paused', statusReason: 'virtuous_unauthorized', awaitingToken: false },
];

function letter(customerId: string, resolution = 'open') {
  return {
    customerId,
    deadLetterId: LETTER_ID,
    operation: 'gift',
    errorCode: 'VIRTUOUS_REJECTED',
    statusCode: 400,
    attempts: 3,
    resolution,
    createdAt: '2026-11-29T00:00:00.000Z',
  };
}

/** What the deployed routes answer, by method and path under /prod/lifecycle. */
function route(method: string, path: string): [number, unknown] {
  if (method === 'GET' && path === '/customers') return [200, { customers: CUSTOMERS }];
  const one = /^\/customers\/([^/]+)$/.exec(path);
  if (method === 'GET' && one) {
    const customer = CUSTOMERS.find((c) => c.customerId === one[1]);
    return customer ? [200, { customer }] : [404, { error: 'CUSTOMER_NOT_FOUND', message: 'no such customer' }];
  }
  const list = /^\/customers\/([^/]+)\/dead-letters$/.exec(path);
  if (method === 'GET' && list) return [200, { deadLetters: list[1] === 'acme' ? [letter('acme')] : [] }];
  const decide = /^\/customers\/([^/]+)\/dead-letters\/([^/]+)\/(replay|discard)$/.exec(path);
  if (method === 'POST' && decide && decide[2] === encodeURIComponent(LETTER_ID)) {
    if (decide[3] === 'discard') {
      return [409, { error: 'DEAD_LETTER_RESOLVED', message: 'the dead letter is already resolved' }];
    }
    return [200, { deadLetter: letter(decide[1] as string, 'replayed') }];
  }
  return [404, { error: 'NOT_FOUND' }];
}

describe('status and dead letters against a deployed stack', () => {
  const sfn = mockClient(SFNClient);
  const cloudFormation = mockClient(CloudFormationClient);
  let api: DeployedLifecycleApi;
  let restoreEnv: () => void;

  beforeAll(async () => {
    restoreEnv = useSigningCredentials();
    api = await startDeployedLifecycleApi(route);
  });

  beforeEach(() => {
    api.received.length = 0;
    cloudFormation.reset();
    describeStack(cloudFormation, STACK, { LifecycleApiUrl: api.url });
  });

  afterAll(async () => {
    restoreEnv();
    sfn.restore();
    cloudFormation.restore();
    await api.close();
  });

  function expectSigned() {
    expectAllSigned(api.received);
    expect(sfn.calls()).toHaveLength(0);
  }

  it('status lists every customer, and shows one, through signed GETs', async () => {
    const all = await cliInProcess(['status', '--aws', '--stack-name', STACK]);
    expect(all.stderr).toBe('');
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^acme\s+active\s+token-rotation \(awaiting new token\)/m);
    expect(all.stdout).toMatch(/^zeta-org\s+paused\s+-\s+virtuous_unauthorized$/m);
    expect(api.received.map((call) => `${call.method} ${call.path}`)).toEqual(['GET /prod/lifecycle/customers']);
    expectSigned();

    api.received.length = 0;
    const one = await cliInProcess(['status', 'zeta-org', '--aws', '--stack-name', STACK]);
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/^zeta-org\s+paused/m);
    expect(one.stdout).not.toMatch(/^acme/m);
    expect(api.received.map((call) => `${call.method} ${call.path}`)).toEqual([
      'GET /prod/lifecycle/customers/zeta-org',
    ]);
    expectSigned();
  });

  it('status of an unknown customer exits 2', async () => {
    const run = await cliInProcess(['status', 'ghost-org', '--aws', '--stack-name', STACK]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no customer ghost-org/);
  });

  it('dead-letters list asks each customer (or the one named) and prints identifiers and codes', async () => {
    const run = await cliInProcess(['dead-letters', 'list', '--aws', '--stack-name', STACK]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`acme ${LETTER_ID} gift VIRTUOUS_REJECTED attempts=3 open 2026-11-29T00:00:00.000Z\n`);
    expect(api.received.map((call) => call.path)).toEqual([
      '/prod/lifecycle/customers',
      '/prod/lifecycle/customers/acme/dead-letters',
      '/prod/lifecycle/customers/zeta-org/dead-letters',
    ]);
    expectSigned();

    api.received.length = 0;
    const one = await cliInProcess(['dead-letters', 'list', '--customer', 'zeta-org', '--aws', '--stack-name', STACK]);
    expect(one.code).toBe(0);
    expect(one.stdout).toBe('no dead letters\n');
    expect(api.received.map((call) => call.path)).toEqual(['/prod/lifecycle/customers/zeta-org/dead-letters']);
  });

  it('dead-letters replay POSTs {checked: true} when asked, signed, with the id encoded in the path', async () => {
    const run = await cliInProcess([
      'dead-letters',
      'replay',
      'acme',
      LETTER_ID,
      '--checked',
      '--aws',
      '--stack-name',
      STACK,
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${LETTER_ID}: replayed\n`);
    const call = api.received.at(-1);
    expect(call?.method).toBe('POST');
    expect(call?.path).toBe(`/prod/lifecycle/customers/acme/dead-letters/${encodeURIComponent(LETTER_ID)}/replay`);
    expect(JSON.parse(call?.body ?? '')).toEqual({ checked: true });
    expectSigned();

    const plain = await cliInProcess(['dead-letters', 'replay', 'acme', LETTER_ID, '--aws', '--stack-name', STACK]);
    expect(plain.code).toBe(0);
    expect(JSON.parse(api.received.at(-1)?.body ?? '')).toEqual({});
  });

  it('a refused discard exits 2 and shows the refusal code', async () => {
    const run = await cliInProcess(['dead-letters', 'discard', 'acme', LETTER_ID, '--aws', '--stack-name', STACK]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/409 DEAD_LETTER_RESOLVED/);
    expect(api.received.at(-1)?.path).toMatch(/\/discard$/);
  });
});

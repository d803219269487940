// `status` and `dead-letters list|replay|discard` against a deployed stack (`--aws --stack-name`): the stack's outputs
// come from a mocked CloudFormation (aws-sdk-client-mock), its lifecycle API is a loopback server that checks every
// request is SigV4-signed and answers as the deployed routes do. Nothing goes to Step Functions.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cliInProcess } from './support.ts';

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
  let api: Server;
  let apiUrl: string;
  const received: Array<{ method: string; path: string; headers: IncomingHttpHeaders; body: string }> = [];
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'example-secret-for-signing-only',
      AWS_REGION: 'us-east-1',
    });
    api = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      request.on('end', () => {
        const method = request.method ?? '';
        const path = request.url ?? '';
        received.push({ method, path, headers: request.headers, body });
        const [status, answer] = path.startsWith('/prod/lifecycle/')
          ? route(method, path.slice('/prod/lifecycle'.length))
          : [404, { error: 'NOT_FOUND' }];
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', () => resolve()));
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/prod/lifecycle`;
  });

  beforeEach(() => {
    received.length = 0;
    cloudFormation.reset();
    cloudFormation.on(DescribeStacksCommand, { StackName: STACK }).resolves({
      Stacks: [
        {
          StackName: STACK,
          CreationTime: new Date(),
          StackStatus: 'UPDATE_COMPLETE',
          Outputs: [{ OutputKey: 'LifecycleApiUrl', OutputValue: apiUrl }],
        },
      ],
    });
  });

  afterAll(async () => {
    process.env = savedEnv;
    sfn.restore();
    cloudFormation.restore();
    await new Promise<void>((resolve) => api.close(() => resolve()));
  });

  function expectSigned() {
    expect(received.length).toBeGreaterThan(0);
    for (const call of received) {
      expect(call.headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/execute-api\/aws4_request/,
      );
    }
    expect(sfn.calls()).toHaveLength(0);
  }

  it('status lists every customer, and shows one, through signed GETs', async () => {
    const all = await cliInProcess(['status', '--aws', '--stack-name', STACK]);
    expect(all.stderr).toBe('');
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^acme\s+active\s+token-rotation \(awaiting new token\)/m);
    expect(all.stdout).toMatch(/^zeta-org\s+paused\s+-\s+virtuous_unauthorized$/m);
    expect(received.map((call) => `${call.method} ${call.path}`)).toEqual(['GET /prod/lifecycle/customers']);
    expectSigned();

    received.length = 0;
    const one = await cliInProcess(['status', 'zeta-org', '--aws', '--stack-name', STACK]);
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/^zeta-org\s+paused/m);
    expect(one.stdout).not.toMatch(/^acme/m);
    expect(received.map((call) => `${call.method} ${call.path}`)).toEqual(['GET /prod/lifecycle/customers/zeta-org']);
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
    expect(received.map((call) => call.path)).toEqual([
      '/prod/lifecycle/customers',
      '/prod/lifecycle/customers/acme/dead-letters',
      '/prod/lifecycle/customers/zeta-org/dead-letters',
    ]);
    expectSigned();

    received.length = 0;
    const one = await cliInProcess(['dead-letters', 'list', '--customer', 'zeta-org', '--aws', '--stack-name', STACK]);
    expect(one.code).toBe(0);
    expect(one.stdout).toBe('no dead letters\n');
    expect(received.map((call) => call.path)).toEqual(['/prod/lifecycle/customers/zeta-org/dead-letters']);
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
    const call = received.at(-1);
    expect(call?.method).toBe('POST');
    expect(call?.path).toBe(`/prod/lifecycle/customers/acme/dead-letters/${encodeURIComponent(LETTER_ID)}/replay`);
    expect(JSON.parse(call?.body ?? '')).toEqual({ checked: true });
    expectSigned();

    const plain = await cliInProcess(['dead-letters', 'replay', 'acme', LETTER_ID, '--aws', '--stack-name', STACK]);
    expect(plain.code).toBe(0);
    expect(JSON.parse(received.at(-1)?.body ?? '')).toEqual({});
  });

  it('a refused discard exits 2 and shows the refusal code', async () => {
    const run = await cliInProcess(['dead-letters', 'discard', 'acme', LETTER_ID, '--aws', '--stack-name', STACK]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/409 DEAD_LETTER_RESOLVED/);
    expect(received.at(-1)?.path).toMatch(/\/discard$/);
  });
});

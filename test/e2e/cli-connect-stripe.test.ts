// `connect-stripe`: the CLI reads a Stripe credential from stdin (never an argument) and hands it to the lifecycle
// API, which validates and stores it. The local target talks to the lifecycle handler behind the local API gateway
// stand-in; the AWS target (`--aws`) finds the same API in the stack outputs and signs the call with SigV4.
import type { IncomingHttpHeaders } from 'node:http';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpOAuthRefresher } from '../../functions/credentials/oauth-refresher.ts';
import { createLifecycleApiHandler } from '../../functions/lifecycle-api/handler.ts';
import { type GatewayServer, startGateway } from '../../infra/local/api-gateway.ts';
import { registerSecret } from '../support/canaries.ts';
import { InMemorySecretStore } from '../support/in-memory-secret-store.ts';
import { customerRecord, InMemoryCustomers } from '../unit/webhook-verifier/fixtures.ts';
import { cliInProcess, describeStack, EXECUTE_API_SIGNATURE, useSigningCredentials } from './support.ts';

const STACK = 'Integration-test';
const WEBHOOK_SECRET = registerSecret('whsec_cliConnectTest0123456789abcdefGHIJ');
const REFRESH_TOKEN = registerSecret('rt_cli_connect_0123456789abcdefghij');
const ACCESS_TOKEN = registerSecret('sk_cli_access_0123456789abcdefghij');
const INSPECT = { reason: 'test:inspect' };

describe('npm run cli -- connect-stripe', () => {
  const secrets = new InMemorySecretStore();
  const customers = new InMemoryCustomers();
  const loads: string[] = [];
  const headers: IncomingHttpHeaders[] = [];
  const cloudFormation = mockClient(CloudFormationClient);
  let gateway: GatewayServer;
  let restoreEnv: () => void;

  beforeAll(async () => {
    await customers.create(customerRecord('acme'));
    const refresher = new HttpOAuthRefresher(
      {
        stripe: {
          tokenUrl: 'https://connect.stripe.test/oauth/token',
          clientCredentials: async () => ({ clientId: 'ca_cli', clientSecret: 'sk_cli_platform' }),
          clientAuthentication: 'body',
        },
      },
      (async (_url: string | URL | Request, init?: RequestInit) => {
        const ok = new URLSearchParams(String(init?.body)).get('refresh_token') === REFRESH_TOKEN;
        return new Response(JSON.stringify(ok ? { access_token: ACCESS_TOKEN } : { error: 'invalid_grant' }), {
          status: ok ? 200 : 400,
        });
      }) as typeof fetch,
    );
    const lifecycle = createLifecycleApiHandler({
      customers,
      secrets,
      virtuous: { forCustomer: () => ({}) as never, forToken: () => ({}) as never },
      starter: {
        start: async () => ({ executionId: 'x' }),
        describe: async () => undefined,
        sendTaskSuccess: async () => {},
      },
      clock: { now: () => new Date() },
      settings: { tokenRotationDays: { high: 90, standard: 180 } },
      sourceCredentials: {
        refresher,
        syncControl: {
          requestInitialLoad: async () => ({
            status: 'started',
            started: loads.includes('stripe-connect') ? ['stripe-connect'] : [],
          }),
          recordInitialLoadStarted: async () => undefined,
          completeInitialLoadRequest: async () => undefined,
        },
        initialLoads: {
          start: async (_customerId, load) => {
            loads.push(load);
          },
        },
      },
    });
    gateway = await startGateway({
      host: '127.0.0.1',
      port: 0,
      name: 'lifecycle API (connect-stripe test)',
      routes: [
        {
          method: 'ANY',
          resource: '/lifecycle/{proxy+}',
          functionName: 'lifecycle-api',
          handler: async (event) => {
            headers.push(Object.fromEntries(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])));
            return lifecycle(event);
          },
        },
      ],
    });
    restoreEnv = useSigningCredentials();
    describeStack(cloudFormation, STACK, { LifecycleApiUrl: `${gateway.url}/lifecycle` }, 'CREATE_COMPLETE');
  });

  afterAll(async () => {
    restoreEnv();
    cloudFormation.restore();
    await gateway.close();
  });

  const local = () => ['--url', gateway.url];

  it('stores the webhook signing secret read from stdin (local runtime)', async () => {
    const run = await cliInProcess(['connect-stripe', 'acme', '--webhook-secret', ...local()], `${WEBHOOK_SECRET}\n`);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Stripe webhook signing secret of acme stored');
    const stored = await secrets.read(
      { customerId: 'acme', kind: 'source_webhook_secret', source: 'stripe' },
      'current',
      INSPECT,
    );
    expect(stored?.value).toBe(WEBHOOK_SECRET);
    expect(`${run.stdout}${run.stderr}`).not.toContain(WEBHOOK_SECRET);
  });

  it('refuses a secret of the wrong shape with exit code 2 and its code, without echoing it', async () => {
    const wrong = registerSecret('sk_live_not_a_webhook_secret_0123456789');
    const run = await cliInProcess(['connect-stripe', 'acme', '--webhook-secret', ...local()], wrong);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('WEBHOOK_SECRET_REJECTED');
    expect(`${run.stdout}${run.stderr}`).not.toContain(wrong);
  });

  it('never takes the secret as an argument, and needs exactly one credential flag', async () => {
    const inline = await cliInProcess(['connect-stripe', 'acme', `--refresh-token=${REFRESH_TOKEN}`, ...local()]);
    expect(inline.code).toBe(2);
    expect(inline.stderr).toContain('takes no value');
    expect(inline.stderr).not.toContain(REFRESH_TOKEN);
    const neither = await cliInProcess(['connect-stripe', 'acme', ...local()], WEBHOOK_SECRET);
    expect(neither.code).toBe(2);
    const both = await cliInProcess(['connect-stripe', 'acme', '--webhook-secret', '--refresh-token', ...local()]);
    expect(both.code).toBe(2);
  });

  it('validates the refresh token with Stripe through the signed API of a deployed stack (--aws) and starts the load', async () => {
    const run = await cliInProcess(
      ['connect-stripe', 'acme', '--refresh-token', '--aws', '--stack-name', STACK],
      `${REFRESH_TOKEN}\n`,
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('validated with Stripe and stored; the Stripe history load started');
    expect(headers.at(-1)?.authorization).toMatch(EXECUTE_API_SIGNATURE);
    const stored = await secrets.read(
      { customerId: 'acme', kind: 'refresh_token', source: 'stripe' },
      'current',
      INSPECT,
    );
    expect(stored?.value).toBe(REFRESH_TOKEN);
    expect(loads).toEqual(['stripe-connect']);
    expect(`${run.stdout}${run.stderr}`).not.toContain(REFRESH_TOKEN);

    const refused = await cliInProcess(
      ['connect-stripe', 'acme', '--refresh-token', '--aws', '--stack-name', STACK],
      registerSecret('rt_cli_revoked_0123456789abcdefghij'),
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('REFRESH_TOKEN_REJECTED');
  });
});

import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { HttpOAuthRefresher } from '../../../functions/credentials/oauth-refresher.ts';
import type { CustomerStatus } from '../../../functions/customers/customer.ts';
import type { InitialLoad, InitialLoadState } from '../../../functions/lifecycle/ports.ts';
import { createLifecycleApiHandler } from '../../../functions/lifecycle-api/handler.ts';
import type { LifecycleApiDeps } from '../../../functions/lifecycle-api/lifecycle-api.ts';
import { createWebhookVerifierHandler } from '../../../functions/webhook-verifier/handler.ts';
import { registerSecret } from '../../support/canaries.ts';
import { InMemorySecretStore } from '../../support/in-memory-secret-store.ts';
import { VIRTUOUS_NOT_CALLED } from '../../support/virtuous-not-called.ts';
import {
  apiEvent,
  customerRecord,
  InMemoryCustomers,
  lambdaContext,
  RecordingQueue,
  stripeHeader,
} from '../webhook-verifier/fixtures.ts';

const INSPECT = { reason: 'test:inspect' };
const TOKEN_URL = 'https://connect.stripe.test/oauth/token';
const STRIPE_ENDPOINT_SECRET = registerSecret('whsec_connectTest0123456789abcdefABCDEF');
const REFRESH_TOKEN = registerSecret('rt_connect_submitted_0123456789abcdef');
const ROTATED_REFRESH_TOKEN = registerSecret('rt_connect_rotated_0123456789abcdef');
const ACCESS_TOKEN = registerSecret('sk_access_from_refresh_0123456789abcdef');
const CLIENT_SECRET = registerSecret('sk_platform_client_secret_0123456789');

/** The Stripe Connect token endpoint: answers per refresh token, and records each form it was sent. */
function tokenEndpoint(answers: Record<string, { status: number; body: Record<string, unknown> }>) {
  const forms: URLSearchParams[] = [];
  const fetchImpl = (async (url: string | URL | Request, init?: RequestInit) => {
    expect(String(url)).toBe(TOKEN_URL);
    const form = new URLSearchParams(String(init?.body ?? ''));
    forms.push(form);
    const answer = answers[form.get('refresh_token') ?? ''] ?? { status: 400, body: { error: 'invalid_grant' } };
    return new Response(JSON.stringify(answer.body), {
      status: answer.status,
      headers: { 'content-type': 'application/json' },
    });
  }) as typeof fetch;
  const refresher = new HttpOAuthRefresher(
    {
      stripe: {
        tokenUrl: TOKEN_URL,
        clientCredentials: async () => ({ clientId: 'ca_platform', clientSecret: CLIENT_SECRET }),
        clientAuthentication: 'body',
      },
    },
    fetchImpl,
  );
  return { refresher, forms };
}

function loads() {
  const started: { customerId: string; load: InitialLoad }[] = [];
  const checkpoints = new Map<string, { status: string; started: InitialLoad[] }>();
  return {
    started,
    checkpoints,
    syncControl: {
      requestInitialLoad: async (customerId: string): Promise<InitialLoadState> => {
        const checkpoint = checkpoints.get(customerId) ?? { status: 'requested', started: [] };
        checkpoints.set(customerId, checkpoint);
        return { status: checkpoint.status, started: [...checkpoint.started] };
      },
      recordInitialLoadStarted: async (customerId: string, load: InitialLoad) => {
        checkpoints.get(customerId)?.started.push(load);
      },
      completeInitialLoadRequest: async () => undefined,
    },
    initialLoads: {
      start: async (customerId: string, load: InitialLoad) => {
        started.push({ customerId, load });
      },
    },
  };
}

async function setup(
  options: { status?: CustomerStatus; refresher?: HttpOAuthRefresher | null; onboardedLoads?: InitialLoad[] } = {},
) {
  const customers = new InMemoryCustomers();
  await customers.create(customerRecord('acme', { status: options.status ?? 'active' }));
  await customers.create(customerRecord('gone', { status: 'offboarded' }));
  await customers.create(customerRecord('broken', { status: 'failed' }));
  const secrets = new InMemorySecretStore();
  const endpoint = tokenEndpoint({
    [REFRESH_TOKEN]: {
      status: 200,
      body: { access_token: ACCESS_TOKEN, refresh_token: ROTATED_REFRESH_TOKEN, token_type: 'bearer' },
    },
  });
  const history = loads();
  if (options.onboardedLoads) history.checkpoints.set('acme', { status: 'started', started: options.onboardedLoads });
  const refresher = options.refresher === null ? undefined : (options.refresher ?? endpoint.refresher);
  const deps: LifecycleApiDeps = {
    customers,
    secrets,
    virtuous: VIRTUOUS_NOT_CALLED,
    starter: {
      start: async () => {
        throw new Error('not used');
      },
      describe: async () => undefined,
      sendTaskSuccess: async () => undefined,
    },
    clock: { now: () => new Date('2026-12-01T00:00:00Z') },
    settings: { tokenRotationDays: { high: 90, standard: 180 } },
    sourceCredentials: {
      ...(refresher === undefined ? {} : { refresher }),
      syncControl: history.syncControl,
      initialLoads: history.initialLoads,
    },
  };
  const api = createLifecycleApiHandler(deps);
  const connect = (customerId: string, body: Record<string, unknown>, source = 'stripe') =>
    api({
      httpMethod: 'POST',
      path: `/lifecycle/customers/${customerId}/sources/${source}`,
      pathParameters: { proxy: `customers/${customerId}/sources/${source}` },
      body: JSON.stringify(body),
      isBase64Encoded: false,
      headers: {},
    } as unknown as APIGatewayProxyEvent);
  return { customers, secrets, endpoint, history, connect };
}

const stripeRef = (kind: 'source_webhook_secret' | 'refresh_token') =>
  ({ customerId: 'acme', kind, source: 'stripe' }) as const;

describe('lifecycle API: connecting a customer’s Stripe', () => {
  it('stores the webhook signing secret, after which the customer’s Stripe deliveries verify', async () => {
    const { customers, secrets, connect } = await setup();
    const queue = new RecordingQueue();
    let now = new Date();
    const verifier = createWebhookVerifierHandler({ customers, secrets, queue, clock: () => now });
    const body = Buffer.from(JSON.stringify({ id: 'evt_connect_1', type: 'payment_intent.succeeded' }));
    const delivery = () =>
      verifier(
        apiEvent({
          provider: 'stripe',
          customerId: 'acme',
          body: body.toString('utf8'),
          headers: {
            'Content-Type': 'application/json',
            'Stripe-Signature': stripeHeader(STRIPE_ENDPOINT_SECRET, body, Math.floor(now.getTime() / 1000)),
          },
        }),
        lambdaContext,
      );
    expect((await delivery()).statusCode).toBe(401);

    const response = await connect('acme', { credential: 'webhook_secret', value: STRIPE_ENDPOINT_SECRET });
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({
      customerId: 'acme',
      source: 'stripe',
      credential: 'webhook_secret',
      historyLoad: 'not_applicable',
    });
    expect(response.body).not.toContain(STRIPE_ENDPOINT_SECRET);
    expect((await secrets.read(stripeRef('source_webhook_secret'), 'current', INSPECT))?.value).toBe(
      STRIPE_ENDPOINT_SECRET,
    );
    expect(await secrets.read(stripeRef('source_webhook_secret'), 'pending', INSPECT)).toBeUndefined();
    expect(secrets.accesses.filter((a) => a.reason === 'source:connect').map((a) => a.operation)).toEqual([
      'putPending',
      'promotePending',
      'deletePrevious',
    ]);

    // A warm verifier re-reads a customer's secrets on a signature mismatch at most every 5 s.
    now = new Date(now.getTime() + 6_000);
    expect((await delivery()).statusCode).toBe(202);
    expect(queue.messages).toHaveLength(1);
  });

  it('replaces an earlier webhook secret: the old one is deleted, not kept as previous', async () => {
    const { secrets, connect } = await setup();
    const older = registerSecret('whsec_olderSecretTest0123456789abcdefXYZ');
    await connect('acme', { credential: 'webhook_secret', value: older });
    await connect('acme', { credential: 'webhook_secret', value: STRIPE_ENDPOINT_SECRET });
    expect((await secrets.read(stripeRef('source_webhook_secret'), 'current', INSPECT))?.value).toBe(
      STRIPE_ENDPOINT_SECRET,
    );
    expect(await secrets.read(stripeRef('source_webhook_secret'), 'previous', INSPECT)).toBeUndefined();
  });

  it.each([
    ['no whsec_ prefix', 'sk_live_Example0123456789abcdefghijklmnop'],
    ['a short key', 'whsec_0123456789'],
    ['characters outside the key alphabet', 'whsec_0123456789abcdef!0123456789'],
  ])('refuses a webhook secret with %s (422), stores nothing and never echoes it', async (_label, raw) => {
    const { secrets, connect } = await setup();
    const value = registerSecret(raw);
    const response = await connect('acme', { credential: 'webhook_secret', value });
    expect(response.statusCode).toBe(422);
    expect(JSON.parse(response.body).error).toBe('WEBHOOK_SECRET_REJECTED');
    expect(response.body).not.toContain(value);
    expect(secrets.accesses.filter((a) => a.operation !== 'read')).toEqual([]);
  });

  it('validates a refresh token by refreshing it at the Stripe Connect endpoint and stores the rotated token', async () => {
    const { secrets, endpoint, history, connect } = await setup();
    const response = await connect('acme', { credential: 'refresh_token', value: REFRESH_TOKEN });
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ credential: 'refresh_token', historyLoad: 'started' });
    for (const secret of [REFRESH_TOKEN, ROTATED_REFRESH_TOKEN, ACCESS_TOKEN, CLIENT_SECRET]) {
      expect(response.body).not.toContain(secret);
    }
    expect(endpoint.forms.map((form) => [form.get('grant_type'), form.get('refresh_token')])).toEqual([
      ['refresh_token', REFRESH_TOKEN],
    ]);
    // The refresh spent the submitted token: the one Stripe handed back is what is stored.
    expect((await secrets.read(stripeRef('refresh_token'), 'current', INSPECT))?.value).toBe(ROTATED_REFRESH_TOKEN);
    expect(history.started).toEqual([{ customerId: 'acme', load: 'stripe-connect' }]);
    expect(history.checkpoints.get('acme')?.started).toEqual(['stripe-connect']);
  });

  it('starts the Stripe history load once: not again on a later connection, not when onboarding already did', async () => {
    const first = await setup();
    await first.connect('acme', { credential: 'refresh_token', value: REFRESH_TOKEN });
    const again = await first.connect('acme', { credential: 'refresh_token', value: REFRESH_TOKEN });
    expect(JSON.parse(again.body).historyLoad).toBe('already_started');
    expect(first.history.started).toHaveLength(1);

    const onboarded = await setup({ onboardedLoads: ['reconciliation', 'stripe-connect'] });
    const answer = await onboarded.connect('acme', { credential: 'refresh_token', value: REFRESH_TOKEN });
    expect(JSON.parse(answer.body).historyLoad).toBe('already_started');
    expect(onboarded.history.started).toEqual([]);
  });

  it('leaves the load to a running onboarding, and starts none for a paused customer', async () => {
    const onboarding = await setup({ status: 'onboarding' });
    const during = await onboarding.connect('acme', { credential: 'refresh_token', value: REFRESH_TOKEN });
    expect(JSON.parse(during.body).historyLoad).toBe('at_onboarding');
    expect(onboarding.history.started).toEqual([]);
    expect((await onboarding.secrets.read(stripeRef('refresh_token'), 'current', INSPECT))?.value).toBe(
      ROTATED_REFRESH_TOKEN,
    );

    const paused = await setup({ status: 'paused' });
    const whilePaused = await paused.connect('acme', { credential: 'refresh_token', value: REFRESH_TOKEN });
    expect(whilePaused.statusCode).toBe(200);
    expect(JSON.parse(whilePaused.body).historyLoad).toBe('not_started');
    expect(paused.history.started).toEqual([]);
  });

  it('refuses a refresh token Stripe does not accept (422) and stores nothing', async () => {
    const { secrets, connect } = await setup();
    const revoked = registerSecret('rt_connect_revoked_0123456789abcdef');
    const response = await connect('acme', { credential: 'refresh_token', value: revoked });
    expect(response.statusCode).toBe(422);
    expect(JSON.parse(response.body).error).toBe('REFRESH_TOKEN_REJECTED');
    expect(response.body).not.toContain(revoked);
    expect(await secrets.read(stripeRef('refresh_token'), 'current', INSPECT)).toBeUndefined();
  });

  it('answers 503 when the token endpoint is unavailable, and 501 where no OAuth client is configured', async () => {
    const down = tokenEndpoint({ [REFRESH_TOKEN]: { status: 503, body: {} } });
    const unavailable = await setup({ refresher: down.refresher });
    const response = await unavailable.connect('acme', { credential: 'refresh_token', value: REFRESH_TOKEN });
    expect(response.statusCode).toBe(503);
    expect(await unavailable.secrets.read(stripeRef('refresh_token'), 'current', INSPECT)).toBeUndefined();

    const unconfigured = await setup({ refresher: null });
    const refused = await unconfigured.connect('acme', { credential: 'refresh_token', value: REFRESH_TOKEN });
    expect(refused.statusCode).toBe(501);
    // The webhook secret needs no OAuth client.
    const secret = await unconfigured.connect('acme', { credential: 'webhook_secret', value: STRIPE_ENDPOINT_SECRET });
    expect(secret.statusCode).toBe(200);
  });

  it('refuses unknown customers and sources, customers that cannot connect, and malformed bodies', async () => {
    const { connect, secrets } = await setup();
    const body = { credential: 'webhook_secret', value: STRIPE_ENDPOINT_SECRET };
    expect((await connect('nobody', body)).statusCode).toBe(404);
    expect(JSON.parse((await connect('gone', body)).body).error).toBe('CUSTOMER_NOT_FOUND');
    expect(JSON.parse((await connect('broken', body)).body).error).toBe('CUSTOMER_NOT_CONNECTABLE');
    expect(JSON.parse((await connect('acme', body, 'paypal')).body).error).toBe('UNKNOWN_SOURCE');
    expect((await connect('acme', { credential: 'api_token', value: STRIPE_ENDPOINT_SECRET })).statusCode).toBe(400);
    expect((await connect('acme', { ...body, extra: true })).statusCode).toBe(400);
    const spaced = await connect('acme', { credential: 'webhook_secret', value: `${STRIPE_ENDPOINT_SECRET} x` });
    expect(spaced.statusCode).toBe(400);
    expect(spaced.body).not.toContain(STRIPE_ENDPOINT_SECRET);
    expect(secrets.accesses.filter((a) => a.operation !== 'read')).toEqual([]);
  });
});

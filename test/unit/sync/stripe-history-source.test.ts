/**
 * The Stripe Connect history source end to end against a loopback stub of the Stripe API and the Connect token
 * endpoint: real HttpOAuthRefresher, real SourceTokenManager, real bulk-load paging and checkpoints (in memory),
 * and the bulk-loader handler's source selection.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createBulkLoaderHandler } from '../../../functions/bulk-loader/handler.ts';
import { historySourceSelector, STRIPE_CONNECT } from '../../../functions/bulk-loader/history-sources.ts';
import { HttpOAuthRefresher } from '../../../functions/credentials/oauth-refresher.ts';
import type { SecretRef } from '../../../functions/credentials/secret-store.ts';
import { SourceTokenManager } from '../../../functions/credentials/source-tokens.ts';
import { LocalNotifier } from '../../../functions/notifications/local-notifier.ts';
import {
  CredentialRevokedError,
  ForbiddenInputError,
  PermanentError,
  TransientError,
} from '../../../functions/shared/errors.ts';
import { runBulkLoad } from '../../../functions/sync/bulk-load.ts';
import { type BulkMessage, bulkEvents, parseBulkMessage } from '../../../functions/sync/bulk-message.ts';
import { commandFromStripeEvent } from '../../../functions/sync/inbound-events.ts';
import type { MessageQueue } from '../../../functions/sync/message-queue.ts';
import { stripeHistorySource } from '../../../functions/sync/stripe-history-source.ts';
import { CountingMetrics } from '../../../functions/sync/sync-metrics.ts';
import { DONOR, findLeaks, registerSecret } from '../../support/canaries.ts';
import { InMemoryCustomers } from '../../support/in-memory-customers.ts';
import { InMemorySecretStore } from '../../support/in-memory-secret-store.ts';
import { MemoryCheckpoints } from '../../support/memory-checkpoints.ts';

const CUSTOMER = 'acme-stripe';
const refreshRef: SecretRef = { customerId: CUSTOMER, kind: 'refresh_token', source: 'stripe' };
const PLATFORM_SECRET = registerSecret(`sk_platform_${Math.random().toString(36).slice(2, 12)}`);

const customersData = Array.from({ length: 5 }, (_, i) => ({
  id: `cus_${i}`,
  object: 'customer',
  created: 1_700_000_000 + i,
  name: `${DONOR.firstName} ${DONOR.lastName}`,
  email: DONOR.email,
  phone: DONOR.phone,
  address: { line1: DONOR.address1, city: DONOR.city, postal_code: DONOR.postal, country: 'US' },
}));
const intentsData = Array.from({ length: 7 }, (_, i) => ({
  id: `pi_${i}`,
  object: 'payment_intent',
  created: 1_700_100_000 + i,
  amount: 1000 + i,
  amount_received: 1000 + i,
  currency: 'usd',
  customer: `cus_${i % 5}`,
  receipt_email: DONOR.email,
  status: i % 3 === 2 ? 'requires_payment_method' : 'succeeded',
}));
/** Queue pages that hold one stub event each (events are 300-340 bytes): the collector never holds more than one. */
const ONE_EVENT_PAGES = 500;
const SUCCEEDED = intentsData.filter((intent) => intent.status === 'succeeded').map((intent) => intent.id);

/** The stub: Connect token endpoint + list endpoints, scripted per test. */
class StripeStub {
  server!: Server;
  base = '';
  tokenCalls: URLSearchParams[] = [];
  apiCalls: { path: string; limit: string | null; after: string | null; auth: string }[] = [];
  /** Refresh tokens the endpoint accepts (current grant), and access tokens it issued that are still valid. */
  grant = new Set<string>();
  valid = new Set<string>();
  revoked = false;
  rotate = true;
  expiresIn: number | undefined = 3600;
  tokenDelayMs = 0;
  /** Per-call behaviour of list requests, consumed first: a status, 'hang', or undefined for normal. */
  script: (number | 'hang' | 'expire-token' | undefined)[] = [];
  issued = 0;

  async start() {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  reset(refreshToken: string) {
    Object.assign(this, { tokenCalls: [], apiCalls: [], revoked: false, rotate: true, expiresIn: 3600 });
    Object.assign(this, { tokenDelayMs: 0, script: [] });
    this.grant = new Set([refreshToken]);
    this.valid = new Set();
  }

  private issue(prefix: string) {
    this.issued++;
    return registerSecret(`${prefix}_${this.issued}_${Math.random().toString(36).slice(2, 10)}`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', this.base);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'POST' && url.pathname === '/oauth/token') {
      let raw = '';
      for await (const chunk of req) raw += chunk;
      const form = new URLSearchParams(raw);
      this.tokenCalls.push(form);
      if (this.tokenDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.tokenDelayMs));
      if (form.get('client_secret') !== PLATFORM_SECRET) return json(401, { error: 'invalid_client' });
      const given = form.get('refresh_token') ?? '';
      if (this.revoked || form.get('grant_type') !== 'refresh_token' || !this.grant.has(given)) {
        return json(400, { error: 'invalid_grant', error_description: 'Refresh token has been revoked' });
      }
      const access = this.issue('sk_access');
      this.valid.add(access);
      const body: Record<string, unknown> = { access_token: access, token_type: 'bearer', stripe_user_id: 'acct_1' };
      if (this.expiresIn !== undefined) body.expires_in = this.expiresIn;
      if (this.rotate) {
        const rotated = this.issue('rt');
        this.grant = new Set([rotated]);
        body.refresh_token = rotated;
      } else body.refresh_token = given;
      return json(200, body);
    }
    const resource = url.pathname.replace('/v1/', '');
    const auth = req.headers.authorization ?? '';
    this.apiCalls.push({
      path: url.pathname,
      limit: url.searchParams.get('limit'),
      after: url.searchParams.get('starting_after'),
      auth,
    });
    const step = this.script.shift();
    if (step === 'hang') return; // never answers: the client's timeout must end the call
    if (step === 'expire-token') this.valid.clear();
    if (typeof step === 'number') return json(step, { error: { type: 'api_error' } });
    if (!this.valid.has(auth.replace(/^Bearer /, ''))) {
      return json(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } });
    }
    const data: { id: string }[] =
      resource === 'customers' ? customersData : resource === 'payment_intents' ? intentsData : [];
    if (resource !== 'customers' && resource !== 'payment_intents') return json(404, {});
    const limit = Number(url.searchParams.get('limit') ?? 10);
    const after = url.searchParams.get('starting_after');
    const start = after === null ? 0 : data.findIndex((item) => item.id === after) + 1;
    const page = data.slice(start, start + limit);
    return json(200, { object: 'list', data: page, has_more: start + limit < data.length, url: url.pathname });
  }
}

class MemoryQueue implements MessageQueue {
  readonly bodies: string[] = [];
  async send(bodies: readonly string[]) {
    this.bodies.push(...bodies);
  }
  messages(): BulkMessage[] {
    return this.bodies.map((body) => parseBulkMessage(JSON.parse(body)));
  }
  /** Every enqueued event through the webhook path's own mapping. */
  commands() {
    return this.messages().flatMap((message) => bulkEvents(message).map((event) => commandFromStripeEvent(event)));
  }
  giftIds(): string[] {
    return this.commands().flatMap((command) => (command.type === 'gift' ? [command.gift.transactionId] : []));
  }
  contactIds(): string[] {
    return this.commands().flatMap((command) => (command.type === 'contact' ? [command.contact.referenceId] : []));
  }
}

const stub = new StripeStub();
beforeAll(() => stub.start());
afterAll(() => new Promise<void>((resolve) => stub.server.close(() => resolve())));

let t = Date.parse('2026-11-29T04:00:00Z');
const now = () => t;

async function setup() {
  const store = new InMemorySecretStore();
  const initial = registerSecret(`rt_initial_${Math.random().toString(36).slice(2, 12)}`);
  await store.seedCurrent(refreshRef, initial);
  stub.reset(initial);
  const customers = new InMemoryCustomers();
  await customers.create({
    customerId: CUSTOMER,
    status: 'active',
    sensitivity: 'standard',
    tokenRotationDays: 180,
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
  });
  const notifier = new LocalNotifier();
  const refresher = new HttpOAuthRefresher({
    stripe: {
      tokenUrl: `${stub.base}/oauth/token`,
      clientCredentials: async () => ({ clientId: 'ca_platform', clientSecret: PLATFORM_SECRET }),
      clientAuthentication: 'body',
      defaultExpiresInSeconds: 3600,
      timeoutMs: 2_000,
      allowLoopbackHttp: true,
    },
  });
  const tokens = new SourceTokenManager({ store, refresher, customers, notifier, now, persistBackoffMs: 1 });
  const checkpoints = new MemoryCheckpoints();
  const queue = new MemoryQueue();
  const deps = { checkpoints, queue, metrics: new CountingMetrics(), clock: () => new Date(t) };
  const source = (overrides: Partial<Parameters<typeof stripeHistorySource>[0]> = {}) =>
    stripeHistorySource({
      customerId: CUSTOMER,
      tokens,
      apiBaseUrl: stub.base,
      allowLoopbackHttp: true,
      pageSize: 2,
      timeoutMs: 500,
      maxAttempts: 3,
      backoffMs: 1,
      ...overrides,
    });
  const current = async () => (await store.read(refreshRef, 'current', { reason: 'test:inspect' }))?.value;
  return { store, customers, notifier, tokens, checkpoints, queue, deps, source, current, initial };
}

beforeEach(() => {
  t += 86_400_000;
});

describe('Stripe Connect history source', () => {
  it('pages customers then succeeded PaymentIntents into the events the webhook path maps, one refresh for all pages', async () => {
    const { deps, queue, source, checkpoints, current } = await setup();
    const result = await runBulkLoad(deps, { customerId: CUSTOMER, loadId: 'initial-load', source: source() });

    expect(result.completed).toBe(true);
    expect(queue.contactIds().sort()).toEqual(customersData.map((c) => c.id).sort());
    expect(queue.giftIds().sort()).toEqual([...SUCCEEDED].sort());
    const gift = queue.commands().find((command) => command.type === 'gift');
    expect(gift?.type === 'gift' && gift.gift.contact.email).toBe(DONOR.email);
    // 3 customer pages + 4 PaymentIntent pages, each continuing after the previous page's last id.
    expect(stub.apiCalls.map((call) => `${call.path}?${call.after ?? ''}`)).toEqual([
      '/v1/customers?',
      '/v1/customers?cus_1',
      '/v1/customers?cus_3',
      '/v1/payment_intents?',
      '/v1/payment_intents?pi_1',
      '/v1/payment_intents?pi_3',
      '/v1/payment_intents?pi_5',
    ]);
    expect(stub.apiCalls.every((call) => call.limit === '2')).toBe(true);
    expect(stub.tokenCalls).toHaveLength(1);
    expect(new Set(stub.apiCalls.map((call) => call.auth)).size).toBe(1);
    expect(stub.tokenCalls[0]?.get('grant_type')).toBe('refresh_token');
    // The rotated refresh token is the one stored, and the one the endpoint now accepts.
    expect(stub.grant.has((await current()) ?? '')).toBe(true);
    const checkpoint = await checkpoints.get(CUSTOMER, 'initial-load');
    expect(checkpoint?.status).toBe('completed');
    expect(findLeaks(JSON.stringify(checkpoint))).toEqual([]);
  });

  it('resumes from the checkpoint after a failed run, re-reading only from the last checkpointed page', async () => {
    const { deps, queue, source } = await setup();
    // customers pages 1-3 fine, PaymentIntents page 1 fine, page 2 refused permanently.
    stub.script = [undefined, undefined, undefined, undefined, 400];
    await expect(
      runBulkLoad(deps, { customerId: CUSTOMER, loadId: 'l1', source: source(), maxPageBytes: ONE_EVENT_PAGES }),
    ).rejects.toThrow(PermanentError);
    const position = JSON.parse((await deps.checkpoints.get(CUSTOMER, 'l1'))?.position ?? '{}');
    // cus_4 still waited for a full customers page when the run failed: its source page is read again.
    expect(position.cursor).toBe('customers:cus_3');
    const before = stub.apiCalls.length;
    const result = await runBulkLoad(deps, {
      customerId: CUSTOMER,
      loadId: 'l1',
      source: source(),
      maxPageBytes: ONE_EVENT_PAGES,
    });
    expect(result.completed).toBe(true);
    const resumed = stub.apiCalls.slice(before);
    expect(resumed.map((call) => `${call.path}?${call.after ?? ''}`)).toEqual([
      '/v1/customers?cus_3',
      '/v1/payment_intents?',
      '/v1/payment_intents?pi_1',
      '/v1/payment_intents?pi_3',
      '/v1/payment_intents?pi_5',
    ]);
    expect(new Set(queue.giftIds())).toEqual(new Set(SUCCEEDED));
    expect(new Set(queue.contactIds())).toEqual(new Set(customersData.map((c) => c.id)));
    // One refresh per run at most: the token manager kept the first one.
    expect(stub.tokenCalls).toHaveLength(1);
  });

  it('refreshes after expiry (minus skew), persisting each rotated refresh token before use', async () => {
    const { source, current, initial } = await setup();
    stub.expiresIn = 120;
    const history = source();
    await history.page(undefined);
    await history.page('customers:cus_1');
    expect(stub.tokenCalls).toHaveLength(1);
    const firstRotated = await current();
    expect(firstRotated).not.toBe(initial);
    t += 61_000; // 120 s lifetime − 60 s skew has passed
    await history.page('customers:cus_3');
    expect(stub.tokenCalls).toHaveLength(2);
    expect(stub.tokenCalls[1]?.get('refresh_token')).toBe(firstRotated);
    const secondRotated = await current();
    expect(secondRotated).not.toBe(firstRotated);
    expect(stub.grant.has(secondRotated ?? '')).toBe(true);
    expect(new Set(stub.apiCalls.map((call) => call.auth)).size).toBe(2);
  });

  it('shares one refresh between concurrent pages', async () => {
    const { source } = await setup();
    stub.tokenDelayMs = 30;
    const history = source();
    const pages = await Promise.all([
      history.page(undefined),
      history.page('customers:cus_1'),
      history.page('payment_intents'),
      history.page('payment_intents:pi_3'),
    ]);
    expect(pages.every((page) => page.events.length > 0)).toBe(true);
    expect(stub.tokenCalls).toHaveLength(1);
    expect(stub.apiCalls).toHaveLength(4);
  });

  it('answers a 401 to a cached token with one refresh and one retry', async () => {
    const { source } = await setup();
    const history = source();
    await history.page(undefined);
    stub.script = ['expire-token'];
    const page = await history.page('customers:cus_1');
    expect(page.events).toHaveLength(2);
    expect(stub.tokenCalls).toHaveLength(2);
    expect(stub.apiCalls).toHaveLength(3);
  });

  it('bounds retries of 5xx and 429 answers and then fails as transient', async () => {
    const { source } = await setup();
    stub.script = [500, 429, 503];
    const error = await source()
      .page(undefined)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as TransientError).statusCode).toBe(503);
    expect(stub.apiCalls).toHaveLength(3);
    stub.script = [502];
    expect((await source().page(undefined)).events).toHaveLength(2);
  });

  it('ends a call that never answers at its timeout, a bounded number of times', async () => {
    const { source } = await setup();
    await source().page(undefined); // token obtained
    const calls = stub.apiCalls.length;
    stub.script = ['hang', 'hang'];
    const started = Date.now();
    const error = await source({ timeoutMs: 150, maxAttempts: 2 })
      .page(undefined)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(stub.apiCalls.length - calls).toBe(2);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('refuses plain http outside loopback local mode and unknown cursors', async () => {
    const { tokens } = await setup();
    expect(() => stripeHistorySource({ customerId: CUSTOMER, tokens, apiBaseUrl: stub.base })).toThrow(
      ForbiddenInputError,
    );
    expect(() =>
      stripeHistorySource({
        customerId: CUSTOMER,
        tokens,
        apiBaseUrl: 'http://api.example.com',
        allowLoopbackHttp: true,
      }),
    ).toThrow(ForbiddenInputError);
    expect(
      () =>
        new HttpOAuthRefresher({
          stripe: { tokenUrl: `${stub.base}/oauth/token`, clientCredentials: async () => ({ clientId: 'ca_x' }) },
        }),
    ).toThrow(PermanentError);
    const history = stripeHistorySource({
      customerId: CUSTOMER,
      tokens,
      apiBaseUrl: stub.base,
      allowLoopbackHttp: true,
    });
    await expect(history.page('charges:ch_1')).rejects.toThrow(ForbiddenInputError);
    await expect(history.page('customers:cus_1/../x')).rejects.toThrow(ForbiddenInputError);
    expect(stub.apiCalls).toHaveLength(0);
  });
});

describe('bulk loader with source stripe-connect', () => {
  it('on a revoked grant: stops, pauses the customer, alerts once, calls nothing more, resumes after re-authorization', async () => {
    const { deps, queue, customers, notifier, tokens, store } = await setup();
    const handler = createBulkLoaderHandler({
      ...deps,
      customers,
      historySourceFor: historySourceSelector({
        stripeConnect: () => ({ tokens, apiBaseUrl: stub.base, allowLoopbackHttp: true, timeoutMs: 500, backoffMs: 1 }),
      }),
    });
    const result1 = await handler({ customerId: CUSTOMER, source: STRIPE_CONNECT, loadId: 'stripe-1' });
    expect(result1.completed).toBe(true);
    expect(queue.giftIds().sort()).toEqual([...SUCCEEDED].sort());
    expect(stub.apiCalls.map((call) => call.limit)).toEqual(['100', '100']);

    // The customer disconnected the platform in Stripe; the cached access token has expired meanwhile.
    stub.revoked = true;
    stub.apiCalls = [];
    stub.tokenCalls = [];
    t += 3_600_000;
    const result2 = await handler({ customerId: CUSTOMER, source: STRIPE_CONNECT, loadId: 'stripe-2' });
    expect(result2).toMatchObject({ completed: false, stoppedBy: 'credential_revoked', eventsEnqueued: 0 });
    expect(stub.tokenCalls).toHaveLength(1);
    expect(stub.apiCalls).toHaveLength(0);
    expect(customers.records.get(CUSTOMER)).toMatchObject({
      status: 'paused',
      statusReason: 'credential_revoked:stripe',
    });
    expect(notifier.operatorAlerts.filter((alert) => alert.code === 'CREDENTIAL_REVOKED')).toHaveLength(1);
    expect(notifier.customerNotifications).toHaveLength(1);

    // Invoked again while paused: refused before any call, no second alert.
    const tokenCalls = stub.tokenCalls.length;
    await expect(handler({ customerId: CUSTOMER, source: STRIPE_CONNECT, loadId: 'stripe-2' })).rejects.toThrow(
      ForbiddenInputError,
    );
    expect(stub.tokenCalls).toHaveLength(tokenCalls);
    expect(notifier.operatorAlerts).toHaveLength(1);

    // Re-authorized: a new refresh token stored, the customer active again; the same container resumes the load.
    const reauthorized = registerSecret(`rt_reauth_${Math.random().toString(36).slice(2, 12)}`);
    await store.seedCurrent(refreshRef, reauthorized);
    stub.grant = new Set([reauthorized]);
    stub.revoked = false;
    await customers.update(CUSTOMER, { status: 'active' });
    const result3 = await handler({ customerId: CUSTOMER, source: STRIPE_CONNECT, loadId: 'stripe-2' });
    expect(result3.completed).toBe(true);
    expect(notifier.operatorAlerts).toHaveLength(1);
    expect((await deps.checkpoints.get(CUSTOMER, 'stripe-2'))?.status).toBe('completed');
  });

  it('keeps the checkpoint of the pages read before a revocation and resumes there', async () => {
    const { deps, queue, customers, notifier, tokens, store, source } = await setup();
    stub.expiresIn = 120;
    const history = source();
    let pages = 0;
    const clocked = {
      page: async (cursor: string | undefined) => {
        if (++pages === 4) {
          t += 61_000; // access token due
          stub.revoked = true;
        }
        return history.page(cursor);
      },
    };
    const result = await runBulkLoad(deps, {
      customerId: CUSTOMER,
      loadId: 'mid',
      source: clocked,
      maxPageBytes: ONE_EVENT_PAGES,
    });
    expect(result).toMatchObject({ completed: false, stoppedBy: 'credential_revoked' });
    expect(stub.apiCalls).toHaveLength(3);
    const checkpoint = await deps.checkpoints.get(CUSTOMER, 'mid');
    expect(checkpoint?.status).toBe('running');
    expect(JSON.parse(checkpoint?.position ?? '{}').cursor).toBe('customers:cus_3');
    expect(customers.records.get(CUSTOMER)?.status).toBe('paused');
    expect(notifier.operatorAlerts).toHaveLength(1);
    // Further pages in this container: refused without a call or another alert.
    await expect(history.page('payment_intents')).rejects.toThrow(CredentialRevokedError);
    expect(stub.apiCalls).toHaveLength(3);
    expect(notifier.operatorAlerts).toHaveLength(1);

    const reauthorized = registerSecret(`rt_reauth_${Math.random().toString(36).slice(2, 12)}`);
    await store.seedCurrent(refreshRef, reauthorized);
    stub.grant = new Set([reauthorized]);
    stub.revoked = false;
    await customers.update(CUSTOMER, { status: 'active' });
    tokens.resume(CUSTOMER, 'stripe');
    const resumed = await runBulkLoad(deps, {
      customerId: CUSTOMER,
      loadId: 'mid',
      source: source(),
      maxPageBytes: ONE_EVENT_PAGES,
    });
    expect(resumed.completed).toBe(true);
    expect(stub.apiCalls[3]).toMatchObject({ path: '/v1/customers', after: 'cus_3' });
    expect(new Set(queue.giftIds())).toEqual(new Set(SUCCEEDED));
    expect(new Set(queue.contactIds())).toEqual(new Set(customersData.map((c) => c.id)));
  });

  it('refuses an event naming both an export and a source, or an unknown source', async () => {
    const { tokens } = await setup();
    const select = historySourceSelector({ stripeConnect: () => ({ tokens }) });
    expect(() => select({ customerId: CUSTOMER, source: 'mailchimp' })).toThrow(ForbiddenInputError);
    expect(() => select({ customerId: CUSTOMER, source: STRIPE_CONNECT, export: { bucket: 'b', key: 'k' } })).toThrow(
      ForbiddenInputError,
    );
    expect(() => select({ customerId: CUSTOMER })).toThrow(ForbiddenInputError);
  });
});

/**
 * The client's own logic with a scripted fetch: what goes on the wire, statuses the simulator does not produce
 * (409, 422, redirects), tolerant parsing, and that a failing budget correction does not fail a served call.
 */
import { describe, expect, it } from 'vitest';
import { PermanentError, TransientError } from '../../../functions/shared/errors.ts';
import { createVirtuousClient, type VirtuousClientOptions } from '../../../functions/virtuous/client.ts';
import { InMemoryRateBudget, type RateBudget } from '../../../functions/virtuous/rate-budget.ts';
import { staticTokenSource } from '../../../functions/virtuous/token-source.ts';
import { DONOR, registerSecret } from '../../support/canaries.ts';

interface Sent {
  readonly url: string;
  readonly method: string;
  readonly headers: Headers;
  readonly body: unknown;
  readonly redirect: RequestInit['redirect'];
  readonly hasSignal: boolean;
}

const TOKEN = registerSecret('vtok_unit_0123456789abcdefghij');

function scripted(answers: Array<Response | (() => Response)>, overrides: Partial<VirtuousClientOptions> = {}) {
  const sent: Sent[] = [];
  const sleeps: number[] = [];
  const fetchStub = (async (input: string | URL | Request, init?: RequestInit) => {
    sent.push({
      url: String(input),
      method: init?.method ?? 'GET',
      headers: new Headers(init?.headers),
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
      redirect: init?.redirect,
      hasSignal: init?.signal instanceof AbortSignal,
    });
    const next = answers.shift();
    if (next === undefined) throw new Error('unexpected request');
    return typeof next === 'function' ? next() : next;
  }) as typeof fetch;
  const client = createVirtuousClient({
    baseUrl: 'https://api.virtuoussoftware.com',
    customerId: 'acme',
    tokens: staticTokenSource(TOKEN),
    budget: new InMemoryRateBudget({ hourlyBudget: 100 }),
    fetch: fetchStub,
    sleep: async (ms) => void sleeps.push(ms),
    random: () => 0.5,
    clock: () => Date.parse('2026-11-29T10:00:00Z'),
    ...overrides,
  });
  return { client, sent, sleeps };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });

describe('the wire', () => {
  it('sends the Bearer token, JSON with native types, a timeout signal, and never follows redirects', async () => {
    const { client, sent } = scripted([new Response(null, { status: 200 })]);
    await client.submitGift({
      transactionSource: 'Stripe',
      transactionId: 'pi_wire',
      contact: { referenceId: 'cus_wire', email: DONOR.email },
      giftDate: '2026-11-28',
      giftType: 'Credit',
      amount: 25,
    });
    expect(sent).toHaveLength(1);
    const [request] = sent;
    expect(request?.url).toBe('https://api.virtuoussoftware.com/api/v2/Gift/Transaction');
    expect(request?.method).toBe('POST');
    expect(request?.headers.get('authorization')).toBe(`Bearer ${TOKEN}`);
    expect(request?.headers.get('content-type')).toBe('application/json');
    expect(request?.redirect).toBe('manual');
    expect(request?.hasSignal).toBe(true);
    expect(request?.body).toMatchObject({ amount: 25, contact: { referenceId: 'cus_wire' } });
  });

  it('escapes identifiers in paths and sends the Query filter with skip/take', async () => {
    const { client, sent } = scripted([
      new Response('not found', { status: 404 }),
      json(200, { list: [], total: 0, skip: 0, take: 50 }),
    ]);
    expect(await client.findGiftByTransaction('Stripe', 'pi/../x')).toBeUndefined();
    await client.queryGiftsModifiedSince('2026-11-01T00:00:00Z', 0, 50);
    expect(sent[0]?.url).toBe('https://api.virtuoussoftware.com/api/Gift/Stripe/pi%2F..%2Fx');
    expect(sent[1]?.url).toBe('https://api.virtuoussoftware.com/api/Gift/Query?skip=0&take=50');
    expect(sent[1]?.body).toEqual({
      groups: [
        {
          conditions: [
            { parameter: 'Last Modified Date', operator: 'GreaterThanOrEqual', value: '2026-11-01T00:00:00Z' },
          ],
        },
      ],
      sortBy: 'Last Modified Date',
      descending: false,
    });
  });
});

describe('statuses', () => {
  it.each([
    [409, 'VIRTUOUS_CONFLICT'],
    [422, 'VIRTUOUS_UNPROCESSABLE'],
  ])('%i is a PermanentError and is not retried', async (status, code) => {
    const { client, sent, sleeps } = scripted([
      json(status, { error: { code: 'DUPLICATE_REFERENCE', message: DONOR.email } }),
    ]);
    const error = await client
      .submitContact({ referenceSource: 'Stripe', referenceId: 'cus_1', email: DONOR.email })
      .catch((e) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code, statusCode: status });
    expect(error.message).toBe(`submitContact: Virtuous answered ${status} (DUPLICATE_REFERENCE)`);
    expect(sent).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('a redirect is a PermanentError, and the token is not carried anywhere else', async () => {
    const { client, sent } = scripted([
      new Response(null, { status: 302, headers: { Location: 'https://elsewhere.example/' } }),
    ]);
    await expect(client.currentOrganization()).rejects.toMatchObject({ code: 'VIRTUOUS_UNEXPECTED_STATUS' });
    expect(sent.map((s) => s.url)).toEqual(['https://api.virtuoussoftware.com/api/Organization/Current']);
  });

  it('honours an HTTP-date Retry-After and backs off with full jitter otherwise, within maxAttempts', async () => {
    const { client, sleeps, sent } = scripted(
      [
        new Response('', { status: 429, headers: { 'Retry-After': 'Sun, 29 Nov 2026 10:00:04 GMT' } }),
        new Response('', { status: 503 }),
        new Response('', { status: 502 }),
        json(200, { organizationName: 'Org', organizationUserId: 7, isEnabled: true }),
      ],
      { maxAttempts: 4 },
    );
    expect((await client.currentOrganization()).organizationName).toBe('Org');
    expect(sleeps).toEqual([4_125, 250, 500]);
    expect(sent).toHaveLength(4);
  });

  it('starts no retry that could not finish within maxCallMs', async () => {
    let t = 0;
    const { client, sent, sleeps } = scripted(
      Array.from({ length: 10 }, () => () => {
        t += 1_000;
        return new Response('', { status: 503 });
      }),
      {
        maxAttempts: 10,
        timeoutMs: 5_000,
        backoff: { maxCallMs: 8_000 },
        clock: () => t,
        sleep: async (ms) => {
          sleeps.push(ms);
          t += ms;
        },
      },
    );
    await expect(client.currentOrganization()).rejects.toMatchObject({ code: 'VIRTUOUS_UNAVAILABLE' });
    // t=1000 +125 wait, t=2125 +250 wait, t=3375: another try could end after 3375+500+5000 > 8000.
    expect(sent).toHaveLength(3);
    expect(sleeps).toEqual([125, 250]);
  });

  it('transaction writes: 5xx is not retried (WRITE_OUTCOME_UNKNOWN); 429 is; reads retry 5xx', async () => {
    const contact = { referenceSource: 'Stripe', referenceId: 'cus_1', email: DONOR.email };
    const ambiguous = scripted([new Response('', { status: 503 })]);
    await expect(ambiguous.client.submitContact(contact)).rejects.toMatchObject({
      name: 'TransientError',
      code: 'WRITE_OUTCOME_UNKNOWN',
      statusCode: 503,
    });
    expect(ambiguous.sent).toHaveLength(1);

    const throttled = scripted([json(429, {}, { 'Retry-After': '1' }), new Response(null, { status: 200 })]);
    await expect(throttled.client.submitContact(contact)).resolves.toBeUndefined();
    expect(throttled.sent).toHaveLength(2);

    const read = scripted([new Response('', { status: 503 }), new Response('', { status: 404 })]);
    await expect(read.client.findGiftByTransaction('Stripe', 'pi_1')).resolves.toBeUndefined();
    expect(read.sent).toHaveLength(2);
  });

  it('a write answered 200 whose body is lost is stored: it resolves and is not sent again', async () => {
    const broken = new ReadableStream({
      start(controller) {
        controller.error(new TypeError('terminated'));
      },
    });
    const { client, sent } = scripted([new Response(broken, { status: 200 })]);
    await expect(
      client.submitContact({ referenceSource: 'Stripe', referenceId: 'cus_1', email: DONOR.email }),
    ).resolves.toBeUndefined();
    expect(sent).toHaveLength(1);
  });

  it('deleteWebhook treats 404 as already deleted; getWebhook does not', async () => {
    const { client } = scripted([new Response('', { status: 404 }), new Response('', { status: 404 })]);
    await expect(client.deleteWebhook(5)).resolves.toBeUndefined();
    await expect(client.getWebhook(5)).rejects.toMatchObject({ code: 'VIRTUOUS_NOT_FOUND' });
  });
});

describe('parsing', () => {
  it('reads numbers sent as strings, nulls as absent, and drops unknown fields', async () => {
    const { client } = scripted([
      json(200, {
        id: '42',
        transactionSource: 'Stripe',
        transactionId: 'pi_1',
        contactId: '7',
        amount: '12.50',
        giftDate: null,
        modifiedDateTimeUtc: '2026-11-29T00:00:00Z',
        batch: 'B-1',
        customFields: [{ name: 'x' }],
      }),
      json(200, { organizationName: null, organizationUserId: '1001', isEnabled: 'true', extra: 1 }),
    ]);
    expect(await client.findGiftByTransaction('Stripe', 'pi_1')).toEqual({
      id: 42,
      transactionSource: 'Stripe',
      transactionId: 'pi_1',
      contactId: 7,
      amount: 12.5,
      modifiedDateTimeUtc: '2026-11-29T00:00:00Z',
    });
    expect(await client.currentOrganization()).toEqual({
      organizationName: '',
      organizationUserId: '1001',
      isEnabled: true,
    });
  });

  it('a body of the wrong shape is a TransientError naming fields, not values', async () => {
    const { client } = scripted([json(200, { id: 'forty-two', amount: DONOR.email })], { maxAttempts: 1 });
    const error = await client.findGiftByTransaction('Stripe', 'pi_1').catch((e) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(error.message).toBe(
      'findGiftByTransaction: Virtuous answer did not have the expected shape (fields: id, amount)',
    );
  });

  it('replaceWebhook answered with no body returns what was written', async () => {
    const { client, sent } = scripted([new Response(null, { status: 200 })]);
    const secret = registerSecret('whsec_unit_0123456789abcdefghijklmnop');
    const subscription = { payloadUrl: 'https://hooks.example.com/v', secret, active: true, giftCreate: true };
    expect(await client.replaceWebhook(9, subscription)).toEqual({ ...subscription, id: 9 });
    expect(sent[0]?.method).toBe('PUT');
    expect(sent[0]?.body).toEqual({ ...subscription, id: 9 });
  });
});

describe('webhook payload URL', () => {
  const secret = registerSecret('whsec_unit_payload_0123456789abcdefghijk');
  const loopback = { payloadUrl: 'http://127.0.0.1:8080/webhooks/virtuous/acme', secret, active: true };

  it('refuses a plain-http loopback URL outside local mode, before anything is sent', async () => {
    const { client, sent } = scripted([]);
    await expect(client.createWebhook(loopback)).rejects.toMatchObject({
      name: 'ForbiddenInputError',
      code: 'INVALID_PAYLOAD_URL',
    });
    await expect(client.replaceWebhook(9, { ...loopback, payloadUrl: 'http://localhost/v' })).rejects.toMatchObject({
      code: 'INVALID_PAYLOAD_URL',
    });
    expect(sent).toEqual([]);
  });

  it('in local mode accepts plain http to loopback only', async () => {
    const { client, sent } = scripted([json(200, { ...loopback, id: 4 })], { allowLoopbackHttp: true });
    expect((await client.createWebhook(loopback)).id).toBe(4);
    await expect(
      client.createWebhook({ ...loopback, payloadUrl: 'http://hooks.example.com/webhooks/virtuous/acme' }),
    ).rejects.toMatchObject({ code: 'INVALID_PAYLOAD_URL' });
    expect(sent.map((request) => request.method)).toEqual(['POST']);
  });
});

describe('budget', () => {
  it('a failing correction does not fail a call Virtuous served', async () => {
    const budget: RateBudget = {
      acquire: async () => ({ granted: true, windowStart: 0 }),
      observe: () => Promise.reject(new TransientError('RATE_BUDGET_UNAVAILABLE', 'down')),
    };
    const { client } = scripted(
      [
        json(
          200,
          { organizationName: 'Org', organizationUserId: 1, isEnabled: true },
          { 'X-RateLimit-Remaining': '3' },
        ),
      ],
      { budget },
    );
    expect((await client.currentOrganization()).isEnabled).toBe(true);
    expect(client.lastRateLimit()).toEqual({ remaining: 3 });
  });
});

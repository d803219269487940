/**
 * The Virtuous simulator over HTTP: authentication and key revocation, the per-organization limit, held transactions
 * and the nightly batch (matching, needs-update, duplicate counting), webhook CRUD without a list endpoint, signed
 * deliveries checked with an independent HMAC computation, fault injection, and the HTTP control API.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DONOR, registerSecret } from '../../support/canaries.ts';
import {
  startTestSimulator,
  startWebhookReceiver,
  type TestSimulator,
  type WebhookReceiver,
} from '../../support/simulator.ts';

let sim: TestSimulator;
let receiver: WebhookReceiver;

beforeAll(async () => {
  // One delivery at a time, so a receiver's scripted answers meet the deliveries in a known order.
  sim = await startTestSimulator({ delivery: { retryDelaysMs: [5, 10], timeoutMs: 2_000, concurrency: 1 } });
  receiver = await startWebhookReceiver();
});

afterAll(async () => {
  await sim.close();
  await receiver.close();
});

async function api(apiKey: string | undefined, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${sim.baseUrl}${path}`, {
    method,
    headers: {
      ...(apiKey === undefined ? {} : { Authorization: `Bearer ${apiKey}` }),
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

function newSecret(): string {
  return registerSecret(randomBytes(32).toString('base64'));
}

function gift(transactionId: string, referenceId: string, amount: number, extra: Record<string, unknown> = {}) {
  return {
    transactionSource: 'Stripe',
    transactionId,
    contact: { referenceId, firstName: DONOR.firstName, lastName: DONOR.lastName, email: DONOR.email },
    giftDate: '2026-11-28',
    giftType: 'Credit',
    amount,
    currencyCode: 'USD',
    ...extra,
  };
}

/** HMAC-SHA256 of the raw bytes, compared in constant time, computed here without the simulator's signing code. */
function signatureMatches(secret: string, raw: Buffer, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  const expected = createHmac('sha256', secret).update(raw).digest();
  const given = Buffer.from(header, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

describe('authentication', () => {
  it('answers a missing or revoked key with the plain-text 401 and accepts the other keys of the organization', async () => {
    const { organizationId, apiKey } = sim.organization({ name: 'Auth Org' });
    const second = sim.addKey(organizationId);

    const anonymous = await api(undefined, 'GET', '/api/Organization/Current');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toContain('text/plain');
    expect(await anonymous.text()).toBe('Authorization has been denied for this request.');

    const current = await api(apiKey, 'GET', '/api/Organization/Current');
    expect(current.status).toBe(200);
    const info = (await current.json()) as Record<string, unknown>;
    expect(info).toMatchObject({
      organizationName: 'Auth Org',
      isEnabled: true,
      organizationUserId: 1000 + organizationId,
    });

    expect(sim.control.revokeApiKey(apiKey)).toBe(true);
    const revoked = await api(apiKey, 'GET', '/api/Organization/Current');
    expect(revoked.status).toBe(401);
    expect(await revoked.text()).toBe('Authorization has been denied for this request.');
    expect((await api(second, 'GET', '/api/Organization/Current')).status).toBe(200);
  });

  it('reports a disabled organization as isEnabled false and refuses its other calls with 403', async () => {
    const { organizationId, apiKey } = sim.organization({ isEnabled: false });
    const current = (await (await api(apiKey, 'GET', '/api/Organization/Current')).json()) as { isEnabled: boolean };
    expect(current.isEnabled).toBe(false);
    const lookup = await api(apiKey, 'GET', '/api/Gift/Stripe/pi_disabled');
    expect(lookup.status).toBe(403);
    expect(((await lookup.json()) as { error: { code: string } }).error.code).toBe('ORGANIZATION_DISABLED');
    sim.control.updateOrganization(organizationId, { isEnabled: true });
    expect((await api(apiKey, 'GET', '/api/Gift/Stripe/pi_disabled')).status).toBe(404);
  });
});

describe('rate limit', () => {
  it('counts every key of the organization against one hourly limit and answers 429 with Retry-After past it', async () => {
    const { organizationId, apiKey } = sim.organization({ rateLimitPerHour: 3 });
    const second = sim.addKey(organizationId);
    const first = await api(apiKey, 'GET', '/api/Organization/Current');
    expect(first.headers.get('x-ratelimit-limit')).toBe('3');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('2');
    const resetAt = Number(first.headers.get('x-ratelimit-reset'));
    expect(resetAt % 3600).toBe(0);
    expect(resetAt).toBeGreaterThan(Date.now() / 1000);
    expect((await api(second, 'GET', '/api/Organization/Current')).headers.get('x-ratelimit-remaining')).toBe('1');
    expect((await api(apiKey, 'GET', '/api/Organization/Current')).status).toBe(200);

    const limited = await api(second, 'GET', '/api/Organization/Current');
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');

    const requests = sim.control.inspect(organizationId).requests;
    expect(requests.filter((r) => r.counted)).toHaveLength(3);
    expect(requests.filter((r) => r.status === 429)).toHaveLength(1);
  });

  it('opens a new window when the simulated clock passes the hour', async () => {
    const { apiKey } = sim.organization({ rateLimitPerHour: 1 });
    expect((await api(apiKey, 'GET', '/api/Organization/Current')).status).toBe(200);
    expect((await api(apiKey, 'GET', '/api/Organization/Current')).status).toBe(429);
    sim.control.advanceClock(3_600_000);
    expect((await api(apiKey, 'GET', '/api/Organization/Current')).status).toBe(200);
  });

  it('can send the variant header spelling X-Rate-Limit-*', async () => {
    const { apiKey } = sim.organization({ rateLimitHeaderStyle: 'variant', rateLimitPerHour: 10 });
    const answer = await api(apiKey, 'GET', '/api/Organization/Current');
    expect(answer.headers.get('x-rate-limit-remaining')).toBe('9');
    expect(answer.headers.get('x-ratelimit-remaining')).toBeNull();
  });
});

describe('transactions and the nightly batch', () => {
  it('holds transactions until the batch, matches contacts by reference then email, and parks the rest', async () => {
    const { organizationId, apiKey } = sim.organization();
    const secret = newSecret();
    const created = await api(apiKey, 'POST', '/api/Webhook', {
      payloadUrl: receiver.url,
      secret,
      active: true,
      giftCreate: true,
      contactCreate: true,
    });
    expect(created.status).toBe(200);
    const webhook = (await created.json()) as { id: number; giftCreate: boolean; giftUpdate: boolean };
    expect(webhook.giftCreate).toBe(true);
    expect(webhook.giftUpdate).toBe(false);
    receiver.received.length = 0;

    // A contact by reference, and a gift for it in the same day.
    expect(
      (
        await api(apiKey, 'POST', '/api/Contact/Transaction', {
          referenceSource: 'Stripe',
          referenceId: 'cus_ref',
          firstName: DONOR.firstName,
          lastName: DONOR.lastName,
          email: DONOR.email,
        })
      ).status,
    ).toBe(200);
    expect((await api(apiKey, 'POST', '/api/v2/Gift/Transaction', gift('pi_by_reference', 'cus_ref', 25))).status).toBe(
      200,
    );
    // Unknown reference, but the email matches that contact.
    const byEmail = gift('pi_by_email', 'cus_other', 10.5);
    expect((await api(apiKey, 'POST', '/api/v2/Gift/Transaction', byEmail)).status).toBe(200);
    // Nothing resolvable: needs update.
    const orphan = { ...gift('pi_orphan', 'cus_nobody', 7), contact: { referenceId: 'cus_nobody' } };
    expect((await api(apiKey, 'POST', '/api/v2/Gift/Transaction', orphan)).status).toBe(200);
    // The same transaction again before the batch: recorded, merged into one gift.
    expect((await api(apiKey, 'POST', '/api/v2/Gift/Transaction', gift('pi_by_reference', 'cus_ref', 25))).status).toBe(
      200,
    );

    // Before the batch nothing exists: lookups answer 404.
    expect((await api(apiKey, 'GET', '/api/Gift/Stripe/pi_by_reference')).status).toBe(404);
    expect(sim.control.inspect(organizationId).held).toEqual({ gifts: 4, contacts: 1, reversals: 0 });

    const batch = await sim.control.nightlyBatch({ organizationId });
    expect(batch.organizations[0]).toMatchObject({
      contactsCreated: 1,
      giftsCreated: 2,
      needsUpdate: 1,
      duplicatesMerged: 1,
      deliveries: { delivered: 3, failed: 0, skipped: 0 },
    });

    const state = sim.control.inspect(organizationId);
    expect(state.giftTransactions).toEqual({
      'Stripe/pi_by_reference': 2,
      'Stripe/pi_by_email': 1,
      'Stripe/pi_orphan': 1,
    });
    expect(state.needsUpdate.map((entry) => entry.transactionId)).toEqual(['pi_orphan']);
    const contact = state.contacts[0];
    expect(state.gifts.map((g) => [g.transactionId, g.contactId, g.amount])).toEqual([
      ['pi_by_reference', contact?.id, 25],
      ['pi_by_email', contact?.id, 10.5],
    ]);

    const lookup = await api(apiKey, 'GET', '/api/Gift/Stripe/pi_by_email');
    expect(lookup.status).toBe(200);
    expect(((await lookup.json()) as { amount: unknown }).amount).toBe('10.50');
    expect((await api(apiKey, 'GET', '/api/Gift/Stripe/pi_orphan')).status).toBe(404);
    const contactLookup = await api(apiKey, 'GET', '/api/Contact/Stripe/cus_ref');
    expect(((await contactLookup.json()) as { id: number }).id).toBe(contact?.id);

    // Deliveries: one ContactCreate and two GiftCreate, each signed over its raw bytes with the subscription secret.
    expect(receiver.received).toHaveLength(3);
    const events = receiver.received.map((delivery) => {
      expect(signatureMatches(secret, delivery.rawBody, delivery.headers['x-virtuous-signature'])).toBe(true);
      expect(signatureMatches(newSecret(), delivery.rawBody, delivery.headers['x-virtuous-signature'])).toBe(false);
      return JSON.parse(delivery.rawBody.toString('utf8')) as {
        event: string;
        gift?: { transactionSource: string; transactionId: string; amount: number };
      };
    });
    expect(events.map((e) => e.event).sort()).toEqual(['ContactCreate', 'GiftCreate', 'GiftCreate']);
    const giftEvents = events.filter((e) => e.event === 'GiftCreate').map((e) => e.gift);
    expect(giftEvents).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ transactionSource: 'Stripe', transactionId: 'pi_by_reference', amount: 25 }),
        expect.objectContaining({ transactionSource: 'Stripe', transactionId: 'pi_by_email', amount: 10.5 }),
      ]),
    );

    // The orphan resolves once its contact exists (an admin fixing the needs-update bucket, or a later contact).
    await api(apiKey, 'POST', '/api/Contact/Transaction', {
      referenceSource: 'Stripe',
      referenceId: 'cus_nobody',
      lastName: DONOR.lastName,
    });
    await api(apiKey, 'POST', '/api/v2/Gift/Transaction', orphan);
    const second = await sim.control.nightlyBatch({ organizationId, deliverWebhooks: false });
    expect(second.organizations[0]).toMatchObject({ giftsCreated: 1, needsUpdate: 0 });
    expect(sim.control.inspect(organizationId).needsUpdate).toEqual([]);
  });

  it('validates batches all or nothing, enforces the batch size, and rejects designations that do not sum', async () => {
    const { organizationId, apiKey } = sim.organization();
    const transactions = Array.from({ length: 101 }, (_, i) => gift(`pi_big_${i}`, 'cus_big', 1));
    const tooLarge = await api(apiKey, 'POST', '/api/v2/Gift/Transactions', {
      transactionSource: 'Stripe',
      transactions,
    });
    expect(tooLarge.status).toBe(400);
    expect(((await tooLarge.json()) as { error: { code: string } }).error.code).toBe('BATCH_TOO_LARGE');

    const mixed = await api(apiKey, 'POST', '/api/v2/Gift/Transactions', {
      transactionSource: 'Stripe',
      transactions: [
        gift('pi_ok', 'cus_a', 10),
        gift('pi_bad', 'cus_a', 10, { designations: [{ code: 'GEN', amountDesignated: 9 }] }),
      ],
    });
    expect(mixed.status).toBe(400);
    const error = ((await mixed.json()) as { error: { details: Array<{ field: string; code: string }> } }).error;
    expect(error.details).toEqual([
      expect.objectContaining({ field: 'transactions[1].designations', code: 'SUM_MISMATCH' }),
    ]);
    expect(sim.control.inspect(organizationId).giftTransactions).toEqual({});

    const accepted = await api(apiKey, 'POST', '/api/v2/Gift/Transactions', {
      transactionSource: 'Stripe',
      transactions: transactions.slice(0, 100).map(({ transactionSource: _omitted, ...rest }) => rest),
    });
    expect(accepted.status).toBe(200);
    expect(await accepted.text()).toBe('');
    expect(Object.keys(sim.control.inspect(organizationId).giftTransactions)).toHaveLength(100);
  });

  it('applies a reversing transaction to a resolved gift at the next batch, once', async () => {
    const { organizationId, apiKey } = sim.organization();
    await api(apiKey, 'POST', '/api/Contact/Transaction', {
      referenceSource: 'Stripe',
      referenceId: 'cus_rev',
      email: DONOR.email,
    });
    await api(apiKey, 'POST', '/api/v2/Gift/Transaction', gift('pi_rev', 'cus_rev', 40));
    await sim.control.nightlyBatch({ organizationId });
    const original = sim.control.inspect(organizationId).gifts[0];
    expect(original).toBeDefined();
    expect(
      (await api(apiKey, 'POST', '/api/Gift/ReversingTransaction', { reversedGiftId: 999_999, giftDate: '2026-11-29' }))
        .status,
    ).toBe(404);
    const body = { reversedGiftId: original?.id, giftDate: '2026-11-29', notes: 'refund' };
    expect((await api(apiKey, 'POST', '/api/Gift/ReversingTransaction', body)).status).toBe(200);
    expect((await api(apiKey, 'POST', '/api/Gift/ReversingTransaction', body)).status).toBe(200);
    const batch = await sim.control.nightlyBatch({ organizationId });
    expect(batch.organizations[0]).toMatchObject({ reversalsCreated: 1, duplicatesMerged: 1 });
    const gifts = sim.control.inspect(organizationId).gifts;
    expect(gifts.map((g) => [g.giftType, g.amount, g.reversedGiftId])).toEqual([
      ['Credit', 40, undefined],
      ['ReversingTransaction', -40, original?.id],
    ]);
  });

  it('answers Query by modified date with paging and refuses take above 1000', async () => {
    const { organizationId, apiKey } = sim.organization();
    await api(apiKey, 'POST', '/api/Contact/Transaction', {
      referenceSource: 'Stripe',
      referenceId: 'cus_q',
      email: DONOR.email,
    });
    for (const id of ['pi_q1', 'pi_q2', 'pi_q3'])
      await api(apiKey, 'POST', '/api/v2/Gift/Transaction', gift(id, 'cus_q', 5));
    const before = new Date(sim.control.now()).toISOString();
    await sim.control.nightlyBatch({ organizationId });
    const query = (since: string) => ({
      groups: [{ conditions: [{ parameter: 'Last Modified Date', operator: 'GreaterThanOrEqual', value: since }] }],
    });
    const page = await api(apiKey, 'POST', '/api/Gift/Query?skip=1&take=1', query(before));
    expect(page.status).toBe(200);
    const body = (await page.json()) as {
      list: Array<{ transactionId: string }>;
      total: number;
      skip: number;
      take: number;
    };
    expect(body.total).toBe(3);
    expect(body.list.map((g) => g.transactionId)).toEqual(['pi_q2']);
    const future = await api(apiKey, 'POST', '/api/Gift/Query?skip=0&take=10', query('2999-01-01T00:00:00Z'));
    expect(((await future.json()) as { total: number }).total).toBe(0);
    expect((await api(apiKey, 'POST', '/api/Gift/Query?skip=0&take=1001', query(before))).status).toBe(400);
  });
});

describe('webhook subscriptions', () => {
  it('supports create, get, full replace, activate and delete, and has no list endpoint', async () => {
    const { organizationId, apiKey } = sim.organization();
    const firstSecret = newSecret();
    const created = (await (
      await api(apiKey, 'POST', '/api/Webhook', {
        payloadUrl: receiver.url,
        secret: firstSecret,
        giftCreate: true,
        contactCreate: true,
      })
    ).json()) as { id: number };
    expect((await api(apiKey, 'GET', '/api/Webhook')).status).toBe(404);

    const rotated = newSecret();
    const replaced = await api(apiKey, 'PUT', `/api/Webhook/${created.id}`, {
      payloadUrl: receiver.url,
      secret: rotated,
      active: true,
      giftCreate: true,
    });
    expect(replaced.status).toBe(200);
    const fetched = (await (await api(apiKey, 'GET', `/api/Webhook/${created.id}`)).json()) as Record<string, unknown>;
    // Full replace: contactCreate was not sent, so it is now off.
    expect(fetched).toMatchObject({ id: created.id, giftCreate: true, contactCreate: false, active: true });
    const snapshot = sim.control.inspect(organizationId).webhooks[0];
    expect(snapshot?.secretSha256).toBe(sha256(rotated));

    expect((await api(apiKey, 'PUT', `/api/Webhook/${created.id}/Active?active=false`)).status).toBe(200);
    expect(
      ((await (await api(apiKey, 'GET', `/api/Webhook/${created.id}`)).json()) as { active: boolean }).active,
    ).toBe(false);

    // A deactivated subscription drops events.
    await api(apiKey, 'POST', '/api/Contact/Transaction', {
      referenceSource: 'Stripe',
      referenceId: 'cus_w',
      email: DONOR.email,
    });
    await api(apiKey, 'POST', '/api/v2/Gift/Transaction', gift('pi_w', 'cus_w', 3));
    receiver.received.length = 0;
    const batch = await sim.control.nightlyBatch({ organizationId });
    expect(batch.organizations[0]?.deliveries).toEqual({ delivered: 0, failed: 0, skipped: 0 });
    expect(receiver.received).toHaveLength(0);

    expect((await api(apiKey, 'DELETE', `/api/Webhook/${created.id}`)).status).toBe(200);
    expect((await api(apiKey, 'DELETE', `/api/Webhook/${created.id}`)).status).toBe(404);
    expect((await api(apiKey, 'GET', `/api/Webhook/${created.id}`)).status).toBe(404);
  });

  it('retries a failing receiver a bounded number of times and never contacts a non-loopback URL', async () => {
    const { organizationId, apiKey } = sim.organization();
    const secret = newSecret();
    await api(apiKey, 'POST', '/api/Webhook', { payloadUrl: receiver.url, secret, giftCreate: true });
    await api(apiKey, 'POST', '/api/Webhook', {
      payloadUrl: 'https://hooks.example.com/virtuous',
      secret: newSecret(),
      giftCreate: true,
    });
    await api(apiKey, 'POST', '/api/Contact/Transaction', {
      referenceSource: 'Stripe',
      referenceId: 'cus_r',
      email: DONOR.email,
    });
    await api(apiKey, 'POST', '/api/v2/Gift/Transaction', gift('pi_r1', 'cus_r', 3));
    await api(apiKey, 'POST', '/api/v2/Gift/Transaction', gift('pi_r2', 'cus_r', 4));
    receiver.received.length = 0;
    // First gift: 500 then 200 (delivered on the second try). Second gift: three failures (dropped).
    receiver.respondWith([500, 200, 503, 404, 500]);
    const batch = await sim.control.nightlyBatch({ organizationId });
    expect(batch.organizations[0]?.deliveries).toEqual({ delivered: 1, failed: 1, skipped: 2 });
    expect(receiver.received).toHaveLength(5);
    const deliveries = sim.control.inspect(organizationId).deliveries;
    const toReceiver = deliveries.filter((d) => d.outcome !== 'skipped_not_loopback');
    expect(toReceiver.map((d) => [d.outcome, d.statuses])).toEqual([
      ['delivered', [500, 200]],
      ['failed', [503, 404, 500]],
    ]);
    expect(deliveries.filter((d) => d.outcome === 'skipped_not_loopback')).toHaveLength(2);
  });

  it('signs with a configurable header name and hex encoding', async () => {
    const hexSim = await startTestSimulator({ signatureHeader: 'X-Custom-Signature', signatureEncoding: 'hex' });
    try {
      const { organizationId, apiKey } = hexSim.organization();
      const secret = newSecret();
      const call = (method: string, path: string, body?: unknown) =>
        fetch(`${hexSim.baseUrl}${path}`, {
          method,
          headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
        });
      await call('POST', '/api/Webhook', { payloadUrl: receiver.url, secret, contactCreate: true });
      await call('POST', '/api/Contact/Transaction', {
        referenceSource: 'Stripe',
        referenceId: 'cus_hex',
        email: DONOR.email,
      });
      receiver.received.length = 0;
      await hexSim.control.nightlyBatch({ organizationId });
      const [delivery] = receiver.received;
      expect(delivery?.headers['x-virtuous-signature']).toBeUndefined();
      expect(delivery?.headers['x-custom-signature']).toBe(
        createHmac('sha256', secret)
          .update(delivery?.rawBody ?? '')
          .digest('hex'),
      );
    } finally {
      await hexSim.close();
    }
  });
});

describe('fault injection', () => {
  async function statuses(apiKey: string, count: number): Promise<number[]> {
    const result: number[] = [];
    for (let i = 0; i < count; i += 1) result.push((await api(apiKey, 'GET', '/api/Gift/Stripe/pi_none')).status);
    return result;
  }

  it('injects 5xx, 520 and 429 at the configured ratios, reproducibly for a seed', async () => {
    const { organizationId, apiKey } = sim.organization();
    const faults = { serverErrorRatio: 0.3, cdnErrorRatio: 0.1, throttleRatio: 0.1, seed: 42 };
    sim.control.setFaults(organizationId, faults);
    const first = await statuses(apiKey, 200);
    sim.control.setFaults(organizationId, faults);
    const second = await statuses(apiKey, 200);
    expect(second).toEqual(first);
    const serverErrors = first.filter((s) => s >= 500 && s < 520).length;
    expect(serverErrors).toBeGreaterThan(35);
    expect(serverErrors).toBeLessThan(85);
    expect(first.filter((s) => s === 520).length).toBeGreaterThan(5);
    expect(first.filter((s) => s === 429).length).toBeGreaterThan(5);
    expect(first.filter((s) => s === 404).length).toBeGreaterThan(60);
    sim.control.setFaults(organizationId, { serverErrorRatio: 0.3, seed: 7 });
    expect(await statuses(apiKey, 50)).not.toEqual(first.slice(0, 50));
  });

  it('answers plain-text errors when asked, holds timeouts, and cuts malformed bodies', async () => {
    const { organizationId, apiKey } = sim.organization();
    sim.control.setFaults(organizationId, { plainTextErrors: true });
    const notFound = await api(apiKey, 'GET', '/api/Gift/Stripe/pi_none');
    expect(notFound.status).toBe(404);
    expect(notFound.headers.get('content-type')).toContain('text/plain');

    sim.control.setFaults(organizationId, { malformedRatio: 1 });
    const malformed = await api(apiKey, 'GET', '/api/Organization/Current');
    expect(malformed.status).toBe(200);
    const text = await malformed.text();
    expect(() => JSON.parse(text)).toThrow();

    sim.control.setFaults(organizationId, { timeoutRatio: 1 });
    await expect(
      fetch(`${sim.baseUrl}/api/Organization/Current`, {
        headers: { Authorization: `Bearer ${apiKey}` },
        signal: AbortSignal.timeout(200),
      }),
    ).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(sim.control.inspect(organizationId).faultsInjected).toMatchObject({ timeout: 1, malformed: 1 });
  });
});

describe('HTTP control API', () => {
  it('creates organizations, sets faults, runs the batch and reports state over HTTP', async () => {
    const control = (method: string, path: string, body?: unknown) =>
      fetch(`${sim.baseUrl}/_control${path}`, {
        method,
        headers: { 'Content-Type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const created = await control('POST', '/organizations', { name: 'Over HTTP', rateLimitPerHour: 50 });
    expect(created.status).toBe(201);
    const { organizationId, apiKey } = (await created.json()) as { organizationId: number; apiKey: string };
    registerSecret(apiKey);
    await api(apiKey, 'POST', '/api/Contact/Transaction', {
      referenceSource: 'Stripe',
      referenceId: 'cus_http',
      email: DONOR.email,
    });
    expect((await control('PUT', `/organizations/${organizationId}/faults`, { serverErrorRatio: 2 })).status).toBe(400);
    const batch = await control('POST', '/nightly-batch', { organizationId });
    expect(
      ((await batch.json()) as { organizations: Array<{ contactsCreated: number }> }).organizations[0]?.contactsCreated,
    ).toBe(1);
    const state = (await (await control('GET', `/organizations/${organizationId}/state`)).json()) as {
      contactTransactions: Record<string, number>;
      rateLimitPerHour: number;
    };
    expect(state.contactTransactions).toEqual({ 'Stripe/cus_http': 1 });
    expect(state.rateLimitPerHour).toBe(50);
    const revoke = await control('POST', '/keys/revoke', { apiKey });
    expect(await revoke.json()).toEqual({ revoked: true });
    expect((await api(apiKey, 'GET', '/api/Organization/Current')).status).toBe(401);

    const added = (await (await control('POST', `/organizations/${organizationId}/keys`)).json()) as { apiKey: string };
    registerSecret(added.apiKey);
    expect((await control('PATCH', `/organizations/${organizationId}`, { isEnabled: false })).status).toBe(200);
    const current = await api(added.apiKey, 'GET', '/api/Organization/Current');
    expect(((await current.json()) as { isEnabled: boolean }).isEnabled).toBe(false);

    const before = sim.control.now();
    const clock = (await (await control('POST', '/clock', { advanceSeconds: 60 })).json()) as { now: number };
    expect(clock.now - before).toBeGreaterThanOrEqual(60_000);
    expect((await control('GET', '/unknown')).status).toBe(404);
    expect((await control('GET', '/organizations/99999/state')).status).toBe(400);
  });

  it('refuses oversized bodies with 413 and invalid JSON with 400', async () => {
    const small = await startTestSimulator({ maxBodyBytes: 1_024 });
    try {
      const { apiKey } = small.organization();
      const post = (body: string) =>
        fetch(`${small.baseUrl}/api/Contact/Transaction`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
          body,
        });
      expect((await post('x'.repeat(2_048))).status).toBe(413);
      expect((await post('{"referenceSource":')).status).toBe(400);
      // Reset empties every organization: the key no longer authenticates.
      const reset = await fetch(`${small.baseUrl}/_control/reset`, { method: 'POST' });
      expect(reset.status).toBe(200);
      expect(
        (await fetch(`${small.baseUrl}/api/Organization/Current`, { headers: { Authorization: `Bearer ${apiKey}` } }))
          .status,
      ).toBe(401);
    } finally {
      await small.close();
    }
  });
});

function sha256(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

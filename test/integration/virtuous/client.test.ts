/**
 * The Virtuous client against the simulator over HTTP: every operation, the error classes Virtuous produces
 * (plain-text 401, 403, 404, 400, 429 + Retry-After, 5xx, 520, timeouts, malformed bodies), the 401 token re-read,
 * the rate-limit headers, the shared budget, and the refusal of plain http.
 */

import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ForbiddenInputError,
  PermanentError,
  RecoverableError,
  TransientError,
} from '../../../functions/shared/errors.ts';
import type { GiftTransaction } from '../../../functions/virtuous/api.ts';
import { createVirtuousClient, type VirtuousClientOptions } from '../../../functions/virtuous/client.ts';
import { InMemoryRateBudget } from '../../../functions/virtuous/rate-budget.ts';
import { staticTokenSource, type TokenSource } from '../../../functions/virtuous/token-source.ts';
import { DONOR, PII_CANARIES, registerSecret } from '../../support/canaries.ts';
import { startTestSimulator, type TestSimulator } from '../../support/simulator.ts';

let sim: TestSimulator;

beforeAll(async () => {
  sim = await startTestSimulator({ timeoutHoldMs: 5_000 });
});

afterAll(async () => {
  await sim.close();
});

interface Harness {
  readonly sleeps: number[];
  readonly budget: InMemoryRateBudget;
  readonly organizationId: number;
  readonly apiKey: string;
  client(overrides?: Partial<VirtuousClientOptions>): ReturnType<typeof createVirtuousClient>;
  /** Requests that reached the organization (authenticated), by route template. */
  requests(): string[];
}

function harness(orgInput: Parameters<TestSimulator['organization']>[0] = {}): Harness {
  const { organizationId, apiKey } = sim.organization(orgInput);
  const sleeps: number[] = [];
  const budget = new InMemoryRateBudget({ hourlyBudget: 1_000, now: () => sim.control.now() });
  return {
    sleeps,
    budget,
    organizationId,
    apiKey,
    client: (overrides = {}) =>
      createVirtuousClient({
        baseUrl: sim.baseUrl,
        customerId: 'acme',
        tokens: staticTokenSource(apiKey),
        budget,
        clock: () => sim.control.now(),
        timeoutMs: 2_000,
        maxAttempts: 3,
        allowLoopbackHttp: true,
        sleep: async (ms) => {
          sleeps.push(ms);
        },
        random: () => 0.5,
        ...overrides,
      }),
    requests: () => sim.control.inspect(organizationId).requests.map((r) => `${r.route} ${r.status}`),
  };
}

function gift(transactionId: string, amount = 12.5): GiftTransaction {
  return {
    transactionSource: 'Stripe',
    transactionId,
    contact: { referenceId: 'cus_client', firstName: DONOR.firstName, lastName: DONOR.lastName, email: DONOR.email },
    giftDate: '2026-11-28',
    giftType: 'Credit',
    amount,
    currencyCode: 'USD',
    designations: [{ code: 'GENERAL', amountDesignated: amount }],
  };
}

function webhookSecret(): string {
  return registerSecret(randomBytes(32).toString('base64'));
}

async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

function expectNoDonorData(error: Error): void {
  for (const canary of PII_CANARIES) expect(error.message).not.toContain(canary);
}

describe('base URL', () => {
  const base = {
    customerId: 'acme',
    tokens: staticTokenSource('unused'),
    budget: new InMemoryRateBudget({ hourlyBudget: 10 }),
  };

  it('refuses plain http unless it is loopback and local mode allows it', () => {
    expect(() => createVirtuousClient({ ...base, baseUrl: sim.baseUrl })).toThrow(ForbiddenInputError);
    expect(() =>
      createVirtuousClient({ ...base, baseUrl: 'http://api.virtuoussoftware.com', allowLoopbackHttp: true }),
    ).toThrow(expect.objectContaining({ code: 'INSECURE_VIRTUOUS_BASE_URL' }));
    expect(() => createVirtuousClient({ ...base, baseUrl: 'http://10.0.0.5:8080', allowLoopbackHttp: true })).toThrow(
      ForbiddenInputError,
    );
    expect(() => createVirtuousClient({ ...base, baseUrl: sim.baseUrl, allowLoopbackHttp: true })).not.toThrow();
    expect(() => createVirtuousClient({ ...base, baseUrl: 'https://api.virtuoussoftware.com' })).not.toThrow();
  });

  it('refuses credentials in the URL, non-URLs, other schemes, and disabled TLS verification', () => {
    expect(() => createVirtuousClient({ ...base, baseUrl: 'https://user:pw@api.virtuoussoftware.com' })).toThrow(
      expect.objectContaining({ code: 'INVALID_VIRTUOUS_BASE_URL' }),
    );
    expect(() => createVirtuousClient({ ...base, baseUrl: 'not a url' })).toThrow(ForbiddenInputError);
    expect(() => createVirtuousClient({ ...base, baseUrl: 'ftp://api.virtuoussoftware.com' })).toThrow(
      ForbiddenInputError,
    );
    const previous = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    try {
      expect(() => createVirtuousClient({ ...base, baseUrl: 'https://api.virtuoussoftware.com' })).toThrow(
        expect.objectContaining({ code: 'TLS_VERIFICATION_DISABLED' }),
      );
    } finally {
      if (previous === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = previous;
    }
  });
});

describe('operations', () => {
  it('checks the organization, manages a webhook, submits, looks up, queries and reverses', async () => {
    const h = harness({ name: 'Client Org' });
    const client = h.client();
    const org = await client.currentOrganization();
    expect(org).toEqual({
      organizationName: 'Client Org',
      organizationUserId: 1000 + h.organizationId,
      organizationTimeZone: 'Central Standard Time',
      isAdministrator: false,
      isEnabled: true,
    });

    const secret = webhookSecret();
    const created = await client.createWebhook({
      payloadUrl: 'https://hooks.example.com/v',
      secret,
      active: true,
      giftCreate: true,
    });
    expect(created).toMatchObject({
      payloadUrl: 'https://hooks.example.com/v',
      active: true,
      giftCreate: true,
      contactCreate: false,
    });
    expect(await client.getWebhook(created.id)).toEqual(created);
    const rotated = webhookSecret();
    const replaced = await client.replaceWebhook(created.id, { ...created, secret: rotated, contactCreate: true });
    expect(replaced).toMatchObject({ id: created.id, contactCreate: true, giftCreate: true });
    await client.setWebhookActive(created.id, false);
    expect((await client.getWebhook(created.id)).active).toBe(false);
    await client.deleteWebhook(created.id);
    await client.deleteWebhook(created.id);
    const missing = await caught(client.getWebhook(created.id));
    expect(missing).toBeInstanceOf(PermanentError);
    expect(missing).toMatchObject({ code: 'VIRTUOUS_NOT_FOUND', statusCode: 404 });

    await client.submitContact({
      referenceSource: 'Stripe',
      referenceId: 'cus_client',
      firstName: DONOR.firstName,
      lastName: DONOR.lastName,
      email: DONOR.email,
      address: { address1: DONOR.address1, city: DONOR.city, postal: DONOR.postal },
    });
    await client.submitGift(gift('pi_single', 19.99));
    const many = Array.from({ length: 250 }, (_, i) => gift(`pi_bulk_${i}`, 1 + i));
    const chunks: number[] = [];
    await client.submitGifts('Stripe', many, { onChunkSubmitted: (submitted) => void chunks.push(submitted.length) });
    expect(chunks).toEqual([100, 100, 50]);
    expect(h.requests().filter((r) => r.startsWith('POST /api/v2/Gift/Transactions'))).toHaveLength(3);

    expect(await client.findGiftByTransaction('Stripe', 'pi_single')).toBeUndefined();
    expect(await client.findContactByReference('Stripe', 'cus_client')).toBeUndefined();
    const before = new Date(sim.control.now() - 1000).toISOString();
    await sim.control.nightlyBatch({ organizationId: h.organizationId });

    const found = await client.findGiftByTransaction('Stripe', 'pi_single');
    // The simulator sends the amount as the string "19.99": the client reads a number.
    expect(found).toMatchObject({ transactionSource: 'Stripe', transactionId: 'pi_single', amount: 19.99 });
    const contact = await client.findContactByReference('Stripe', 'cus_client');
    expect(contact).toMatchObject({ referenceSource: 'Stripe', referenceId: 'cus_client' });
    expect(found?.contactId).toBe(contact?.id);

    const page = await client.queryGiftsModifiedSince(before, 0, 1000);
    expect(page.total).toBe(251);
    expect(page.list).toHaveLength(251);
    expect(page.list.every((g) => typeof g.amount === 'number')).toBe(true);
    const second = await client.queryGiftsModifiedSince(before, 250, 10);
    expect(second).toMatchObject({ total: 251, skip: 250, take: 10 });
    expect(second.list).toHaveLength(1);
    const contacts = await client.queryContactsModifiedSince(before, 0, 10);
    expect(contacts.list.map((c) => c.id)).toEqual([contact?.id]);

    await client.reverseGift({ reversedGiftId: found?.id as number, giftDate: '2026-11-29' });
    await sim.control.nightlyBatch({ organizationId: h.organizationId });
    const state = sim.control.inspect(h.organizationId);
    expect(state.gifts.find((g) => g.reversedGiftId === found?.id)?.amount).toBe(-19.99);
    expect(state.giftTransactions['Stripe/pi_single']).toBe(1);
    expect(h.sleeps).toEqual([]);
  });

  it('refuses arguments Virtuous would refuse, before spending a request', async () => {
    const h = harness();
    const client = h.client();
    await expect(client.queryGiftsModifiedSince('2026-01-01T00:00:00Z', 0, 1001)).rejects.toThrow(ForbiddenInputError);
    await expect(client.queryGiftsModifiedSince('yesterday', 0, 10)).rejects.toThrow(ForbiddenInputError);
    const unbalanced = { ...gift('pi_unbalanced', 10), designations: [{ code: 'GENERAL', amountDesignated: 9 }] };
    await expect(client.submitGift(unbalanced)).rejects.toMatchObject({ code: 'INVALID_TRANSACTION' });
    await expect(client.submitGift({ ...gift('pi_cents'), amount: 1250.001 })).rejects.toThrow(ForbiddenInputError);
    await expect(client.submitGifts('Mailchimp', [gift('pi_mixed')])).rejects.toMatchObject({
      code: 'MIXED_TRANSACTION_SOURCES',
    });
    await expect(
      client.createWebhook({ payloadUrl: 'https://x.example', secret: 'short', active: true }),
    ).rejects.toMatchObject({
      code: 'WEAK_WEBHOOK_SECRET',
    });
    expect(h.requests()).toEqual([]);
  });
});

describe('error classes', () => {
  it('400: PermanentError with status and Virtuous code, never the data sent', async () => {
    const h = harness();
    const error = await caught(
      h.client().submitContact({ referenceSource: 'Stripe', referenceId: 'cus_noname', phone: DONOR.phone }),
    );
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code: 'VIRTUOUS_BAD_REQUEST', statusCode: 400 });
    expect(error.message).toBe('submitContact: Virtuous answered 400 (VALIDATION_ERROR) fields: lastName:REQUIRED');
    expectNoDonorData(error);
    expect(h.requests()).toHaveLength(1);
  });

  it('403 for a disabled organization and 404 of a reversal: PermanentError, not retried', async () => {
    const h = harness({ isEnabled: false });
    const client = h.client();
    expect((await client.currentOrganization()).isEnabled).toBe(false);
    await expect(client.submitGift(gift('pi_403'))).rejects.toMatchObject({
      name: 'PermanentError',
      code: 'VIRTUOUS_FORBIDDEN',
      statusCode: 403,
    });
    sim.control.updateOrganization(h.organizationId, { isEnabled: true });
    await expect(client.reverseGift({ reversedGiftId: 424242, giftDate: '2026-11-29' })).rejects.toMatchObject({
      code: 'VIRTUOUS_NOT_FOUND',
    });
    expect(h.requests()).toHaveLength(3);
  });

  it('plain-text error bodies are classified by status alone', async () => {
    const h = harness({ faults: { plainTextErrors: true } });
    const error = await caught(h.client().getWebhook(9_999));
    expect(error).toMatchObject({ name: 'PermanentError', code: 'VIRTUOUS_NOT_FOUND', statusCode: 404 });
    expect(error.message).toBe('getWebhook: Virtuous answered 404');
  });

  it('401: re-reads the token once and retries; a second 401 is a RecoverableError', async () => {
    const h = harness();
    const revoked = h.apiKey;
    const fresh = sim.addKey(h.organizationId);
    sim.control.revokeApiKey(revoked);

    let reads = 0;
    let invalidations = 0;
    const rotating: TokenSource = {
      current: async () => (reads++ === 0 ? revoked : fresh),
      invalidate: () => void invalidations++,
    };
    expect((await h.client({ tokens: rotating }).currentOrganization()).isEnabled).toBe(true);
    expect([reads, invalidations]).toEqual([2, 1]);

    let stuckInvalidations = 0;
    const stuck: TokenSource = { current: async () => revoked, invalidate: () => void stuckInvalidations++ };
    const error = await caught(h.client({ tokens: stuck }).submitGift(gift('pi_401')));
    expect(error).toBeInstanceOf(RecoverableError);
    expect(error).toMatchObject({ code: 'VIRTUOUS_UNAUTHORIZED', statusCode: 401 });
    expect(stuckInvalidations).toBe(1);
    // 401s belong to no organization: only the one successful call reached it.
    expect(h.requests()).toHaveLength(1);
    expect(h.sleeps).toEqual([]);
  });

  it('429 with Retry-After: waits as told, then succeeds; gives up after the bounded attempts', async () => {
    const h = harness({ faults: { throttleRatio: 1, throttleRetryAfterSeconds: 2 } });
    const error = await caught(h.client().findGiftByTransaction('Stripe', 'pi_429'));
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ code: 'VIRTUOUS_RATE_LIMITED', statusCode: 429, retryAfterSeconds: 2 });
    expect(h.requests()).toHaveLength(3);
    // Retry-After (2 s) plus a little jitter, before each of the two retries.
    expect(h.sleeps).toHaveLength(2);
    for (const ms of h.sleeps) {
      expect(ms).toBeGreaterThanOrEqual(2_000);
      expect(ms).toBeLessThan(3_000);
    }

    sim.control.setFaults(h.organizationId, { throttleRatio: 0.5, throttleRetryAfterSeconds: 1, seed: 3 });
    const client = h.client({ maxAttempts: 10 });
    for (let i = 0; i < 10; i += 1) expect(await client.findGiftByTransaction('Stripe', `pi_429_${i}`)).toBeUndefined();
  });

  it('429 past the hourly limit with a long Retry-After: fails at once for the caller to reschedule', async () => {
    // Without rate-limit headers the budget cannot know the organization is spent, so Virtuous's 429 decides.
    const h = harness({ rateLimitPerHour: 1, rateLimitHeaderStyle: 'none' });
    const client = h.client();
    await client.currentOrganization();
    const error = await caught(client.currentOrganization());
    expect(error).toMatchObject({ name: 'TransientError', code: 'VIRTUOUS_RATE_LIMITED', statusCode: 429 });
    expect((error as TransientError).retryAfterSeconds).toBeGreaterThan(30);
    expect(h.sleeps).toEqual([]);
    expect(h.requests()).toEqual(['GET /api/Organization/Current 200', 'GET /api/Organization/Current 429']);
  });

  it('with rate-limit headers the budget stops the call before Virtuous has to answer 429', async () => {
    const h = harness({ rateLimitPerHour: 1 });
    const client = h.client();
    await client.currentOrganization();
    const error = await caught(client.currentOrganization());
    expect(error).toMatchObject({ name: 'TransientError', code: 'RATE_BUDGET_EXHAUSTED' });
    expect(h.requests()).toEqual(['GET /api/Organization/Current 200']);
  });

  it('5xx and 520: retried with backoff, then a TransientError carrying the status', async () => {
    const h = harness({ faults: { cdnErrorRatio: 1 } });
    const cdn = await caught(h.client().currentOrganization());
    expect(cdn).toMatchObject({ name: 'TransientError', code: 'VIRTUOUS_CDN_ERROR', statusCode: 520 });
    expect(cdn.message).toBe('currentOrganization: Virtuous answered 520');
    // Full jitter with random() = 0.5: half of 250 ms, then half of 500 ms.
    expect(h.sleeps).toEqual([125, 250]);

    sim.control.setFaults(h.organizationId, { serverErrorRatio: 1 });
    const unavailable = await caught(h.client().findGiftByTransaction('Stripe', 'pi_5xx'));
    expect(unavailable).toMatchObject({ name: 'TransientError', code: 'VIRTUOUS_UNAVAILABLE' });
    expect([500, 502, 503]).toContain((unavailable as TransientError).statusCode);

    sim.control.setFaults(h.organizationId, { serverErrorRatio: 0.5, seed: 11 });
    const client = h.client({ maxAttempts: 8 });
    for (let i = 0; i < 10; i += 1)
      expect(await client.findGiftByTransaction('Stripe', `pi_recover_${i}`)).toBeUndefined();
  });

  it('a transaction write answered 5xx is not retried: WRITE_OUTCOME_UNKNOWN carrying the status, one request', async () => {
    const h = harness({ faults: { serverErrorRatio: 1 } });
    const error = await caught(h.client().submitGift(gift('pi_5xx_write')));
    expect(error).toMatchObject({ name: 'TransientError', code: 'WRITE_OUTCOME_UNKNOWN' });
    expect([500, 502, 503]).toContain((error as TransientError).statusCode);
    expect((error.cause as TransientError).code).toBe('VIRTUOUS_UNAVAILABLE');
    expect(error.message).toMatch(/^submitGift: Virtuous may have stored the write, its outcome is unknown/);
    expectNoDonorData(error);
    expect(h.requests()).toEqual([expect.stringMatching(/^POST \/api\/v2\/Gift\/Transaction 50[023]$/)]);
    expect(h.sleeps).toEqual([]);

    sim.control.setFaults(h.organizationId, { cdnErrorRatio: 1 });
    const cdn = await caught(h.client().submitContact({ referenceSource: 'Stripe', referenceId: 'cus_520' }));
    expect(cdn).toMatchObject({ code: 'WRITE_OUTCOME_UNKNOWN', statusCode: 520 });
    expect(h.requests()).toHaveLength(2);
  });

  it('a batch stored and then answered 502: WRITE_OUTCOME_UNKNOWN, stored once, not sent again', async () => {
    const h = harness({ faults: { serverErrorAfterProcessingRatio: 1 } });
    const error = await caught(h.client().submitGifts('Stripe', [gift('pi_batch_a'), gift('pi_batch_b')]));
    expect(error).toMatchObject({ name: 'TransientError', code: 'WRITE_OUTCOME_UNKNOWN', statusCode: 502 });
    expect(sim.control.inspect(h.organizationId).giftTransactions).toEqual({
      'Stripe/pi_batch_a': 1,
      'Stripe/pi_batch_b': 1,
    });
    expect(sim.control.inspect(h.organizationId).faultsInjected.serverErrorAfterProcessing).toBe(1);
  });

  it('writes refused before processing (429) are retried and stored exactly once', async () => {
    const h = harness({ faults: { throttleRatio: 0.5, throttleRetryAfterSeconds: 1, seed: 11 } });
    const client = h.client({ maxAttempts: 8 });
    for (let i = 0; i < 10; i += 1) await client.submitGift(gift(`pi_recover_${i}`));
    const submissions = sim.control.inspect(h.organizationId).giftTransactions;
    expect(Object.values(submissions)).toEqual(Array(10).fill(1));
    expect(sim.control.inspect(h.organizationId).faultsInjected.throttle).toBeGreaterThan(0);
  });

  it('timeouts: each try is cut at timeoutMs and the call ends in a TransientError', async () => {
    const h = harness({ faults: { timeoutRatio: 1 } });
    const started = performance.now();
    const error = await caught(h.client({ timeoutMs: 150, maxAttempts: 2 }).currentOrganization());
    expect(error).toMatchObject({ name: 'TransientError', code: 'VIRTUOUS_TIMEOUT' });
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(h.requests()).toHaveLength(2);
  });

  it('a write stored by Virtuous whose answer is lost (timeout) is not re-submitted: WRITE_OUTCOME_UNKNOWN', async () => {
    // Before the fix this showed 2 submissions: a retry after the timeout stored the gift again.
    const h = harness({ faults: { timeoutAfterProcessingRatio: 1 } });
    const error = await caught(h.client({ timeoutMs: 100, maxAttempts: 2 }).submitGift(gift('pi_ambiguous')));
    expect(error).toMatchObject({ name: 'TransientError', code: 'WRITE_OUTCOME_UNKNOWN' });
    expect((error.cause as TransientError).code).toBe('VIRTUOUS_TIMEOUT');
    expect(sim.control.inspect(h.organizationId).giftTransactions).toEqual({ 'Stripe/pi_ambiguous': 1 });
    expect(h.sleeps).toEqual([]);
  });

  it('a reversal stored and then answered 502 or lost (timeout) is sent once: WRITE_OUTCOME_UNKNOWN', async () => {
    // Before the fix a retry posted the reversal again: a refund reversed twice.
    const h = harness();
    const client = h.client({ timeoutMs: 150 });
    await client.submitContact({
      referenceSource: 'Stripe',
      referenceId: 'cus_client',
      firstName: DONOR.firstName,
      lastName: DONOR.lastName,
      email: DONOR.email,
    });
    await client.submitGift(gift('pi_reversed_once'));
    await sim.control.nightlyBatch({ organizationId: h.organizationId, deliverWebhooks: false });
    const giftId = (await client.findGiftByTransaction('Stripe', 'pi_reversed_once'))?.id as number;
    for (const faults of [{ serverErrorAfterProcessingRatio: 1 }, { timeoutAfterProcessingRatio: 1 }]) {
      sim.control.setFaults(h.organizationId, faults);
      const before = h.requests().length;
      const error = await caught(client.reverseGift({ reversedGiftId: giftId, giftDate: '2026-11-29' }));
      expect(error).toMatchObject({ name: 'TransientError', code: 'WRITE_OUTCOME_UNKNOWN' });
      expect(h.requests().slice(before)).toHaveLength(1);
    }
    expect(sim.control.inspect(h.organizationId).reversalTransactions).toEqual({ [String(giftId)]: 2 });
    expect(h.sleeps).toEqual([]);
  });

  it('a webhook create answered after processing is not retried: one subscription, WRITE_OUTCOME_UNKNOWN', async () => {
    const h = harness({ faults: { timeoutAfterProcessingRatio: 1 } });
    const subscription = { payloadUrl: 'https://hooks.example.com/webhooks/virtuous/acme', active: true };
    const timedOut = await caught(
      h.client({ timeoutMs: 150 }).createWebhook({ ...subscription, secret: webhookSecret() }),
    );
    expect(timedOut).toMatchObject({ name: 'TransientError', code: 'WRITE_OUTCOME_UNKNOWN' });
    expect(sim.control.inspect(h.organizationId).webhooks).toHaveLength(1);
    sim.control.setFaults(h.organizationId, { serverErrorAfterProcessingRatio: 1 });
    const bad = await caught(h.client().createWebhook({ ...subscription, secret: webhookSecret() }));
    expect(bad).toMatchObject({ name: 'TransientError', code: 'WRITE_OUTCOME_UNKNOWN', statusCode: 502 });
    expect(sim.control.inspect(h.organizationId).webhooks).toHaveLength(2);
    expect(h.requests()).toHaveLength(2);
    expect(h.sleeps).toEqual([]);
  });

  it('webhook PUT and DELETE are idempotent: retried after an ambiguous 502', async () => {
    const h = harness();
    const client = h.client({ maxAttempts: 10 });
    const created = await client.createWebhook({
      payloadUrl: 'https://hooks.example.com/webhooks/virtuous/acme',
      active: true,
      secret: webhookSecret(),
    });
    sim.control.setFaults(h.organizationId, { serverErrorAfterProcessingRatio: 0.5, seed: 3 });
    const before = h.requests().length;
    await client.replaceWebhook(created.id, { ...created, secret: webhookSecret(), contactCreate: true });
    await client.deleteWebhook(created.id);
    expect(sim.control.inspect(h.organizationId).faultsInjected.serverErrorAfterProcessing).toBeGreaterThan(0);
    expect(h.requests().length - before).toBeGreaterThan(2);
    expect(sim.control.inspect(h.organizationId).webhooks).toHaveLength(0);
  });

  it('a connection reset after the request was sent leaves a write in doubt; a read is retried', async () => {
    let requests = 0;
    const server = createServer((request) => {
      requests += 1;
      request.resume();
      request.on('end', () => request.socket.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as AddressInfo;
    try {
      const h = harness();
      const client = h.client({ baseUrl: `http://127.0.0.1:${port}` });
      const error = await caught(client.submitGift(gift('pi_reset')));
      expect(error).toMatchObject({ name: 'TransientError', code: 'WRITE_OUTCOME_UNKNOWN' });
      expect((error.cause as TransientError).code).toBe('VIRTUOUS_NETWORK_ERROR');
      expect(requests).toBe(1);
      const read = await caught(client.findGiftByTransaction('Stripe', 'pi_reset'));
      expect(read).toMatchObject({ name: 'TransientError', code: 'VIRTUOUS_NETWORK_ERROR' });
      expect(requests).toBe(4);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('malformed bodies: TransientError naming no content', async () => {
    const h = harness({ faults: { malformedRatio: 1 } });
    const error = await caught(h.client({ maxAttempts: 1 }).findContactByReference('Stripe', 'cus_x'));
    expect(error).toMatchObject({ name: 'TransientError', code: 'VIRTUOUS_MALFORMED_RESPONSE' });
  });

  it('refused connections: TransientError VIRTUOUS_NETWORK_ERROR after the bounded attempts', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const h = harness();
    const error = await caught(h.client({ baseUrl: `http://127.0.0.1:${port}` }).currentOrganization());
    expect(error).toMatchObject({ name: 'TransientError', code: 'VIRTUOUS_NETWORK_ERROR' });
    expect(error.message).toBe('currentOrganization: could not reach Virtuous (ECONNREFUSED)');
    expect(h.sleeps).toHaveLength(2);
    // Nothing was sent, so a transaction write is retried too and keeps the plain network error.
    const write = await caught(h.client({ baseUrl: `http://127.0.0.1:${port}` }).submitGift(gift('pi_refused')));
    expect(write).toMatchObject({ name: 'TransientError', code: 'VIRTUOUS_NETWORK_ERROR' });
    expect(h.sleeps).toHaveLength(4);
  });
});

describe('rate-limit headers and the budget', () => {
  it('reads both header spellings and raises the budget when Virtuous has fewer left', async () => {
    for (const style of ['standard', 'variant'] as const) {
      const h = harness({ rateLimitPerHour: 100, rateLimitHeaderStyle: style });
      // Another integration of the same organization used 60 of the hour.
      const other = h.client({ customerId: 'someone-else', budget: new InMemoryRateBudget({ hourlyBudget: 5_000 }) });
      for (let i = 0; i < 60; i += 1) await other.findGiftByTransaction('Stripe', `pi_other_${i}`);
      const client = h.client();
      await client.currentOrganization();
      expect(client.lastRateLimit()).toMatchObject({ limit: 100, remaining: 39 });
      expect(client.lastRateLimit()?.resetAt).toBeGreaterThan(sim.control.now() / 1000);
      // Our budget (1,000) minus what Virtuous says is left (39): we will not plan more calls than Virtuous allows.
      expect(h.budget.usedInCurrentWindow('acme')).toBe(961);
    }
  });

  it('an exhausted budget fails fast with retryAfterSeconds and sends nothing', async () => {
    const h = harness();
    const budget = new InMemoryRateBudget({ hourlyBudget: 2, now: () => sim.control.now() });
    const client = h.client({ budget });
    await client.currentOrganization();
    await client.currentOrganization();
    const error = await caught(client.currentOrganization());
    expect(error).toMatchObject({ name: 'TransientError', code: 'RATE_BUDGET_EXHAUSTED' });
    const retryAfter = (error as TransientError).retryAfterSeconds ?? 0;
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(3_600);
    expect(h.requests()).toHaveLength(2);
  });

  it('waits for the next window when allowed to, using the injected sleep', async () => {
    const h = harness();
    const budget = new InMemoryRateBudget({ hourlyBudget: 1, now: () => sim.control.now() });
    const client = h.client({
      budget,
      maxBudgetWaitMs: 3_600_000,
      sleep: async (ms) => {
        h.sleeps.push(ms);
        sim.control.advanceClock(ms);
      },
    });
    await client.currentOrganization();
    await client.currentOrganization();
    expect(h.sleeps).toHaveLength(1);
    expect(h.sleeps[0]).toBeGreaterThan(0);
    expect(h.sleeps[0]).toBeLessThanOrEqual(3_600_000);
    expect(h.requests()).toHaveLength(2);
  });
});

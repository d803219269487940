/**
 * The simulator's state snapshot: a populated simulator exported (through JSON, as the runtime stores it) and
 * imported into a fresh one behaves as the original would have: keys authenticate (revoked ones stay refused),
 * subscriptions deliver with their secrets, held transactions resolve at the nightly batch, ids keep increasing
 * without duplicates. Unusable snapshots are refused without changing the state; the snapshot file is written 0600
 * and atomically, and an unusable file is reported by path.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForbiddenInputError } from '../../../functions/shared/errors.ts';
import {
  readSimulatorSnapshot,
  SimulatorSnapshotKeeper,
  simulatorSnapshotPath,
  writeSimulatorSnapshot,
} from '../../../infra/local/simulator-snapshot-file.ts';
import type { OrganizationSnapshot } from '../../../infra/local/virtuous-simulator/simulator.ts';
import {
  SIMULATOR_SNAPSHOT_VERSION,
  type SimulatorSnapshot,
  SimulatorSnapshotError,
} from '../../../infra/local/virtuous-simulator/snapshot.ts';
import { DONOR, registerSecret } from '../../support/canaries.ts';
import {
  startTestSimulator,
  startWebhookReceiver,
  type TestSimulator,
  type WebhookReceiver,
} from '../../support/simulator.ts';

const DELIVERY = { retryDelaysMs: [5, 10], timeoutMs: 2_000, concurrency: 1 };

let original: TestSimulator;
let restored: TestSimulator;
let receiver: WebhookReceiver;
let dataDir: string;
let organizationId: number;
let otherOrganizationId: number;
let apiKey: string;
let revokedKey: string;
let webhookSecret: string;
let snapshot: SimulatorSnapshot;
let before: OrganizationSnapshot;

async function api(baseUrl: string, key: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

function gift(transactionId: string, referenceId: string, amount: number) {
  return {
    transactionSource: 'Stripe',
    transactionId,
    contact: { referenceId, firstName: DONOR.firstName, lastName: DONOR.lastName },
    giftDate: '2026-11-28',
    giftType: 'Credit',
    amount,
    currencyCode: 'USD',
  };
}

function contact(referenceId: string, email: string) {
  return { referenceSource: 'Stripe', referenceId, firstName: DONOR.firstName, lastName: DONOR.lastName, email };
}

function signatureMatches(secret: string, raw: Buffer, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  const expected = createHmac('sha256', secret).update(raw).digest();
  const given = Buffer.from(header, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function allIds(state: OrganizationSnapshot): { gifts: number[]; contacts: number[]; webhooks: number[] } {
  return {
    gifts: state.gifts.map((g) => g.id),
    contacts: state.contacts.map((c) => c.id),
    webhooks: state.webhooks.map((w) => w.id),
  };
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'virtuous-sim-snapshot-'));
  receiver = await startWebhookReceiver();
  original = await startTestSimulator({ delivery: DELIVERY });

  const org = original.organization({ name: 'Snapshot Org', rateLimitPerHour: 1_000 });
  organizationId = org.organizationId;
  apiKey = org.apiKey;
  revokedKey = original.addKey(organizationId);
  expect(original.control.revokeApiKey(revokedKey)).toBe(true);
  otherOrganizationId = original.organization({ name: 'Other Org' }).organizationId;

  webhookSecret = registerSecret(randomBytes(32).toString('base64'));
  const subscribed = await api(original.baseUrl, apiKey, 'POST', '/api/Webhook', {
    payloadUrl: receiver.url,
    secret: webhookSecret,
    active: true,
    giftCreate: true,
    contactCreate: true,
  });
  expect(subscribed.status).toBe(200);

  // Day 1: a contact, its gift and an orphan gift; the batch resolves two and parks the orphan.
  expect(
    (await api(original.baseUrl, apiKey, 'POST', '/api/Contact/Transaction', contact('cus_a', DONOR.email))).status,
  ).toBe(200);
  expect(
    (await api(original.baseUrl, apiKey, 'POST', '/api/v2/Gift/Transaction', gift('pi_day1', 'cus_a', 25))).status,
  ).toBe(200);
  expect(
    (await api(original.baseUrl, apiKey, 'POST', '/api/v2/Gift/Transaction', gift('pi_orphan', 'cus_nobody', 7)))
      .status,
  ).toBe(200);
  const day1 = await original.control.nightlyBatch();
  expect(day1.organizations.find((o) => o.organizationId === organizationId)).toMatchObject({
    contactsCreated: 1,
    giftsCreated: 1,
    needsUpdate: 1,
    deliveries: { delivered: 2, failed: 0 },
  });

  // Day 2, before its batch: held work that only a restored simulator can resolve.
  expect(
    (await api(original.baseUrl, apiKey, 'POST', '/api/v2/Gift/Transaction', gift('pi_day2', 'cus_a', 40))).status,
  ).toBe(200);
  expect(
    (
      await api(
        original.baseUrl,
        apiKey,
        'POST',
        '/api/Contact/Transaction',
        contact('cus_b', 'second@pii-canary.example'),
      )
    ).status,
  ).toBe(200);
  expect(
    (await api(original.baseUrl, apiKey, 'POST', '/api/v2/Gift/Transaction', gift('pi_day2_b', 'cus_b', 12))).status,
  ).toBe(200);
  // A re-submission of a gift already resolved: merged by the batch, not a second gift.
  expect(
    (await api(original.baseUrl, apiKey, 'POST', '/api/v2/Gift/Transaction', gift('pi_day1', 'cus_a', 25))).status,
  ).toBe(200);
  expect((await api(original.baseUrl, revokedKey, 'GET', '/api/Organization/Current')).status).toBe(401);

  before = original.control.inspect(organizationId);
  expect(before.held).toEqual({ gifts: 3, contacts: 1, reversals: 0 });
  // Through JSON, as the runtime stores it.
  snapshot = JSON.parse(JSON.stringify(original.control.exportSnapshot())) as SimulatorSnapshot;
  await original.close();

  restored = await startTestSimulator({ delivery: DELIVERY });
  restored.control.importSnapshot(snapshot);
  receiver.received.length = 0;
}, 20_000);

afterAll(async () => {
  await restored?.close();
  await receiver?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('a restored simulator', () => {
  it('carries every record, submission count, subscription and held transaction', () => {
    const after = restored.control.inspect(organizationId);
    expect(snapshot.version).toBe(SIMULATOR_SNAPSHOT_VERSION);
    expect(after.gifts).toEqual(before.gifts);
    expect(after.contacts).toEqual(before.contacts);
    expect(after.needsUpdate).toEqual(before.needsUpdate);
    expect(after.giftTransactions).toEqual(before.giftTransactions);
    expect(after.giftTransactions['Stripe/pi_day1']).toBe(2);
    expect(after.contactTransactions).toEqual(before.contactTransactions);
    expect(after.held).toEqual({ gifts: 3, contacts: 1, reversals: 0 });
    expect(after.webhooks).toEqual(before.webhooks);
    expect(after.deliveries).toEqual(before.deliveries);
    expect(after).toMatchObject({ name: 'Snapshot Org', rateLimitPerHour: 1_000, isEnabled: true });
    expect(restored.control.inspect(otherOrganizationId).name).toBe('Other Org');
    expect(restored.control.now()).toBeGreaterThanOrEqual(snapshot.clockNow);
  });

  it('authenticates the saved key and still refuses the revoked one', async () => {
    const current = await api(restored.baseUrl, apiKey, 'GET', '/api/Organization/Current');
    expect(current.status).toBe(200);
    expect(((await current.json()) as { organizationName: string }).organizationName).toBe('Snapshot Org');
    expect((await api(restored.baseUrl, revokedKey, 'GET', '/api/Organization/Current')).status).toBe(401);
    // Known as revoked, not forgotten: revoking again reports it was not active.
    expect(restored.control.revokeApiKey(revokedKey)).toBe(false);
  });

  it('resolves the held transactions at the nightly batch with new, increasing, unique ids, signed with the saved secret', async () => {
    const batch = await restored.control.nightlyBatch({ organizationId });
    expect(batch.organizations[0]).toMatchObject({
      contactsCreated: 1,
      giftsCreated: 2,
      duplicatesMerged: 1,
      needsUpdate: 0,
      deliveries: { delivered: 3, failed: 0, skipped: 0 },
    });
    const after = restored.control.inspect(organizationId);
    const oldIds = allIds(before);
    const newGifts = after.gifts.filter((g) => !oldIds.gifts.includes(g.id));
    expect(newGifts.map((g) => g.transactionId).sort()).toEqual(['pi_day2', 'pi_day2_b']);
    for (const g of newGifts) expect(g.id).toBeGreaterThan(Math.max(...oldIds.gifts));
    const newContacts = after.contacts.filter((c) => !oldIds.contacts.includes(c.id));
    expect(newContacts).toHaveLength(1);
    expect(newContacts[0]?.id).toBeGreaterThan(Math.max(...oldIds.contacts));
    expect(new Set(after.gifts.map((g) => g.id)).size).toBe(after.gifts.length);
    // pi_day2 went to the contact created before the restart.
    expect(newGifts.find((g) => g.transactionId === 'pi_day2')?.contactId).toBe(before.contacts[0]?.id);
    const lookup = await api(restored.baseUrl, apiKey, 'GET', '/api/Gift/Stripe/pi_day2_b');
    expect(lookup.status).toBe(200);

    expect(receiver.received).toHaveLength(3);
    for (const delivery of receiver.received) {
      expect(signatureMatches(webhookSecret, delivery.rawBody, delivery.headers['x-virtuous-signature'])).toBe(true);
    }
    const deliveryIds = after.deliveries.map((d) => d.id);
    expect(new Set(deliveryIds).size).toBe(deliveryIds.length);
    expect(Math.min(...deliveryIds.slice(before.deliveries.length))).toBeGreaterThan(
      Math.max(...before.deliveries.map((d) => d.id)),
    );
  });

  it('continues the organization and webhook counters', async () => {
    const next = restored.organization({ name: 'After Restore' });
    expect(next.organizationId).toBe(Math.max(organizationId, otherOrganizationId) + 1);
    const secret = registerSecret(randomBytes(32).toString('base64'));
    const created = await api(restored.baseUrl, next.apiKey, 'POST', '/api/Webhook', {
      payloadUrl: receiver.url,
      secret,
      giftCreate: true,
    });
    expect(((await created.json()) as { id: number }).id).toBeGreaterThan(Math.max(...allIds(before).webhooks));
  });
});

describe('unusable snapshots', () => {
  const broken = (change: (copy: Record<string, unknown>) => void): unknown => {
    const copy = structuredClone(snapshot) as unknown as Record<string, unknown>;
    change(copy);
    return copy;
  };

  it('refuses another format version, a malformed record, duplicate ids and dangling keys, and keeps the state', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [
        broken((c) => {
          c.version = 2;
        }),
        /version 2; this simulator reads version 1/,
      ],
      [
        broken((c) => {
          delete c.version;
        }),
        /no version/,
      ],
      [
        broken((c) => {
          const orgs = c.organizations as Array<{ webhooks: Array<Record<string, unknown>> }>;
          delete orgs[0]?.webhooks[0]?.secret;
        }),
        /organizations\.0\.webhooks\.0\.secret/,
      ],
      [
        broken((c) => {
          const orgs = c.organizations as Array<{ gifts: Array<{ id: number }> }>;
          const gifts = orgs[0]?.gifts ?? [];
          gifts.push({ ...(gifts[0] as { id: number }) });
        }),
        /duplicate gift id/,
      ],
      [
        broken((c) => {
          (c.counters as { gift: number }).gift = 0;
        }),
        /above the saved gift counter/,
      ],
      [
        broken((c) => {
          (c.apiKeys as Array<{ organizationId: number }>)[0] = {
            ...(c.apiKeys as Array<{ organizationId: number }>)[0],
            organizationId: 99,
          } as { organizationId: number };
        }),
        /organization missing/,
      ],
      ['[]', /expected a JSON object/],
    ];
    const stateBefore = restored.control.inspect(organizationId);
    for (const [value, message] of cases) {
      let caught: unknown;
      try {
        restored.control.importSnapshot(value);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(SimulatorSnapshotError);
      expect((caught as Error).message).toMatch(message);
      // Messages name fields, never values from the file.
      expect((caught as Error).message).not.toContain(apiKey);
      expect((caught as Error).message).not.toContain(webhookSecret);
    }
    expect(restored.control.inspect(organizationId)).toEqual(stateBefore);
    expect((await api(restored.baseUrl, apiKey, 'GET', '/api/Organization/Current')).status).toBe(200);
  });
});

describe('the snapshot file', () => {
  it('is written atomically with mode 0600 and read back', () => {
    const path = simulatorSnapshotPath(dataDir);
    writeSimulatorSnapshot(path, snapshot);
    writeSimulatorSnapshot(path, snapshot);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dataDir)).toEqual(['virtuous-simulator.json']);
    expect(readSimulatorSnapshot(path)).toEqual(snapshot);
    expect(readSimulatorSnapshot(join(dataDir, 'missing.json'))).toBeUndefined();
  });

  it('reports a corrupt or wrong-version file by path, as bad input', () => {
    const corrupt = join(dataDir, 'corrupt.json');
    writeFileSync(corrupt, '{"version":1,"organizations":[', { mode: 0o600 });
    expect(() => readSimulatorSnapshot(corrupt)).toThrow(ForbiddenInputError);
    expect(() => readSimulatorSnapshot(corrupt)).toThrow(`${corrupt} cannot be loaded: it is not valid JSON`);
    const future = join(dataDir, 'future.json');
    writeFileSync(future, JSON.stringify({ ...snapshot, version: 3 }), { mode: 0o600 });
    expect(() => readSimulatorSnapshot(future)).toThrow(`${future} cannot be loaded: snapshot format has version 3`);
    rmSync(corrupt);
    rmSync(future);
  });

  it('is saved by the keeper only when the state changed, and always at stop', async () => {
    const path = join(dataDir, 'kept.json');
    const keeper = new SimulatorSnapshotKeeper({ state: restored.control, path, intervalMs: 60_000 });
    keeper.start();
    expect(keeper.saveIfChanged()).toBe(false);
    expect(existsSync(path)).toBe(false);
    expect((await api(restored.baseUrl, apiKey, 'GET', '/api/Organization/Current')).status).toBe(200);
    expect(keeper.saveIfChanged()).toBe(true);
    expect(keeper.saveIfChanged()).toBe(false);
    restored.control.createOrganization({ name: 'Saved At Stop' });
    keeper.stop();
    const saved = JSON.parse(readFileSync(path, 'utf8')) as SimulatorSnapshot;
    expect(saved.organizations.map((o) => o.name)).toContain('Saved At Stop');
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});

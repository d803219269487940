import { beforeEach, describe, expect, it } from 'vitest';
import type { CustomerRecord } from '../../../functions/customers/customer.ts';
import { SecretCandidates, webhookSecretRef } from '../../../functions/webhooks/secret-candidates.ts';
import type { SecretCandidate } from '../../../functions/webhooks/secret-set.ts';
import { registerSecret } from '../../support/canaries.ts';
import { InMemorySecretStore } from '../../support/in-memory-secret-store.ts';
import { customerRecord } from '../webhook-verifier/fixtures.ts';

const T0 = Date.parse('2026-11-29T12:00:00.000Z');

const customer = (overrides: Partial<CustomerRecord> = {}): CustomerRecord => customerRecord('acme', overrides);

const keyTexts = (candidates: SecretCandidate[]) =>
  candidates.map((c) => `${c.stage}:${c.key.export().toString('utf8')}`);

describe('SecretCandidates', () => {
  let now: number;
  let store: InMemorySecretStore;
  let candidates: SecretCandidates;
  const ref = webhookSecretRef('virtuous', 'acme');
  const oldSecret = registerSecret('candidates-old-secret-5b1e9f');
  const newSecret = registerSecret('candidates-new-secret-77c2aa');

  beforeEach(async () => {
    now = T0;
    store = new InMemorySecretStore(() => new Date(now));
    await store.seedCurrent(ref, oldSecret);
    store.accesses.length = 0;
    candidates = new SecretCandidates(store, { clock: () => new Date(now), ttlMs: 60_000, refreshFloorMs: 5_000 });
  });

  /** Completes a rotation in the store (the new secret current, the old one previous), then forgets the accesses. */
  async function promoteNewSecret(): Promise<void> {
    await store.putPending(ref, newSecret, { reason: 'rotation:create' });
    await store.promotePending(ref, { reason: 'rotation:promote' });
    store.accesses.length = 0;
  }

  it('reads current and pending with reason webhook:verify and the request id, not previous when no window is open', async () => {
    await store.putPending(ref, newSecret, { reason: 'rotation:create' });
    store.accesses.length = 0;
    const result = await candidates.forDelivery('virtuous', customer(), 'req-1');
    expect(keyTexts(result)).toEqual([`current:${oldSecret}`, `pending:${newSecret}`]);
    expect(store.accesses.map((a) => [a.stage, a.reason, a.requestId, a.kind])).toEqual([
      ['current', 'webhook:verify', 'req-1', 'webhook_secret'],
      ['pending', 'webhook:verify', 'req-1', 'webhook_secret'],
    ]);
  });

  it("reads Stripe's endpoint secret as the customer's stripe source_webhook_secret", async () => {
    const stripeSecret = registerSecret('whsec_candidatesStripe0001');
    await store.seedCurrent(webhookSecretRef('stripe', 'acme'), stripeSecret);
    store.accesses.length = 0;
    const result = await candidates.forDelivery('stripe', customer());
    expect(keyTexts(result)).toEqual([`current:${stripeSecret}`]);
    expect(store.accesses.every((a) => a.kind === 'source_webhook_secret')).toBe(true);
  });

  it("keeps one customer's Virtuous and Stripe sets apart in the cache, and forgets them separately", async () => {
    const stripeSecret = registerSecret('whsec_candidatesStripe0002');
    await store.seedCurrent(webhookSecretRef('stripe', 'acme'), stripeSecret);
    await candidates.forDelivery('virtuous', customer());
    await candidates.forDelivery('stripe', customer());
    expect(keyTexts(candidates.fromCache('virtuous', customer()) ?? [])).toEqual([`current:${oldSecret}`]);
    expect(keyTexts(candidates.fromCache('stripe', customer()) ?? [])).toEqual([`current:${stripeSecret}`]);
    candidates.forget('stripe', 'acme');
    expect(candidates.fromCache('stripe', customer())).toBeUndefined();
    expect(keyTexts(candidates.fromCache('virtuous', customer()) ?? [])).toEqual([`current:${oldSecret}`]);
  });

  it('serves repeated deliveries from memory within the TTL and re-reads after it', async () => {
    await candidates.forDelivery('virtuous', customer());
    await candidates.forDelivery('virtuous', customer());
    now += 59_999;
    await candidates.forDelivery('virtuous', customer());
    expect(store.readsOf('acme')).toHaveLength(2);
    now += 1;
    await candidates.forDelivery('virtuous', customer());
    expect(store.readsOf('acme')).toHaveLength(4);
  });

  it('reads previous while the window is open, and drops it the instant the window closes, even from the cache', async () => {
    await promoteNewSecret();
    const windowOpen = customer({ previousWebhookSecretValidUntil: new Date(T0 + 10_000).toISOString() });
    expect(keyTexts(await candidates.forDelivery('virtuous', windowOpen))).toEqual([
      `current:${newSecret}`,
      `previous:${oldSecret}`,
    ]);
    expect(store.readsOf('acme').map((a) => a.stage)).toEqual(['current', 'pending', 'previous']);
    now = T0 + 10_000;
    expect(keyTexts(await candidates.forDelivery('virtuous', windowOpen))).toEqual([`current:${newSecret}`]);
    expect(store.readsOf('acme')).toHaveLength(3);
  });

  it('re-reads when a window opens after the cache was filled without previous', async () => {
    await candidates.forDelivery('virtuous', customer());
    await promoteNewSecret();
    const windowOpen = customer({ previousWebhookSecretValidUntil: new Date(T0 + 10_000).toISOString() });
    expect(keyTexts(await candidates.forDelivery('virtuous', windowOpen))).toEqual([
      `current:${newSecret}`,
      `previous:${oldSecret}`,
    ]);
  });

  it('re-reads after a mismatch only once the cached set is older than the floor', async () => {
    await candidates.forDelivery('virtuous', customer());
    await store.putPending(ref, newSecret, { reason: 'rotation:create' });
    store.accesses.length = 0;
    now += 4_999;
    expect(await candidates.refreshedAfterMismatch('virtuous', customer())).toBeUndefined();
    expect(store.readsOf('acme')).toHaveLength(0);
    now += 1;
    const refreshed = await candidates.refreshedAfterMismatch('virtuous', customer());
    expect(keyTexts(refreshed ?? [])).toEqual([`current:${oldSecret}`, `pending:${newSecret}`]);
    expect(store.readsOf('acme')).toHaveLength(2);
    expect(await candidates.refreshedAfterMismatch('virtuous', customer())).toBeUndefined();
  });

  it('passes a store failure through and caches nothing from it', async () => {
    store.failReads();
    await expect(candidates.forDelivery('virtuous', customer())).rejects.toMatchObject({ name: 'TransientError' });
    store.restoreReads();
    expect(keyTexts(await candidates.forDelivery('virtuous', customer()))).toEqual([`current:${oldSecret}`]);
  });

  it('keeps at most maxEntries customers in memory', async () => {
    const small = new SecretCandidates(store, { clock: () => new Date(now), maxEntries: 2 });
    for (const id of ['c1', 'c2', 'c3']) await small.forDelivery('virtuous', customer({ customerId: id }));
    store.accesses.length = 0;
    await small.forDelivery('virtuous', customer({ customerId: 'c3' }));
    await small.forDelivery('virtuous', customer({ customerId: 'c2' }));
    expect(store.accesses).toHaveLength(0);
    await small.forDelivery('virtuous', customer({ customerId: 'c1' }));
    expect(store.accesses.map((a) => a.customerId)).toEqual(['c1', 'c1']);
  });
});

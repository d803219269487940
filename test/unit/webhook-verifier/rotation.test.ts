/**
 * Webhook-secret rotation as the workflow drives it (Secrets Manager model): store the new secret as pending, tell
 * the sender, promote it with a window for the old one, delete the old one. Deliveries signed with old and new
 * secrets interleave throughout; every one inside the window is accepted, the old one is refused after it.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { webhookSecretRef } from '../../../functions/webhooks/secret-candidates.ts';
import { registerSecret } from '../../support/canaries.ts';
import {
  apiEvent,
  createHarness,
  donorBody,
  type Harness,
  NOW,
  signBase64,
  signHex,
  stripeHeader,
} from './fixtures.ts';

const JSON_TYPE = { 'Content-Type': 'application/json' };
const ref = webhookSecretRef('virtuous', 'acme');

describe('webhook secret rotation window', () => {
  let h: Harness;
  let oldSecret: string;
  const newSecret = registerSecret('rotation-new-secret-7e1f0c9a4b');
  let counter = 0;

  beforeEach(async () => {
    h = await createHarness();
    oldSecret = h.virtuousSecret;
    counter = 0;
  });

  const advance = (ms: number) => {
    h.clock.now = new Date(h.clock.now.getTime() + ms);
  };

  async function deliver(secret: string): Promise<number> {
    counter += 1;
    const body = donorBody(`delivery-${counter}`);
    const signature = counter % 2 === 0 ? signHex(secret, body) : signBase64(secret, body);
    const response = await h.invoke(
      apiEvent({ body: body.toString(), headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signature } }),
    );
    return response.statusCode;
  }

  async function interleaved(rounds: number): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < rounds; i += 1) {
      statuses.push(await deliver(oldSecret), await deliver(newSecret));
      advance(7_000);
    }
    return statuses;
  }

  it('accepts old and new interleaved from pending through the window, and refuses the old one after it', async () => {
    expect(await deliver(oldSecret)).toBe(202);

    await h.secrets.putPending(ref, newSecret, { reason: 'rotation:create' });
    advance(61_000); // the verifier's cache expires: it now sees the pending secret
    expect(await interleaved(5)).toEqual(Array(10).fill(202));

    const windowEnd = new Date(h.clock.now.getTime() + 10 * 60_000);
    await h.secrets.promotePending(ref, { reason: 'rotation:promote' });
    await h.customers.update('acme', { previousWebhookSecretValidUntil: windowEnd.toISOString() });
    expect(await interleaved(20)).toEqual(Array(40).fill(202)); // spans several cache lifetimes

    h.clock.now = new Date(windowEnd.getTime() - 1);
    expect([await deliver(oldSecret), await deliver(newSecret)]).toEqual([202, 202]);
    h.clock.now = windowEnd;
    expect([await deliver(oldSecret), await deliver(newSecret)]).toEqual([401, 202]);
    advance(120_000);
    await h.secrets.deletePrevious(ref, { reason: 'rotation:retire' });
    await h.customers.update('acme', { previousWebhookSecretValidUntil: undefined });
    expect([await deliver(oldSecret), await deliver(newSecret)]).toEqual([401, 202]);
    expect(h.queue.messages).toHaveLength(1 + 10 + 40 + 2 + 1 + 1);
  });

  it('a sender that switches before the cache expires is refused at most briefly, then accepted (re-read on mismatch)', async () => {
    expect(await deliver(oldSecret)).toBe(202); // cache filled: current only
    await h.secrets.putPending(ref, newSecret, { reason: 'rotation:create' });
    advance(1_000);
    expect(await deliver(newSecret)).toBe(401); // inside the re-read floor: the sender retries later
    advance(5_000);
    expect(await deliver(newSecret)).toBe(202); // mismatch re-reads the set and finds pending
    expect(await deliver(oldSecret)).toBe(202);
  });

  it('does not let forged deliveries drive a Secrets Manager read per request', async () => {
    expect(await deliver(oldSecret)).toBe(202);
    h.secrets.accesses.length = 0;
    for (let i = 0; i < 50; i += 1) {
      expect(await deliver('forger-secret')).toBe(401);
      advance(100);
    }
    // 5 s of forgeries: at most one re-read of the two stages.
    expect(h.secrets.readsOf('acme').length).toBeLessThanOrEqual(2);
  });

  it('rotates the Stripe endpoint secret the same way (Stripe signs with both during its own roll)', async () => {
    const stripeRef = webhookSecretRef('stripe', 'acme');
    const newStripe = registerSecret('whsec_rotationNewStripe01');
    await h.secrets.putPending(stripeRef, newStripe, { reason: 'rotation:create' });
    await h.secrets.promotePending(stripeRef, { reason: 'rotation:promote' });
    const windowEnd = new Date(NOW.getTime() + 60_000);
    await h.customers.update('acme', { previousWebhookSecretValidUntil: windowEnd.toISOString() });
    const t = Math.floor(h.clock.now.getTime() / 1000);
    const body = donorBody('stripe-roll');
    const both = `${stripeHeader(h.stripeSecret, body, t)},v1=${stripeHeader(newStripe, body, t).split('v1=')[1]}`;
    const send = (header: string) =>
      h.invoke(
        apiEvent({ provider: 'stripe', body: body.toString(), headers: { ...JSON_TYPE, 'Stripe-Signature': header } }),
      );
    expect((await send(both)).statusCode).toBe(202);
    expect((await send(stripeHeader(h.stripeSecret, body, t))).statusCode).toBe(202);
    h.clock.now = windowEnd;
    const later = Math.floor(windowEnd.getTime() / 1000);
    expect((await send(stripeHeader(h.stripeSecret, body, later))).statusCode).toBe(401);
    expect((await send(stripeHeader(newStripe, body, later))).statusCode).toBe(202);
  });
});

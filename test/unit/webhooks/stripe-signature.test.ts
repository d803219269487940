import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { hmacKey } from '../../../functions/webhooks/signature-match.ts';
import { parseStripeSignature, verifyStripeSignature } from '../../../functions/webhooks/stripe-signature.ts';
import { registerSecret } from '../../support/canaries.ts';
import { STRIPE_VECTORS, vectorBody } from '../../vectors/vectors.ts';

const key = (secret: string) => hmacKey(secret);
const at = (unixSeconds: number) => new Date(unixSeconds * 1000);

const vector = STRIPE_VECTORS[0];
if (vector === undefined) throw new TypeError('vectors missing');
const body = vectorBody(vector.bodyFile);
const keys = [key(vector.secret)];
const header = `t=${vector.timestamp},v1=${vector.v1}`;

describe('Stripe signature: OpenSSL known-answer vectors', () => {
  it.each(STRIPE_VECTORS.map((v, index) => [index, v] as const))('vector %i is accepted at its own time', (_i, v) => {
    const result = verifyStripeSignature(
      vectorBody(v.bodyFile),
      `t=${v.timestamp},v1=${v.v1}`,
      [key(v.secret)],
      at(v.timestamp),
    );
    expect(result).toEqual({ valid: true });
  });

  it('accepts up to 300 s either side of the timestamp and refuses beyond', () => {
    expect(verifyStripeSignature(body, header, keys, at(vector.timestamp + 300))).toEqual({ valid: true });
    expect(verifyStripeSignature(body, header, keys, at(vector.timestamp - 300))).toEqual({ valid: true });
    expect(verifyStripeSignature(body, header, keys, at(vector.timestamp + 301))).toEqual({
      valid: false,
      reason: 'stale_timestamp',
    });
    expect(verifyStripeSignature(body, header, keys, at(vector.timestamp - 301))).toEqual({
      valid: false,
      reason: 'stale_timestamp',
    });
  });

  it('honours a configured tolerance', () => {
    expect(verifyStripeSignature(body, header, keys, at(vector.timestamp + 61), 60)).toEqual({
      valid: false,
      reason: 'stale_timestamp',
    });
  });

  it('accepts when any of several v1 values matches, in any position, with spaces after commas', () => {
    const wrong = 'ab'.repeat(32);
    for (const h of [
      `t=${vector.timestamp},v1=${wrong},v1=${vector.v1}`,
      `t=${vector.timestamp}, v1=${vector.v1}, v1=${wrong}`,
      `v1=${vector.v1},t=${vector.timestamp},v0=${wrong}`,
    ]) {
      expect(verifyStripeSignature(body, h, keys, at(vector.timestamp))).toEqual({ valid: true });
    }
  });

  it('refuses the right v1 under a different timestamp (the timestamp is signed)', () => {
    const moved = `t=${vector.timestamp + 1},v1=${vector.v1}`;
    expect(verifyStripeSignature(body, moved, keys, at(vector.timestamp))).toEqual({
      valid: false,
      reason: 'signature_mismatch',
    });
  });

  it('refuses the right header over a changed body', () => {
    const changed = Buffer.concat([body, Buffer.from(' ')]);
    expect(verifyStripeSignature(changed, header, keys, at(vector.timestamp))).toEqual({
      valid: false,
      reason: 'signature_mismatch',
    });
  });

  it.each([
    ['no timestamp', `v1=${'ab'.repeat(32)}`],
    ['two timestamps', `t=1795000000,t=1795000001,v1=${'ab'.repeat(32)}`],
    ['non-numeric timestamp', `t=17950000x0,v1=${'ab'.repeat(32)}`],
    ['negative timestamp', `t=-1795000000,v1=${'ab'.repeat(32)}`],
    ['only v0', `t=1795000000,v0=${'ab'.repeat(32)}`],
    ['short v1', `t=1795000000,v1=${'ab'.repeat(31)}`],
    ['Base64 v1', `t=1795000000,v1=${Buffer.alloc(32).toString('base64')}`],
    ['nine v1 values', `t=1795000000${`,v1=${'ab'.repeat(32)}`.repeat(9)}`],
    ['garbage', 'not a stripe header'],
    ['oversized', `t=1795000000,v1=${'ab'.repeat(32)},x=${'y'.repeat(5000)}`],
  ])('refuses a malformed header: %s', (_name, h) => {
    expect(parseStripeSignature(h)).toBeUndefined();
    expect(verifyStripeSignature(body, h, keys, at(vector.timestamp))).toEqual({
      valid: false,
      reason: 'malformed_signature',
    });
  });
});

describe('Stripe signature: agreement with the stripe package', () => {
  const stripe = new Stripe('sk_test_not_used', { telemetry: false });
  const secret = registerSecret('whsec_agreementTestSecret0123456789abcdef');

  it('accepts a header the stripe package generates, and the package accepts our vector', () => {
    const now = 1_795_000_123;
    const payload = body.toString('utf8');
    const generated = stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: now });
    expect(verifyStripeSignature(body, generated, [key(secret)], at(now))).toEqual({ valid: true });
    expect(() => stripe.webhooks.constructEvent(payload, header, vector.secret, Number.MAX_SAFE_INTEGER)).not.toThrow();
  });
});

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deliveryId } from '../../../functions/webhooks/delivery-id.ts';
import { DELIVERY_ID_VECTORS, vectorBody } from '../../vectors/vectors.ts';

describe('deliveryId', () => {
  it.each(DELIVERY_ID_VECTORS.map((v) => [v.provider, v.bodyFile, v] as const))(
    'matches the OpenSSL vector for %s / %s',
    (_provider, _file, vector) => {
      expect(deliveryId(vector.provider, vector.customerId, vectorBody(vector.bodyFile))).toBe(vector.sha256);
    },
  );

  it('is the same for a re-delivery and differs by provider, customer and body', () => {
    const body = Buffer.from('{"event":"GiftCreate","gift":{"id":1}}');
    const id = deliveryId('virtuous', 'acme', body);
    expect(deliveryId('virtuous', 'acme', Buffer.from(body))).toBe(id);
    expect(
      new Set([
        id,
        deliveryId('stripe', 'acme', body),
        deliveryId('virtuous', 'acme2', body),
        deliveryId('virtuous', 'acme', Buffer.concat([body, Buffer.from(' ')])),
      ]).size,
    ).toBe(4);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([0, 1, 2048, 16 * 1024, 16 * 1024 + 1, 256 * 1024])(
    'is SHA-256 over provider, customer id and body for a %i-byte body (either hashing path)',
    (size) => {
      const body = Buffer.alloc(size);
      for (let i = 0; i < size; i += 1) body[i] = (i * 31 + 7) & 0xff;
      const expected = createHash('sha256').update('stripe\nacme-2\n').update(body).digest('hex');
      expect(deliveryId('stripe', 'acme-2', body)).toBe(expected);
    },
  );
});

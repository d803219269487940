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
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { refFromTags, resolveSecretRef, secretName } from '../../../functions/credentials/secret-names.ts';
import type { SecretRef } from '../../../functions/credentials/secret-store.ts';
import { ForbiddenInputError } from '../../../functions/shared/errors.ts';

describe('secretName', () => {
  it('builds every documented name', () => {
    expect(secretName('production', { customerId: 'customer_acme', kind: 'api_token' })).toBe(
      'virtuous/production/customer_acme/api_token',
    );
    expect(secretName('staging', { customerId: 'acme', kind: 'webhook_secret' })).toBe(
      'virtuous/staging/acme/webhook_secret',
    );
    expect(secretName('production', { customerId: 'acme', kind: 'refresh_token', source: 'mailchimp' })).toBe(
      'mailchimp/production/acme/refresh_token',
    );
    expect(secretName('production', { customerId: 'acme', kind: 'source_webhook_secret', source: 'stripe' })).toBe(
      'stripe/production/acme/webhook_secret',
    );
  });

  it.each([
    ['production/x', { customerId: 'acme', kind: 'api_token' }],
    ['', { customerId: 'acme', kind: 'api_token' }],
    ['test', { customerId: '../acme', kind: 'api_token' }],
    ['test', { customerId: 'ac?me', kind: 'api_token' }],
    ['test', { customerId: 'acme', kind: 'refresh_token', source: '*' }],
    ['test', { customerId: 'acme', kind: 'refresh_token', source: 'Stripe' }],
    ['test', { customerId: 'acme', kind: 'refresh_token', source: 'virtuous' }],
    ['test', { customerId: 'acme', kind: 'refresh_token', source: 'x'.repeat(33) }],
  ])('refuses environment %j with %j', (environment, ref) => {
    expect(() => secretName(environment, ref as SecretRef)).toThrow(ForbiddenInputError);
  });

  it('never yields a name with more or fewer than four segments, wildcards or dot segments', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.string({ maxLength: 40 }), (customerId, source) => {
        let name: string;
        try {
          name = secretName('test', { customerId, kind: 'refresh_token', source });
        } catch (error) {
          expect(error).toBeInstanceOf(ForbiddenInputError);
          return;
        }
        const parts = name.split('/');
        expect(parts).toHaveLength(4);
        expect(name).not.toMatch(/[*?\s]|\.\./);
        expect(parts[2]).toBe(customerId);
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips a reference through its tags', () => {
    const ref: SecretRef = { customerId: 'acme', kind: 'source_webhook_secret', source: 'stripe' };
    const resolved = resolveSecretRef('test', ref);
    expect(
      refFromTags({
        customer_id: resolved.customerId,
        kind: resolved.kind,
        source: resolved.source ?? '',
        environment: 'test',
      }),
    ).toEqual(ref);
    expect(refFromTags({ customer_id: 'acme' })).toBeUndefined();
    expect(refFromTags({ customer_id: 'acme', kind: 'refresh_token' })).toBeUndefined();
  });
});

// The one request both CLI targets send to connect a source credential: the customer id is a single path segment
// whatever it holds, and the credential's value travels only in the body (never in a path a log may record).
import { describe, expect, it } from 'vitest';
import { sourceConnectionRequest } from '../../../infra/local/cli/target.ts';
import { registerSecret } from '../../support/canaries.ts';

describe('sourceConnectionRequest', () => {
  it('puts the customer in one encoded path segment and the value only in the body', () => {
    const value = registerSecret('rt_source_connection_0123456789abcdef');
    const request = sourceConnectionRequest({
      customerId: 'acme/../other?x=1',
      source: 'stripe',
      credential: 'refresh_token',
      value,
    });
    expect(request.path).toBe('/customers/acme%2F..%2Fother%3Fx%3D1/sources/stripe');
    expect(request.path).not.toContain(value);
    expect(request.body).toEqual({ credential: 'refresh_token', value });
  });
});

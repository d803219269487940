import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hmacKey } from '../../../functions/webhooks/signature-match.ts';
import { decodeVirtuousSignature, verifyVirtuousSignature } from '../../../functions/webhooks/virtuous-signature.ts';
import { VIRTUOUS_VECTORS, vectorBody } from '../../vectors/vectors.ts';

const key = (secret: string) => hmacKey(secret);

describe('Virtuous signature: OpenSSL known-answer vectors', () => {
  it.each(VIRTUOUS_VECTORS.map((vector, index) => [index, vector] as const))(
    'vector %i is accepted as hex and as Base64',
    (_index, vector) => {
      const body = vectorBody(vector.bodyFile);
      expect(verifyVirtuousSignature(body, vector.hex, [key(vector.secret)])).toEqual({ valid: true });
      expect(verifyVirtuousSignature(body, vector.base64, [key(vector.secret)])).toEqual({ valid: true });
    },
  );

  it.each(VIRTUOUS_VECTORS.map((vector, index) => [index, vector] as const))(
    'vector %i is accepted in the tolerated spellings (upper-case hex, unpadded, URL-safe, sha256= prefix, spaces)',
    (_index, vector) => {
      const body = vectorBody(vector.bodyFile);
      const keys = [key(vector.secret)];
      const urlSafe = vector.base64.replace(/\+/g, '-').replace(/\//g, '_');
      for (const spelling of [
        vector.hex.toUpperCase(),
        vector.base64.replace(/=+$/, ''),
        urlSafe,
        `sha256=${vector.hex}`,
        `SHA256=${vector.base64}`,
        `  ${vector.hex} `,
      ]) {
        expect(verifyVirtuousSignature(body, spelling, keys)).toEqual({ valid: true });
      }
    },
  );

  it('refuses a vector checked against another secret, and accepts it when that secret is one of several', () => {
    const [a, , , b] = VIRTUOUS_VECTORS;
    if (a === undefined || b === undefined) throw new TypeError('vectors missing');
    expect(a.bodyFile).toBe(b.bodyFile);
    const body = vectorBody(a.bodyFile);
    expect(verifyVirtuousSignature(body, a.hex, [key(b.secret)])).toEqual({
      valid: false,
      reason: 'signature_mismatch',
    });
    expect(verifyVirtuousSignature(body, a.hex, [key(b.secret), key(a.secret)])).toEqual({ valid: true });
    expect(verifyVirtuousSignature(body, b.base64, [key(b.secret), key(a.secret)])).toEqual({ valid: true });
  });

  it('refuses the vector signature over a body changed by one bit, one byte more or one byte less', () => {
    const vector = VIRTUOUS_VECTORS[0];
    if (vector === undefined) throw new TypeError('vectors missing');
    const body = vectorBody(vector.bodyFile);
    const flipped = Buffer.from(body);
    flipped[10] = (flipped[10] ?? 0) ^ 0x01;
    const keys = [key(vector.secret)];
    for (const changed of [flipped, Buffer.concat([body, Buffer.from('\n')]), body.subarray(0, body.length - 1)]) {
      expect(verifyVirtuousSignature(changed, vector.hex, keys)).toEqual({
        valid: false,
        reason: 'signature_mismatch',
      });
    }
  });
});

describe('Virtuous signature header decoding', () => {
  const digest = Buffer.alloc(32, 0xab);

  it('decodes hex and Base64 to the same 32 bytes', () => {
    expect(decodeVirtuousSignature(digest.toString('hex'))).toEqual(digest);
    expect(decodeVirtuousSignature(digest.toString('base64'))).toEqual(digest);
    expect(decodeVirtuousSignature(digest.toString('base64url'))).toEqual(digest);
  });

  it.each([
    ['empty', ''],
    ['short hex', 'ab'.repeat(31)],
    ['63 hex characters', 'a'.repeat(63)],
    ['65 hex characters', 'a'.repeat(65)],
    ['non-hex character in 64', `${'a'.repeat(63)}g`],
    ['Base64 of 31 bytes', Buffer.alloc(31, 1).toString('base64')],
    ['Base64 of 33 bytes', Buffer.alloc(33, 1).toString('base64')],
    ['two digests', `${digest.toString('hex')},${digest.toString('hex')}`],
    ['hex of a SHA-1', 'a'.repeat(40)],
    ['oversized header', 'a'.repeat(10_000)],
    ['only a prefix', 'sha256='],
  ])('refuses a malformed header: %s', (_name, header) => {
    expect(decodeVirtuousSignature(header)).toBeUndefined();
    expect(verifyVirtuousSignature(Buffer.from('{}'), header, [hmacKey('k')])).toEqual({
      valid: false,
      reason: 'malformed_signature',
    });
  });

  it('decodes every 44-character header exactly as the header grammar says', () => {
    // The grammar: optional `sha256=` prefix and surrounding spaces, then 64 hex digits or 43 Base64 characters
    // (standard or URL-safe alphabet) with an optional `=`; anything else is malformed.
    const grammar = (header: string): Buffer | undefined => {
      const value = header.trim().replace(/^sha256=/i, '');
      if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
      if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(value)) return undefined;
      const decoded = Buffer.from(value, /[-_]/.test(value) ? 'base64url' : 'base64');
      return decoded.length === 32 ? decoded : undefined;
    };
    const characters = [
      ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/',
      '-',
      '_',
      '=',
      ' ',
      '.',
      'é',
    ];
    const mixed = fc.string({ unit: fc.constantFrom(...characters), minLength: 43, maxLength: 43 });
    fc.assert(
      fc.property(
        fc.oneof(
          mixed.map((text) => `${text}=`),
          mixed.map((text) => `${text}A`),
        ),
        (header) => {
          expect(decodeVirtuousSignature(header)).toEqual(grammar(header));
        },
      ),
      { numRuns: 20_000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const header = Buffer.from(bytes).toString('base64');
        expect(decodeVirtuousSignature(header)).toEqual(Buffer.from(bytes));
      }),
    );
  });

  it('refuses every signature when no secret is accepted', () => {
    expect(verifyVirtuousSignature(Buffer.from('{}'), digest.toString('hex'), [])).toEqual({
      valid: false,
      reason: 'no_accepted_secret',
    });
  });
});

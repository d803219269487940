/**
 * The transport's Base64 check: a body is accepted exactly when it is the canonical Base64 of its bytes (what
 * re-encoding the bytes would give back), decided without encoding them again, and then carried on as it came.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCanonicalBase64, readTransportRequest } from '../../../functions/webhook-verifier/http-request.ts';
import { apiEvent } from './fixtures.ts';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** The alphabet plus what Node's decoder skips, stops at or tolerates. */
const TRICKY = [...ALPHABET, '=', '-', '_', ' ', '\n', '\t', '.', '!', 'é', '€', '\u0000', '\uD800'];

const reEncodesTo = (text: string) => Buffer.from(text, 'base64').toString('base64') === text;
const canonical = (text: string) => isCanonicalBase64(text, Buffer.from(text, 'base64'));

describe('isCanonicalBase64', () => {
  it('agrees with re-encoding on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...TRICKY), maxLength: 24 }), (text) => {
        expect(canonical(text)).toBe(reEncodesTo(text));
      }),
      { numRuns: 20_000 },
    );
  });

  it('agrees with re-encoding on canonical Base64 with one character inserted, replaced or removed', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.nat(),
        fc.constantFrom('insert', 'replace', 'remove'),
        fc.constantFrom(...TRICKY),
        (bytes, at, edit, character) => {
          const valid = Buffer.from(bytes).toString('base64');
          const index = at % (valid.length + 1);
          const skip = edit === 'insert' ? 0 : 1;
          const mutated = `${valid.slice(0, index)}${edit === 'remove' ? '' : character}${valid.slice(index + skip)}`;
          expect(canonical(valid)).toBe(true);
          expect(canonical(mutated)).toBe(reEncodesTo(mutated));
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it('refuses the forms the decoder tolerates but API Gateway never sends', () => {
    expect(canonical('QUJD')).toBe(true);
    expect(canonical('QQ==')).toBe(true);
    expect(canonical('QR==')).toBe(false); // unused bits set: decodes like QQ==
    expect(canonical('QUI=')).toBe(true);
    expect(canonical('QUJ=')).toBe(false);
    expect(canonical('-_-_')).toBe(false); // URL-safe alphabet
    expect(canonical('QUJD\n')).toBe(false);
    expect(canonical('QQ')).toBe(false); // unpadded
    expect(canonical('QQ==QUJD')).toBe(false);
  });
});

describe('readTransportRequest', () => {
  it('carries a canonical Base64 body on as it came, and refuses any other', () => {
    const bytes = Buffer.from('{"event":"GiftCreate","note":"\u00e9\u20ac"}', 'utf8');
    const body = bytes.toString('base64');
    const read = readTransportRequest(apiEvent({ body, isBase64Encoded: true }), 1024);
    if (!('request' in read)) throw new TypeError('refused a canonical body');
    expect(read.request.rawBody.equals(bytes)).toBe(true);
    expect(read.request.rawBodyBase64).toBe(body);

    const urlSafe = bytes.toString('base64url');
    expect(urlSafe).not.toBe(body);
    expect(readTransportRequest(apiEvent({ body: urlSafe, isBase64Encoded: true }), 1024)).toEqual({
      rejection: { status: 400, error: 'invalid_body_encoding' },
    });

    const plain = readTransportRequest(apiEvent({ body: bytes.toString('utf8') }), 1024);
    if (!('request' in plain)) throw new TypeError('refused a plain body');
    expect(plain.request.rawBodyBase64).toBe(body);
  });
});

import type { KeyObject } from 'node:crypto';
import * as crypto from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { anySignatureMatches, hmacKey, hmacSha256 } from '../../../functions/webhooks/signature-match.ts';

vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  return { ...original, createHmac: vi.fn(original.createHmac), timingSafeEqual: vi.fn(original.timingSafeEqual) };
});

const keys = ['first-key-0001', 'second-key-002', 'third-key-0003'].map((secret) => hmacKey(secret));
const content = [Buffer.from('{"event":"GiftCreate"}')];

describe('anySignatureMatches', () => {
  beforeEach(() => {
    vi.mocked(crypto.createHmac).mockClear();
    vi.mocked(crypto.timingSafeEqual).mockClear();
  });

  it('does the same work whether the first key matches, the last matches, or none does (no early exit)', () => {
    const digests = {
      first: hmacSha256(keys[0] as KeyObject, content),
      last: hmacSha256(keys[2] as KeyObject, content),
      none: Buffer.alloc(32, 7),
    };
    const calls: Record<string, [number, number]> = {};
    for (const [name, digest] of Object.entries(digests)) {
      vi.mocked(crypto.createHmac).mockClear();
      vi.mocked(crypto.timingSafeEqual).mockClear();
      const matched = anySignatureMatches(keys, content, [digest, Buffer.alloc(32, 9)]);
      expect(matched).toBe(name !== 'none');
      calls[name] = [
        vi.mocked(crypto.createHmac).mock.calls.length,
        vi.mocked(crypto.timingSafeEqual).mock.calls.length,
      ];
    }
    expect(calls).toEqual({ first: [3, 6], last: [3, 6], none: [3, 6] });
  });

  it('compares a wrong-length digest in constant time against a stand-in and never matches or throws', () => {
    const right = hmacSha256(keys[1] as KeyObject, content);
    for (const wrong of [Buffer.alloc(0), right.subarray(0, 31), Buffer.concat([right, Buffer.alloc(1)])]) {
      expect(anySignatureMatches(keys, content, [wrong])).toBe(false);
    }
    for (const call of vi.mocked(crypto.timingSafeEqual).mock.calls) {
      expect((call[0] as Buffer).length).toBe((call[1] as Buffer).length);
    }
  });

  it('feeds content parts to the HMAC in order, equal to one concatenated buffer', () => {
    const parts = [Buffer.from('1795000000.'), Buffer.from('{"a":1}')];
    expect(hmacSha256(keys[0] as KeyObject, parts)).toEqual(hmacSha256(keys[0] as KeyObject, [Buffer.concat(parts)]));
    expect(hmacSha256(keys[0] as KeyObject, ['1795000000.', parts[1] as Buffer])).toEqual(
      hmacSha256(keys[0] as KeyObject, parts),
    );
  });

  it('matches nothing with no keys or no digests', () => {
    expect(anySignatureMatches([], content, [Buffer.alloc(32)])).toBe(false);
    expect(anySignatureMatches(keys, content, [])).toBe(false);
  });
});

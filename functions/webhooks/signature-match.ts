/**
 * The one place signatures are compared. Every candidate secret is tried against every presented digest and the
 * results are ORed, so neither the time taken nor an early return reveals which secret, which digest or which
 * byte failed. Comparison is constant-time over equal-length buffers: a presented digest of the wrong length is
 * compared against a same-length stand-in and then counted as a mismatch.
 */
import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';

export const HMAC_SHA256_BYTES = 32;

const WRONG_LENGTH_STAND_IN = Buffer.alloc(HMAC_SHA256_BYTES);

/** Bytes that were signed, as parts fed to the HMAC in order (no copy into one buffer). */
export type SignedContent = readonly (Buffer | string)[];

/**
 * An HMAC key held as a KeyObject: Node's createHmac prepares a raw Buffer key on every call (tens of microseconds,
 * more than hashing a 2 KB body), a KeyObject once. It also keeps the key out of anything that serializes objects.
 */
export function hmacKey(secret: string | Buffer): KeyObject {
  return createSecretKey(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret);
}

export function hmacSha256(key: KeyObject, content: SignedContent): Buffer {
  const hmac = createHmac('sha256', key);
  for (const part of content) hmac.update(part);
  return hmac.digest();
}

/**
 * True when any presented digest equals HMAC-SHA256(key, content) for any key. Work done is the same for a match
 * and a mismatch: keys × digests comparisons, always all of them.
 */
export function anySignatureMatches(
  keys: readonly KeyObject[],
  content: SignedContent,
  presented: readonly Buffer[],
): boolean {
  let matched = 0;
  for (const key of keys) {
    const expected = hmacSha256(key, content);
    for (const digest of presented) {
      const sameLength = digest.length === expected.length;
      const equal = timingSafeEqual(sameLength ? digest : WRONG_LENGTH_STAND_IN, expected);
      matched |= Number(sameLength && equal);
    }
  }
  return matched === 1;
}

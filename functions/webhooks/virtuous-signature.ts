/**
 * Virtuous webhook signatures: HMAC-SHA256 over the raw request body, keyed by the customer's webhook secret.
 * Virtuous's public material disagrees on the digest encoding (the older article and public verifiers say Base64,
 * the newer docs presume hex), so both are accepted: the header is decoded to the 32 digest bytes and the bytes are
 * compared, never the strings. A `sha256=` prefix is tolerated because the header format is not published.
 */
import type { KeyObject } from 'node:crypto';
import { anySignatureMatches, HMAC_SHA256_BYTES } from './signature-match.ts';
import { refused, VALID, type VerificationResult } from './verification-result.ts';

export const DEFAULT_VIRTUOUS_SIGNATURE_HEADER = 'X-Virtuous-Signature';

const HEX_DIGEST = /^[0-9a-fA-F]{64}$/;
/** 32 bytes in Base64 are 43 significant characters plus one `=`; the URL-safe alphabet is tolerated too. */
const BASE64_DIGEST = /^[A-Za-z0-9+/_-]{43}=?$/;
const PREFIX = /^sha256=/i;
/** The usual Base64 spelling (43 characters and one `=`), decoded before the tolerant path. */
const PADDED_BASE64_LENGTH = 44;
const EQUALS_SIGN = 0x3d;
const MAX_HEADER_LENGTH = 128;

/** The digest bytes in a signature header, or undefined when the header is not a hex or Base64 SHA-256 digest. */
export function decodeVirtuousSignature(header: string): Buffer | undefined {
  if (header.length > MAX_HEADER_LENGTH) return undefined;
  // Hot path, the plain hex digest: Node's hex decoder stops at the first non-hex pair, so 64 characters that decode
  // to 32 bytes are exactly a valid hex digest.
  if (header.length === 2 * HMAC_SHA256_BYTES) {
    const digest = Buffer.from(header, 'hex');
    if (digest.length === HMAC_SHA256_BYTES) return digest;
  }
  // Hot path, the padded Base64 digest: Node's decoder skips or stops at any character outside the (standard or
  // URL-safe) alphabet, so 43 characters and a `=` that decode to 32 bytes are exactly what the tolerant path below
  // would accept and decode the same way. No regular expression.
  if (header.length === PADDED_BASE64_LENGTH && header.charCodeAt(PADDED_BASE64_LENGTH - 1) === EQUALS_SIGN) {
    const digest = Buffer.from(header, 'base64');
    if (digest.length === HMAC_SHA256_BYTES) return digest;
  }
  const value = header.trim().replace(PREFIX, '');
  let digest: Buffer | undefined;
  if (HEX_DIGEST.test(value)) digest = Buffer.from(value, 'hex');
  else if (BASE64_DIGEST.test(value)) {
    digest = Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
  }
  return digest?.length === HMAC_SHA256_BYTES ? digest : undefined;
}

export function verifyVirtuousSignature(
  rawBody: Buffer,
  header: string,
  keys: readonly KeyObject[],
): VerificationResult {
  const digest = decodeVirtuousSignature(header);
  if (digest === undefined) return refused('malformed_signature');
  if (keys.length === 0) return refused('no_accepted_secret');
  return anySignatureMatches(keys, [rawBody], [digest]) ? VALID : refused('signature_mismatch');
}

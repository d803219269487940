/**
 * Stripe webhook signatures: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`, each v1 an HMAC-SHA256
 * of `${t}.${raw body}` keyed by the endpoint's signing secret (the whole `whsec_...` string). Stripe sends several
 * v1 values while it rolls its own secret; any one matching any accepted secret is enough. The timestamp bounds
 * replay: a delivery more than the tolerance away from our clock, in either direction, is refused.
 */
import type { KeyObject } from 'node:crypto';
import { anySignatureMatches, HMAC_SHA256_BYTES } from './signature-match.ts';
import { refused, VALID, type VerificationResult } from './verification-result.ts';

export const STRIPE_SIGNATURE_HEADER = 'Stripe-Signature';
export const DEFAULT_STRIPE_TOLERANCE_SECONDS = 300;

/** Bounds the work one header can cause (Stripe sends one or two v1 values). */
const MAX_V1_SIGNATURES = 8;
const MAX_HEADER_LENGTH = 2048;
const TIMESTAMP = /^\d{1,12}$/;
const HEX_DIGEST = /^[0-9a-fA-F]{64}$/;
const USUAL_HEADER = /^t=(\d{1,12}),v1=([0-9a-fA-F]{64})$/;

export interface StripeSignatureHeader {
  readonly timestamp: number;
  /** The `t` value exactly as sent: it is part of the signed content. */
  readonly timestampText: string;
  readonly v1: readonly Buffer[];
}

/** Parses the header; undefined when it has no single well-formed `t` or no well-formed `v1`. */
export function parseStripeSignature(header: string): StripeSignatureHeader | undefined {
  if (header.length > MAX_HEADER_LENGTH) return undefined;
  // Hot path: the usual `t=…,v1=…` in one regular-expression match instead of a split and a loop.
  const usual = USUAL_HEADER.exec(header);
  if (usual !== null) {
    const [, timestampText = '', hex = ''] = usual;
    return { timestamp: Number(timestampText), timestampText, v1: [Buffer.from(hex, 'hex')] };
  }
  let timestampText: string | undefined;
  let timestampCount = 0;
  const v1: Buffer[] = [];
  for (const element of header.split(',')) {
    const separator = element.indexOf('=');
    if (separator < 0) continue;
    const key = element.slice(0, separator).trim();
    const value = element.slice(separator + 1).trim();
    if (key === 't') {
      timestampCount += 1;
      timestampText = value;
    } else if (key === 'v1' && HEX_DIGEST.test(value)) {
      if (v1.length >= MAX_V1_SIGNATURES) return undefined;
      v1.push(Buffer.from(value, 'hex'));
    }
  }
  if (timestampCount !== 1 || timestampText === undefined || !TIMESTAMP.test(timestampText) || v1.length === 0) {
    return undefined;
  }
  if (v1.some((digest) => digest.length !== HMAC_SHA256_BYTES)) return undefined;
  return { timestamp: Number(timestampText), timestampText, v1 };
}

export function verifyStripeSignature(
  rawBody: Buffer,
  header: string,
  keys: readonly KeyObject[],
  now: Date,
  toleranceSeconds: number = DEFAULT_STRIPE_TOLERANCE_SECONDS,
): VerificationResult {
  const parsed = parseStripeSignature(header);
  if (parsed === undefined) return refused('malformed_signature');
  const ageSeconds = now.getTime() / 1000 - parsed.timestamp;
  if (Math.abs(ageSeconds) > toleranceSeconds) return refused('stale_timestamp');
  if (keys.length === 0) return refused('no_accepted_secret');
  return anySignatureMatches(keys, [`${parsed.timestampText}.`, rawBody], parsed.v1)
    ? VALID
    : refused('signature_mismatch');
}

/**
 * The set of secrets a delivery may be signed with, and the rotation window that governs it.
 *
 * Model (after Secrets Manager's AWSCURRENT / AWSPENDING / AWSPREVIOUS): `current` is always accepted; `pending`
 * is accepted as soon as a rotation stores it, because the sender may switch to it at any moment after that;
 * `previous` is accepted only until its `validUntil`, so in-flight deliveries and the sender's retries signed with the
 * old secret still pass while the window is open, and are refused from the instant it closes.
 */
import type { KeyObject } from 'node:crypto';
import type { SecretStage } from '../credentials/secret-store.ts';
import { hmacKey } from './signature-match.ts';

export interface SecretCandidate {
  /** HMAC key: the secret's UTF-8 bytes. */
  readonly key: KeyObject;
  readonly stage: SecretStage;
  /** For `previous` only: the end of the rotation window (exclusive). */
  readonly validUntil?: Date;
}

export function secretCandidate(value: string, stage: SecretStage, validUntil?: Date): SecretCandidate {
  return validUntil === undefined ? { key: hmacKey(value), stage } : { key: hmacKey(value), stage, validUntil };
}

/** A `previous` secret with no window end, or an invalid one, is never accepted: the window must be explicit. */
export function isAcceptedAt(candidate: SecretCandidate, now: Date): boolean {
  if (candidate.stage !== 'previous') return true;
  const until = candidate.validUntil?.getTime();
  return until !== undefined && Number.isFinite(until) && now.getTime() < until;
}

/** The HMAC keys accepted at `now`, current first. */
export function acceptedKeys(candidates: readonly SecretCandidate[], now: Date): KeyObject[] {
  const keys: KeyObject[] = [];
  for (const candidate of candidates) {
    if (isAcceptedAt(candidate, now)) keys.push(candidate.key);
  }
  return keys;
}

/** Parses an ISO-8601 window end; undefined when absent or unparsable (which closes the window). */
export function parseValidUntil(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  return Number.isFinite(date.getTime()) ? date : undefined;
}

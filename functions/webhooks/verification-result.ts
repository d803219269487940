/** Why a delivery was refused: short codes, safe to log and to put on a metric; never shown to the caller. */
export type VerificationFailure =
  | 'missing_signature'
  | 'malformed_signature'
  | 'stale_timestamp'
  | 'no_accepted_secret'
  | 'signature_mismatch';

export type VerificationResult =
  | { readonly valid: true }
  | { readonly valid: false; readonly reason: VerificationFailure };

export const VALID: VerificationResult = { valid: true };

export function refused(reason: VerificationFailure): VerificationResult {
  return { valid: false, reason };
}

/**
 * Seals payloads that may carry donor PII (dead letters, messages held for a paused customer) before they are stored.
 * Version 2 (functions/crypto/customer-key-sealer.ts): AES-256-GCM under the customer's own data key, destroyed at
 * offboarding. Version 1 (kms-payload-sealer.ts, local-payload-sealer.ts): a fresh data key per payload, wrapped by
 * the stack's shared key; still opened for data written before version 2. The customer id and purpose are bound to
 * the ciphertext (GCM additional data, and KMS encryption context for v1), so a sealed payload cannot be opened as
 * another customer's.
 */

export interface SealContext {
  readonly customerId: string;
  /** What the payload is for, e.g. `dead-letter` or `held-message`. */
  readonly purpose: string;
}

/** Plain data (strings only), so it stores as a DynamoDB map and serializes as JSON unchanged. */
export type SealedPayload = SealedPayloadV1 | SealedPayloadV2;

/** Written before per-customer keys: a fresh data key per payload, wrapped by the stack's shared key. */
export interface SealedPayloadV1 {
  readonly v: 1;
  readonly alg: 'AES-256-GCM';
  /** `kms` (wrappedKey is a KMS CiphertextBlob) or `keyring` (wrappedKey is AES-256-GCM under keyring key `keyId`). */
  readonly wrap: 'kms' | 'keyring';
  readonly keyId: string;
  readonly wrappedKey: string;
  readonly iv: string;
  readonly tag: string;
  readonly ciphertext: string;
}

/** Sealed under the customer's own data key `keyId` (functions/crypto/customer-keys.ts); carries no key at all. */
export interface SealedPayloadV2 {
  readonly v: 2;
  readonly alg: 'AES-256-GCM';
  readonly wrap: 'customer-key';
  readonly keyId: string;
  readonly iv: string;
  readonly tag: string;
  readonly ciphertext: string;
}

export interface PayloadSealer {
  seal(plaintext: string, context: SealContext): Promise<SealedPayload>;
  /** PermanentError `SEALED_PAYLOAD_UNREADABLE` when the payload was tampered with or belongs to another context. */
  open(sealed: SealedPayload, context: SealContext): Promise<string>;
}

/**
 * Seals payloads that may carry donor PII (dead letters, messages held for a paused customer) before they are stored.
 * Envelope encryption: a fresh 256-bit data key per payload encrypts it with AES-256-GCM; the data key is stored only
 * wrapped (by KMS on AWS, by a keyring key locally). The customer id and purpose are bound to the ciphertext (KMS
 * encryption context and GCM additional data), so a sealed payload cannot be opened as another customer's.
 */

export interface SealContext {
  readonly customerId: string;
  /** What the payload is for, e.g. `dead-letter` or `held-message`. */
  readonly purpose: string;
}

/** Plain data (strings only), so it stores as a DynamoDB map and serializes as JSON unchanged. */
export interface SealedPayload {
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

export interface PayloadSealer {
  seal(plaintext: string, context: SealContext): Promise<SealedPayload>;
  /** PermanentError `SEALED_PAYLOAD_UNREADABLE` when the payload was tampered with or belongs to another context. */
  open(sealed: SealedPayload, context: SealContext): Promise<string>;
}

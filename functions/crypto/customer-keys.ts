/**
 * Per-customer data keys: every payload of a customer (dead letters, held messages) is sealed under that customer's
 * own 256-bit data key, so destroying the key at offboarding makes every copy of the customer's sealed data
 * unreadable wherever it still lies (deleted-but-not-compacted storage, point-in-time backups, archives).
 *
 * On AWS the key is a KMS data key whose encrypted form is the only stored copy (functions/crypto/kms-customer-keys.ts,
 * in a table without point-in-time recovery); locally it is an entry of the keyring file. Destroying it removes every
 * stored copy and leaves a tombstone (key id, fingerprint, time): identifiers only, enough to prove what was destroyed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { PermanentError } from '../shared/errors.ts';

export interface CustomerDataKey {
  readonly keyId: string;
  /** The plaintext key: used in memory only, never stored, logged or returned. */
  readonly key: Buffer;
  readonly fingerprint: string;
}

export type CustomerKeyState =
  | { readonly state: 'active'; readonly keyId: string; readonly fingerprint: string; readonly createdAt: string }
  | DestroyedCustomerKey;

export interface DestroyedCustomerKey {
  readonly state: 'destroyed';
  readonly keyId: string;
  readonly fingerprint: string;
  readonly destroyedAt: string;
}

export interface CustomerKeyStore {
  /** The customer's data key, created on first use (and anew for a customer whose earlier key was destroyed). */
  current(customerId: string): Promise<CustomerDataKey>;
  /** The key a payload names; PermanentError `CUSTOMER_KEY_DESTROYED` once no stored copy of it remains. */
  byId(customerId: string, keyId: string): Promise<CustomerDataKey>;
  /** What is stored for the customer, without key material; undefined when the customer never had a key. */
  describe(customerId: string): Promise<CustomerKeyState | undefined>;
  /**
   * Removes every stored (and cached) copy of the customer's key and keeps a tombstone. Idempotent: a second call
   * answers the same tombstone. Undefined when the customer never had a key.
   */
  destroy(customerId: string, at: Date): Promise<DestroyedCustomerKey | undefined>;
}

export const CUSTOMER_KEY_DESTROYED = 'CUSTOMER_KEY_DESTROYED';

export function customerKeyDestroyed(keyId: string): PermanentError {
  return new PermanentError(CUSTOMER_KEY_DESTROYED, `customer data key ${keyId} no longer exists`);
}

export function newCustomerKeyId(): string {
  return `ck-${randomBytes(8).toString('hex')}`;
}

/**
 * A short, one-way identifier of a key (SHA-256 over a label and the key, 16 hex digits): names the key in the
 * deletion record without revealing anything that helps recover it.
 */
export function keyFingerprint(key: Uint8Array): string {
  return createHash('sha256').update('customer-data-key\0').update(key).digest('hex').slice(0, 16);
}

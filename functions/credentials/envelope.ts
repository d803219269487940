/**
 * AES-256-GCM envelope encryption for the local store. Each value gets its own random 256-bit data key; the data
 * key is wrapped by a key-encryption key (KEK). Both layers bind to the secret name and version id (additional
 * authenticated data), so an entry copied onto another secret or version fails authentication like any tampering.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { PermanentError } from '../shared/errors.ts';
import type { KeyEncryptionKey } from './keyring.ts';

export interface SealedValue {
  readonly kekId: string;
  /** base64 of iv (12) | wrapped data key (32) | tag (16). */
  readonly wrappedKey: string;
  /** base64 of iv (12) | ciphertext | tag (16). */
  readonly ciphertext: string;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

function encrypt(key: Buffer, plaintext: Buffer, aad: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
}

function decrypt(key: Buffer, sealed: string, aad: string): Buffer {
  const bytes = Buffer.from(sealed, 'base64');
  if (bytes.length < IV_BYTES + TAG_BYTES) throw integrityFailure();
  const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
  } catch {
    // The cipher's own error carries no value, but we name the failure ourselves and drop partial plaintext.
    throw integrityFailure();
  }
}

function integrityFailure(): PermanentError {
  return new PermanentError(
    'SECRET_INTEGRITY_FAILURE',
    'a stored secret failed its integrity check (tampered or wrong key)',
  );
}

function keyAad(kekId: string, binding: string): string {
  return `kek:${kekId}|${binding}`;
}

export function seal(value: string, kek: KeyEncryptionKey, binding: string): SealedValue {
  const dataKey = randomBytes(32);
  try {
    return {
      kekId: kek.id,
      wrappedKey: encrypt(kek.key, dataKey, keyAad(kek.id, binding)),
      ciphertext: encrypt(dataKey, Buffer.from(value, 'utf8'), `value|${binding}`),
    };
  } finally {
    dataKey.fill(0);
  }
}

export function open(sealed: SealedValue, kek: KeyEncryptionKey, binding: string): string {
  const dataKey = decrypt(kek.key, sealed.wrappedKey, keyAad(sealed.kekId, binding));
  try {
    return decrypt(dataKey, sealed.ciphertext, `value|${binding}`).toString('utf8');
  } finally {
    dataKey.fill(0);
  }
}

/** Re-wraps the data key under another KEK; the value's ciphertext is untouched. */
export function rewrap(
  sealed: SealedValue,
  from: KeyEncryptionKey,
  to: KeyEncryptionKey,
  binding: string,
): SealedValue {
  const dataKey = decrypt(from.key, sealed.wrappedKey, keyAad(sealed.kekId, binding));
  try {
    return {
      kekId: to.id,
      wrappedKey: encrypt(to.key, dataKey, keyAad(to.id, binding)),
      ciphertext: sealed.ciphertext,
    };
  } finally {
    dataKey.fill(0);
  }
}

/** AES-256-GCM with a random 96-bit nonce, the one symmetric primitive both sealers use. */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { PermanentError } from '../shared/errors.ts';

export interface GcmBox {
  readonly iv: string;
  readonly tag: string;
  readonly ciphertext: string;
}

export function gcmEncrypt(key: Uint8Array, plaintext: Uint8Array, aad: string): GcmBox {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return {
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    ciphertext: ciphertext.toString('base64'),
  };
}

export function gcmDecrypt(key: Uint8Array, box: GcmBox, aad: string): Buffer {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(box.iv, 'base64'));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(Buffer.from(box.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(box.ciphertext, 'base64')), decipher.final()]);
  } catch (cause) {
    throw new PermanentError('SEALED_PAYLOAD_UNREADABLE', 'sealed payload failed authentication', { cause });
  }
}

/** Additional authenticated data: binds a ciphertext to its customer and purpose. */
export function contextAad(context: { customerId: string; purpose: string }): string {
  return JSON.stringify({ customerId: context.customerId, purpose: context.purpose });
}

/**
 * One-machine sealer: the same envelope as the KMS sealer, with the data key wrapped by the active key of the local
 * keyring (functions/credentials/keyring.ts, `.local/keyring.json`: the same key-encryption keys as the local secret
 * store) using AES-256-GCM bound to the same customer/purpose context, instead of KMS.
 */
import { randomBytes } from 'node:crypto';
import type { Keyring } from '../credentials/keyring.ts';
import { PermanentError } from '../shared/errors.ts';
import { contextAad, gcmDecrypt, gcmEncrypt } from './aes-gcm.ts';
import type { PayloadSealer, SealedPayload } from './payload-sealer.ts';

export function createLocalPayloadSealer(keyring: Keyring): PayloadSealer {
  return {
    async seal(plaintext, context) {
      const aad = contextAad(context);
      const dataKey = randomBytes(32);
      try {
        const kek = await keyring.active();
        const wrapped = gcmEncrypt(kek.key, dataKey, aad);
        const box = gcmEncrypt(dataKey, Buffer.from(plaintext, 'utf8'), aad);
        return {
          v: 1,
          alg: 'AES-256-GCM',
          wrap: 'keyring',
          keyId: kek.id,
          wrappedKey: JSON.stringify(wrapped),
          ...box,
        };
      } finally {
        dataKey.fill(0);
      }
    },

    async open(sealed: SealedPayload, context) {
      if (sealed.wrap !== 'keyring') {
        throw new PermanentError('SEALED_PAYLOAD_UNREADABLE', `payload was sealed by ${sealed.wrap}, not the keyring`);
      }
      const aad = contextAad(context);
      let wrapped: { iv: string; tag: string; ciphertext: string };
      try {
        wrapped = JSON.parse(sealed.wrappedKey);
      } catch (cause) {
        throw new PermanentError('SEALED_PAYLOAD_UNREADABLE', 'wrapped data key is malformed', { cause });
      }
      const dataKey = gcmDecrypt((await keyring.byId(sealed.keyId)).key, wrapped, aad);
      try {
        return gcmDecrypt(dataKey, sealed, aad).toString('utf8');
      } finally {
        dataKey.fill(0);
      }
    },
  };
}

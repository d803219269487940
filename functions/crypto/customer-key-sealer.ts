/**
 * The payload sealer of customer data: AES-256-GCM directly under the customer's own data key (CustomerKeyStore),
 * envelope version 2, bound to the customer and purpose as additional data. Nothing in a v2 envelope can open it:
 * once the customer's key is destroyed, no copy of the payload anywhere is readable.
 *
 * Version 1 envelopes (a fresh data key per payload, wrapped by the stack's shared key) were written before
 * per-customer keys; they still open through the legacy sealer while their customer is active, and go with the
 * customer's items at offboarding. New payloads are always version 2.
 */
import { PermanentError } from '../shared/errors.ts';
import { contextAad, gcmDecrypt, gcmEncrypt } from './aes-gcm.ts';
import type { CustomerKeyStore } from './customer-keys.ts';
import type { PayloadSealer, SealedPayload } from './payload-sealer.ts';

export interface CustomerKeySealerOptions {
  readonly keys: CustomerKeyStore;
  /** Opens version-1 envelopes (the shared-key sealer of the same runtime); without it they are refused. */
  readonly legacy?: PayloadSealer;
}

export function createCustomerKeySealer(options: CustomerKeySealerOptions): PayloadSealer {
  return {
    async seal(plaintext, context) {
      const dataKey = await options.keys.current(context.customerId);
      const box = gcmEncrypt(dataKey.key, Buffer.from(plaintext, 'utf8'), contextAad(context));
      return { v: 2, alg: 'AES-256-GCM', wrap: 'customer-key', keyId: dataKey.keyId, ...box };
    },

    async open(sealed: SealedPayload, context) {
      if (sealed.v === 1) {
        if (options.legacy === undefined) {
          throw new PermanentError('SEALED_PAYLOAD_UNREADABLE', 'version-1 payloads are not readable here');
        }
        return options.legacy.open(sealed, context);
      }
      if (sealed.wrap !== 'customer-key') {
        throw new PermanentError('SEALED_PAYLOAD_UNREADABLE', 'unknown sealed payload format');
      }
      const dataKey = await options.keys.byId(context.customerId, sealed.keyId);
      return gcmDecrypt(dataKey.key, sealed, contextAad(context)).toString('utf8');
    },
  };
}

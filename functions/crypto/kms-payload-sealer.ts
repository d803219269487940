/**
 * AWS sealer: KMS GenerateDataKey (AES_256) with EncryptionContext {customerId, purpose}; the plaintext data key is
 * used once in memory for AES-256-GCM and then zeroed. Opening calls KMS Decrypt with the same context, so KMS
 * refuses a payload presented under another customer's context and CloudTrail records every unseal.
 */
import {
  DecryptCommand,
  type DecryptCommandOutput,
  GenerateDataKeyCommand,
  type GenerateDataKeyCommandOutput,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { PermanentError, TransientError } from '../shared/errors.ts';
import { contextAad, gcmDecrypt, gcmEncrypt } from './aes-gcm.ts';
import type { PayloadSealer, SealContext, SealedPayload } from './payload-sealer.ts';

export interface KmsPayloadSealerOptions {
  readonly kms: KMSClient;
  readonly keyArn: string;
  readonly timeoutMs?: number;
}

function encryptionContext(context: SealContext): Record<string, string> {
  return { customerId: context.customerId, purpose: context.purpose };
}

export function classifyKmsError(error: unknown, operation: string): never {
  const name = (error as { name?: string }).name ?? '';
  if (name === 'InvalidCiphertextException' || name === 'IncorrectKeyException') {
    throw new PermanentError('SEALED_PAYLOAD_UNREADABLE', `kms ${operation} refused the sealed payload`, {
      cause: error,
    });
  }
  if (name === 'AccessDeniedException' || name === 'DisabledException' || name === 'NotFoundException') {
    throw new PermanentError('KMS_KEY_UNAVAILABLE', `kms ${operation} failed: ${name}`, { cause: error });
  }
  throw new TransientError('KMS_UNAVAILABLE', `kms ${operation} failed`, { cause: error });
}

export function createKmsPayloadSealer(options: KmsPayloadSealerOptions): PayloadSealer {
  const timeoutMs = options.timeoutMs ?? 3000;
  return {
    async seal(plaintext, context) {
      let dataKey: GenerateDataKeyCommandOutput;
      try {
        dataKey = await options.kms.send(
          new GenerateDataKeyCommand({
            KeyId: options.keyArn,
            KeySpec: 'AES_256',
            EncryptionContext: encryptionContext(context),
          }),
          { abortSignal: AbortSignal.timeout(timeoutMs) },
        );
      } catch (error) {
        classifyKmsError(error, 'GenerateDataKey');
      }
      if (!dataKey.Plaintext || !dataKey.CiphertextBlob) {
        throw new TransientError('KMS_EMPTY_DATA_KEY', 'kms GenerateDataKey returned no key');
      }
      try {
        const box = gcmEncrypt(dataKey.Plaintext, Buffer.from(plaintext, 'utf8'), contextAad(context));
        return {
          v: 1,
          alg: 'AES-256-GCM',
          wrap: 'kms',
          keyId: dataKey.KeyId ?? options.keyArn,
          wrappedKey: Buffer.from(dataKey.CiphertextBlob).toString('base64'),
          ...box,
        };
      } finally {
        dataKey.Plaintext.fill(0);
      }
    },

    async open(sealed: SealedPayload, context) {
      if (sealed.wrap !== 'kms') {
        throw new PermanentError('SEALED_PAYLOAD_UNREADABLE', `payload was sealed by ${sealed.wrap}, not kms`);
      }
      let result: DecryptCommandOutput;
      try {
        result = await options.kms.send(
          new DecryptCommand({
            CiphertextBlob: Buffer.from(sealed.wrappedKey, 'base64'),
            EncryptionContext: encryptionContext(context),
            KeyId: options.keyArn,
          }),
          { abortSignal: AbortSignal.timeout(timeoutMs) },
        );
      } catch (error) {
        classifyKmsError(error, 'Decrypt');
      }
      if (!result.Plaintext) throw new TransientError('KMS_EMPTY_DATA_KEY', 'kms Decrypt returned no key');
      try {
        return gcmDecrypt(result.Plaintext, sealed, contextAad(context)).toString('utf8');
      } finally {
        result.Plaintext.fill(0);
      }
    },
  };
}

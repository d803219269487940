import { randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryKeyring } from '../../../functions/credentials/keyring.ts';
import { createKmsPayloadSealer } from '../../../functions/crypto/kms-payload-sealer.ts';
import { createLocalPayloadSealer } from '../../../functions/crypto/local-payload-sealer.ts';
import type { PayloadSealer } from '../../../functions/crypto/payload-sealer.ts';
import { PermanentError, TransientError } from '../../../functions/shared/errors.ts';
import { DONOR } from '../../support/canaries.ts';

const plaintext = JSON.stringify({ email: DONOR.email, name: DONOR.lastName, note: 'ünïcødé ✓' });
const acme = { customerId: 'acme', purpose: 'dead-letter' };

/** A stateful KMS stand-in: data keys are wrapped under a master key and bound to their encryption context. */
function kmsModel() {
  const kms = mockClient(KMSClient);
  const master = randomBytes(32);
  const wrapped = new Map<string, { key: Buffer; context: string }>();
  kms.on(GenerateDataKeyCommand).callsFake((input) => {
    const key = randomBytes(32);
    const blob = randomBytes(48);
    wrapped.set(blob.toString('hex'), { key: Buffer.from(key), context: JSON.stringify(input.EncryptionContext) });
    return {
      Plaintext: new Uint8Array(key),
      CiphertextBlob: new Uint8Array(blob),
      KeyId: 'arn:aws:kms:us-east-1:1:key/k',
    };
  });
  kms.on(DecryptCommand).callsFake((input) => {
    const entry = wrapped.get(Buffer.from(input.CiphertextBlob as Uint8Array).toString('hex'));
    if (!entry || entry.context !== JSON.stringify(input.EncryptionContext)) {
      throw Object.assign(new Error('invalid'), { name: 'InvalidCiphertextException' });
    }
    return { Plaintext: new Uint8Array(entry.key) };
  });
  void master;
  return kms;
}

function contract(name: string, make: () => PayloadSealer) {
  describe(name, () => {
    it('round-trips and stores no plaintext', async () => {
      const sealer = make();
      const sealed = await sealer.seal(plaintext, acme);
      const stored = JSON.stringify(sealed);
      expect(stored).not.toContain(DONOR.email);
      expect(stored).not.toContain(DONOR.lastName);
      expect(await sealer.open(sealed, acme)).toBe(plaintext);
    });

    it('uses a fresh key and nonce per payload', async () => {
      const sealer = make();
      const one = await sealer.seal(plaintext, acme);
      const two = await sealer.seal(plaintext, acme);
      expect(one.ciphertext).not.toBe(two.ciphertext);
      if (one.v === 1 && two.v === 1) expect(one.wrappedKey).not.toBe(two.wrappedKey);
      expect(one.iv).not.toBe(two.iv);
    });

    it("refuses to open under another customer's or purpose's context", async () => {
      const sealer = make();
      const sealed = await sealer.seal(plaintext, acme);
      await expect(sealer.open(sealed, { customerId: 'other', purpose: 'dead-letter' })).rejects.toThrow(
        PermanentError,
      );
      await expect(sealer.open(sealed, { customerId: 'acme', purpose: 'held-message' })).rejects.toThrow(
        PermanentError,
      );
    });

    it('detects tampering with the ciphertext', async () => {
      const sealer = make();
      const sealed = await sealer.seal(plaintext, acme);
      const bytes = Buffer.from(sealed.ciphertext, 'base64');
      bytes[0] = (bytes[0] as number) ^ 1;
      await expect(sealer.open({ ...sealed, ciphertext: bytes.toString('base64') }, acme)).rejects.toThrow(
        PermanentError,
      );
    });
  });
}

afterEach(() => {
  mockClient(KMSClient).restore();
});

contract('local payload sealer (keyring)', () => createLocalPayloadSealer(new MemoryKeyring()));

contract('KMS payload sealer', () => {
  kmsModel();
  return createKmsPayloadSealer({
    kms: new KMSClient({ region: 'us-east-1' }),
    keyArn: 'arn:aws:kms:us-east-1:1:key/k',
  });
});

describe('KMS payload sealer failures', () => {
  it('binds the KMS encryption context to customer and purpose', async () => {
    const kms = kmsModel();
    const sealer = createKmsPayloadSealer({ kms: new KMSClient({ region: 'us-east-1' }), keyArn: 'arn:k' });
    await sealer.seal(plaintext, acme);
    const call = kms.commandCalls(GenerateDataKeyCommand)[0];
    expect(call?.args[0].input).toMatchObject({
      KeyId: 'arn:k',
      KeySpec: 'AES_256',
      EncryptionContext: { customerId: 'acme', purpose: 'dead-letter' },
    });
  });

  it('classifies an unavailable KMS as transient', async () => {
    const kms = mockClient(KMSClient);
    kms.on(GenerateDataKeyCommand).rejects(Object.assign(new Error('boom'), { name: 'KMSInternalException' }));
    const sealer = createKmsPayloadSealer({ kms: new KMSClient({ region: 'us-east-1' }), keyArn: 'arn:k' });
    await expect(sealer.seal(plaintext, acme)).rejects.toThrow(TransientError);
  });
});

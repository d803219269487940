// Per-customer KMS data keys and their destruction, against a stateful KMS model (aws-sdk-client-mock) and dynalite
// for the key table. The model decrypts any encrypted data key it issued, exactly as KMS would for as long as the
// CMK exists: what makes a destroyed key unrecoverable is that no stored copy of its encrypted form remains.
import { randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { GetCommand, paginateScan } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAwsCustomerSealer } from '../../../functions/crypto/aws-customer-sealer.ts';
import { shredCustomerKey } from '../../../functions/crypto/customer-key-shredding.ts';
import { CUSTOMER_KEY_DESTROYED } from '../../../functions/crypto/customer-keys.ts';
import { CACHE_TTL_MS, createKmsCustomerKeys } from '../../../functions/crypto/kms-customer-keys.ts';
import { createKmsPayloadSealer } from '../../../functions/crypto/kms-payload-sealer.ts';
import { TABLE_KEYS } from '../../../functions/shared/tables.ts';
import { DONOR } from '../../support/canaries.ts';
import { type LocalAws, startLocalAws } from '../../support/local-aws.ts';

const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/data';
const body = JSON.stringify({ email: DONOR.email, name: DONOR.lastName });
const held = (customerId: string) => ({ customerId, purpose: 'held-message' });

/** KMS as it behaves while the CMK exists: any CiphertextBlob it issued decrypts under the same encryption context. */
function kmsModel() {
  const kms = mockClient(KMSClient);
  const issued = new Map<string, { key: Buffer; context: string }>();
  kms.on(GenerateDataKeyCommand).callsFake((input) => {
    const key = randomBytes(32);
    const blob = randomBytes(184);
    issued.set(blob.toString('base64'), { key, context: JSON.stringify(input.EncryptionContext) });
    return { Plaintext: new Uint8Array(key), CiphertextBlob: new Uint8Array(blob), KeyId: KEY_ARN };
  });
  kms.on(DecryptCommand).callsFake((input) => {
    const entry = issued.get(Buffer.from(input.CiphertextBlob as Uint8Array).toString('base64'));
    if (!entry || entry.context !== JSON.stringify(input.EncryptionContext)) {
      throw Object.assign(new Error('invalid ciphertext'), { name: 'InvalidCiphertextException' });
    }
    return { Plaintext: new Uint8Array(entry.key), KeyId: KEY_ARN };
  });
  return { kms, issued };
}

let aws: LocalAws;
beforeAll(async () => {
  aws = await startLocalAws();
});
afterAll(async () => {
  await aws.stop();
});
afterEach(() => {
  mockClient(KMSClient).restore();
});

function container(now: () => number = Date.now) {
  const options = {
    kms: new KMSClient({ region: 'us-east-1' }),
    keyArn: KEY_ARN,
    client: aws.documentClient,
    table: aws.tableNames.customerKeys,
  };
  const keys = createKmsCustomerKeys({ ...options, now });
  return { keys, sealer: createAwsCustomerSealer(options, keys) };
}

/** Every attribute value of every item in every table, as text: where a stored copy of anything would show. */
async function everythingStored(): Promise<string> {
  let all = '';
  for (const key of TABLE_KEYS) {
    for await (const page of paginateScan({ client: aws.documentClient }, { TableName: aws.tableNames[key] })) {
      all += JSON.stringify(page.Items ?? []);
    }
  }
  return all;
}

describe('per-customer KMS data keys', () => {
  it('seals under the customer key (one GenerateDataKey per customer), and after destruction nothing opens', async () => {
    const { kms, issued } = kmsModel();
    const processor = container();
    const first = await processor.sealer.seal(body, held('acme'));
    const second = await processor.sealer.seal(body, held('acme'));
    expect(first).toMatchObject({ v: 2, wrap: 'customer-key', keyId: second.keyId });
    expect(JSON.stringify(first)).not.toContain(DONOR.email);
    expect(kms.commandCalls(GenerateDataKeyCommand)).toHaveLength(1);
    expect(kms.commandCalls(GenerateDataKeyCommand)[0]?.args[0].input.EncryptionContext).toEqual({
      customerId: 'acme',
      purpose: 'customer-data-key',
      keyId: first.keyId,
    });
    // Another container (cold cache) opens it through KMS Decrypt of the stored encrypted data key.
    const lifecycleApi = container();
    expect(await lifecycleApi.sealer.open(first, held('acme'))).toBe(body);
    const [blob] = [...issued.keys()];
    expect(await everythingStored()).toContain(blob);

    const offboarding = container();
    const shredding = await shredCustomerKey(offboarding.keys, 'acme', new Date('2026-12-01T00:00:00Z'));
    expect(shredding).toMatchObject({ status: 'destroyed', keyId: first.keyId, trialOpen: 'refused' });

    // No stored copy of the encrypted data key is left anywhere: the item is a tombstone of identifiers.
    expect(await everythingStored()).not.toContain(blob);
    const item = await aws.documentClient.send(
      new GetCommand({ TableName: aws.tableNames.customerKeys, Key: { customerId: 'acme' } }),
    );
    expect(Object.keys(item.Item ?? {}).sort()).toEqual(['customerId', 'destroyedAt', 'fingerprint', 'keyId', 'state']);

    // A fresh container, a restored backup copy of the payload: refused without KMS ever being asked.
    const decrypts = kms.commandCalls(DecryptCommand).length;
    for (const sealed of [first, second]) {
      await expect(container().sealer.open(sealed, held('acme'))).rejects.toMatchObject({
        code: CUSTOMER_KEY_DESTROYED,
      });
    }
    expect(kms.commandCalls(DecryptCommand)).toHaveLength(decrypts);
    // The KMS model would still decrypt the blob if anyone had kept it: the shredding rests on no one having it.
    expect(issued.has(blob as string)).toBe(true);
    // Another customer's key is untouched.
    const other = await processor.sealer.seal(body, held('beta'));
    expect(await container().sealer.open(other, held('beta'))).toBe(body);
  });

  it('repeats the destruction idempotently, proving it again from the tombstone', async () => {
    kmsModel();
    const { keys, sealer } = container();
    await sealer.seal(body, held('gamma'));
    const once = await shredCustomerKey(keys, 'gamma', new Date('2026-12-01T00:00:00Z'));
    const twice = await shredCustomerKey(container().keys, 'gamma', new Date('2026-12-02T00:00:00Z'));
    expect(twice).toEqual(once);
    // The same customer onboarded again: a new key replaces the tombstone; the old payloads stay dark.
    const again = await container().sealer.seal(body, held('gamma'));
    expect(again.keyId).not.toBe(once.status === 'destroyed' ? once.keyId : undefined);
    expect(await container().sealer.open(again, held('gamma'))).toBe(body);
    expect(await shredCustomerKey(keys, 'never-sealed', new Date())).toEqual({
      status: 'no_key',
      trialOpen: 'not_applicable',
    });
  });

  it('a container that cached the key before the destruction drops it within the cache lifetime', async () => {
    kmsModel();
    let clock = Date.parse('2026-12-01T00:00:00Z');
    const warm = container(() => clock);
    const sealed = await warm.sealer.seal(body, held('delta'));
    await shredCustomerKey(container().keys, 'delta', new Date(clock));
    clock += CACHE_TTL_MS + 1;
    await expect(warm.sealer.open(sealed, held('delta'))).rejects.toMatchObject({ code: CUSTOMER_KEY_DESTROYED });
  });

  it('two containers creating the first key at once agree on one', async () => {
    kmsModel();
    const [a, b] = [container(), container()];
    const [one, two] = await Promise.all([a.keys.current('epsilon'), b.keys.current('epsilon')]);
    expect(one.keyId).toBe(two.keyId);
    expect(one.key.equals(two.key)).toBe(true);
  });

  it('still opens a version-1 payload (shared-key envelope) written before per-customer keys', async () => {
    kmsModel();
    const legacy = createKmsPayloadSealer({ kms: new KMSClient({ region: 'us-east-1' }), keyArn: KEY_ARN });
    const old = await legacy.seal(body, held('zeta'));
    expect(old.v).toBe(1);
    expect(await container().sealer.open(old, held('zeta'))).toBe(body);
  });
});

// Customer data keys in the local keyring file: created on first use, removed from the file (atomic rewrite, still
// 0600) at destruction with a tombstone left, readable from a keyring written before per-customer keys existed.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileKeyring } from '../../../functions/credentials/keyring.ts';
import { createCustomerKeySealer } from '../../../functions/crypto/customer-key-sealer.ts';
import { shredCustomerKey } from '../../../functions/crypto/customer-key-shredding.ts';
import { CUSTOMER_KEY_DESTROYED } from '../../../functions/crypto/customer-keys.ts';
import { createLocalPayloadSealer } from '../../../functions/crypto/local-payload-sealer.ts';
import { DONOR } from '../../support/canaries.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keyring-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const body = JSON.stringify({ email: DONOR.email });
const held = (customerId: string) => ({ customerId, purpose: 'held-message' });

describe('customer data keys in the keyring file', () => {
  it('destroys the customer key in the file itself, keeps a tombstone, and leaves other customers untouched', async () => {
    const path = join(dir, 'keyring.json');
    const keyring = new FileKeyring(path);
    const sealer = createCustomerKeySealer({ keys: keyring.customerKeys });
    const acme = await sealer.seal(body, held('acme'));
    const beta = await sealer.seal(body, held('beta'));
    const keyOf = async (customerId: string) =>
      (JSON.parse(await readFile(path, 'utf8')).customerKeys as { customerId: string; key: string }[]).find(
        (entry) => entry.customerId === customerId,
      )?.key;
    const acmeKey = await keyOf('acme');
    expect(acmeKey).toBeDefined();

    const shredding = await shredCustomerKey(keyring.customerKeys, 'acme', new Date('2026-12-01T00:00:00Z'));
    expect(shredding).toMatchObject({ status: 'destroyed', keyId: acme.keyId, trialOpen: 'refused' });
    const text = await readFile(path, 'utf8');
    expect(text).not.toContain(acmeKey as string);
    expect(JSON.parse(text).destroyedCustomerKeys).toEqual([
      {
        customerId: 'acme',
        keyId: acme.keyId,
        fingerprint: shredding.status === 'destroyed' ? shredding.fingerprint : '',
        destroyedAt: '2026-12-01T00:00:00.000Z',
      },
    ]);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    // A fresh process reading the same file: acme's payload is dark, beta's still opens.
    const restarted = createCustomerKeySealer({ keys: new FileKeyring(path).customerKeys });
    await expect(restarted.open(acme, held('acme'))).rejects.toMatchObject({ code: CUSTOMER_KEY_DESTROYED });
    expect(await restarted.open(beta, held('beta'))).toBe(body);
  });

  it('a customer onboarded again gets a new key; what was sealed under the destroyed one stays dark', async () => {
    const keyring = new FileKeyring(join(dir, 'keyring.json'));
    const sealer = createCustomerKeySealer({ keys: keyring.customerKeys });
    const before = await sealer.seal(body, held('acme'));
    await shredCustomerKey(keyring.customerKeys, 'acme', new Date());
    const after = await sealer.seal(body, held('acme'));
    expect(after.keyId).not.toBe(before.keyId);
    expect(await sealer.open(after, held('acme'))).toBe(body);
    await expect(sealer.open(before, held('acme'))).rejects.toMatchObject({ code: CUSTOMER_KEY_DESTROYED });
  });

  it('reads a keyring written before per-customer keys, and still opens its version-1 payloads', async () => {
    const path = join(dir, 'keyring.json');
    const old = new FileKeyring(path);
    const legacy = createLocalPayloadSealer(old);
    const sealedBefore = await legacy.seal(body, held('acme'));
    const document = JSON.parse(await readFile(path, 'utf8'));
    expect(document.customerKeys).toBeUndefined();
    await writeFile(path, JSON.stringify(document), { mode: 0o600 });
    const keyring = new FileKeyring(path);
    const sealer = createCustomerKeySealer({ keys: keyring.customerKeys, legacy: createLocalPayloadSealer(keyring) });
    expect(await sealer.open(sealedBefore, held('acme'))).toBe(body);
    expect((await sealer.seal(body, held('acme'))).v).toBe(2);
  });
});

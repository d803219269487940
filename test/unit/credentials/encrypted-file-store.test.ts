import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EncryptedFileStore, type StoreDocument } from '../../../functions/credentials/encrypted-file-store.ts';
import { MemoryAuditLog } from '../../../functions/credentials/memory-audit-log.ts';
import type { SecretRef } from '../../../functions/credentials/secret-store.ts';
import { ForbiddenInputError, PermanentError } from '../../../functions/shared/errors.ts';
import { registerSecret } from '../../support/canaries.ts';

const ctx = { reason: 'test:local' };
const token: SecretRef = { customerId: 'acme', kind: 'api_token' };
const hook: SecretRef = { customerId: 'acme', kind: 'webhook_secret' };

let directory: string;
let storePath: string;
let keyringPath: string;
let audit: MemoryAuditLog;

function openStore(): EncryptedFileStore {
  return EncryptedFileStore.inFiles({ environment: 'test', audit, storePath, keyringPath });
}

async function readDocument(): Promise<StoreDocument> {
  return JSON.parse(await readFile(storePath, 'utf8')) as StoreDocument;
}

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'encrypted-store-'));
  storePath = join(directory, 'state', 'secrets.json');
  keyringPath = join(directory, 'keys', 'keyring.json');
  audit = new MemoryAuditLog();
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('EncryptedFileStore on disk', () => {
  it('keeps no plaintext in the store file or the keyring, and creates both readable by the owner only', async () => {
    const store = openStore();
    const secret = registerSecret('plain-token-7f3a9c1e5b');
    await store.putPending(token, secret, ctx);
    await store.promotePending(token, ctx);
    const bytes = await readFile(storePath);
    expect(bytes.includes(Buffer.from(secret, 'utf8'))).toBe(false);
    expect(bytes.includes(Buffer.from(secret, 'utf8').toString('base64'))).toBe(false);
    expect((await readFile(keyringPath)).includes(Buffer.from(secret, 'utf8'))).toBe(false);
    expect((await stat(keyringPath)).mode & 0o777).toBe(0o600);
    expect((await stat(storePath)).mode & 0o777).toBe(0o600);
    expect((await openStore().read(token, 'current', ctx))?.value).toBe(secret);
  });

  it('keeps an integration-internal secret sealed beside the customers, through reopening, KEK rotation and offboarding', async () => {
    const store = openStore();
    const client = registerSecret('{"client_id":"ca_unit","client_secret":"sk_test_unit_platform_5e1d"}');
    expect(await store.readPlatformSecret('stripe', 'oauth_client')).toBeUndefined();
    await store.putPlatformSecret('stripe', 'oauth_client', client);
    await store.putPending(token, registerSecret('acme-token-4c2b8d'), ctx);
    const bytes = await readFile(storePath);
    expect(bytes.includes(Buffer.from('sk_test_unit_platform_5e1d', 'utf8'))).toBe(false);
    expect(Object.keys((await readDocument()).secrets)).toContain('stripe/test/_platform/oauth_client');

    await store.rotateKek({ retirePrevious: true });
    await store.deleteCustomer('acme', ctx);
    expect(await openStore().readPlatformSecret('stripe', 'oauth_client')).toBe(client);
    // No customer reaches it: the customer audit trail has no record of it, and a name that is no source is refused.
    expect(audit.all().some((record) => record.customerId === '_platform')).toBe(false);
    await expect(store.readPlatformSecret('virtuous', 'oauth_client')).rejects.toThrow(ForbiddenInputError);
  });

  it('rotates the key-encryption key: re-wraps every entry, old entries stay readable, retired keys disappear', async () => {
    const store = openStore();
    const [a, b, c] = [
      registerSecret('kek-value-a-11'),
      registerSecret('kek-value-b-22'),
      registerSecret('kek-value-c-33'),
    ];
    await store.putPending(token, a, ctx);
    await store.promotePending(token, ctx);
    await store.putPending(token, b, ctx);
    await store.putPending(hook, c, ctx);
    const before = await readDocument();
    const oldKek = before.secrets['virtuous/test/acme/api_token']?.versions[0]?.kekId;
    const oldCiphertext = before.secrets['virtuous/test/acme/api_token']?.versions[0]?.ciphertext;

    const { kekId, rewrapped } = await store.rotateKek();
    expect(rewrapped).toBe(3);
    expect(kekId).not.toBe(oldKek);
    const after = await readDocument();
    const versions = Object.values(after.secrets).flatMap((s) => s.versions);
    expect(versions.map((v) => v.kekId)).toEqual([kekId, kekId, kekId]);
    // Only the data key was re-wrapped; the value's ciphertext is unchanged.
    expect(after.secrets['virtuous/test/acme/api_token']?.versions[0]?.ciphertext).toBe(oldCiphertext);
    const keyring = JSON.parse(await readFile(keyringPath, 'utf8'));
    expect(keyring.keys).toHaveLength(2);

    expect((await openStore().read(token, 'current', ctx))?.value).toBe(a);
    expect((await openStore().read(token, 'pending', ctx))?.value).toBe(b);
    await store.rotateKek({ retirePrevious: true });
    expect(JSON.parse(await readFile(keyringPath, 'utf8')).keys).toHaveLength(1);
    expect((await openStore().read(hook, 'current', ctx))?.value).toBe(c);
  });

  it('reads entries written before a key rotation that has not re-wrapped them yet (key ids recorded)', async () => {
    const store = openStore();
    const old = registerSecret('pre-rotation-value');
    await store.putPending(token, old, ctx);
    // A new active key without re-wrapping (as if the re-wrap were interrupted): new entries use it, old ones keep theirs.
    const { FileKeyring } = await import('../../../functions/credentials/keyring.ts');
    const fresh = await new FileKeyring(keyringPath).addActiveKey();
    const newer = registerSecret('post-rotation-value');
    await store.putPending(hook, newer, ctx);
    const document = await readDocument();
    expect(document.secrets['virtuous/test/acme/webhook_secret']?.versions[0]?.kekId).toBe(fresh.id);
    expect(document.secrets['virtuous/test/acme/api_token']?.versions[0]?.kekId).not.toBe(fresh.id);
    expect((await store.read(token, 'current', ctx))?.value).toBe(old);
    expect((await store.read(hook, 'current', ctx))?.value).toBe(newer);
  });

  it.each([
    ['a flipped ciphertext byte', (d: StoreDocument) => flip(d, 'ciphertext')],
    ['a flipped wrapped-key byte', (d: StoreDocument) => flip(d, 'wrappedKey')],
    [
      'an entry copied from another secret',
      (d: StoreDocument) => {
        const from = d.secrets['virtuous/test/acme/webhook_secret']?.versions[0];
        const to = d.secrets['virtuous/test/acme/api_token']?.versions[0];
        if (!from || !to) throw new Error('fixture');
        Object.assign(to, { wrappedKey: from.wrappedKey, ciphertext: from.ciphertext, kekId: from.kekId });
      },
    ],
  ])('detects tampering (%s) with a clear error and no value', async (_label, tamper) => {
    const store = openStore();
    const secret = registerSecret('tamper-target-9d8c7b');
    await store.putPending(token, secret, ctx);
    await store.putPending(hook, registerSecret('other-secret-1a2b3c'), ctx);
    const document = await readDocument();
    tamper(document);
    await writeFile(storePath, JSON.stringify(document));
    const error = await store.read(token, 'current', ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code: 'SECRET_INTEGRITY_FAILURE' });
    expect(`${String(error)} ${JSON.stringify(error)}`).not.toContain(secret);
    expect(audit.all().at(-1)).toMatchObject({
      action: 'read',
      outcome: 'error',
      errorCode: 'SECRET_INTEGRITY_FAILURE',
    });
  });

  it('refuses a damaged store file as INVALID_SECRET_STORE_FILE, quoting nothing of it', async () => {
    const store = openStore();
    await store.putPending(token, registerSecret('damaged-file-value-4e5f'), ctx);
    const ciphertext = (await readDocument()).secrets['virtuous/test/acme/api_token']?.versions[0]?.ciphertext;
    if (ciphertext === undefined) throw new Error('fixture');
    // A hand edit that lost a quote: V8's SyntaxError would quote the sealed text after the fault.
    const text = await readFile(storePath, 'utf8');
    await writeFile(storePath, text.replace(`"${ciphertext}"`, ciphertext));

    const error = await openStore()
      .read(token, 'current', ctx)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({
      code: 'INVALID_SECRET_STORE_FILE',
      message: 'the local secret store file is not in the expected format',
    });
    expect(`${(error as Error).message} ${(error as Error).stack ?? ''}`).not.toContain(ciphertext.slice(0, 12));

    await writeFile(storePath, 'null');
    await expect(openStore().read(token, 'current', ctx)).rejects.toMatchObject({
      code: 'INVALID_SECRET_STORE_FILE',
    });
  });

  it('creates a fresh keyring exactly once when several users start at the same time', async () => {
    const { FileKeyring } = await import('../../../functions/credentials/keyring.ts');
    const users = Array.from({ length: 8 }, () => new FileKeyring(keyringPath));
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(directory, 'keys'), { recursive: true });
    const keys = await Promise.all(users.map((keyring) => keyring.active()));
    expect(new Set(keys.map((k) => k.id)).size).toBe(1);
    expect(JSON.parse(await readFile(keyringPath, 'utf8')).keys).toHaveLength(1);
  });

  it('refuses a keyring file that other users can read', async () => {
    const store = openStore();
    await store.putPending(token, registerSecret('perm-check-value'), ctx);
    await chmod(keyringPath, 0o644);
    await expect(openStore().read(token, 'current', ctx)).rejects.toBeInstanceOf(ForbiddenInputError);
  });

  it('serialises concurrent writers in one process, even through two store objects on one file', async () => {
    const first = openStore();
    const second = openStore();
    const refs: SecretRef[] = Array.from({ length: 30 }, (_, i) => ({
      customerId: `cust-${i}`,
      kind: 'api_token',
    }));
    await Promise.all(
      refs.map((ref, i) => (i % 2 ? first : second).putPending(ref, registerSecret(`concurrent-${i}-x`), ctx)),
    );
    const document = await readDocument();
    expect(Object.keys(document.secrets)).toHaveLength(30);
    for (const [i, ref] of refs.entries()) {
      expect((await first.read(ref, 'current', ctx))?.value).toBe(`concurrent-${i}-x`);
    }
  });

  it('erases a deleted previous version and a discarded pending version from the file', async () => {
    const store = openStore();
    const [v1, v2, v3] = [
      registerSecret('erase-1-aaaa'),
      registerSecret('erase-2-bbbb'),
      registerSecret('erase-3-cccc'),
    ];
    await store.putPending(token, v1, ctx);
    await store.promotePending(token, ctx);
    await store.putPending(token, v2, ctx);
    await store.promotePending(token, ctx);
    await store.putPending(token, v3, ctx);
    expect((await readDocument()).secrets['virtuous/test/acme/api_token']?.versions).toHaveLength(3);
    await store.deletePrevious(token, ctx);
    await store.discardPending(token, ctx);
    const versions = (await readDocument()).secrets['virtuous/test/acme/api_token']?.versions ?? [];
    expect(versions.map((v) => v.stages)).toEqual([['current']]);
  });
});

function flip(document: StoreDocument, field: 'ciphertext' | 'wrappedKey'): void {
  const version = document.secrets['virtuous/test/acme/api_token']?.versions[0];
  if (!version) throw new Error('fixture');
  const bytes = Buffer.from(version[field], 'base64');
  bytes[20] = (bytes[20] ?? 0) ^ 0x01;
  (version as unknown as Record<string, unknown>)[field] = bytes.toString('base64');
}

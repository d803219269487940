import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import {
  EncryptedFileStore,
  FileDocumentStorage,
  MemoryDocumentStorage,
  type StoreDocumentStorage,
} from '../../../functions/credentials/encrypted-file-store.ts';
import { FileKeyring, MemoryKeyring } from '../../../functions/credentials/keyring.ts';
import { MemoryAuditLog } from '../../../functions/credentials/memory-audit-log.ts';
import { describeSecretStoreContract } from './secret-store.contract.ts';

/** Counts every load/save so refused input can be shown to touch no storage at all. */
function counting(storage: StoreDocumentStorage): { storage: StoreDocumentStorage; calls: () => number } {
  let calls = 0;
  return {
    calls: () => calls,
    storage: {
      lockKey: storage.lockKey,
      load: () => {
        calls++;
        return storage.load();
      },
      save: (document) => {
        calls++;
        return storage.save(document);
      },
    },
  };
}

describeSecretStoreContract('encrypted store (memory)', async () => {
  const audit = new MemoryAuditLog();
  const { storage, calls } = counting(new MemoryDocumentStorage());
  const store = new EncryptedFileStore({ environment: 'test', audit, storage, keyring: new MemoryKeyring() });
  return { store, audit, externalCalls: calls };
});

const directories: string[] = [];
afterAll(async () => {
  await Promise.all(directories.map((d) => rm(d, { recursive: true, force: true })));
});

describeSecretStoreContract('encrypted store (files)', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'secret-store-contract-'));
  directories.push(directory);
  const audit = new MemoryAuditLog();
  const { storage, calls } = counting(new FileDocumentStorage(join(directory, 'secrets.json')));
  const store = new EncryptedFileStore({
    environment: 'test',
    audit,
    storage,
    keyring: new FileKeyring(join(directory, 'keyring.json')),
  });
  return { store, audit, externalCalls: calls };
});

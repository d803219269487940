/**
 * Key-encryption keys (KEKs) for the local encrypted store. The keyring file lives outside the repository
 * (default `.local/keyring.json`, git-ignored), is created with mode 0600 on first use, and is refused when other
 * users can read it. Every key has an id; entries record the id that wrapped them, so a new key can become active
 * while entries wrapped by an older one stay readable until they are re-wrapped.
 *
 * The same file holds each customer's data key (`customerKeys`, the one-machine form of a per-customer KMS data key,
 * functions/crypto/customer-keys.ts). Offboarding removes the customer's entry, rewriting the file atomically, and
 * keeps a tombstone (key id, fingerprint, time) in `destroyedCustomerKeys`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import {
  type CustomerKeyStore,
  customerKeyDestroyed,
  type DestroyedCustomerKey,
  keyFingerprint,
  newCustomerKeyId,
} from '../crypto/customer-keys.ts';
import { ForbiddenInputError, PermanentError } from '../shared/errors.ts';
import { createFileExclusively, writeFileAtomically } from './atomic-file.ts';
import { KeyedMutex } from './mutex.ts';
import { parseStateFileJson } from './state-file-json.ts';

const keyringLocks = new KeyedMutex();

export interface KeyEncryptionKey {
  readonly id: string;
  readonly key: Buffer;
}

export interface Keyring {
  active(): Promise<KeyEncryptionKey>;
  /** The key with this id; PermanentError when the keyring no longer has it. */
  byId(id: string): Promise<KeyEncryptionKey>;
  /** Adds a new key and makes it the active one. */
  addActiveKey(): Promise<KeyEncryptionKey>;
  /** Removes every key but the active one: call only once every entry is wrapped by the active key. */
  retireAllButActive(): Promise<void>;
}

interface KeyringDocument {
  format: 1;
  activeKeyId: string;
  keys: { id: string; key: string; createdAt: string }[];
  /** One data key per customer (absent in files written before per-customer keys). */
  customerKeys?: CustomerKeyEntry[];
  destroyedCustomerKeys?: (Omit<DestroyedCustomerKey, 'state'> & { customerId: string })[];
}

interface CustomerKeyEntry {
  customerId: string;
  id: string;
  key: string;
  fingerprint: string;
  createdAt: string;
}

export const DEFAULT_KEYRING_PATH = '.local/keyring.json';

function newKeyEntry(): KeyringDocument['keys'][number] {
  return {
    id: `kek-${randomBytes(8).toString('hex')}`,
    key: randomBytes(32).toString('base64'),
    createdAt: new Date().toISOString(),
  };
}

abstract class DocumentKeyring implements Keyring {
  protected abstract load(): Promise<KeyringDocument>;
  protected abstract save(document: KeyringDocument): Promise<void>;
  /** Serialises read-modify-write of the keyring; several users (secret store, payload sealer) share one. */
  protected abstract readonly lockKey: string;

  active(): Promise<KeyEncryptionKey> {
    return keyringLocks.run(this.lockKey, async () => {
      const document = await this.load();
      return this.find(document, document.activeKeyId);
    });
  }

  byId(id: string): Promise<KeyEncryptionKey> {
    return keyringLocks.run(this.lockKey, async () => this.find(await this.load(), id));
  }

  addActiveKey(): Promise<KeyEncryptionKey> {
    return keyringLocks.run(this.lockKey, async () => {
      const document = await this.load();
      const entry = newKeyEntry();
      await this.save({ ...document, activeKeyId: entry.id, keys: [...document.keys, entry] });
      return { id: entry.id, key: Buffer.from(entry.key, 'base64') };
    });
  }

  retireAllButActive(): Promise<void> {
    return keyringLocks.run(this.lockKey, async () => {
      const document = await this.load();
      await this.save({ ...document, keys: document.keys.filter((k) => k.id === document.activeKeyId) });
    });
  }

  /** The customers' data keys kept in this keyring (see the file comment). */
  get customerKeys(): CustomerKeyStore {
    const run = <T>(work: () => Promise<T>) => keyringLocks.run(this.lockKey, work);
    const entryOf = (document: KeyringDocument, customerId: string) =>
      (document.customerKeys ?? []).find((entry) => entry.customerId === customerId);
    const tombstoneOf = (document: KeyringDocument, customerId: string) =>
      (document.destroyedCustomerKeys ?? []).find((entry) => entry.customerId === customerId);
    const dataKey = (entry: CustomerKeyEntry) => ({
      keyId: entry.id,
      key: Buffer.from(entry.key, 'base64'),
      fingerprint: entry.fingerprint,
    });
    return {
      current: (customerId) =>
        run(async () => {
          const document = await this.load();
          const existing = entryOf(document, customerId);
          if (existing) return dataKey(existing);
          const key = randomBytes(32);
          const entry: CustomerKeyEntry = {
            customerId,
            id: newCustomerKeyId(),
            key: key.toString('base64'),
            fingerprint: keyFingerprint(key),
            createdAt: new Date().toISOString(),
          };
          await this.save({ ...document, customerKeys: [...(document.customerKeys ?? []), entry] });
          return dataKey(entry);
        }),
      byId: (customerId, keyId) =>
        run(async () => {
          const entry = entryOf(await this.load(), customerId);
          if (entry === undefined || entry.id !== keyId) throw customerKeyDestroyed(keyId);
          return dataKey(entry);
        }),
      describe: (customerId) =>
        run(async () => {
          const document = await this.load();
          const entry = entryOf(document, customerId);
          if (entry) {
            return { state: 'active', keyId: entry.id, fingerprint: entry.fingerprint, createdAt: entry.createdAt };
          }
          const tombstone = tombstoneOf(document, customerId);
          return tombstone ? { state: 'destroyed', ...withoutCustomer(tombstone) } : undefined;
        }),
      destroy: (customerId, at) =>
        run(async () => {
          const document = await this.load();
          const entry = entryOf(document, customerId);
          if (entry === undefined) {
            const tombstone = tombstoneOf(document, customerId);
            return tombstone ? { state: 'destroyed', ...withoutCustomer(tombstone) } : undefined;
          }
          const tombstone = {
            customerId,
            keyId: entry.id,
            fingerprint: entry.fingerprint,
            destroyedAt: at.toISOString(),
          };
          // One atomic rewrite: the file never holds the key and the tombstone together, nor neither.
          await this.save({
            ...document,
            customerKeys: (document.customerKeys ?? []).filter((other) => other.customerId !== customerId),
            destroyedCustomerKeys: [
              ...(document.destroyedCustomerKeys ?? []).filter((other) => other.customerId !== customerId),
              tombstone,
            ],
          });
          return { state: 'destroyed', ...withoutCustomer(tombstone) };
        }),
    };
  }

  private find(document: KeyringDocument, id: string): KeyEncryptionKey {
    const entry = document.keys.find((k) => k.id === id);
    if (entry === undefined) {
      throw new PermanentError('UNKNOWN_KEY_ENCRYPTION_KEY', 'the keyring has no key with the id an entry names');
    }
    const key = Buffer.from(entry.key, 'base64');
    if (key.length !== 32) throw new PermanentError('INVALID_KEYRING', 'a keyring key is not 256 bits');
    return { id: entry.id, key };
  }
}

/** A keyring in memory (tests): starts with one fresh key. */
export class MemoryKeyring extends DocumentKeyring {
  protected readonly lockKey = `memory:${randomBytes(8).toString('hex')}`;
  private document: KeyringDocument;

  constructor() {
    super();
    const entry = newKeyEntry();
    this.document = { format: 1, activeKeyId: entry.id, keys: [entry] };
  }

  protected async load(): Promise<KeyringDocument> {
    return this.document;
  }

  protected async save(document: KeyringDocument): Promise<void> {
    this.document = document;
  }
}

/** A keyring file, created with one fresh key on first use. */
export class FileKeyring extends DocumentKeyring {
  readonly path: string;
  protected readonly lockKey: string;

  constructor(path: string = DEFAULT_KEYRING_PATH) {
    super();
    this.path = resolve(path);
    this.lockKey = `file:${this.path}`;
  }

  protected async load(): Promise<KeyringDocument> {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      const entry = newKeyEntry();
      // Created exclusively: when another process created it first, its key wins and is read back below.
      await createFileExclusively(
        this.path,
        `${JSON.stringify({ format: 1, activeKeyId: entry.id, keys: [entry] }, null, 2)}\n`,
      );
      return this.load();
    }
    if ((info.mode & 0o077) !== 0) {
      throw new ForbiddenInputError(
        'KEYRING_PERMISSIONS',
        'the keyring file must be readable by its owner only (0600)',
      );
    }
    const parsed = parseStateFileJson(await readFile(this.path, 'utf8'), invalidKeyring) as KeyringDocument;
    if (
      parsed === null ||
      typeof parsed !== 'object' ||
      parsed.format !== 1 ||
      !Array.isArray(parsed.keys) ||
      typeof parsed.activeKeyId !== 'string'
    ) {
      throw invalidKeyring();
    }
    return parsed;
  }

  protected async save(document: KeyringDocument): Promise<void> {
    await writeFileAtomically(this.path, `${JSON.stringify(document, null, 2)}\n`);
  }
}

function withoutCustomer<T extends { customerId: string }>(entry: T): Omit<T, 'customerId'> {
  const { customerId: _customerId, ...rest } = entry;
  return rest;
}

function invalidKeyring(): PermanentError {
  return new PermanentError('INVALID_KEYRING', 'the keyring file is not in the expected format');
}

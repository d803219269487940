/**
 * The SecretStore for one machine: the seed's accepted alternative when no secrets manager is available.
 * Values are sealed with AES-256-GCM envelope encryption (see envelope.ts) under a KEK from a local keyring file;
 * the store file holds only ciphertext, wrapped keys, key ids, labels and timestamps. Same stages, same audit
 * records, same contract as the Secrets Manager store (test/contract/secret-store).
 *
 * Differences from AWS, by design: a version that loses its last label is erased at once (Secrets Manager keeps
 * deprecated versions until it purges them), and a customer deletion is immediate (no recovery window).
 *
 * Writes are atomic (temp file + rename) and every operation runs under a per-file mutex, so concurrent
 * operations of one process never interleave. One process owns a store file; the local runtime is that process.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import { ForbiddenInputError, PermanentError } from '../shared/errors.ts';
import { assertCustomerId, assertEnvironmentName } from '../shared/identifiers.ts';
import { assertAccessContext } from './access-context.ts';
import { writeFileAtomically } from './atomic-file.ts';
import type { AuditLog } from './audit-log.ts';
import { auditTarget, type OperationResult, runAudited } from './audited-access.ts';
import { open, rewrap, type SealedValue, seal } from './envelope.ts';
import { FileKeyring, type Keyring, MemoryKeyring } from './keyring.ts';
import { KeyedMutex } from './mutex.ts';
import {
  PLATFORM_SEGMENT,
  type PlatformSecretPurpose,
  platformSecretName,
  type ResolvedSecretRef,
  resolveSecretRef,
} from './secret-names.ts';
import type { AccessContext, SecretKind, SecretRef, SecretStage, SecretStore, SecretVersion } from './secret-store.ts';
import { parseStateFileJson } from './state-file-json.ts';

interface StoredVersion extends SealedValue {
  readonly versionId: string;
  stages: SecretStage[];
  readonly createdAt: string;
}

interface StoredSecret {
  /** A customer id, or `_platform` for an integration-internal secret (which no customer id can be). */
  readonly customerId: string;
  readonly environment: string;
  readonly kind: SecretKind | PlatformSecretPurpose;
  readonly source?: string;
  readonly createdAt: string;
  versions: StoredVersion[];
}

export interface StoreDocument {
  format: 1;
  secrets: Record<string, StoredSecret>;
}

/** Where the sealed document lives. `lockKey` identifies the underlying resource for the in-process mutex. */
export interface StoreDocumentStorage {
  readonly lockKey: string;
  load(): Promise<StoreDocument>;
  save(document: StoreDocument): Promise<void>;
}

export const DEFAULT_STORE_PATH = '.local/secrets.json';

function emptyDocument(): StoreDocument {
  return { format: 1, secrets: {} };
}

function invalidStoreFile(): PermanentError {
  return new PermanentError('INVALID_SECRET_STORE_FILE', 'the local secret store file is not in the expected format');
}

export class FileDocumentStorage implements StoreDocumentStorage {
  readonly lockKey: string;

  constructor(readonly path: string = DEFAULT_STORE_PATH) {
    this.lockKey = `file:${resolve(path)}`;
  }

  async load(): Promise<StoreDocument> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyDocument();
      throw error;
    }
    const document = parseStateFileJson(text, invalidStoreFile) as StoreDocument | null;
    if (
      document === null ||
      typeof document !== 'object' ||
      document.format !== 1 ||
      typeof document.secrets !== 'object' ||
      document.secrets === null
    ) {
      throw invalidStoreFile();
    }
    return document;
  }

  async save(document: StoreDocument): Promise<void> {
    await mkdir(dirname(resolve(this.path)), { recursive: true, mode: 0o700 });
    await writeFileAtomically(this.path, `${JSON.stringify(document, null, 2)}\n`);
  }
}

/** Keeps the sealed document as serialised text, so a failed operation can never leave half-changed objects. */
export class MemoryDocumentStorage implements StoreDocumentStorage {
  readonly lockKey = `memory:${randomUUID()}`;
  private text = JSON.stringify(emptyDocument());

  async load(): Promise<StoreDocument> {
    return JSON.parse(this.text) as StoreDocument;
  }

  async save(document: StoreDocument): Promise<void> {
    this.text = JSON.stringify(document);
  }

  /** The stored bytes, for tests that prove no plaintext is kept. */
  raw(): string {
    return this.text;
  }
}

export interface EncryptedFileStoreOptions {
  readonly environment: string;
  readonly audit: AuditLog;
  readonly keyring: Keyring;
  readonly storage: StoreDocumentStorage;
  /** Recorded in the audit trail; defaults to `local:<os user>`. */
  readonly accessor?: string;
  readonly now?: () => number;
}

/** One mutex per process for every store, keyed by the resource, so two store objects on one file still serialise. */
const locks = new KeyedMutex();

const STAGE_ORDER: readonly SecretStage[] = ['current', 'pending', 'previous'];

export class EncryptedFileStore implements SecretStore {
  private readonly environment: string;
  private readonly accessor: string;
  private readonly now: () => number;

  constructor(private readonly options: EncryptedFileStoreOptions) {
    this.environment = assertEnvironmentName(options.environment);
    this.accessor = options.accessor ?? `local:${safeUserName()}`;
    this.now = options.now ?? Date.now;
  }

  /** A store in files: `.local/secrets.json` sealed under `.local/keyring.json` unless told otherwise. */
  static inFiles(options: {
    environment: string;
    audit: AuditLog;
    storePath?: string;
    keyringPath?: string;
    accessor?: string;
  }): EncryptedFileStore {
    return new EncryptedFileStore({
      environment: options.environment,
      audit: options.audit,
      storage: new FileDocumentStorage(options.storePath),
      keyring: new FileKeyring(options.keyringPath),
      ...(options.accessor === undefined ? {} : { accessor: options.accessor }),
    });
  }

  /** A store in memory (tests): same encryption, nothing on disk. */
  static inMemory(options: { environment: string; audit: AuditLog; now?: () => number }): EncryptedFileStore {
    return new EncryptedFileStore({
      ...options,
      storage: new MemoryDocumentStorage(),
      keyring: new MemoryKeyring(),
    });
  }

  async read(ref: SecretRef, stage: SecretStage, context: AccessContext): Promise<SecretVersion | undefined> {
    const resolved = this.resolve(ref, context);
    assertStage(stage);
    return this.audited(resolved, 'read', context, stage, async (document) => {
      const secret = document.secrets[resolved.name];
      const version = secret?.versions.find((v) => v.stages.includes(stage));
      if (version === undefined) return { result: undefined, outcome: 'not_found' };
      const key = await this.options.keyring.byId(version.kekId);
      const value = open(version, key, binding(resolved.name, version.versionId));
      return {
        result: { value, versionId: version.versionId, stage, createdAt: version.createdAt },
        outcome: 'ok',
        versionId: version.versionId,
      };
    });
  }

  async putPending(ref: SecretRef, value: string, context: AccessContext): Promise<{ versionId: string }> {
    const resolved = this.resolve(ref, context);
    assertValue(value);
    return this.audited(resolved, 'put_pending', context, 'pending', async (document) => {
      const secret: StoredSecret = document.secrets[resolved.name] ?? {
        customerId: resolved.customerId,
        environment: resolved.environment,
        kind: resolved.kind,
        ...(resolved.source === undefined ? {} : { source: resolved.source }),
        createdAt: new Date(this.now()).toISOString(),
        versions: [],
      };
      document.secrets[resolved.name] = secret;
      const versionId = randomUUID();
      // As in Secrets Manager, a secret's very first version is also current: there is nothing else to serve.
      const stages: SecretStage[] = secret.versions.length === 0 ? ['pending', 'current'] : ['pending'];
      removeLabel(secret, 'pending');
      const kek = await this.options.keyring.active();
      secret.versions.push({
        versionId,
        stages,
        createdAt: new Date(this.now()).toISOString(),
        ...seal(value, kek, binding(resolved.name, versionId)),
      });
      await this.options.storage.save(document);
      return { result: { versionId }, outcome: 'ok', versionId };
    });
  }

  async promotePending(ref: SecretRef, context: AccessContext): Promise<{ versionId: string }> {
    const resolved = this.resolve(ref, context);
    return this.audited(resolved, 'promote', context, 'pending', async (document) => {
      const secret = document.secrets[resolved.name];
      const pending = secret?.versions.find((v) => v.stages.includes('pending'));
      if (secret === undefined || pending === undefined) {
        throw new PermanentError('NO_PENDING_VERSION', 'there is no pending version to promote');
      }
      if (!pending.stages.includes('current')) {
        const current = secret.versions.find((v) => v.stages.includes('current'));
        removeLabel(secret, 'previous');
        if (current !== undefined) current.stages = current.stages.map((s) => (s === 'current' ? 'previous' : s));
        pending.stages.push('current');
      }
      removeLabel(secret, 'pending');
      await this.options.storage.save(document);
      return { result: { versionId: pending.versionId }, outcome: 'ok', versionId: pending.versionId };
    });
  }

  async discardPending(ref: SecretRef, context: AccessContext): Promise<void> {
    return this.removeStage(ref, context, 'discard_pending', 'pending');
  }

  async deletePrevious(ref: SecretRef, context: AccessContext): Promise<void> {
    return this.removeStage(ref, context, 'delete_previous', 'previous');
  }

  async deleteCustomer(customerId: string, context: AccessContext): Promise<{ deletedSecrets: number }> {
    assertCustomerId(customerId);
    assertAccessContext(context);
    return locks.run(this.options.storage.lockKey, () =>
      runAudited(
        this.options.audit,
        {
          target: { customerId, kind: 'all' },
          action: 'delete_customer',
          accessor: () => this.accessor,
          context,
          now: this.now,
        },
        async () => {
          const document = await this.options.storage.load();
          const names = Object.keys(document.secrets).filter((name) => {
            const secret = document.secrets[name] as StoredSecret;
            return secret.customerId === customerId && secret.environment === this.environment;
          });
          for (const name of names) delete document.secrets[name];
          if (names.length > 0) await this.options.storage.save(document);
          return {
            result: { deletedSecrets: names.length },
            outcome: names.length > 0 ? 'ok' : 'not_found',
            deletedSecrets: names.length,
          };
        },
      ),
    );
  }

  /**
   * An integration-internal secret (`{source}/{env}/_platform/{purpose}`, e.g. the partner platform's Stripe OAuth
   * client): sealed like every other value, in the same document, but outside the customer-scoped SecretRef model, as
   * on AWS where the function's own role reads it by name. No customer deletion reaches it (no customer id starts
   * with `_`). Not written to the customer audit trail, as on AWS (CloudTrail alone records that read).
   */
  async readPlatformSecret(source: string, purpose: PlatformSecretPurpose): Promise<string | undefined> {
    const name = platformSecretName(this.environment, source, purpose);
    return locks.run(this.options.storage.lockKey, async () => {
      const version = (await this.options.storage.load()).secrets[name]?.versions.find((v) =>
        v.stages.includes('current'),
      );
      if (version === undefined) return undefined;
      return open(version, await this.options.keyring.byId(version.kekId), binding(name, version.versionId));
    });
  }

  /** Stores `value` as the only version of the integration-internal secret (replacing any earlier one). */
  async putPlatformSecret(source: string, purpose: PlatformSecretPurpose, value: string): Promise<void> {
    const name = platformSecretName(this.environment, source, purpose);
    assertValue(value);
    await locks.run(this.options.storage.lockKey, async () => {
      const document = await this.options.storage.load();
      const versionId = randomUUID();
      const createdAt = new Date(this.now()).toISOString();
      document.secrets[name] = {
        customerId: PLATFORM_SEGMENT,
        environment: this.environment,
        kind: purpose,
        source,
        createdAt: document.secrets[name]?.createdAt ?? createdAt,
        versions: [
          {
            versionId,
            stages: ['current'],
            createdAt,
            ...seal(value, await this.options.keyring.active(), binding(name, versionId)),
          },
        ],
      };
      await this.options.storage.save(document);
    });
  }

  /**
   * Makes a new KEK active and re-wraps every data key under it (values are not re-encrypted). With
   * `retirePrevious`, the older keys are then removed from the keyring (no entry refers to them any more).
   */
  async rotateKek(options: { retirePrevious?: boolean } = {}): Promise<{ kekId: string; rewrapped: number }> {
    return locks.run(this.options.storage.lockKey, async () => {
      const keyring = this.options.keyring;
      const next = await keyring.addActiveKey();
      const document = await this.options.storage.load();
      let rewrapped = 0;
      for (const [name, secret] of Object.entries(document.secrets)) {
        secret.versions = await Promise.all(
          secret.versions.map(async (version) => {
            if (version.kekId === next.id) return version;
            const from = await keyring.byId(version.kekId);
            rewrapped++;
            return { ...version, ...rewrap(version, from, next, binding(name, version.versionId)) };
          }),
        );
      }
      await this.options.storage.save(document);
      if (options.retirePrevious) await keyring.retireAllButActive();
      return { kekId: next.id, rewrapped };
    });
  }

  private removeStage(
    ref: SecretRef,
    context: AccessContext,
    action: 'discard_pending' | 'delete_previous',
    stage: SecretStage,
  ): Promise<void> {
    const resolved = this.resolve(ref, context);
    return this.audited(resolved, action, context, stage, async (document) => {
      const secret = document.secrets[resolved.name];
      const version = secret?.versions.find((v) => v.stages.includes(stage));
      if (secret === undefined || version === undefined) return { result: undefined, outcome: 'not_found' };
      removeLabel(secret, stage);
      await this.options.storage.save(document);
      return { result: undefined, outcome: 'ok', versionId: version.versionId };
    });
  }

  private resolve(ref: SecretRef, context: AccessContext): ResolvedSecretRef {
    const resolved = resolveSecretRef(this.environment, ref);
    assertAccessContext(context);
    return resolved;
  }

  private audited<T>(
    resolved: ResolvedSecretRef,
    action: 'read' | 'put_pending' | 'promote' | 'discard_pending' | 'delete_previous',
    context: AccessContext,
    stage: SecretStage,
    operation: (document: StoreDocument) => Promise<OperationResult<T>>,
  ): Promise<T> {
    return locks.run(this.options.storage.lockKey, () =>
      runAudited(
        this.options.audit,
        { target: auditTarget(resolved), action, stage, accessor: () => this.accessor, context, now: this.now },
        async () => operation(await this.options.storage.load()),
      ),
    );
  }
}

/** Removes a label; a version left without labels is erased with its sealed value. */
function removeLabel(secret: StoredSecret, stage: SecretStage): void {
  for (const version of secret.versions) version.stages = version.stages.filter((s) => s !== stage);
  secret.versions = secret.versions.filter((v) => v.stages.length > 0);
}

function binding(name: string, versionId: string): string {
  return `${name}#${versionId}`;
}

export function assertStage(stage: SecretStage): void {
  if (!STAGE_ORDER.includes(stage)) {
    throw new ForbiddenInputError('INVALID_SECRET_STAGE', 'stage must be current, pending or previous');
  }
}

export function assertValue(value: string): void {
  // Secrets Manager's SecretString limit is 65,536 bytes; both stores refuse what AWS would refuse.
  if (typeof value !== 'string' || value.length === 0 || Buffer.byteLength(value, 'utf8') > 65_536) {
    throw new ForbiddenInputError('INVALID_SECRET_VALUE', 'secret value must be a non-empty string of at most 64 KiB');
  }
}

function safeUserName(): string {
  try {
    return userInfo().username.replace(/[^A-Za-z0-9._-]/g, '_') || 'unknown';
  } catch {
    return 'unknown';
  }
}

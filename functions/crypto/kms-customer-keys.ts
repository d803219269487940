/**
 * Customer data keys on AWS: a KMS data key (GenerateDataKey AES_256 under the stack's data CMK, encryption context
 * {customerId, purpose, keyId}) per customer. Its encrypted form is the only stored copy, one item per customer in
 * TABLES.customerKeys, a table without point-in-time recovery; the plaintext key lives only in the memory of a
 * running function, for at most CACHE_TTL_MS.
 *
 * Destroying replaces the item with a tombstone (key id, fingerprint, time) and drops this container's cached copy.
 * From then on no one holds the encrypted data key, so KMS has nothing to decrypt: every payload sealed under it, in
 * any copy (PITR backups of the other tables, the log archive, a queue) is unreadable. Containers that cached the
 * key keep it in memory at most CACHE_TTL_MS longer; the offboarding customer is paused, so none of them seals.
 */
import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { TransientError } from '../shared/errors.ts';
import { ConditionFailed, send, sendConditional } from '../sync/dynamo-call.ts';
import {
  type CustomerDataKey,
  type CustomerKeyState,
  type CustomerKeyStore,
  customerKeyDestroyed,
  type DestroyedCustomerKey,
  keyFingerprint,
  newCustomerKeyId,
} from './customer-keys.ts';
import { classifyKmsError } from './kms-payload-sealer.ts';

/** How long a container keeps a customer's plaintext key: bounds KMS calls, and how long a destroyed key lingers. */
export const CACHE_TTL_MS = 5 * 60_000;

export const CUSTOMER_KEY_PURPOSE = 'customer-data-key';

export interface KmsCustomerKeysOptions {
  readonly kms: KMSClient;
  readonly keyArn: string;
  readonly client: DynamoDBDocumentClient;
  readonly table: string;
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

type KeyItem =
  | {
      readonly customerId: string;
      readonly state: 'active';
      readonly keyId: string;
      /** Base64 KMS CiphertextBlob: the only stored copy of the key. */
      readonly encryptedDataKey: string;
      readonly fingerprint: string;
      readonly createdAt: string;
    }
  | ({ readonly customerId: string } & DestroyedCustomerKey);

interface CachedKey {
  readonly dataKey: CustomerDataKey;
  readonly until: number;
}

export function createKmsCustomerKeys(options: KmsCustomerKeysOptions): CustomerKeyStore {
  const { client, table } = options;
  const timeoutMs = options.timeoutMs ?? 3000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, CachedKey>();

  const context = (customerId: string, keyId: string) => ({ customerId, purpose: CUSTOMER_KEY_PURPOSE, keyId });

  function cached(customerId: string): CustomerDataKey | undefined {
    const entry = cache.get(customerId);
    if (entry === undefined) return undefined;
    if (entry.until > now()) return entry.dataKey;
    evict(customerId);
    return undefined;
  }

  function evict(customerId: string): void {
    cache.get(customerId)?.dataKey.key.fill(0);
    cache.delete(customerId);
  }

  function remember(customerId: string, dataKey: CustomerDataKey): CustomerDataKey {
    evict(customerId);
    cache.set(customerId, { dataKey, until: now() + CACHE_TTL_MS });
    return dataKey;
  }

  async function read(customerId: string): Promise<KeyItem | undefined> {
    const result = await send<{ Item?: KeyItem }>(
      client,
      new GetCommand({ TableName: table, Key: { customerId }, ConsistentRead: true }),
      'GetItem(customer key)',
    );
    return result.Item;
  }

  async function unwrap(item: Extract<KeyItem, { state: 'active' }>): Promise<CustomerDataKey> {
    let plaintext: Uint8Array | undefined;
    try {
      ({ Plaintext: plaintext } = await options.kms.send(
        new DecryptCommand({
          CiphertextBlob: Buffer.from(item.encryptedDataKey, 'base64'),
          EncryptionContext: context(item.customerId, item.keyId),
          KeyId: options.keyArn,
        }),
        { abortSignal: AbortSignal.timeout(timeoutMs) },
      ));
    } catch (error) {
      classifyKmsError(error, 'Decrypt');
    }
    if (!plaintext) throw new TransientError('KMS_EMPTY_DATA_KEY', 'kms Decrypt returned no key');
    const key = Buffer.from(plaintext);
    plaintext.fill(0);
    return remember(item.customerId, { keyId: item.keyId, key, fingerprint: item.fingerprint });
  }

  async function create(customerId: string): Promise<CustomerDataKey> {
    const keyId = newCustomerKeyId();
    let generated: { Plaintext?: Uint8Array; CiphertextBlob?: Uint8Array };
    try {
      generated = await options.kms.send(
        new GenerateDataKeyCommand({
          KeyId: options.keyArn,
          KeySpec: 'AES_256',
          EncryptionContext: context(customerId, keyId),
        }),
        { abortSignal: AbortSignal.timeout(timeoutMs) },
      );
    } catch (error) {
      classifyKmsError(error, 'GenerateDataKey');
    }
    if (!generated.Plaintext || !generated.CiphertextBlob) {
      throw new TransientError('KMS_EMPTY_DATA_KEY', 'kms GenerateDataKey returned no key');
    }
    const key = Buffer.from(generated.Plaintext);
    generated.Plaintext.fill(0);
    const item: KeyItem = {
      customerId,
      state: 'active',
      keyId,
      encryptedDataKey: Buffer.from(generated.CiphertextBlob).toString('base64'),
      fingerprint: keyFingerprint(key),
      createdAt: new Date(now()).toISOString(),
    };
    // Only where no live key exists: two containers creating at once agree on the first one stored.
    const stored = await sendConditional(
      client,
      new PutCommand({
        TableName: table,
        Item: item,
        ConditionExpression: 'attribute_not_exists(customerId) OR #state = :destroyed',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':destroyed': 'destroyed' },
      }),
      'PutItem(customer key)',
    );
    if (stored instanceof ConditionFailed) {
      key.fill(0);
      const winner = await read(customerId);
      if (winner?.state !== 'active') {
        throw new TransientError('CUSTOMER_KEY_CONFLICT', 'the customer key changed while it was being created');
      }
      return unwrap(winner);
    }
    return remember(customerId, { keyId, key, fingerprint: item.fingerprint });
  }

  return {
    async current(customerId) {
      const hit = cached(customerId);
      if (hit) return hit;
      const item = await read(customerId);
      return item?.state === 'active' ? unwrap(item) : create(customerId);
    },

    async byId(customerId, keyId) {
      const hit = cached(customerId);
      if (hit?.keyId === keyId) return hit;
      const item = await read(customerId);
      if (item?.state !== 'active' || item.keyId !== keyId) throw customerKeyDestroyed(keyId);
      return unwrap(item);
    },

    async describe(customerId): Promise<CustomerKeyState | undefined> {
      const item = await read(customerId);
      if (item === undefined) return undefined;
      if (item.state === 'active') {
        return { state: 'active', keyId: item.keyId, fingerprint: item.fingerprint, createdAt: item.createdAt };
      }
      return { state: 'destroyed', keyId: item.keyId, fingerprint: item.fingerprint, destroyedAt: item.destroyedAt };
    },

    async destroy(customerId, at) {
      evict(customerId);
      const item = await read(customerId);
      if (item === undefined) return undefined;
      const tombstone: DestroyedCustomerKey = {
        state: 'destroyed',
        keyId: item.keyId,
        fingerprint: item.fingerprint,
        destroyedAt: item.state === 'destroyed' ? item.destroyedAt : at.toISOString(),
      };
      if (item.state === 'destroyed') return tombstone;
      // Replaces the item whole: the encrypted data key is not kept in any attribute. Conditional on the same key,
      // so a key created meanwhile (a re-onboarded customer) is never destroyed by a stale call.
      const replaced = await sendConditional(
        client,
        new PutCommand({
          TableName: table,
          Item: { customerId, ...tombstone },
          ConditionExpression: 'keyId = :keyId',
          ExpressionAttributeValues: { ':keyId': item.keyId },
        }),
        'PutItem(customer key tombstone)',
      );
      if (replaced instanceof ConditionFailed) {
        throw new TransientError('CUSTOMER_KEY_CONFLICT', 'the customer key changed while it was being destroyed');
      }
      evict(customerId);
      return tombstone;
    },
  };
}

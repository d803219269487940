/**
 * The sync engine's AWS dependencies, built once per container from the environment (names in
 * functions/shared/environment.ts). The same adapters run on one machine against dynalite / local-aws-sqs through
 * AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SQS. Every client has timeouts and bounded attempts.
 *
 * `assembleSyncEngine` builds the engine from its parts (the one-machine runtime passes its local sealer, secret
 * store and notifier); `createAwsSyncDependencies` builds the AWS parts. The sealer, the secret store and the
 * notifier are built on first use (the latter two imported then), so a function reads only the settings of what it
 * actually uses: the bulk loader needs neither the data key nor the topics.
 */
import { randomUUID } from 'node:crypto';
import { KMSClient } from '@aws-sdk/client-kms';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SecretStore } from '../credentials/secret-store.ts';
import { createAwsCustomerSealer } from '../crypto/aws-customer-sealer.ts';
import type { PayloadSealer } from '../crypto/payload-sealer.ts';
import { DynamoCustomerRepository } from '../customers/dynamo-customer-repository.ts';
import type { Notifier } from '../notifications/notifier.ts';
import { createDocumentClient } from '../shared/dynamo-document-client.ts';
import { ENV, requireSetting, tableNameFromEnv } from '../shared/environment.ts';
import type { TableKey } from '../shared/tables.ts';
import type { VirtuousApi } from '../virtuous/api.ts';
import { createVirtuousClient } from '../virtuous/client.ts';
import { createRateBudgetFromEnv, type RateBudget } from '../virtuous/rate-budget.ts';
import { secretStoreTokenSource } from '../virtuous/token-source.ts';
import { type CheckpointStore, createDynamoCheckpointStore } from './checkpoints.ts';
import { createDeadLetters, type DeadLetters } from './dead-letters.ts';
import { createDynamoDeliveryLog } from './delivery-log.ts';
import { createDynamoSyncStateRepository } from './dynamo-sync-state-repository.ts';
import { createHeldMessages, type HeldMessages } from './held-messages.ts';
import { createSqsMessageQueue, type MessageQueue } from './message-queue.ts';
import { powertoolsSyncMetrics } from './powertools-metrics.ts';
import { countingRateLimits } from './rate-limit-counter.ts';
import { createDynamoReconciliationLog, type ReconciliationLog } from './reconciliation-log.ts';
import type { SyncMetrics } from './sync-metrics.ts';
import { DEFAULT_SYNC_PROCESSOR_CONFIG, SyncProcessor, type SyncProcessorDeps } from './sync-processor.ts';

const CLIENT_SETTINGS = {
  maxAttempts: 3,
  requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000 },
} as const;

/** What the processor, reconciler and bulk loader are built from (each takes the members it needs). */
export interface SyncEngineDeps extends SyncProcessorDeps {
  readonly deadLetters: DeadLetters;
  readonly held: HeldMessages;
  readonly queue: MessageQueue;
  readonly sealer: PayloadSealer;
  readonly documentClient: DynamoDBDocumentClient;
  readonly checkpoints: CheckpointStore;
  readonly log: ReconciliationLog;
  /** The customer-scoped secret store (the bulk loader's OAuth source tokens). */
  readonly secrets: SecretStore;
  /** The processor's refund path, for reconciliation (claims shared with the processor). */
  readonly applyDeferredRefund: (customerId: string, refundKey: string, giftVirtuousId: number) => Promise<void>;
}

export interface AwsWiringOptions {
  readonly functionName: string;
  /** Audit reason for reading the customer's Virtuous token, e.g. `sync:submit`, `sync:reconcile`. */
  readonly tokenReason?: string;
}

/** Everything the engine is assembled from; AWS and the one-machine runtime differ only in these parts. */
export interface SyncEngineParts {
  readonly documentClient: DynamoDBDocumentClient;
  /** Physical table name of a table of functions/shared/tables.ts. */
  readonly tableName: (key: TableKey) => string;
  readonly sealer: PayloadSealer;
  readonly queue: MessageQueue;
  readonly secrets: SecretStore;
  readonly notifier: Notifier;
  readonly budget: RateBudget;
  readonly virtuousBaseUrl: string;
  /** Local mode only: the simulator on a loopback address over plain HTTP. */
  readonly allowLoopbackHttp?: boolean;
  readonly metrics: SyncMetrics;
  readonly workerName: string;
  readonly tokenReason?: string;
  readonly clock?: () => Date;
}

/**
 * An object built on its first method call. Each function is granted (and told the name of) only the tables it uses,
 * so a store is resolved when it is first used, not when the engine is assembled.
 */
function onFirstUse<T extends object>(build: () => T): T {
  let instance: T | undefined;
  return new Proxy({} as T, {
    get(_target, property) {
      instance ??= build();
      const value = Reflect.get(instance, property, instance);
      return typeof value === 'function' ? value.bind(instance) : value;
    },
  });
}

/** Assembles the engine from its parts: repositories, dead letters, held messages, one Virtuous client per customer. */
export function assembleSyncEngine(parts: SyncEngineParts): SyncEngineDeps {
  const { documentClient, sealer, queue, metrics } = parts;
  const syncState = onFirstUse(() => createDynamoSyncStateRepository(documentClient, parts.tableName('syncRecords')));
  const rateLimitedFetch = countingRateLimits(metrics);
  const clients = new Map<string, VirtuousApi>();
  const reason = parts.tokenReason ?? 'sync:submit';
  let processor: SyncProcessor | undefined;
  const engine: SyncEngineDeps = {
    documentClient,
    sealer,
    queue,
    syncState,
    customers: onFirstUse(
      () => new DynamoCustomerRepository(documentClient, parts.tableName('customers'), { timeoutMs: 4_000 }),
    ),
    deliveries: onFirstUse(() => createDynamoDeliveryLog(documentClient, parts.tableName('deliveries'))),
    deadLetters: onFirstUse(() =>
      createDeadLetters({ client: documentClient, table: parts.tableName('deadLetters'), sealer, queue, syncState }),
    ),
    held: onFirstUse(() =>
      createHeldMessages({ client: documentClient, table: parts.tableName('heldMessages'), sealer, queue }),
    ),
    virtuousFor(customerId) {
      let client = clients.get(customerId);
      if (!client) {
        client = createVirtuousClient({
          baseUrl: parts.virtuousBaseUrl,
          customerId,
          tokens: secretStoreTokenSource(parts.secrets, customerId, reason),
          budget: parts.budget,
          allowLoopbackHttp: parts.allowLoopbackHttp === true,
          fetch: rateLimitedFetch,
        });
        clients.set(customerId, client);
      }
      return client;
    },
    notifier: parts.notifier,
    secrets: parts.secrets,
    metrics,
    clock: parts.clock ?? (() => new Date()),
    config: { ...DEFAULT_SYNC_PROCESSOR_CONFIG, workerId: () => `${parts.workerName}/${randomUUID()}` },
    checkpoints: onFirstUse(() => createDynamoCheckpointStore(documentClient, parts.tableName('checkpoints'))),
    log: onFirstUse(() => createDynamoReconciliationLog(documentClient, parts.tableName('reconciliationLog'))),
    applyDeferredRefund: (customerId, refundKey, giftVirtuousId) => {
      processor ??= new SyncProcessor(engine);
      return processor.applyDeferredRefund(customerId, refundKey, giftVirtuousId);
    },
  };
  return engine;
}

/** Builds on first use, so a function that never seals, notifies or reads a secret needs none of their settings. */
function once<T>(build: () => T): () => T {
  let value: { readonly built: T } | undefined;
  return () => {
    value ??= { built: build() };
    return value.built;
  };
}

/** A SecretStore that loads the Secrets Manager implementation on its first call. */
function lazySecretStore(env: NodeJS.ProcessEnv): SecretStore {
  const store = once(async () =>
    (await import('../credentials/secrets-manager-store.ts')).createSecretsManagerStore(env),
  );
  return {
    read: async (ref, stage, context) => (await store()).read(ref, stage, context),
    putPending: async (ref, value, context) => (await store()).putPending(ref, value, context),
    promotePending: async (ref, context) => (await store()).promotePending(ref, context),
    discardPending: async (ref, context) => (await store()).discardPending(ref, context),
    deletePrevious: async (ref, context) => (await store()).deletePrevious(ref, context),
    deleteCustomer: async (customerId, context) => (await store()).deleteCustomer(customerId, context),
  };
}

function lazyNotifier(env: NodeJS.ProcessEnv): Notifier {
  const notifier = once(async () => (await import('../notifications/sns-notifier.ts')).createSnsNotifierFromEnv(env));
  return {
    notifyCustomer: async (notification) => (await notifier()).notifyCustomer(notification),
    alertOperators: async (alert) => (await notifier()).alertOperators(alert),
  };
}

/** Seals under each customer's own data key (destroyed at offboarding); opens older shared-key payloads too. */
function lazySealer(env: NodeJS.ProcessEnv, client: DynamoDBDocumentClient): PayloadSealer {
  const sealer = once(() =>
    createAwsCustomerSealer({
      kms: new KMSClient(CLIENT_SETTINGS),
      keyArn: requireSetting(ENV.dataKmsKeyArn, env),
      client,
      table: tableNameFromEnv('customerKeys', env),
    }),
  );
  return {
    seal: (plaintext, context) => sealer().seal(plaintext, context),
    open: (sealed, context) => sealer().open(sealed, context),
  };
}

export async function createAwsSyncDependencies(
  env: NodeJS.ProcessEnv,
  options: AwsWiringOptions,
): Promise<SyncEngineDeps> {
  const documentClient = createDocumentClient(CLIENT_SETTINGS);
  return assembleSyncEngine({
    documentClient,
    tableName: (key) => tableNameFromEnv(key, env),
    sealer: lazySealer(env, documentClient),
    queue: createSqsMessageQueue(new SQSClient(CLIENT_SETTINGS), requireSetting(ENV.inboundQueueUrl, env)),
    secrets: lazySecretStore(env),
    notifier: lazyNotifier(env),
    budget: createRateBudgetFromEnv(env),
    virtuousBaseUrl: requireSetting(ENV.virtuousBaseUrl, env),
    metrics: powertoolsSyncMetrics,
    workerName: options.functionName,
    ...(options.tokenReason === undefined ? {} : { tokenReason: options.tokenReason }),
  });
}

/**
 * The sync engine's AWS dependencies, built once per container from the environment (names in
 * functions/shared/environment.ts). The same adapters run on one machine against dynalite / local-aws-sqs through
 * AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SQS. Every client has timeouts and bounded attempts.
 *
 * The secret store and the notifier come from their own modules by dynamic import, so this module loads (and the
 * processor's tests run) without touching Secrets Manager or SNS code.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SecretStore } from '../credentials/secret-store.ts';
import { createKmsPayloadSealer } from '../crypto/kms-payload-sealer.ts';
import type { PayloadSealer } from '../crypto/payload-sealer.ts';
import { DynamoCustomerRepository } from '../customers/dynamo-customer-repository.ts';
import type { Notifier } from '../notifications/notifier.ts';
import { ENV, requireSetting, tableNameFromEnv } from '../shared/environment.ts';
import type { VirtuousApi } from '../virtuous/api.ts';
import { createVirtuousClient } from '../virtuous/client.ts';
import { createRateBudgetFromEnv } from '../virtuous/rate-budget.ts';
import { secretStoreTokenSource } from '../virtuous/token-source.ts';
import { createDeadLetters, type DeadLetters } from './dead-letters.ts';
import { createDynamoDeliveryLog } from './delivery-log.ts';
import { createDynamoSyncStateRepository } from './dynamo-sync-state-repository.ts';
import { createHeldMessages, type HeldMessages } from './held-messages.ts';
import { createSqsMessageQueue, type MessageQueue } from './message-queue.ts';
import { powertoolsSyncMetrics } from './powertools-metrics.ts';
import { countingRateLimits } from './rate-limit-counter.ts';
import { DEFAULT_SYNC_PROCESSOR_CONFIG, type SyncProcessorDeps } from './sync-processor.ts';

const CLIENT_SETTINGS = {
  maxAttempts: 3,
  requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000 },
} as const;

export interface SyncEngineDeps extends SyncProcessorDeps {
  readonly deadLetters: DeadLetters;
  readonly held: HeldMessages;
  readonly queue: MessageQueue;
  readonly sealer: PayloadSealer;
  readonly documentClient: DynamoDBDocumentClient;
}

export interface AwsWiringOptions {
  readonly functionName: string;
  /** Audit reason for reading the customer's Virtuous token, e.g. `sync:submit`, `sync:reconcile`. */
  readonly tokenReason?: string;
}

export async function createAwsSyncDependencies(
  env: NodeJS.ProcessEnv,
  options: AwsWiringOptions,
): Promise<SyncEngineDeps> {
  const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient(CLIENT_SETTINGS), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const sealer = createKmsPayloadSealer({
    kms: new KMSClient(CLIENT_SETTINGS),
    keyArn: requireSetting(ENV.dataKmsKeyArn, env),
  });
  const queue = createSqsMessageQueue(new SQSClient(CLIENT_SETTINGS), requireSetting(ENV.inboundQueueUrl, env));
  const syncState = createDynamoSyncStateRepository(documentClient, tableNameFromEnv('syncRecords', env));
  const secrets: SecretStore = (await import('../credentials/secrets-manager-store.ts')).createSecretsManagerStore(env);
  const notifier: Notifier = (await import('../notifications/sns-notifier.ts')).createSnsNotifierFromEnv(env);
  const budget = createRateBudgetFromEnv(env);
  const baseUrl = requireSetting(ENV.virtuousBaseUrl, env);
  const metrics = powertoolsSyncMetrics;
  const rateLimitedFetch = countingRateLimits(metrics);
  const clients = new Map<string, VirtuousApi>();
  const reason = options.tokenReason ?? 'sync:submit';

  return {
    documentClient,
    sealer,
    queue,
    syncState,
    customers: new DynamoCustomerRepository(documentClient, tableNameFromEnv('customers', env), { timeoutMs: 4_000 }),
    deliveries: createDynamoDeliveryLog(documentClient, tableNameFromEnv('deliveries', env)),
    deadLetters: createDeadLetters({
      client: documentClient,
      table: tableNameFromEnv('deadLetters', env),
      sealer,
      queue,
      syncState,
    }),
    held: createHeldMessages({ client: documentClient, table: tableNameFromEnv('heldMessages', env), sealer, queue }),
    virtuousFor(customerId) {
      let client = clients.get(customerId);
      if (!client) {
        client = createVirtuousClient({
          baseUrl,
          customerId,
          tokens: secretStoreTokenSource(secrets, customerId, reason),
          budget,
          fetch: rateLimitedFetch,
        });
        clients.set(customerId, client);
      }
      return client;
    },
    notifier,
    metrics,
    clock: () => new Date(),
    config: { ...DEFAULT_SYNC_PROCESSOR_CONFIG, workerId: () => `${options.functionName}/${randomUUID()}` },
  };
}

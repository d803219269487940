/**
 * The product's pieces built with local dependencies: the same create*Handler functions and domain modules the
 * Lambdas use, given SDK clients that point at dynalite and local-aws-sqs, the encrypted local SecretStore, the
 * local notifier, and the Virtuous simulator (or a real Virtuous over HTTPS).
 */
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { createBulkLoaderHandler } from '../../functions/bulk-loader/handler.ts';
import { historySourceSelector } from '../../functions/bulk-loader/history-sources.ts';
import type { AuditLog } from '../../functions/credentials/audit-log.ts';
import { DynamoDbAuditLog } from '../../functions/credentials/dynamodb-audit-log.ts';
import {
  EncryptedFileStore,
  FileDocumentStorage,
  MemoryDocumentStorage,
} from '../../functions/credentials/encrypted-file-store.ts';
import { FileKeyring, type Keyring, MemoryKeyring } from '../../functions/credentials/keyring.ts';
import type { SecretStore } from '../../functions/credentials/secret-store.ts';
import { SourceTokenManager } from '../../functions/credentials/source-tokens.ts';
import { createCustomerKeySealer } from '../../functions/crypto/customer-key-sealer.ts';
import { createLocalPayloadSealer } from '../../functions/crypto/local-payload-sealer.ts';
import type { PayloadSealer } from '../../functions/crypto/payload-sealer.ts';
import type { CustomerRepository, WorkflowName } from '../../functions/customers/customer.ts';
import { DynamoCustomerRepository } from '../../functions/customers/dynamo-customer-repository.ts';
import { LocalFolderCaptureStore } from '../../functions/debug-captures/local-folder-capture-store.ts';
import { scanDiskResidue } from '../../functions/deletion-drill/disk-residue.ts';
import {
  DRILL_CANARY_PURPOSE,
  DRILL_SANDBOX_CUSTOMER_ID,
  type DrillReport,
  runDeletionDrill,
} from '../../functions/deletion-drill/drill.ts';
import {
  type AbnormalEndOutcome,
  cleanUpAfterAbnormalEnd,
  type EndedExecution,
} from '../../functions/lifecycle/abnormal-end.ts';
import { DynamoCustomerDataStore } from '../../functions/lifecycle/dynamo-customer-data-store.ts';
import {
  DynamoIncidentReportStore,
  DynamoRecentWritesSource,
  DynamoSyncControl,
} from '../../functions/lifecycle/dynamo-lifecycle-stores.ts';
import { InProcessInitialLoadStarter } from '../../functions/lifecycle/in-process-initial-load-starter.ts';
import { systemClock } from '../../functions/lifecycle/ports.ts';
import {
  type LifecycleSettings,
  lifecycleSettingsFromEnv,
  webhookPayloadUrl,
} from '../../functions/lifecycle/settings.ts';
import { StoreAccessTrail } from '../../functions/lifecycle/store-access-trail.ts';
import { createVirtuousConnector } from '../../functions/lifecycle/virtuous-connector.ts';
import { createLifecycleApiHandler } from '../../functions/lifecycle-api/handler.ts';
import type { LifecycleDeps } from '../../functions/lifecycle-tasks/deps.ts';
import { createTaskDispatcher } from '../../functions/lifecycle-tasks/dispatch.ts';
import { TASK_TABLES } from '../../functions/lifecycle-tasks/registry.ts';
import { LocalNotifier } from '../../functions/notifications/local-notifier.ts';
import { createProcessorHandler } from '../../functions/processor/handler.ts';
import { SqsInboundQueue } from '../../functions/queue/sqs-inbound-queue.ts';
import { createReconcilerHandler } from '../../functions/reconciler/handler.ts';
import { createRotationSchedulerHandler } from '../../functions/rotation-scheduler/handler.ts';
import { TABLE_KEYS, type TableKey, tableName } from '../../functions/shared/tables.ts';
import { createDynamoCheckpointStore } from '../../functions/sync/checkpoints.ts';
import { createDeadLetters, DEAD_LETTER_PURPOSE, type DeadLetters } from '../../functions/sync/dead-letters.ts';
import { createDynamoDeliveryLog } from '../../functions/sync/delivery-log.ts';
import { createDynamoSyncStateRepository } from '../../functions/sync/dynamo-sync-state-repository.ts';
import { createHeldMessages, HELD_MESSAGE_PURPOSE } from '../../functions/sync/held-messages.ts';
import { createSqsMessageQueue } from '../../functions/sync/message-queue.ts';
import { countingRateLimits } from '../../functions/sync/rate-limit-counter.ts';
import { createDynamoReconciliationLog } from '../../functions/sync/reconciliation-log.ts';
import { CountingMetrics } from '../../functions/sync/sync-metrics.ts';
import { DEFAULT_SYNC_PROCESSOR_CONFIG, SyncProcessor } from '../../functions/sync/sync-processor.ts';
import type { VirtuousApi } from '../../functions/virtuous/api.ts';
import { createVirtuousClient } from '../../functions/virtuous/client.ts';
import { DynamoDbRateBudget, hourlyBudgetFromEnv } from '../../functions/virtuous/rate-budget.ts';
import { secretStoreTokenSource } from '../../functions/virtuous/token-source.ts';
import { DEFAULT_CONFIG } from '../../functions/webhook-verifier/config.ts';
import { createWebhookVerifierHandler } from '../../functions/webhook-verifier/handler.ts';
import type { ProxyHandler } from './api-gateway.ts';
import { localClientConfig } from './aws-environment.ts';
import { createLocalAdminHandler } from './local-admin.ts';
import type { SqsBatchHandler } from './queue-poller.ts';
import type { Scheduler } from './scheduler.ts';
import type { RuntimeSettings } from './settings.ts';
import { SIMULATOR_SNAPSHOT_FILE } from './simulator-snapshot-file.ts';
import type { QueueUrls } from './sqs-stand-in.ts';
import {
  isLocalStandIn,
  localStripeConnectRefresher,
  provisionLocalStripeClient,
  type StripeEndpoints,
} from './stripe-connect.ts';
import type { StripeSimulatorState } from './stripe-simulator/state.ts';
import { bindWorkflowTasks } from './task-binding.ts';
import { sendTestWebhook } from './test-webhook.ts';
import type { VirtuousSimulatorState } from './virtuous-simulator/simulator.ts';
import { repointWebhookSubscriptions, type SubscriptionCheckReport } from './webhook-subscriptions.ts';
import type { LocalWorkflowEngine, TaskBinder } from './workflow-engine.ts';

export interface ComponentInputs {
  readonly settings: RuntimeSettings;
  /** undefined in memory. */
  readonly dataDir: string | undefined;
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  readonly queues: QueueUrls;
  readonly virtuousBaseUrl: string;
  /** The Stripe stand-in the Stripe Connect OAuth client and history loads use. */
  readonly stripe: StripeEndpoints;
  /** The stand-in's state, for the operator routes that connect and deauthorize accounts. */
  readonly stripeStandIn?: StripeSimulatorState;
  /** Known once the webhook endpoint listens. */
  readonly webhookPublicBaseUrl: () => string;
  /** The runtime's own webhook endpoint (test deliveries go there even when the public base URL is a tunnel). */
  readonly localWebhooksUrl: () => string;
  /** Resolves once the inbound queue is drained and the processor idle (false after the timeout). */
  readonly waitForQueueIdle: (timeoutMs: number) => Promise<boolean>;
  /** The simulator's state when it is the Virtuous in use. */
  readonly simulator?: VirtuousSimulatorState;
  readonly workflows: () => LocalWorkflowEngine;
  /** See RuntimeOptions.timeScale. */
  readonly timeScale: number;
  readonly log: (line: string) => void;
}

export interface RuntimeComponents {
  readonly webhookHandler: ProxyHandler;
  readonly lifecycleHandler: ProxyHandler;
  readonly localAdminHandler: ProxyHandler;
  readonly processorHandler: SqsBatchHandler;
  readonly bindTasks: (workflow: WorkflowName) => TaskBinder;
  /** The lock releaser's domain function, for executions that end ABORTED, TIMED_OUT or FAILED. */
  cleanUpAfterAbnormalEnd(ended: EndedExecution): Promise<AbnormalEndOutcome>;
  reconcile(): Promise<Readonly<Record<string, unknown>> | undefined>;
  remindRotations(): Promise<Readonly<Record<string, unknown>> | undefined>;
  attachScheduler(scheduler: Scheduler): void;
  /**
   * The deletion drill (functions/deletion-drill/drill.ts) against this runtime. `sandboxKey` is asked for only when
   * no key is stored under the reserved drill customer id (locally: a fresh simulator organization's key).
   */
  deletionDrill(sandboxKey: () => Promise<string | undefined>): Promise<DrillReport>;
  /** Re-points subscriptions that do not deliver to this runtime's webhook endpoint (webhook-subscriptions.ts). */
  repointWebhookSubscriptions(): Promise<SubscriptionCheckReport>;
  readonly customers: CustomerRepository;
  readonly secrets: SecretStore;
  readonly deadLetters: DeadLetters;
  /** Seals and opens customer payloads under each customer's data key (tests read the data folder with it). */
  readonly sealer: PayloadSealer;
  readonly documentClient: DynamoDBDocumentClient;
  /** Sync counters of this process (submitted, confirmed, dead-lettered, ...). */
  readonly syncMetrics: CountingMetrics;
  readonly notifier: LocalNotifier;
  /** The platform's Stripe OAuth client from the local store (made and stored on first use), for the stand-in. */
  provisionStripeClient(): Promise<{ clientId: string; clientSecret: string }>;
  close(): Promise<void>;
}

/** Accessor recorded in the secret-access audit trail for every local operation. */
export const LOCAL_ACCESSOR = 'local:runtime';

export async function buildComponents(inputs: ComponentInputs): Promise<RuntimeComponents> {
  const { settings, dataDir } = inputs;
  const environment = settings.environment;
  const dynamodb = new DynamoDBClient(localClientConfig(inputs.dynamodbEndpoint));
  const documentClient = DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } });
  const sqs = new SQSClient(localClientConfig(inputs.sqsEndpoint));
  const tableNames = Object.fromEntries(TABLE_KEYS.map((key) => [key, tableName(environment, key)])) as Record<
    TableKey,
    string
  >;
  // Only the simulator on loopback is reached over plain HTTP; a real Virtuous base URL is HTTPS (settings.ts).
  const allowLoopbackHttp = inputs.virtuousBaseUrl.startsWith('http://127.0.0.1:');

  const keyring: Keyring & Pick<MemoryKeyring, 'customerKeys'> =
    dataDir === undefined ? new MemoryKeyring() : new FileKeyring(join(dataDir, 'keyring.json'));
  // Each customer's data key is an entry of the keyring file; offboarding removes it (crypto-shredding).
  const customerKeys = keyring.customerKeys;
  const audit: AuditLog = new DynamoDbAuditLog(documentClient, tableNames.secretAudit);
  const secrets = new EncryptedFileStore({
    environment,
    audit,
    keyring,
    storage:
      dataDir === undefined ? new MemoryDocumentStorage() : new FileDocumentStorage(join(dataDir, 'secrets.json')),
    accessor: LOCAL_ACCESSOR,
  });
  const customers = new DynamoCustomerRepository(documentClient, tableNames.customers);
  // Customer notifications and operator alerts: JSON lines a developer can tail (identifiers and codes only).
  const notifier = new LocalNotifier(dataDir === undefined ? undefined : join(dataDir, 'notifications.jsonl'));
  const sealer = createCustomerKeySealer({ keys: customerKeys, legacy: createLocalPayloadSealer(keyring) });
  const messageQueue = createSqsMessageQueue(sqs, inputs.queues.inboundUrl);
  const syncState = createDynamoSyncStateRepository(documentClient, tableNames.syncRecords);
  const deadLetters = createDeadLetters({
    client: documentClient,
    table: tableNames.deadLetters,
    sealer,
    queue: messageQueue,
    syncState,
  });
  const budget = new DynamoDbRateBudget({
    client: documentClient,
    tableName: tableNames.rateBudgets,
    hourlyBudget: hourlyBudgetFromEnv(),
  });
  const syncMetrics = new CountingMetrics();
  const rateLimitedFetch = countingRateLimits(syncMetrics);
  const virtuousClients = new Map<string, VirtuousApi>();
  /** One client per customer and purpose; the purpose is the reason the secret-access audit records. */
  const virtuousFor =
    (reason: string) =>
    (customerId: string): VirtuousApi => {
      const key = `${reason}/${customerId}`;
      let client = virtuousClients.get(key);
      if (!client) {
        client = createVirtuousClient({
          baseUrl: inputs.virtuousBaseUrl,
          customerId,
          tokens: secretStoreTokenSource(secrets, customerId, reason),
          budget,
          fetch: rateLimitedFetch,
          allowLoopbackHttp,
        });
        virtuousClients.set(key, client);
      }
      return client;
    };

  // One folder for the verifier's captures and offboarding's deletion of them (it must be the same one).
  const debugCaptures = new LocalFolderCaptureStore(
    join(dataDir ?? join(tmpdir(), `virtuous-local-${randomUUID()}`), 'debug-captures'),
  );
  const webhookHandler = createWebhookVerifierHandler({
    customers,
    secrets,
    queue: new SqsInboundQueue(sqs, inputs.queues.inboundUrl),
    debugCaptures,
    config: { secretCacheTtlMs: Math.round(DEFAULT_CONFIG.secretCacheTtlMs / inputs.timeScale) },
  });

  const syncDeps = {
    customers,
    syncState,
    deliveries: createDynamoDeliveryLog(documentClient, tableNames.deliveries),
    deadLetters,
    held: createHeldMessages({ client: documentClient, table: tableNames.heldMessages, sealer, queue: messageQueue }),
    virtuousFor: virtuousFor('sync:submit'),
    notifier,
    metrics: syncMetrics,
    clock: () => new Date(),
    config: {
      ...DEFAULT_SYNC_PROCESSOR_CONFIG,
      // The engine dead-letters on the last receive before the queue's own redrive would take the message.
      maxReceiveCount: Math.max(1, settings.maxReceiveCount - 1),
      workerId: () => `local-processor/${randomUUID()}`,
    },
  };
  const processorHandler = createProcessorHandler(syncDeps);
  const refunds = new SyncProcessor(syncDeps);
  const reconciler = createReconcilerHandler({
    ...syncDeps,
    virtuousFor: virtuousFor('sync:reconcile'),
    checkpoints: createDynamoCheckpointStore(documentClient, tableNames.checkpoints),
    log: createDynamoReconciliationLog(documentClient, tableNames.reconciliationLog),
    applyDeferredRefund: (customerId, refundKey, giftId) => refunds.applyDeferredRefund(customerId, refundKey, giftId),
  });
  // Stripe Connect as on AWS: the platform's OAuth client (from the local store) at the Stripe stand-in.
  const stripeRefresher = localStripeConnectRefresher(secrets, inputs.stripe);
  const stripeTokens = new SourceTokenManager({ store: secrets, refresher: stripeRefresher, customers, notifier });
  const bulkLoader = createBulkLoaderHandler({
    ...syncDeps,
    checkpoints: createDynamoCheckpointStore(documentClient, tableNames.checkpoints),
    queue: messageQueue,
    historySourceFor: historySourceSelector({
      stripeConnect: () => ({
        tokens: stripeTokens,
        apiBaseUrl: inputs.stripe.apiBaseUrl,
        allowLoopbackHttp: isLocalStandIn(inputs.stripe.apiBaseUrl),
      }),
    }),
  });
  const initialLoads = new InProcessInitialLoadStarter({ reconcile: reconciler, bulkLoad: bulkLoader });

  const virtuous = createVirtuousConnector({ baseUrl: inputs.virtuousBaseUrl, secrets, budget, allowLoopbackHttp });
  // Read once, at start: a bad lifecycle setting in the environment (e.g. TOKEN_ROTATION_DAYS_HIGH) stops the start.
  const lifecycleFromEnv = lifecycleSettingsFromEnv(process.env);
  const lifecycleSettings = (): LifecycleSettings => ({
    ...lifecycleFromEnv,
    webhookPublicBaseUrl: inputs.webhookPublicBaseUrl(),
    webhookSecretOverlapSeconds: settings.webhookSecretOverlapSeconds,
    expectedSecretAccessors: [LOCAL_ACCESSOR],
  });
  const lifecycleDeps = (): LifecycleDeps => ({
    customers,
    secrets,
    virtuous,
    notifier,
    clock: systemClock,
    settings: lifecycleSettings(),
    syncControl: new DynamoSyncControl(documentClient, tableNames.checkpoints),
    initialLoads,
    customerData: new DynamoCustomerDataStore(documentClient, tableNames),
    debugCaptures,
    recentWrites: new DynamoRecentWritesSource(documentClient, tableNames.syncRecords),
    audit,
    incidentReports: new DynamoIncidentReportStore(documentClient, tableNames.incidentReports),
    // No CloudTrail on one machine: the local store's own access records, named as such in the report.
    secretAccessTrail: new StoreAccessTrail(audit, environment),
    customerKeys,
  });
  // Built on first use: the webhook endpoint's URL (part of the settings) is known only once it listens.
  const dispatchers = new Map<WorkflowName, (payload: unknown) => Promise<unknown>>();
  const dispatcherFor = (workflow: WorkflowName) => {
    let dispatcher = dispatchers.get(workflow);
    if (!dispatcher) {
      dispatcher = createTaskDispatcher(TASK_TABLES[workflow](lifecycleDeps()));
      dispatchers.set(workflow, dispatcher);
    }
    return dispatcher;
  };

  let lifecycleApi: ReturnType<typeof createLifecycleApiHandler> | undefined;
  const lifecycleHandler: ProxyHandler = (event) => {
    lifecycleApi ??= createLifecycleApiHandler({
      customers,
      secrets,
      virtuous,
      starter: inputs.workflows(),
      clock: systemClock,
      settings: lifecycleSettings(),
      held: syncDeps.held,
      notifier,
      deadLetters,
      incidentReports: new DynamoIncidentReportStore(documentClient, tableNames.incidentReports),
      sourceCredentials: {
        refresher: stripeRefresher,
        syncControl: new DynamoSyncControl(documentClient, tableNames.checkpoints),
        initialLoads,
      },
    });
    return lifecycleApi(event);
  };

  let scheduler: Scheduler | undefined;
  const localAdminHandler = createLocalAdminHandler({
    customers,
    deadLetters,
    deletionRecords: async (customerId) => {
      const answer = await documentClient.send(
        new QueryCommand({
          TableName: tableNames.deletionRecords,
          KeyConditionExpression: 'customerId = :c',
          ExpressionAttributeValues: { ':c': customerId },
        }),
      );
      return (answer.Items ?? []) as Record<string, unknown>[];
    },
    engine: inputs.workflows,
    scheduler: () => scheduler,
    virtuousBaseUrl: inputs.virtuousBaseUrl,
    simulator: () => inputs.simulator,
    stripe: () => inputs.stripeStandIn,
    sendTestWebhook: (input) =>
      sendTestWebhook(
        { secrets, webhooksUrl: inputs.localWebhooksUrl, waitForQueueIdle: inputs.waitForQueueIdle },
        input,
      ),
  });

  return {
    webhookHandler,
    lifecycleHandler,
    localAdminHandler,
    processorHandler,
    bindTasks: (workflow) => bindWorkflowTasks(workflow, (payload) => dispatcherFor(workflow)(payload)),
    cleanUpAfterAbnormalEnd: (ended) => cleanUpAfterAbnormalEnd({ customers, secrets, notifier }, ended),
    reconcile: async () => ({ ...(await reconciler({})) }),
    remindRotations: async () => {
      const sweep = createRotationSchedulerHandler({
        customers,
        starter: inputs.workflows(),
        clock: systemClock,
        settings: lifecycleSettings(),
        // Metrics are CloudWatch EMF on AWS; the sweep's counts are its result here.
        emitMetric: () => undefined,
      });
      return { ...(await sweep()) };
    },
    attachScheduler: (value) => {
      scheduler = value;
    },
    repointWebhookSubscriptions: () =>
      repointWebhookSubscriptions({
        customers,
        secrets,
        virtuous,
        payloadUrl: (customerId) => webhookPayloadUrl(lifecycleSettings(), customerId),
      }),
    deletionDrill: async (sandboxKey) => {
      const ref = { customerId: DRILL_SANDBOX_CUSTOMER_ID, kind: 'api_token' } as const;
      const context = { reason: 'deletion-drill:provision' };
      if ((await secrets.read(ref, 'current', context)) === undefined) {
        const key = await sandboxKey();
        if (key !== undefined) {
          await secrets.putPending(ref, key, context);
          await secrets.promotePending(ref, context);
        }
      }
      const { customerData, debugCaptures: captures } = lifecycleDeps();
      return runDeletionDrill({
        lifecycle: {
          customers,
          secrets,
          virtuous,
          starter: inputs.workflows(),
          clock: systemClock,
          settings: lifecycleSettings(),
        },
        customerData,
        debugCaptures: captures,
        customerKeys,
        sealer,
        deadLetters,
        audit,
        // Every file offboarding must leave nothing readable in: keyring, dynalite's LevelDB files, queue backlog, debug
        // captures (the simulator's snapshot is Virtuous's side, not ours).
        ...(dataDir === undefined
          ? {}
          : {
              scanDisk: ({ customerId, keyId, canary }) =>
                scanDiskResidue({
                  root: dataDir,
                  exclude: [SIMULATOR_SNAPSHOT_FILE],
                  keyringFile: 'keyring.json',
                  customerId,
                  keyId,
                  canary,
                  purposes: [HELD_MESSAGE_PURPOSE, DEAD_LETTER_PURPOSE, DRILL_CANARY_PURPOSE],
                  sealer,
                }),
            }),
        limits: { pollMs: 250 },
      });
    },
    customers,
    secrets,
    deadLetters,
    sealer,
    documentClient,
    syncMetrics,
    notifier,
    provisionStripeClient: () => provisionLocalStripeClient(secrets),
    close: async () => {
      await initialLoads.idle();
      dynamodb.destroy();
      sqs.destroy();
    },
  };
}

import { KMSClient } from '@aws-sdk/client-kms';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbAuditLog } from '../credentials/dynamodb-audit-log.ts';
import { createSecretsManagerStore } from '../credentials/secrets-manager-store.ts';
import { createStripeConnectRefresher } from '../credentials/stripe-connect-oauth.ts';
import { createAwsCustomerSealer } from '../crypto/aws-customer-sealer.ts';
import type { CustomerKeyStore } from '../crypto/customer-keys.ts';
import { createKmsCustomerKeys } from '../crypto/kms-customer-keys.ts';
import { DynamoCustomerRepository } from '../customers/dynamo-customer-repository.ts';
import { S3CaptureStore } from '../debug-captures/s3-capture-store.ts';
import { CloudTrailSecretAccessTrail } from '../lifecycle/cloudtrail-secret-access-trail.ts';
import { DynamoCustomerDataStore } from '../lifecycle/dynamo-customer-data-store.ts';
import {
  DynamoIncidentReportStore,
  DynamoRecentWritesSource,
  DynamoSyncControl,
} from '../lifecycle/dynamo-lifecycle-stores.ts';
import { LambdaInitialLoadStarter } from '../lifecycle/lambda-initial-load-starter.ts';
import { systemClock } from '../lifecycle/ports.ts';
import { lifecycleSettingsFromEnv } from '../lifecycle/settings.ts';
import { SfnWorkflowStarter } from '../lifecycle/sfn-workflow-starter.ts';
import { createVirtuousConnector } from '../lifecycle/virtuous-connector.ts';
import type { LifecycleApiDeps } from '../lifecycle-api/lifecycle-api.ts';
import type { SourceCredentialServices } from '../lifecycle-api/source-credentials.ts';
import { createSnsNotifierFromEnv } from '../notifications/sns-notifier.ts';
import { createDocumentClient } from '../shared/dynamo-document-client.ts';
import { ENV, requireSetting, tableNameFromEnv } from '../shared/environment.ts';
import { PermanentError } from '../shared/errors.ts';
import { TABLE_KEYS, type TableKey } from '../shared/tables.ts';
import { createDeadLetters, type DeadLetters } from '../sync/dead-letters.ts';
import { createDynamoSyncStateRepository } from '../sync/dynamo-sync-state-repository.ts';
import { createHeldMessages, type HeldMessages } from '../sync/held-messages.ts';
import { createSqsMessageQueue } from '../sync/message-queue.ts';
import { createRateBudgetFromEnv } from '../virtuous/rate-budget.ts';
import type { LifecycleDeps } from './deps.ts';

const CLIENT_SETTINGS = {
  maxAttempts: 3,
  requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
} as const;

function documentClient(): DynamoDBDocumentClient {
  return createDocumentClient(CLIENT_SETTINGS);
}

/**
 * Each dependency is built on first use: a workflow's function gets only the settings and grants its own tasks
 * need (incident response never calls Virtuous, only offboarding touches the debug bucket), and a missing setting
 * fails the task that needs it, by name, instead of every task of the function.
 */
function lazily<T extends object>(factories: { readonly [K in keyof T]: () => T[K] }): T {
  const built: Partial<T> = {};
  const target = {} as T;
  for (const key of Object.keys(factories) as Array<keyof T>) {
    Object.defineProperty(target, key, {
      enumerable: true,
      get: () => {
        if (!(key in built)) built[key] = factories[key]();
        return built[key] as T[typeof key];
      },
    });
  }
  return target;
}

export function createAwsLifecycleDeps(env: NodeJS.ProcessEnv = process.env): LifecycleDeps {
  const client = documentClient();
  const table = (key: TableKey) => tableNameFromEnv(key, env);
  const deps: LifecycleDeps = lazily<LifecycleDeps>({
    customers: () => new DynamoCustomerRepository(client, table('customers')),
    secrets: () => createSecretsManagerStore(env),
    virtuous: () =>
      createVirtuousConnector({
        baseUrl: requireSetting(ENV.virtuousBaseUrl, env),
        secrets: deps.secrets,
        budget: createRateBudgetFromEnv(env),
      }),
    notifier: () => createSnsNotifierFromEnv(env),
    clock: () => systemClock,
    settings: () => lifecycleSettingsFromEnv(env),
    syncControl: () => new DynamoSyncControl(client, table('checkpoints')),
    initialLoads: () =>
      new LambdaInitialLoadStarter(new LambdaClient(CLIENT_SETTINGS), {
        reconciler: requireSetting(ENV.reconcilerFunctionArn, env),
        bulkLoader: requireSetting(ENV.bulkLoaderFunctionArn, env),
      }),
    customerData: () =>
      new DynamoCustomerDataStore(
        client,
        Object.fromEntries(TABLE_KEYS.map((key) => [key, table(key)])) as Record<TableKey, string>,
      ),
    debugCaptures: () => new S3CaptureStore(new S3Client(CLIENT_SETTINGS), requireSetting(ENV.debugCaptureBucket, env)),
    recentWrites: () => new DynamoRecentWritesSource(client, table('syncRecords')),
    audit: () => new DynamoDbAuditLog(client, table('secretAudit')),
    incidentReports: () => new DynamoIncidentReportStore(client, table('incidentReports')),
    customerKeys: () =>
      createKmsCustomerKeys({
        kms: new KMSClient(CLIENT_SETTINGS),
        keyArn: requireSetting(ENV.dataKmsKeyArn, env),
        client,
        table: table('customerKeys'),
      }),
    secretAccessTrail: () => new CloudTrailSecretAccessTrail({ environment: requireSetting(ENV.environmentName, env) }),
  });
  return deps;
}

/** Opens payloads sealed under each customer's data key (and older shared-key ones): kms:Decrypt only. */
function customerSealer(client: DynamoDBDocumentClient, env: NodeJS.ProcessEnv) {
  return createAwsCustomerSealer({
    kms: new KMSClient(CLIENT_SETTINGS),
    keyArn: requireSetting(ENV.dataKmsKeyArn, env),
    client,
    table: tableNameFromEnv('customerKeys', env),
  });
}

/**
 * Held messages for the lifecycle API's resume: opened with the data key (kms:Decrypt only) and put back on the
 * inbound queue. Built on the first release, so the token routes need neither setting.
 */
function lazyHeldMessages(client: DynamoDBDocumentClient, env: NodeJS.ProcessEnv): Pick<HeldMessages, 'release'> {
  let held: HeldMessages | undefined;
  return {
    release: (customerId) => {
      held ??= createHeldMessages({
        client,
        table: tableNameFromEnv('heldMessages', env),
        sealer: customerSealer(client, env),
        queue: createSqsMessageQueue(new SQSClient(CLIENT_SETTINGS), requireSetting(ENV.inboundQueueUrl, env)),
      });
      return held.release(customerId);
    },
  };
}

/**
 * Dead letters for the operator routes: listing reads the table only; a replay opens the sealed message with the
 * data key (kms:Decrypt only), resets its sync record and puts it back on the inbound queue. Built on first use.
 */
function lazyDeadLetters(
  client: DynamoDBDocumentClient,
  env: NodeJS.ProcessEnv,
): Pick<DeadLetters, 'list' | 'replay' | 'discard'> {
  let deadLetters: DeadLetters | undefined;
  const build = (): DeadLetters => {
    deadLetters ??= createDeadLetters({
      client,
      table: tableNameFromEnv('deadLetters', env),
      sealer: customerSealer(client, env),
      queue: createSqsMessageQueue(new SQSClient(CLIENT_SETTINGS), requireSetting(ENV.inboundQueueUrl, env)),
      syncState: createDynamoSyncStateRepository(client, tableNameFromEnv('syncRecords', env)),
    });
    return deadLetters;
  };
  return {
    list: (customerId, resolution) => build().list(customerId, resolution),
    replay: (customerId, deadLetterId, now, options) => build().replay(customerId, deadLetterId, now, options),
    discard: (customerId, deadLetterId, now) => build().discard(customerId, deadLetterId, now),
  };
}

/**
 * Connecting a customer's Stripe: the Stripe Connect refresher validates a refresh token (the platform's OAuth
 * client, read with this function's role) and a load started after onboarding goes through the initial-load
 * checkpoint and an asynchronous bulk-loader invoke. Built on the first refresh-token connection.
 */
function lazySourceCredentials(client: DynamoDBDocumentClient, env: NodeJS.ProcessEnv): SourceCredentialServices {
  return lazily<Required<SourceCredentialServices>>({
    refresher: () => createStripeConnectRefresher(env),
    syncControl: () => new DynamoSyncControl(client, tableNameFromEnv('checkpoints', env)),
    initialLoads: () => {
      // This function may invoke the bulk loader only (never the reconciler): it starts the Stripe history load.
      const bulkLoader = requireSetting(ENV.bulkLoaderFunctionArn, env);
      const starter = new LambdaInitialLoadStarter(new LambdaClient(CLIENT_SETTINGS), {
        reconciler: bulkLoader,
        bulkLoader,
      });
      return {
        start: async (customerId, load) => {
          if (load !== 'stripe-connect') {
            throw new PermanentError('INITIAL_LOAD_NOT_STARTED_HERE', 'the lifecycle API starts the Stripe load only');
          }
          await starter.start(customerId, load);
        },
      };
    },
  });
}

export function createAwsLifecycleApiDeps(env: NodeJS.ProcessEnv = process.env): LifecycleApiDeps {
  const secrets = createSecretsManagerStore(env);
  const client = documentClient();
  let notifier: ReturnType<typeof createSnsNotifierFromEnv> | undefined;
  return {
    held: lazyHeldMessages(client, env),
    deadLetters: lazyDeadLetters(client, env),
    sourceCredentials: lazySourceCredentials(client, env),
    notifier: {
      notifyCustomer: (notification) => {
        notifier ??= createSnsNotifierFromEnv(env);
        return notifier.notifyCustomer(notification);
      },
      alertOperators: (alert) => {
        notifier ??= createSnsNotifierFromEnv(env);
        return notifier.alertOperators(alert);
      },
    },
    customers: new DynamoCustomerRepository(client, tableNameFromEnv('customers', env)),
    secrets,
    virtuous: createVirtuousConnector({
      baseUrl: requireSetting(ENV.virtuousBaseUrl, env),
      secrets,
      budget: createRateBudgetFromEnv(env),
    }),
    starter: new SfnWorkflowStarter(env),
    clock: systemClock,
    settings: lifecycleSettingsFromEnv(env),
    incidentReports: lazyIncidentReports(client, env),
  };
}

/** Incident reports for the read routes; the table is resolved on the first read, so the other routes need no setting. */
function lazyIncidentReports(
  client: DynamoDBDocumentClient,
  env: NodeJS.ProcessEnv,
): Pick<DynamoIncidentReportStore, 'get' | 'list'> {
  let reports: DynamoIncidentReportStore | undefined;
  const build = () => {
    reports ??= new DynamoIncidentReportStore(client, tableNameFromEnv('incidentReports', env));
    return reports;
  };
  return {
    get: (customerId, reportId) => build().get(customerId, reportId),
    list: (customerId, limit) => build().list(customerId, limit),
  };
}

/**
 * The deletion drill's sealing: the canary it seals under the drill customer's data key, and the dead letter it files
 * (sealed the same way) for offboarding to shred. The drill never replays a dead letter, so it has no queue.
 */
export function createAwsDrillSealing(keys: CustomerKeyStore, env: NodeJS.ProcessEnv = process.env) {
  const client = documentClient();
  const sealer = createAwsCustomerSealer(
    {
      kms: new KMSClient(CLIENT_SETTINGS),
      keyArn: requireSetting(ENV.dataKmsKeyArn, env),
      client,
      table: tableNameFromEnv('customerKeys', env),
    },
    keys,
  );
  const deadLetters = createDeadLetters({
    client,
    table: tableNameFromEnv('deadLetters', env),
    sealer,
    queue: {
      send: async () => {
        throw new PermanentError('NOT_CONFIGURED', 'the deletion drill never replays a dead letter');
      },
    },
    syncState: createDynamoSyncStateRepository(client, tableNameFromEnv('syncRecords', env)),
  });
  return { sealer, deadLetters };
}

/** The rotation scheduler reads customers and starts token rotations; nothing else. */
export function createAwsSchedulerDeps(env: NodeJS.ProcessEnv = process.env) {
  return {
    customers: new DynamoCustomerRepository(documentClient(), tableNameFromEnv('customers', env)),
    starter: new SfnWorkflowStarter(env),
    clock: systemClock,
    settings: lifecycleSettingsFromEnv(env),
  };
}

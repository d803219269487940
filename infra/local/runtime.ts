/**
 * The product on one machine: the embedded stand-ins (dynalite, local-aws-sqs, the Virtuous simulator), the same
 * handlers the Lambdas run (verifier, processor, lifecycle API, lifecycle tasks, reconciler, rotation scheduler), the
 * ASL workflows, a queue poller and the schedules, wired together on 127.0.0.1.
 *
 * `startLocalRuntime` is used by `npm start` (main.ts), by the demo and by the end-to-end tests, so all three run
 * exactly the same composition.
 */
import './process-defaults.ts';
import { mkdirSync } from 'node:fs';
import { SQSClient } from '@aws-sdk/client-sqs';
import { errorCode, ForbiddenInputError, PermanentError } from '../../functions/shared/errors.ts';
import { logger } from '../../functions/shared/observability.ts';
import { type GatewayServer, startGateway } from './api-gateway.ts';
import { applyLocalAwsEnvironment, localAwsVariables, localClientConfig } from './aws-environment.ts';
import { buildComponents, type RuntimeComponents } from './components.ts';
import { type DynamoStandIn, startDynamo } from './dynamodb-stand-in.ts';
import { restoreBacklog, saveBacklog } from './queue-backlog.ts';
import { type PollerStats, QueuePoller, queueArn, queueDepth } from './queue-poller.ts';
import { type JobResult, Scheduler } from './scheduler.ts';
import type { RuntimeSettings } from './settings.ts';
import { readSimulatorSnapshot, SimulatorSnapshotKeeper, simulatorSnapshotPath } from './simulator-snapshot-file.ts';
import { type SqsStandIn, startSqs } from './sqs-stand-in.ts';
import { type StripeSimulator, startStripeSimulator } from './stripe-simulator/server.ts';
import { type SimulatorHandle, startSimulator } from './virtuous.ts';
import type { SubscriptionCheckReport } from './webhook-subscriptions.ts';
import { LocalWorkflowEngine } from './workflow-engine.ts';

export const JOB_RECONCILIATION = 'reconciliation';
export const JOB_ROTATION_REMINDERS = 'rotation-reminders';
export const JOB_DELETION_DRILL = 'deletion-drill';
const WEEK_MINUTES = 7 * 24 * 60;

/** Grace for running workflow executions on stop before they are aborted. */
const WORKFLOW_STOP_GRACE_MS = 5_000;

export interface RuntimeOptions {
  /** Where progress lines go (main prints them; tests collect them). Lines hold no data, only names and ports. */
  readonly log?: (line: string) => void;
  /**
   * Runs time-based behaviour this many times faster (demo and tests): workflow Wait states and, to keep the
   * rotation's guarantee (its cache wait outlasts the verifier's secret cache), the verifier's cache lifetime.
   * Default 1: the durations in the ASL files and the handlers.
   */
  readonly timeScale?: number;
  /** Retry pauses of workflow Task states in ms (tests); undefined = as written in the ASL files. */
  readonly retryIntervalMs?: number;
  /**
   * A simulator the caller owns (tests, demo): used instead of starting one, and left running on stop, so its state
   * survives a runtime restart. Ignored when a real Virtuous base URL is configured.
   */
  readonly simulator?: SimulatorHandle;
  /**
   * How often the state of a simulator the runtime owns is saved to the data folder while running (only when it
   * changed); default 30 s. It is always saved at a clean stop.
   */
  readonly simulatorSaveIntervalMs?: number;
}

export interface RuntimeEndpoints {
  readonly webhooks: string;
  readonly lifecycle: string;
  readonly dynamodb: string;
  readonly sqs: string;
  readonly virtuous: string;
  /** The Stripe stand-in (Connect OAuth token endpoint under /oauth, the API under /v1). */
  readonly stripe: string;
}

export interface StopReport {
  readonly savedMessages: { inbound: number; deadLetter: number } | undefined;
  readonly workflows: { finished: number; aborted: number };
  /** Whether the owned simulator's state was written to the data folder; undefined when it is not kept there. */
  readonly simulatorSaved?: boolean;
}

export interface LocalRuntime {
  readonly settings: RuntimeSettings;
  readonly endpoints: RuntimeEndpoints;
  readonly queues: { readonly inboundUrl: string; readonly deadLetterUrl: string };
  readonly restored: { inbound: number; deadLetter: number };
  /** What the owned simulator resumed from its saved snapshot; undefined when it started empty. */
  readonly restoredSimulator: { organizations: number; apiKeys: number } | undefined;
  readonly engine: LocalWorkflowEngine;
  /** The simulator's in-process handle, when the simulator is the Virtuous in use. */
  readonly simulator: SimulatorHandle | undefined;
  /** The Stripe stand-in's in-process handle (connected accounts, their seeded history). */
  readonly stripe: StripeSimulator;
  readonly components: RuntimeComponents;
  runJob(name: string): Promise<JobResult>;
  /** Resolves once no message is waiting or in flight on the inbound queue (or the timeout passed: false). */
  waitForQueueIdle(timeoutMs: number): Promise<boolean>;
  pollerStatistics(): PollerStats;
  /**
   * The start-up check of every active or paused customer's Virtuous subscription: one pointing at another address
   * (the webhook port changed since the customer was onboarded) is re-pointed here; failures are logged loudly.
   */
  readonly webhookSubscriptions: Promise<SubscriptionCheckReport>;
  stop(): Promise<StopReport>;
}

/** Starts everything; on any failure stops what already started and rethrows. */
export async function startLocalRuntime(
  settings: RuntimeSettings,
  options: RuntimeOptions = {},
): Promise<LocalRuntime> {
  const log = options.log ?? (() => undefined);
  const cleanups: Array<() => Promise<unknown>> = [];
  const dataDir = settings.inMemory ? undefined : settings.dataDir;
  try {
    if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // Read before anything starts: an unusable snapshot stops the start at once (ForbiddenInputError, exit 2).
    const ownSimulatorPath =
      dataDir !== undefined && settings.virtuousBaseUrl === undefined && !options.simulator
        ? simulatorSnapshotPath(dataDir)
        : undefined;
    const simulatorSnapshot = ownSimulatorPath === undefined ? undefined : readSimulatorSnapshot(ownSimulatorPath);

    const dynamo: DynamoStandIn = await startDynamo({
      host: settings.host,
      port: settings.ports.dynamodb,
      environment: settings.environment,
      dataDir,
    });
    cleanups.push(() => dynamo.close());

    const sqs: SqsStandIn = await startSqs({
      host: settings.host,
      port: settings.ports.sqs,
      environment: settings.environment,
      visibilityTimeoutSeconds: settings.visibilityTimeoutSeconds,
      maxReceiveCount: settings.maxReceiveCount,
    });
    cleanups.push(() => sqs.close());
    const sqsClient = new SQSClient(localClientConfig(sqs.endpoint));
    cleanups.push(async () => sqsClient.destroy());

    const restored =
      dataDir === undefined ? { inbound: 0, deadLetter: 0 } : await restoreBacklog(sqsClient, sqs.queues, dataDir);

    let simulator: SimulatorHandle | undefined;
    let virtuousBaseUrl = settings.virtuousBaseUrl;
    let ownsSimulator = false;
    if (virtuousBaseUrl === undefined && options.simulator) {
      simulator = options.simulator;
      virtuousBaseUrl = simulator.baseUrl;
    } else if (virtuousBaseUrl === undefined) {
      try {
        simulator = await startSimulator({ host: settings.host, port: settings.ports.virtuous });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' || code === 'EACCES') {
          throw new ForbiddenInputError(
            'PORT_UNAVAILABLE',
            `Virtuous simulator: port ${settings.ports.virtuous} is not available (${code})`,
          );
        }
        throw error;
      }
      ownsSimulator = true;
      cleanups.push(() => (simulator as SimulatorHandle).close());
      virtuousBaseUrl = simulator.baseUrl;
      if (simulatorSnapshot !== undefined) simulator.control.importSnapshot(simulatorSnapshot);
    }
    const snapshotKeeper =
      simulator && ownsSimulator && ownSimulatorPath !== undefined
        ? new SimulatorSnapshotKeeper({
            state: simulator.control,
            path: ownSimulatorPath,
            ...(options.simulatorSaveIntervalMs === undefined ? {} : { intervalMs: options.simulatorSaveIntervalMs }),
            onSaveError: (code) => log(`Virtuous simulator state not saved (${code}); retrying at the next interval`),
          })
        : undefined;

    // Its accounts and grants live in memory: a restart forgets them (connect again with a new refresh token).
    const stripe = await startStripeSimulator({ host: settings.host, port: settings.ports.stripe });
    cleanups.push(() => stripe.close());

    // Bound once the queue poller exists (below); operator routes that wait for a delivery to be processed use it.
    let waitForQueueIdle = async (_timeoutMs: number): Promise<boolean> => false;

    // The webhook endpoint's port must be known before the handlers are built: subscriptions point at it.
    const webhookGatewayHolder: { server?: GatewayServer } = {};
    const lifecycleGatewayHolder: { server?: GatewayServer } = {};

    const variables = localAwsVariables(
      settings.environment,
      { dynamodb: dynamo.endpoint, sqs: sqs.endpoint },
      {
        INBOUND_QUEUE_URL: sqs.queues.inboundUrl,
        POWERTOOLS_LOG_LEVEL: settings.logLevel,
        POWERTOOLS_SERVICE_NAME: 'virtuous-integration',
        POWERTOOLS_METRICS_NAMESPACE: 'VirtuousIntegration',
      },
    );
    applyLocalAwsEnvironment(variables);
    logger.setLogLevel(settings.logLevel);

    let engine: LocalWorkflowEngine | undefined;
    const components = await buildComponents({
      settings,
      dataDir,
      dynamodbEndpoint: dynamo.endpoint,
      sqsEndpoint: sqs.endpoint,
      queues: sqs.queues,
      virtuousBaseUrl,
      stripe: { apiBaseUrl: stripe.baseUrl, oauthTokenUrl: stripe.oauthTokenUrl },
      stripeStandIn: stripe.control,
      webhookPublicBaseUrl: () =>
        settings.webhookPublicBaseUrl ?? (webhookGatewayHolder.server?.url as string | undefined) ?? '',
      localWebhooksUrl: () => (webhookGatewayHolder.server?.url as string | undefined) ?? '',
      waitForQueueIdle: (timeoutMs) => waitForQueueIdle(timeoutMs),
      ...(simulator === undefined ? {} : { simulator: simulator.control }),
      timeScale: options.timeScale ?? settings.timeScale,
      workflows: () => {
        if (!engine) throw new Error('workflow engine used before it started');
        return engine;
      },
      log,
    });
    cleanups.push(() => components.close());
    stripe.control.registerPlatformClient(await components.provisionStripeClient());

    engine = new LocalWorkflowEngine({
      bindTasks: components.bindTasks,
      timeScale: options.timeScale ?? settings.timeScale,
      dynamicWaitSeconds: settings.webhookSecretOverlapSeconds,
      ...(options.retryIntervalMs === undefined ? {} : { retryIntervalMs: options.retryIntervalMs }),
      onAbnormalEnd: components.cleanUpAfterAbnormalEnd,
      onExecutionEnd: (execution) =>
        log(`workflow ${execution.workflow} for ${execution.customerId} ended ${execution.status}`),
    });
    const workflowEngine = engine;
    cleanups.push(() => workflowEngine.stop(WORKFLOW_STOP_GRACE_MS));

    const webhooks = await startGateway({
      host: settings.host,
      port: settings.ports.webhooks,
      name: 'webhook endpoint',
      routes: [
        {
          method: 'ANY',
          resource: '/webhooks/virtuous/{customerId}',
          handler: components.webhookHandler,
          functionName: 'virtuous-local-webhook-verifier',
        },
        {
          method: 'ANY',
          resource: '/webhooks/stripe/{customerId}',
          handler: components.webhookHandler,
          functionName: 'virtuous-local-webhook-verifier',
        },
      ],
      onHandlerError: () => log('webhook verifier threw (answered 502)'),
    });
    webhookGatewayHolder.server = webhooks;
    cleanups.push(() => webhooks.close());

    const lifecycle = await startGateway({
      host: settings.host,
      port: settings.ports.lifecycle,
      name: 'lifecycle API',
      routes: [
        {
          method: 'ANY',
          resource: '/lifecycle/{proxy+}',
          handler: components.lifecycleHandler,
          functionName: 'virtuous-local-lifecycle-api',
        },
        {
          method: 'ANY',
          resource: '/local/{proxy+}',
          handler: components.localAdminHandler,
          functionName: 'virtuous-local-admin',
        },
      ],
      onHandlerError: () => log('lifecycle API threw (answered 502)'),
    });
    lifecycleGatewayHolder.server = lifecycle;
    cleanups.push(() => lifecycle.close());

    const arn = await queueArn(sqsClient, sqs.queues.inboundUrl);
    const poller = new QueuePoller({
      client: sqsClient,
      queueUrl: sqs.queues.inboundUrl,
      queueArn: arn,
      handler: components.processorHandler,
      functionName: 'virtuous-local-processor',
      waitTimeSeconds: settings.pollWaitSeconds,
      visibilityTimeoutSeconds: settings.visibilityTimeoutSeconds,
      onError: (error) => log(`queue poller: ${(error as Error)?.name ?? 'error'}`),
    });
    waitForQueueIdle = async (timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const depth = await queueDepth(sqsClient, sqs.queues.inboundUrl);
        if (depth.visible === 0 && depth.inFlight === 0 && !poller.processing) return true;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return false;
    };

    const scheduler = new Scheduler(
      [
        {
          name: JOB_RECONCILIATION,
          intervalMinutes: settings.reconciliationIntervalMinutes,
          run: components.reconcile,
        },
        {
          name: JOB_ROTATION_REMINDERS,
          intervalMinutes: settings.rotationReminderIntervalMinutes,
          run: components.remindRotations,
        },
        {
          name: JOB_DELETION_DRILL,
          intervalMinutes: WEEK_MINUTES,
          run: async () => {
            // Locally the sandbox is the simulator: the first drill creates its organization, as an operator would
            // store a sandbox key on AWS. Against a real Virtuous, nothing is created: the key must be stored.
            const report = await components.deletionDrill(async () =>
              simulator === undefined
                ? undefined
                : simulator.control.createOrganization({ name: 'Deletion drill sandbox' }).apiKey,
            );
            if (!report.ok) {
              // Codes, statuses and counts only: which store kept residue is what the operator needs.
              log(`deletion drill failed: ${JSON.stringify(report)}`);
              throw new PermanentError(report.failure ?? 'DRILL_ERROR', 'the deletion drill failed');
            }
            return { ...report };
          },
        },
      ],
      (result) => log(`job ${result.job} ${result.ok ? 'finished' : `failed (${result.errorCode})`}`),
    );
    components.attachScheduler(scheduler);

    poller.start();
    scheduler.start();
    snapshotKeeper?.start();
    // In the background: against a real Virtuous the calls may be slow, and nothing else waits for them.
    const webhookSubscriptions = components.repointWebhookSubscriptions().then(
      (report) => {
        for (const customerId of report.repointed) {
          log(`webhook subscription of ${customerId} re-pointed to this runtime (${webhooks.url})`);
        }
        for (const { customerId, code } of report.failed) {
          log(
            `WARNING: the webhook subscription of ${customerId} could not be checked or re-pointed (${code}): Virtuous may deliver elsewhere; run: npm run cli -- rotate-webhook-secret ${customerId}`,
          );
        }
        return report;
      },
      (error: unknown): SubscriptionCheckReport => {
        log(`WARNING: webhook subscriptions not checked (${errorCode(error)})`);
        return { checked: 0, repointed: [], failed: [{ customerId: '*', code: errorCode(error) }] };
      },
    );

    const endpoints: RuntimeEndpoints = {
      webhooks: webhooks.url,
      lifecycle: lifecycle.url,
      dynamodb: dynamo.endpoint,
      sqs: sqs.endpoint,
      virtuous: virtuousBaseUrl,
      stripe: stripe.baseUrl,
    };

    let stopping: Promise<StopReport> | undefined;
    const stop = (): Promise<StopReport> => {
      stopping ??= (async () => {
        // Order matters: stop taking work (HTTP first), let in-flight batches finish, then save what is queued.
        await webhooks.close();
        await lifecycle.close();
        await scheduler.stop();
        const held = await poller.stop();
        const workflows = await workflowEngine.stop(WORKFLOW_STOP_GRACE_MS);
        let savedMessages: StopReport['savedMessages'];
        if (dataDir !== undefined) savedMessages = await saveBacklog(sqsClient, sqs.queues, dataDir, held);
        await components.close();
        sqsClient.destroy();
        // Saved once nothing calls Virtuous any more, so the file holds every transaction the processor submitted.
        let simulatorSaved: boolean | undefined;
        if (snapshotKeeper) {
          try {
            snapshotKeeper.stop();
            simulatorSaved = true;
          } catch (error) {
            simulatorSaved = false;
            log(`Virtuous simulator state not saved (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
          }
        }
        if (simulator && ownsSimulator) await simulator.close();
        await stripe.close();
        await sqs.close();
        await dynamo.close();
        return { savedMessages, workflows, ...(simulatorSaved === undefined ? {} : { simulatorSaved }) };
      })();
      return stopping;
    };

    return {
      settings,
      endpoints,
      queues: sqs.queues,
      restored,
      restoredSimulator:
        simulatorSnapshot === undefined
          ? undefined
          : {
              organizations: simulatorSnapshot.organizations.length,
              apiKeys: simulatorSnapshot.apiKeys.filter((key) => !key.revoked).length,
            },
      engine: workflowEngine,
      simulator,
      stripe,
      components,
      runJob: (name) => scheduler.runNow(name),
      waitForQueueIdle,
      pollerStatistics: () => poller.statistics,
      webhookSubscriptions,
      stop,
    };
  } catch (error) {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    throw error;
  }
}

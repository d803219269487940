/**
 * Workflow-test environment: dynalite with every table, the encrypted local SecretStore (in memory) auditing into the
 * secret-audit table, the Virtuous simulator over HTTP, a recording notifier, a debug-capture folder, and a local
 * WorkflowStarter that runs the ASL files through functions/lifecycle-tasks/local-runner.ts with every Retry and Wait
 * shortened. Every secret value that passes through the SecretStore is registered with the leak check.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { DynamoDbAuditLog } from '../../functions/credentials/dynamodb-audit-log.ts';
import { EncryptedFileStore, MemoryDocumentStorage } from '../../functions/credentials/encrypted-file-store.ts';
import { MemoryKeyring } from '../../functions/credentials/keyring.ts';
import type { SecretStore } from '../../functions/credentials/secret-store.ts';
import type { WorkflowName } from '../../functions/customers/customer.ts';
import { DynamoCustomerRepository } from '../../functions/customers/dynamo-customer-repository.ts';
import { LocalFolderCaptureStore } from '../../functions/debug-captures/local-folder-capture-store.ts';
import { DynamoCustomerDataStore } from '../../functions/lifecycle/dynamo-customer-data-store.ts';
import {
  DynamoIncidentReportStore,
  DynamoRecentWritesSource,
  DynamoSyncControl,
} from '../../functions/lifecycle/dynamo-lifecycle-stores.ts';
import type {
  ExecutionDescription,
  InitialLoad,
  InitialLoadStarter,
  VirtuousConnector,
  WorkflowInput,
  WorkflowStarter,
} from '../../functions/lifecycle/ports.ts';
import { DEFAULT_LIFECYCLE_SETTINGS, type LifecycleSettings } from '../../functions/lifecycle/settings.ts';
import { StoreAccessTrail } from '../../functions/lifecycle/store-access-trail.ts';
import { createVirtuousConnector } from '../../functions/lifecycle/virtuous-connector.ts';
import type { LifecycleDeps } from '../../functions/lifecycle-tasks/deps.ts';
import {
  type LocalExecution,
  type LocalRunOptions,
  type LocalTaskHandler,
  runWorkflowLocally,
} from '../../functions/lifecycle-tasks/local-runner.ts';
import { TaskTokenBroker } from '../../functions/lifecycle-tasks/task-token-broker.ts';
import type { CustomerNotification, Notifier, OperatorAlert } from '../../functions/notifications/notifier.ts';
import { PermanentError } from '../../functions/shared/errors.ts';
import type { VirtuousApi } from '../../functions/virtuous/api.ts';
import { InMemoryRateBudget } from '../../functions/virtuous/rate-budget.ts';
import { findLeaks, registerSecret } from './canaries.ts';
import { type LocalAws, startLocalAws, TEST_ENVIRONMENT } from './local-aws.ts';
import { startTestSimulator, type TestSimulator } from './simulator.ts';

export class RecordingNotifier implements Notifier {
  readonly customer: CustomerNotification[] = [];
  readonly alerts: OperatorAlert[] = [];
  async notifyCustomer(notification: CustomerNotification): Promise<void> {
    this.customer.push(notification);
  }
  async alertOperators(alert: OperatorAlert): Promise<void> {
    this.alerts.push(alert);
  }
  typesFor(customerId: string): string[] {
    return this.customer.filter((n) => n.customerId === customerId).map((n) => n.type);
  }
  alertCodesFor(customerId: string): string[] {
    return this.alerts.filter((a) => a.customerId === customerId).map((a) => a.code);
  }
}

/** Records the initial loads onboarding starts (the sync functions are not part of a workflow test). */
export class RecordingInitialLoadStarter implements InitialLoadStarter {
  readonly starts: { customerId: string; load: InitialLoad }[] = [];
  async start(customerId: string, load: InitialLoad): Promise<void> {
    this.starts.push({ customerId, load });
  }
  loadsFor(customerId: string): InitialLoad[] {
    return this.starts.filter((start) => start.customerId === customerId).map((start) => start.load);
  }
}

/** Registers every value that enters or leaves the store, so generated webhook secrets are leak-checked too. */
function registering(store: SecretStore): SecretStore {
  return {
    read: async (ref, stage, context) => {
      const version = await store.read(ref, stage, context);
      if (version !== undefined) registerSecret(version.value);
      return version;
    },
    putPending: async (ref, value, context) => {
      registerSecret(value);
      return store.putPending(ref, value, context);
    },
    promotePending: (ref, context) => store.promotePending(ref, context),
    discardPending: (ref, context) => store.discardPending(ref, context),
    deletePrevious: (ref, context) => store.deletePrevious(ref, context),
    deleteCustomer: (customerId, context) => store.deleteCustomer(customerId, context),
  };
}

/** The local WorkflowStarter: runs executions in this process, completes waiting tasks through the broker. */
export class InProcessStarter implements WorkflowStarter {
  readonly executions = new Map<string, LocalExecution>();
  private readonly outcomes = new Map<string, ExecutionDescription>();

  constructor(
    private readonly deps: () => LifecycleDeps,
    private readonly options: LocalRunOptions,
  ) {}

  async start(workflow: WorkflowName, input: WorkflowInput): Promise<{ executionId: string }> {
    const execution = this.run(workflow, input);
    return { executionId: execution.executionId };
  }

  run(workflow: WorkflowName, input: unknown, options: Partial<LocalRunOptions> = {}): LocalExecution {
    const execution = runWorkflowLocally(workflow, input, this.deps(), {
      ...this.options,
      ...options,
      onNestedExecution: (nested) => this.track(nested),
    });
    return this.track(execution);
  }

  private track(execution: LocalExecution): LocalExecution {
    this.executions.set(execution.executionId, execution);
    void execution.result.then((outcome) => {
      this.outcomes.set(execution.executionId, {
        executionId: execution.executionId,
        workflow: execution.workflow,
        status: outcome.status,
        ...(outcome.error === undefined ? {} : { error: outcome.error }),
      });
    });
    return execution;
  }

  async describe(executionId: string): Promise<ExecutionDescription | undefined> {
    const execution = this.executions.get(executionId);
    if (execution === undefined) return undefined;
    return this.outcomes.get(executionId) ?? { executionId, workflow: execution.workflow, status: 'RUNNING' };
  }

  async sendTaskSuccess(taskToken: string, output: Readonly<Record<string, string | number | boolean>>) {
    this.options.broker.succeed(taskToken, output);
  }
}

export interface WorkflowTestEnv {
  readonly aws: LocalAws;
  readonly sim: TestSimulator;
  readonly storage: MemoryDocumentStorage;
  readonly secrets: SecretStore;
  readonly notifier: RecordingNotifier;
  readonly initialLoads: RecordingInitialLoadStarter;
  readonly captures: LocalFolderCaptureStore;
  readonly capturesRoot: string;
  readonly broker: TaskTokenBroker;
  readonly starter: InProcessStarter;
  readonly settings: LifecycleSettings;
  /** The dependencies the tasks run with; tests replace members to inject faults. */
  deps: LifecycleDeps;
  run(workflow: WorkflowName, input: unknown, options?: Partial<LocalRunOptions>): LocalExecution;
  close(): Promise<void>;
}

export async function startWorkflowTestEnv(overrides: Partial<LifecycleSettings> = {}): Promise<WorkflowTestEnv> {
  const aws = await startLocalAws();
  const sim = await startTestSimulator();
  const capturesRoot = await mkdtemp(join(tmpdir(), 'lifecycle-captures-'));
  const storage = new MemoryDocumentStorage();
  const keyring = new MemoryKeyring();
  const audit = new DynamoDbAuditLog(aws.documentClient, aws.tableNames.secretAudit);
  const secrets = registering(
    new EncryptedFileStore({
      environment: TEST_ENVIRONMENT,
      audit,
      keyring,
      storage,
      accessor: 'local:lifecycle-tasks',
    }),
  );
  const settings: LifecycleSettings = {
    ...DEFAULT_LIFECYCLE_SETTINGS,
    webhookPublicBaseUrl: 'https://hooks.partner.example',
    expectedSecretAccessors: ['local:lifecycle-tasks'],
    ...overrides,
  };
  const notifier = new RecordingNotifier();
  const initialLoads = new RecordingInitialLoadStarter();
  const captures = new LocalFolderCaptureStore(capturesRoot);
  const broker = new TaskTokenBroker();
  const env: WorkflowTestEnv = {
    aws,
    sim,
    storage,
    secrets,
    notifier,
    initialLoads,
    captures,
    capturesRoot,
    broker,
    settings,
    starter: undefined as unknown as InProcessStarter,
    deps: {
      customers: new DynamoCustomerRepository(aws.documentClient, aws.tableNames.customers),
      secrets,
      virtuous: createVirtuousConnector({
        baseUrl: sim.baseUrl,
        secrets,
        budget: new InMemoryRateBudget({ hourlyBudget: 100_000 }),
        allowLoopbackHttp: true,
        timeoutMs: 3_000,
        client: { backoff: { baseDelayMs: 1, maxDelayMs: 5 } },
      }),
      notifier,
      clock: { now: () => new Date() },
      settings,
      syncControl: new DynamoSyncControl(aws.documentClient, aws.tableNames.checkpoints),
      initialLoads,
      customerData: new DynamoCustomerDataStore(aws.documentClient, aws.tableNames),
      debugCaptures: captures,
      recentWrites: new DynamoRecentWritesSource(aws.documentClient, aws.tableNames.syncRecords),
      audit,
      incidentReports: new DynamoIncidentReportStore(aws.documentClient, aws.tableNames.incidentReports),
      secretAccessTrail: new StoreAccessTrail(audit, TEST_ENVIRONMENT),
      customerKeys: keyring.customerKeys,
    },
    run: (workflow, input, options) => env.starter.run(workflow, input, options),
    async close() {
      await Promise.all([aws.stop(), sim.close(), rm(capturesRoot, { recursive: true, force: true })]);
    },
  };
  (env as { starter: InProcessStarter }).starter = new InProcessStarter(() => env.deps, {
    broker,
    retryIntervalMs: 0,
    defaultWaitMs: 0,
  });
  return env;
}

/**
 * One environment for the calling test file: started before its tests, closed after them. Call the returned
 * function inside tests and hooks; while the file is being collected the environment does not exist yet.
 */
export function useWorkflowTestEnv(overrides: Partial<LifecycleSettings> = {}): () => WorkflowTestEnv {
  let env: WorkflowTestEnv | undefined;
  beforeAll(async () => {
    env = await startWorkflowTestEnv(overrides);
  });
  afterAll(async () => {
    await env?.close();
  });
  return () => {
    if (env === undefined) throw new Error('the workflow test environment is used before it started');
    return env;
  };
}

/** Names of the states an execution entered, in order. */
export function enteredStates(execution: LocalExecution): string[] {
  return execution.events.flatMap((event) =>
    event.type === 'StateEntered' && 'state' in event ? [event.state.name] : [],
  );
}

/** Retries per state name. */
export function retriesOf(execution: LocalExecution): Record<string, number> {
  const retries: Record<string, number> = {};
  for (const event of execution.events) {
    if (event.type === 'StateRetried' && 'state' in event) {
      retries[event.state.name] = (retries[event.state.name] ?? 0) + 1;
    }
  }
  return retries;
}

/** How many forbidden values (PII canaries, registered tokens and secrets) the execution's event log contains. */
export function leaksInEvents(execution: LocalExecution): number {
  return findLeaks(JSON.stringify(execution.events)).length;
}

/** Calls `method` of `target` through a wrapper that throws `error` for the first `times` calls. */
export function failingFirst<T extends object, K extends keyof T>(
  target: T,
  method: K,
  times: number,
  error: () => Error,
): T {
  let remaining = times;
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver);
      if (property !== method || typeof value !== 'function')
        return typeof value === 'function' ? value.bind(object) : value;
      return async (...args: unknown[]) => {
        if (remaining > 0) {
          remaining -= 1;
          throw error();
        }
        return (value as (...a: unknown[]) => unknown).apply(object, args);
      };
    },
  });
}

/** A `wrapTask` that makes the named state's task fail for good on every call and leaves the other tasks alone. */
export function failingPermanently(state: string) {
  return (name: string, handler: LocalTaskHandler): LocalTaskHandler =>
    name === state
      ? async () => {
          throw new PermanentError('INJECTED', `${name} fails for good`);
        }
      : handler;
}

/**
 * The connector with `method` of the clients it hands out throwing `error` for the first `times` calls counted over
 * all of them (a workflow builds a new client per task), optionally only for clients built for one audit reason.
 */
export function virtuousFailingFirst<K extends keyof VirtuousApi>(
  connector: VirtuousConnector,
  method: K,
  times: number,
  error: () => Error,
  onlyForReason?: string,
): VirtuousConnector {
  let remaining = times;
  return {
    ...connector,
    forCustomer: (customerId, options) => {
      const client = connector.forCustomer(customerId, options);
      if (onlyForReason !== undefined && options.reason !== onlyForReason) return client;
      const original = client[method] as (...args: unknown[]) => unknown;
      const failing = async (...args: unknown[]) => {
        if (remaining-- > 0) throw error();
        return original.apply(client, args);
      };
      return { ...client, [method]: failing };
    },
  };
}

/**
 * Runs `body` with some of the tasks' dependencies replaced (built from the originals) and puts the originals back
 * afterwards, also when an assertion fails, so the file's later tests see an untouched environment.
 */
export async function withDeps<T>(
  env: WorkflowTestEnv,
  replace: (original: LifecycleDeps) => Partial<LifecycleDeps>,
  body: () => Promise<T>,
): Promise<T> {
  const original = env.deps;
  env.deps = { ...original, ...replace(original) };
  try {
    return await body();
  } finally {
    env.deps = original;
  }
}

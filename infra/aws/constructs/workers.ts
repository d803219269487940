/**
 * Every Lambda function of the product, declared as data: what it runs, where, and exactly which resources its code
 * touches. Grants come only from these declarations, so a role's permissions are readable in one table and the
 * infra tests can check them against the synthesized template.
 */
import { ArnFormat, Duration, Fn, Stack } from 'aws-cdk-lib';
import type { IVpc } from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { platformSecretName } from '../../../functions/credentials/secret-names.ts';
import {
  SECRET_PURPOSE_NAMES,
  SECRET_PURPOSES,
  type SecretPurpose,
} from '../../../functions/credentials/secret-purposes.ts';
import type { WorkflowName } from '../../../functions/customers/customer.ts';
import { stateMachineArnVariable } from '../../../functions/lifecycle/sfn-workflow-starter.ts';
import { PROCESSOR_TIMEOUT_SECONDS } from '../../../functions/processor/limits.ts';
import { ENV } from '../../../functions/shared/environment.ts';
import { TABLE_KEYS, TABLES, type TableKey, tableEnvVar } from '../../../functions/shared/tables.ts';
import { WORKFLOWS } from '../../../statemachines/workflows.ts';
import type { IntegrationConfig } from '../config.ts';
import type { Secrets } from './secrets.ts';
import { SecureFunction } from './secure-function.ts';
import type { State } from './state.ts';

export type TableAccess = 'read' | 'write' | 'readWrite';
export type WorkerName =
  | 'webhookVerifier'
  | 'processor'
  | 'reconciler'
  | 'bulkLoader'
  | 'lifecycleApi'
  | 'rotationScheduler'
  | 'lockReleaser'
  | 'deletionDrill'
  | `tasks:${WorkflowName}`;

export interface WorkerSpec {
  readonly entry: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  /** Calls Virtuous: runs in the private subnets so its egress uses the published Elastic IPs. */
  readonly callsVirtuous: boolean;
  readonly tables: Partial<Record<TableKey, TableAccess>>;
  /**
   * Why it opens customer-scoped sessions, which decides the customer-secrets role it may assume and which of the
   * customer's secrets those sessions reach (functions/credentials/secret-purposes.ts).
   */
  readonly customerSecrets?: SecretPurpose;
  readonly inboundQueue?: 'send' | 'consume';
  readonly customerNotifications?: boolean;
  readonly operatorAlerts?: boolean;
  /** Seals payloads (dead letters, held messages) with the data key. */
  readonly sealsWithDataKey?: boolean;
  /** Opens sealed payloads but never seals (a resume releasing held messages): kms:Decrypt on the data key. */
  readonly opensWithDataKey?: boolean;
  readonly startsWorkflows?: readonly WorkflowName[];
  /** Completes task-token waits (a new token submitted for a rotation waiting on it). */
  readonly completesTaskTokens?: boolean;
  /** write: put captures (verifier); delete: list and delete (offboarding); list: count them (deletion drill). */
  readonly debugCaptures?: 'write' | 'delete' | 'list';
  /** Needs the public webhook URL (creates Virtuous webhook subscriptions pointing at it). */
  readonly needsWebhookUrl?: boolean;
  /**
   * Invoked asynchronously (EventBridge Scheduler, or an EventBridge rule): failed invocations go to the schedule
   * dead-letter queue.
   */
  readonly invokedBySchedule?: boolean;
  /**
   * Lifecycle functions share one wiring module that resolves every table name, the debug bucket, the public
   * webhook URL and every state machine ARN at start-up: they get all those NAMES (never permissions) in their
   * environment; their grants still come only from the fields above.
   */
  readonly lifecycleWiring?: boolean;
  /** Reads history exports from the imports bucket (bulk load). */
  readonly readsImports?: boolean;
  /**
   * Sources whose OAuth client (the partner platform's own, `{source}/{env}/_platform/oauth_client`) it reads with
   * its own role: an integration-internal secret, outside every customer's scope.
   */
  readonly readsOAuthClientOf?: readonly string[];
  /**
   * Reviews the secret-access audit and what CloudTrail recorded of the customer's secrets (incident response): told
   * which roles' sessions are expected there, and may look up CloudTrail's management events.
   */
  readonly reviewsSecretAccess?: boolean;
  /**
   * Starts a new customer's initial loads (onboarding): invokes the reconciler and the bulk loader asynchronously,
   * those two functions only, whose ARNs it is given. `stripe-history`: the bulk loader only (the lifecycle API
   * starts the Stripe history load of a refresh token connected after onboarding).
   */
  readonly startsInitialLoads?: true | 'stripe-history';
}

/** The functions a `startsInitialLoads` function invokes, and the variable that names each one. */
export const INITIAL_LOAD_WORKERS = [
  ['reconciler', ENV.reconcilerFunctionArn],
  ['bulkLoader', ENV.bulkLoaderFunctionArn],
] as const satisfies readonly (readonly [WorkerName, string])[];

const rw = 'readWrite' as const;
const allCustomerTables = Object.fromEntries(
  TABLE_KEYS.filter((key) => TABLES[key].holdsCustomerData).map((key) => [key, rw]),
) as Partial<Record<TableKey, TableAccess>>;

/** Tables the shared sync engine (functions/sync/aws-wiring.ts) reads and writes: processor, reconciler, bulk loader. */
const SYNC_ENGINE_TABLES: Partial<Record<TableKey, TableAccess>> = {
  customers: rw,
  // Payloads are sealed under each customer's data key: read it, create the first one (conditional PutItem).
  customerKeys: rw,
  syncRecords: rw,
  deliveries: rw,
  deadLetters: rw,
  heldMessages: rw,
  rateBudgets: rw,
  secretAudit: 'write',
};

const LIFECYCLE_TASK_BASE = {
  lifecycleWiring: true,
  memorySize: 512,
  timeout: Duration.minutes(2),
  callsVirtuous: true,
  customerSecrets: 'secret-lifecycle',
  customerNotifications: true,
  operatorAlerts: true,
} as const;

export const WORKER_SPECS: Readonly<Record<WorkerName, WorkerSpec>> = {
  webhookVerifier: {
    entry: 'functions/webhook-verifier/handler.ts',
    description: 'Verifies webhook signatures over the raw body and enqueues accepted deliveries',
    memorySize: 512,
    timeout: Duration.seconds(10),
    callsVirtuous: false,
    tables: { customers: 'read', secretAudit: 'write' },
    // Internet-facing: its sessions read the customer's webhook signing secrets and nothing else.
    customerSecrets: 'webhook-verification',
    inboundQueue: 'send',
    // Copies deliveries of a customer whose time-limited debug flag is on (functions/webhook-verifier/debug-capture.ts).
    debugCaptures: 'write',
  },
  processor: {
    entry: 'functions/processor/handler.ts',
    description: 'Submits inbound events to Virtuous: idempotent, rate-limited, dead-lettered after bounded attempts',
    memorySize: 512,
    timeout: Duration.seconds(PROCESSOR_TIMEOUT_SECONDS),
    callsVirtuous: true,
    tables: SYNC_ENGINE_TABLES,
    // Reads the customer's Virtuous token only. (Should OAuth source tokens be refreshed here, their rotation
    // writes a new refresh token: switch this to 'secret-lifecycle'.)
    customerSecrets: 'virtuous-api',
    inboundQueue: 'consume',
    customerNotifications: true,
    operatorAlerts: true,
    sealsWithDataKey: true,
  },
  reconciler: {
    entry: 'functions/reconciler/handler.ts',
    description: 'Hourly: finds stuck submissions and missed webhooks for every active customer',
    memorySize: 512,
    timeout: Duration.minutes(10),
    callsVirtuous: true,
    tables: { ...SYNC_ENGINE_TABLES, checkpoints: rw, reconciliationLog: rw },
    customerSecrets: 'virtuous-api',
    inboundQueue: 'send',
    customerNotifications: true,
    operatorAlerts: true,
    sealsWithDataKey: true,
    invokedBySchedule: true,
  },
  bulkLoader: {
    entry: 'functions/bulk-loader/handler.ts',
    description:
      "Loads a customer's history (an export in the imports bucket, or their connected Stripe account) through the sync engine, resumable",
    memorySize: 1024,
    timeout: Duration.minutes(15),
    callsVirtuous: true,
    tables: { ...SYNC_ENGINE_TABLES, checkpoints: rw },
    // Writer: Stripe Connect refreshes rotate the customer's refresh token, which is stored back before use.
    customerSecrets: 'secret-lifecycle',
    readsOAuthClientOf: ['stripe'],
    inboundQueue: 'send',
    customerNotifications: true,
    operatorAlerts: true,
    sealsWithDataKey: true,
    readsImports: true,
  },
  lifecycleApi: {
    entry: 'functions/lifecycle-api/handler.ts',
    description:
      'SigV4 API for partner backends and operators: tokens, workflows, pause and resume, customer status, dead letters',
    memorySize: 512,
    timeout: Duration.seconds(29),
    callsVirtuous: true,
    // heldMessages + inbound send + opening with the data key: a resume puts the held messages back on the queue.
    // deadLetters + syncRecords: the operator lists dead letters; a replay resets the sync record, opens the sealed
    // message and re-sends it on the same queue with the same key (no new grant for those).
    // checkpoints + starting initial loads + the Stripe OAuth client: connecting a customer's Stripe refresh token
    // validates it with a refresh, and after onboarding starts the Stripe history load once.
    tables: {
      customers: rw,
      secretAudit: 'write',
      rateBudgets: rw,
      heldMessages: rw,
      deadLetters: rw,
      syncRecords: rw,
      checkpoints: rw,
      // Opens sealed payloads (resume, replay): reads the customer's data key.
      customerKeys: 'read',
      // Serves incident reports (read only).
      incidentReports: 'read',
    },
    customerSecrets: 'secret-lifecycle',
    readsOAuthClientOf: ['stripe'],
    startsInitialLoads: 'stripe-history',
    inboundQueue: 'send',
    opensWithDataKey: true,
    // sync_paused / sync_resumed to the customer; a pause by hand is also told to the operators.
    customerNotifications: true,
    operatorAlerts: true,
    startsWorkflows: Object.keys(WORKFLOWS) as WorkflowName[],
    completesTaskTokens: true,
    lifecycleWiring: true,
  },
  rotationScheduler: {
    entry: 'functions/rotation-scheduler/handler.ts',
    description: 'Daily: starts token rotation for customers whose API token is older than their policy',
    memorySize: 256,
    timeout: Duration.minutes(2),
    callsVirtuous: false,
    tables: { customers: 'read' },
    startsWorkflows: ['token-rotation'],
    invokedBySchedule: true,
    lifecycleWiring: true,
  },
  lockReleaser: {
    entry: 'functions/lock-releaser/handler.ts',
    description:
      'On a lifecycle execution stopped, timed out or failed outside its Catch paths: releases its lock, undoes a waiting rotation',
    memorySize: 256,
    timeout: Duration.seconds(30),
    callsVirtuous: false,
    // The lock and the parked task token live in the customer record; discarding a rotation's pending key goes
    // through the SecretStore (writer role, audited). Wired to its rule in constructs/lock-release.ts.
    tables: { customers: rw, secretAudit: 'write' },
    customerSecrets: 'secret-lifecycle',
    operatorAlerts: true,
    invokedBySchedule: true,
  },
  deletionDrill: {
    entry: 'functions/deletion-drill/handler.ts',
    description:
      'Weekly when enabled: onboards and offboards a synthetic customer against the sandbox, then checks nothing is left',
    memorySize: 512,
    // Waits for both workflows (5 + 7 minutes at most) and checks every store: bounded inside Lambda's limit.
    timeout: Duration.minutes(15),
    callsVirtuous: true,
    // Reads every customer table for residue; writes only what onboarding through the API writes (customer record,
    // audit, rate budget) and the canary dead letter it files for its synthetic customer, sealed under that
    // customer's key, so offboarding has sealed data to shred and the drill can prove none of it opens afterwards.
    // (A dead letter, unlike a held message, is never put back on the queue by the hourly reconciler.)
    tables: {
      ...Object.fromEntries(Object.keys(allCustomerTables).map((key) => [key, 'read' as const])),
      customers: rw,
      secretAudit: rw,
      rateBudgets: rw,
      deadLetters: rw,
      customerKeys: rw,
    },
    sealsWithDataKey: true,
    customerSecrets: 'secret-lifecycle',
    startsWorkflows: ['onboarding', 'offboarding'],
    debugCaptures: 'list',
    invokedBySchedule: true,
    lifecycleWiring: true,
  },
  'tasks:onboarding': {
    ...LIFECYCLE_TASK_BASE,
    entry: WORKFLOWS.onboarding.tasksEntry,
    description: 'Task states of the onboarding workflow',
    tables: { customers: rw, secretAudit: 'write', rateBudgets: rw, checkpoints: rw },
    needsWebhookUrl: true,
    startsInitialLoads: true,
  },
  'tasks:token-rotation': {
    ...LIFECYCLE_TASK_BASE,
    entry: WORKFLOWS['token-rotation'].tasksEntry,
    description: 'Task states of the API-token rotation workflow',
    tables: { customers: rw, secretAudit: 'write', rateBudgets: rw },
  },
  'tasks:webhook-secret-rotation': {
    ...LIFECYCLE_TASK_BASE,
    entry: WORKFLOWS['webhook-secret-rotation'].tasksEntry,
    description: 'Task states of the webhook-secret rotation workflow',
    tables: { customers: rw, secretAudit: 'write', rateBudgets: rw },
    needsWebhookUrl: true,
  },
  'tasks:offboarding': {
    ...LIFECYCLE_TASK_BASE,
    entry: WORKFLOWS.offboarding.tasksEntry,
    description: "Task states of the offboarding workflow: deletes the customer's data everywhere",
    tables: { ...allCustomerTables, deletionRecords: rw },
    debugCaptures: 'delete',
    // Crypto-shredding: the proof seals a probe under the customer's key before destroying it (kms:Decrypt only).
    opensWithDataKey: true,
  },
  'tasks:incident-response': {
    ...LIFECYCLE_TASK_BASE,
    entry: WORKFLOWS['incident-response'].tasksEntry,
    description: 'Task states of the incident-response workflow',
    // The CloudTrail lookup is paced to 2 requests a second over up to 200 pages: more than the base 2 minutes.
    timeout: Duration.minutes(5),
    tables: { customers: rw, syncRecords: 'read', secretAudit: rw, rateBudgets: rw, incidentReports: rw },
    reviewsSecretAccess: true,
  },
};

export interface WorkersProps {
  readonly config: IntegrationConfig;
  readonly vpc: IVpc;
  readonly secrets: Secrets;
  readonly state: State;
  readonly customerNotifications: ITopic;
  readonly operatorAlerts: ITopic;
  readonly debugBucket: IBucket;
}

export class Workers extends Construct {
  readonly functions: Readonly<Record<WorkerName, SecureFunction>>;
  private readonly props: WorkersProps;

  constructor(scope: Construct, id: string, props: WorkersProps) {
    super(scope, id);
    this.props = props;
    const { config, state, secrets } = props;

    const functions = {} as Record<WorkerName, SecureFunction>;
    for (const [name, spec] of Object.entries(WORKER_SPECS) as [WorkerName, WorkerSpec][]) {
      functions[name] = this.createWorker(name, spec);
    }
    this.functions = functions;

    const rolesFor = (purpose: SecretPurpose): Role[] =>
      (Object.entries(WORKER_SPECS) as [WorkerName, WorkerSpec][])
        .filter(([, spec]) => spec.customerSecrets === purpose)
        .map(([name]) => functions[name].role);
    const scoped = secrets.createCustomerSecretsRoles(
      Object.fromEntries(SECRET_PURPOSE_NAMES.map((purpose) => [purpose, rolesFor(purpose)])) as Record<
        SecretPurpose,
        Role[]
      >,
    );
    // Every secret gets a resource policy naming both scoped roles, so every SecretStore user knows both.
    const scopedRoleArns = Fn.join(',', [scoped.reader.roleArn, scoped.writer.roleArn]);
    for (const [name, spec] of Object.entries(WORKER_SPECS) as [WorkerName, WorkerSpec][]) {
      const fn = functions[name].function;
      // Role ARNs, not function names: naming the functions here would make the stack a dependency cycle, and the
      // audit's session name (`<customer>@<function>`) lets the matcher tie each session to its customer.
      if (spec.reviewsSecretAccess) fn.addEnvironment(ENV.expectedSecretAccessors, scopedRoleArns);
      if (!spec.customerSecrets) continue;
      const assumed = SECRET_PURPOSES[spec.customerSecrets].role === 'writer' ? scoped.writer : scoped.reader;
      fn.addEnvironment(ENV.customerSecretsRoleArn, assumed.roleArn);
      fn.addEnvironment(ENV.customerSecretsPurpose, spec.customerSecrets);
      fn.addEnvironment(ENV.secretAccessRoleArns, scopedRoleArns);
      fn.addEnvironment(ENV.secretsKmsKeyArn, secrets.secretsKey.keyArn);
      fn.addEnvironment(ENV.secretRecoveryWindowDays, String(config.secretRecoveryWindowDays));
    }

    for (const [name, spec] of Object.entries(WORKER_SPECS) as [WorkerName, WorkerSpec][]) {
      if (!spec.startsInitialLoads) continue;
      for (const [worker, variable] of INITIAL_LOAD_WORKERS) {
        if (spec.startsInitialLoads === 'stripe-history' && worker !== 'bulkLoader') continue;
        const target = functions[worker].function;
        functions[name].function.addEnvironment(variable, target.functionArn);
        // The unqualified ARN only: no versions or aliases (grantInvoke would add `:*`).
        functions[name].role.addToPrincipalPolicy(
          new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [target.functionArn] }),
        );
      }
    }

    const processor = functions.processor.function;
    processor.addEventSource(
      new SqsEventSource(state.inboundQueue, {
        batchSize: 10,
        maxBatchingWindow: Duration.seconds(1),
        reportBatchItemFailures: true,
        maxConcurrency: config.processorMaxConcurrency,
      }),
    );

    // One role for both schedules: invoke the two scheduled functions, dead-letter to the encrypted DLQ.
    const schedulerRole = new Role(this, 'SchedulerRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: 'EventBridge Scheduler: invokes the reconciler and the rotation scheduler',
    });
    state.scheduleDeadLetterQueue.encryptionMasterKey?.grant(schedulerRole, 'kms:GenerateDataKey', 'kms:Decrypt');

    new Schedule(this, 'HourlyReconciliation', {
      description: 'Reconciles every active customer once an hour',
      schedule: ScheduleExpression.rate(Duration.hours(1)),
      target: new LambdaInvoke(functions.reconciler.function, {
        role: schedulerRole,
        input: ScheduleTargetInput.fromObject({ trigger: 'schedule' }),
        deadLetterQueue: state.scheduleDeadLetterQueue,
        retryAttempts: 2,
        maxEventAge: Duration.minutes(30),
      }),
    });
    new Schedule(this, 'DailyRotationCheck', {
      description: 'Starts API-token rotations that are due by policy',
      schedule: ScheduleExpression.rate(Duration.days(1)),
      target: new LambdaInvoke(functions.rotationScheduler.function, {
        role: schedulerRole,
        input: ScheduleTargetInput.fromObject({ trigger: 'schedule' }),
        deadLetterQueue: state.scheduleDeadLetterQueue,
        retryAttempts: 2,
        maxEventAge: Duration.hours(2),
      }),
    });
    new Schedule(this, 'WeeklyDeletionDrill', {
      description: 'Deletion drill: onboard and offboard a synthetic customer against the sandbox, verify no residue',
      schedule: ScheduleExpression.rate(Duration.days(7)),
      // Off unless the deployment says the sandbox key is in place (context deletionDrillEnabled).
      enabled: config.deletionDrillEnabled,
      target: new LambdaInvoke(functions.deletionDrill.function, {
        role: schedulerRole,
        input: ScheduleTargetInput.fromObject({ trigger: 'schedule' }),
        deadLetterQueue: state.scheduleDeadLetterQueue,
        // A drill is not re-run on its own: one failed run alarms, and a second overlapping run would collide.
        retryAttempts: 0,
        maxEventAge: Duration.hours(1),
      }),
    });
  }

  /** Wires what only exists after the workflows: state-machine ARNs and StartExecution/SendTask* grants. */
  connectWorkflows(
    machines: Readonly<Record<WorkflowName, IStateMachine>>,
    executionArnPattern: (workflow: WorkflowName) => string,
  ): void {
    for (const [name, spec] of Object.entries(WORKER_SPECS) as [WorkerName, WorkerSpec][]) {
      const fn = this.functions[name];
      if (spec.startsWorkflows) {
        for (const [workflow, machine] of Object.entries(machines)) {
          fn.function.addEnvironment(stateMachineArnVariable(workflow as WorkflowName), machine.stateMachineArn);
        }
      }
      for (const workflow of spec.startsWorkflows ?? []) {
        machines[workflow].grantStartExecution(fn.role);
        fn.role.addToPrincipalPolicy(
          new PolicyStatement({
            actions: ['states:DescribeExecution'],
            resources: [executionArnPattern(workflow)],
          }),
        );
      }
      if (spec.completesTaskTokens) {
        for (const workflow of spec.startsWorkflows ?? []) machines[workflow].grantTaskResponse(fn.role);
      }
    }
  }

  /** Wires the public webhook URL into the functions that register it with Virtuous. */
  connectWebhookUrl(url: string): void {
    for (const [name, spec] of Object.entries(WORKER_SPECS) as [WorkerName, WorkerSpec][]) {
      if (spec.needsWebhookUrl || spec.lifecycleWiring) {
        this.functions[name].function.addEnvironment(ENV.webhookPublicBaseUrl, url);
      }
    }
  }

  private createWorker(name: WorkerName, spec: WorkerSpec): SecureFunction {
    const { config, state, secrets } = this.props;
    const environment: Record<string, string> = { [ENV.environmentName]: config.environmentName };
    const tableNames = spec.lifecycleWiring ? TABLE_KEYS : (Object.keys(spec.tables) as TableKey[]);
    for (const key of tableNames) {
      environment[tableEnvVar(key)] = state.tables[key].tableName;
    }
    if (spec.callsVirtuous) {
      environment[ENV.virtuousBaseUrl] = config.virtuousBaseUrl;
      environment[ENV.hourlyRequestBudget] = String(config.hourlyRequestBudget);
    }
    if (name === 'webhookVerifier') {
      environment[ENV.virtuousSignatureHeader] = config.virtuousSignatureHeader;
      environment[ENV.maxWebhookBodyBytes] = String(config.maxWebhookBodyBytes);
    }
    if (spec.inboundQueue) environment[ENV.inboundQueueUrl] = state.inboundQueue.queueUrl;
    if (spec.customerNotifications) {
      environment[ENV.customerNotificationsTopicArn] = this.props.customerNotifications.topicArn;
    }
    if (spec.operatorAlerts) environment[ENV.operatorAlertsTopicArn] = this.props.operatorAlerts.topicArn;
    if (spec.sealsWithDataKey || spec.opensWithDataKey) environment[ENV.dataKmsKeyArn] = secrets.dataKey.keyArn;
    if (spec.debugCaptures || spec.lifecycleWiring) {
      environment[ENV.debugCaptureBucket] = this.props.debugBucket.bucketName;
    }

    const id = name.startsWith('tasks:') ? `${pascal(name.slice('tasks:'.length))}Tasks` : pascal(name);
    const worker = new SecureFunction(this, id, {
      entry: spec.entry,
      description: spec.description,
      memorySize: spec.memorySize,
      timeout: spec.timeout,
      logKey: secrets.dataKey,
      environment,
      vpc: spec.callsVirtuous ? this.props.vpc : undefined,
      asyncFailureQueue: spec.invokedBySchedule ? state.scheduleDeadLetterQueue : undefined,
    });
    const role = worker.role;

    for (const [key, access] of Object.entries(spec.tables) as [TableKey, TableAccess][]) {
      const table = state.tables[key];
      if (access === 'read') table.grantReadData(role);
      else if (access === 'write') table.grantWriteData(role);
      else table.grantReadWriteData(role);
    }
    if (spec.inboundQueue === 'send') state.inboundQueue.grantSendMessages(role);
    if (spec.inboundQueue === 'consume') state.inboundQueue.grantConsumeMessages(role);
    if (spec.customerNotifications) this.props.customerNotifications.grantPublish(role);
    if (spec.operatorAlerts) this.props.operatorAlerts.grantPublish(role);
    if (spec.reviewsSecretAccess) {
      // LookupEvents has no resource-level permissions: `*` is the only resource it accepts.
      role.addToPrincipalPolicy(new PolicyStatement({ actions: ['cloudtrail:LookupEvents'], resources: ['*'] }));
    }
    if (spec.sealsWithDataKey) secrets.dataKey.grant(role, 'kms:GenerateDataKey', 'kms:Decrypt');
    else if (spec.opensWithDataKey) secrets.dataKey.grantDecrypt(role);
    if (spec.readsImports) {
      role.addToPrincipalPolicy(
        new PolicyStatement({ actions: ['s3:GetObject'], resources: [state.importsBucket.arnForObjects('*')] }),
      );
      secrets.dataKey.grantDecrypt(role);
    }
    for (const source of spec.readsOAuthClientOf ?? []) {
      const name = platformSecretName(config.environmentName, source, 'oauth_client');
      role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: [
            Stack.of(this).formatArn({
              service: 'secretsmanager',
              resource: 'secret',
              resourceName: `${name}-??????`,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          ],
        }),
      );
    }
    if (spec.debugCaptures === 'write') {
      // PutObject on objects only (grantPut would add tagging, retention and legal hold, and kms:Encrypt/ReEncrypt)
      // plus the one KMS call an SSE-KMS put needs. No GetObject or ListBucket: the writer cannot read captures back.
      role.addToPrincipalPolicy(
        new PolicyStatement({ actions: ['s3:PutObject'], resources: [this.props.debugBucket.arnForObjects('*')] }),
      );
      secrets.dataKey.grant(role, 'kms:GenerateDataKey');
    }
    if (spec.debugCaptures === 'list') {
      role.addToPrincipalPolicy(
        new PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.props.debugBucket.bucketArn] }),
      );
    }
    if (spec.debugCaptures === 'delete') {
      // s3:DeleteObject* covers DeleteObjectVersion: the bucket is versioned, so offboarding deletes every version
      // of a capture (and its delete markers), which it finds with ListBucketVersions.
      this.props.debugBucket.grantDelete(role);
      role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['s3:ListBucket', 's3:ListBucketVersions'],
          resources: [this.props.debugBucket.bucketArn],
        }),
      );
    }
    return worker;
  }
}

function pascal(name: string): string {
  return name
    .split(/[-:]/)
    .map((part) => `${part[0]?.toUpperCase() ?? ''}${part.slice(1)}`)
    .join('');
}

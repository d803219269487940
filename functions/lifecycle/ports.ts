/**
 * What the lifecycle domain needs from the outside world, as small interfaces. Each has an AWS implementation and a
 * local one (or is implemented by another module of this product: SecretStore, CustomerRepository, Notifier).
 */
import type { SecretStage } from '../credentials/secret-store.ts';
import type { KeyShredding } from '../crypto/customer-key-shredding.ts';
import type { WorkflowName } from '../customers/customer.ts';
import type { TableKey } from '../shared/tables.ts';
import type { VirtuousApi } from '../virtuous/api.ts';
import type { RemainingData } from './deletion-reach.ts';
import type { SecretsManagerTrailFindings } from './secret-access-trail.ts';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Builds Virtuous clients. A customer client reads its token from the SecretStore at the given stage, with a reason. */
export interface VirtuousConnector {
  forCustomer(customerId: string, options: { readonly stage: SecretStage; readonly reason: string }): VirtuousApi;
  /** A client for a token not stored yet (the lifecycle API validates a submitted key before storing it). */
  forToken(customerId: string, token: string): Pick<VirtuousApi, 'currentOrganization'>;
}

/** Counts and deletions of a customer's items in the DynamoDB tables that hold customer data. */
export interface CustomerDataStore {
  /** Items of the customer per table, for every table with customer data except customers and deletion records. */
  inventory(customerId: string): Promise<Partial<Record<TableKey, number>>>;
  /** Deletes up to `maxItems` of the customer's items; `done` once nothing is left in any purged table. */
  purge(customerId: string, maxItems: number): Promise<{ deleted: number; done: boolean }>;
  /** Replaces the customer record with the offboarded marker: id, status and timestamps only. */
  reduceToOffboardedMarker(customerId: string, at: string): Promise<void>;
  putDeletionRecord(record: DeletionRecord): Promise<void>;
}

export interface DeletionRecord {
  readonly customerId: string;
  readonly deletedAt: string;
  readonly executionId: string;
  readonly startedAt: string;
  /** Items deleted per table. */
  readonly tables: Readonly<Partial<Record<TableKey, number>>>;
  readonly secretsDeleted: number;
  readonly debugCapturesDeleted: number;
  readonly webhookSubscription: 'deleted' | 'none' | 'not_deleted_credential_rejected';
  readonly tokenRevocation: 'requested_from_customer_admin';
  readonly customerRecord: 'reduced_to_offboarded_marker';
  /** The customer's data key, destroyed with proof: whatever was sealed under it, in any copy, is unreadable. */
  readonly cryptoShredding: KeyShredding;
  /** What still holds something of the customer, until when, and why (functions/lifecycle/deletion-reach.ts). */
  readonly remains: readonly RemainingData[];
}

/** Sync work onboarding starts for a new customer; named in the initial-load checkpoint (ids only). */
export type InitialLoad = 'reconciliation' | 'stripe-connect';

/** The initial-load checkpoint: `requested` until every load onboarding wanted was started, then moved on. */
export interface InitialLoadState {
  readonly status: string;
  readonly started: readonly InitialLoad[];
}

/** The initial-load checkpoint, which guards onboarding's starts so a retried step never starts a load twice. */
export interface SyncControl {
  /** Writes the `requested` checkpoint unless one exists; answers the checkpoint as it now stands. */
  requestInitialLoad(customerId: string, requestedAt: string): Promise<InitialLoadState>;
  /** Adds `load` to the checkpoint's started loads. */
  recordInitialLoadStarted(customerId: string, load: InitialLoad, at: string): Promise<void>;
  /** `requested` → `started` (a status a loader already moved on stays). */
  completeInitialLoadRequest(customerId: string, at: string): Promise<void>;
}

/**
 * Starts one initial load without waiting for it: an asynchronous Lambda invoke on AWS, the same handler in-process
 * locally. Carries the customer id only. A start that may not have happened throws TransientError.
 */
export interface InitialLoadStarter {
  start(customerId: string, load: InitialLoad): Promise<void>;
}

/** Writes to Virtuous the integration made for a customer, from sync state. Identifiers only. */
export interface RecentWritesSource {
  recentWrites(customerId: string, sinceIso: string): Promise<RecentWritesSummary>;
}

export interface RecentWritesSummary {
  readonly total: number;
  readonly byKind: Readonly<Record<string, number>>;
  /** Up to a few dozen record keys (external references such as `gift#pi_...`), never donor data. */
  readonly sampleRecordKeys: readonly string[];
  readonly earliest?: string;
  readonly latest?: string;
}

/**
 * What incident response found, stored and sent as soon as the investigation is done: the token rotation runs
 * alongside and waits for the customer's new key, so the report first says `in_progress` and is updated (and the
 * customer told again) once the rotation ends.
 */
export interface IncidentReport {
  readonly customerId: string;
  readonly reportId: string;
  readonly executionId: string;
  readonly openedAt: string;
  readonly compiledAt: string;
  readonly investigatedFrom: string;
  readonly investigatedTo: string;
  readonly tokenRotation: TokenRotationOutcome;
  readonly recentWrites: RecentWritesSummary;
  /** The integration's own audit table: every SecretStore operation, with its business reason. */
  readonly secretAccess: SecretAccessFindings;
  /** What the secrets manager itself recorded (CloudTrail on AWS), whoever called. */
  readonly secretsManagerTrail: SecretsManagerTrailFindings;
  readonly compromiseIndicators: readonly string[];
}

export interface TokenRotationOutcome {
  readonly status: 'in_progress' | 'rotated' | 'not_rotated';
  readonly errorCode?: string;
  /** When the rotation's outcome was written into the report. */
  readonly recordedAt?: string;
}

/** A report's headline, for listing a customer's incidents. */
export type IncidentReportSummary = Pick<
  IncidentReport,
  'reportId' | 'executionId' | 'openedAt' | 'compiledAt' | 'tokenRotation' | 'compromiseIndicators'
>;

export interface SecretAccessFindings {
  readonly totalAccesses: number;
  readonly unexpectedPrincipals: readonly string[];
  readonly unexpectedAccesses: number;
  readonly peakHourlyAccesses: number;
  readonly volumeAnomaly: boolean;
}

export interface IncidentReportStore {
  put(report: IncidentReport): Promise<void>;
  get(customerId: string, reportId: string): Promise<IncidentReport | undefined>;
  /** The customer's reports, newest first, at most `limit`. */
  list(customerId: string, limit: number): Promise<IncidentReportSummary[]>;
  /** Writes the rotation's outcome and the indicators it changes into a stored report; false when there is none. */
  recordRotation(
    customerId: string,
    reportId: string,
    update: { readonly tokenRotation: TokenRotationOutcome; readonly compromiseIndicators: readonly string[] },
  ): Promise<boolean>;
}

/** Starts and inspects lifecycle executions: Step Functions on AWS, the one-machine runtime locally. */
export interface WorkflowStarter {
  start(workflow: WorkflowName, input: WorkflowInput): Promise<{ executionId: string }>;
  describe(executionId: string): Promise<ExecutionDescription | undefined>;
  /** Completes a task waiting on `.waitForTaskToken`; the output carries ids only. */
  sendTaskSuccess(taskToken: string, output: Readonly<Record<string, string | number | boolean>>): Promise<void>;
}

export interface WorkflowInput {
  readonly customerId: string;
  readonly expedited?: boolean;
  readonly parentExecutionId?: string;
  readonly reason?: string;
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';

export interface ExecutionDescription {
  readonly executionId: string;
  readonly workflow?: WorkflowName;
  readonly status: ExecutionStatus;
  readonly startedAt?: string;
  readonly stoppedAt?: string;
  /** The Fail state's error name, never its cause text. */
  readonly error?: string;
}

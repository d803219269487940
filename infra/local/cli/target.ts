/**
 * Where the CLI's commands go: the local runtime (its lifecycle API over HTTP) or a deployed stack (Step Functions
 * and the stack's lifecycle API). Both answer in the same small shapes so the commands do not care which.
 */
import type { WorkflowName } from '../../../functions/customers/customer.ts';
import type { IncidentReport, IncidentReportSummary } from '../../../functions/lifecycle/ports.ts';
import type { Step } from './progress.ts';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';

export interface ExecutionView {
  readonly executionId: string;
  readonly status: ExecutionStatus;
  readonly steps: readonly Step[];
  readonly error?: string;
}

export interface CustomerView {
  readonly customerId: string;
  readonly status: string;
  readonly statusReason?: string;
  readonly runningWorkflow?: string;
  readonly awaitingToken?: boolean;
  readonly updatedAt?: string;
}

export interface DeadLetterView {
  readonly customerId: string;
  readonly deadLetterId: string;
  readonly operation: string;
  readonly errorCode: string;
  readonly attempts: number;
  readonly resolution: string;
  readonly createdAt: string;
  readonly statusCode?: number;
}

export interface OnboardOptions {
  readonly sensitivity?: 'high' | 'standard';
}

export interface ResumeView {
  readonly status: string;
  /** Held messages put back on the inbound queue. */
  readonly released: number;
  readonly alreadyActive: boolean;
}

export interface PauseView {
  readonly status: string;
  readonly statusReason: string;
}

export interface DebugCaptureView {
  readonly customerId: string;
  /** ISO time the capture window ends; null when capture is off. */
  readonly debugCaptureUntil: string | null;
  readonly wasActive?: boolean;
}

/** A source platform credential the CLI connects (Stripe: its webhook signing secret or its OAuth refresh token). */
export type SourceCredentialName = 'webhook_secret' | 'refresh_token';

export interface SourceConnectionView {
  /** What became of the Stripe history load (functions/lifecycle-api/source-credentials.ts, HistoryLoad). */
  readonly historyLoad: string;
}

/** A credential of the customer's source platform, for the lifecycle API to validate and store. */
export interface SourceConnection {
  readonly customerId: string;
  readonly source: 'stripe';
  readonly credential: SourceCredentialName;
  readonly value: string;
}

/**
 * The lifecycle API request that connects a source credential, the same on both targets: its path below the API's
 * `/lifecycle` resource, and the body that alone carries the value.
 */
export function sourceConnectionRequest(connection: SourceConnection): {
  path: string;
  body: { credential: SourceCredentialName; value: string };
} {
  return {
    path: `/customers/${encodeURIComponent(connection.customerId)}/sources/${connection.source}`,
    body: { credential: connection.credential, value: connection.value },
  };
}

export interface Target {
  readonly description: string;
  /** Submits the customer's Virtuous API key (validated and stored as pending) and starts onboarding. */
  onboard(customerId: string, token: string, options: OnboardOptions): Promise<{ executionId: string }>;
  startWorkflow(customerId: string, workflow: Exclude<WorkflowName, 'onboarding'>): Promise<{ executionId: string }>;
  /** Hands the new key to a token rotation that waits for it. */
  submitRotationToken(customerId: string, token: string): Promise<void>;
  /** Stores the Virtuous sandbox key the deletion drill onboards with (validated first; never echoed). */
  storeDrillSandboxKey(token: string): Promise<void>;
  /** Validates and stores a credential of the customer's source platform (its value goes only into the body). */
  connectSource(connection: SourceConnection): Promise<SourceConnectionView>;
  /** Pauses the customer's sync by hand (its messages are held until resume). */
  pause(customerId: string, reason: string | undefined): Promise<PauseView>;
  /** Checks the stored Virtuous key, sets the customer active and releases its held messages at once. */
  resume(customerId: string): Promise<ResumeView>;
  /** Switches the customer's debug capture on for `minutes` (operators are alerted), or off with `undefined`. */
  debugCapture(customerId: string, minutes: number | undefined): Promise<DebugCaptureView>;
  describe(executionId: string): Promise<ExecutionView>;
  customers(): Promise<CustomerView[]>;
  customer(customerId: string): Promise<CustomerView | undefined>;
  deadLetters(customerId: string | undefined): Promise<DeadLetterView[]>;
  resolveDeadLetter(
    customerId: string,
    deadLetterId: string,
    action: 'replay' | 'discard',
    options?: { readonly checked?: boolean },
  ): Promise<DeadLetterView>;
  egressIps(): Promise<{ ips: string[]; note?: string }>;
  /** Runs a scheduled job now (local runtime only): `reconciliation`, `rotation-reminders` or `deletion-drill`. */
  runJob(name: string): Promise<{ ok: boolean; summary?: Record<string, unknown>; errorCode?: string }>;
  /** The deletion records of an offboarded customer (counts and timestamps only). */
  deletionRecords(customerId: string): Promise<Record<string, unknown>[]>;
  /** The customer's incident reports, newest first (identifiers, times and counts). */
  incidentReports(customerId: string): Promise<IncidentReportSummary[]>;
  incidentReport(customerId: string, reportId: string): Promise<IncidentReport>;
}

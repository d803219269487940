/**
 * A customer of the partner platform: one Virtuous organization, its sync status and lifecycle state.
 * Holds identifiers and timestamps only; secrets live in the SecretStore.
 */

export type CustomerStatus = 'onboarding' | 'active' | 'paused' | 'offboarding' | 'offboarded' | 'failed';

export type Sensitivity = 'high' | 'standard';

export type WorkflowName =
  | 'onboarding'
  | 'token-rotation'
  | 'webhook-secret-rotation'
  | 'offboarding'
  | 'incident-response';

export interface WorkflowLock {
  readonly workflow: WorkflowName;
  readonly executionId: string;
  readonly acquiredAt: string;
}

export interface WebhookCreateAttempt {
  readonly executionId: string;
  readonly attemptedAt: string;
}

export interface CustomerRecord {
  readonly customerId: string;
  readonly status: CustomerStatus;
  /** Why the customer is paused or failed, e.g. `credential_revoked:stripe`. An identifier-like code, no free text. */
  readonly statusReason?: string;
  readonly sensitivity: Sensitivity;
  /** Days between API-token rotations: 90 for high sensitivity, 180-365 otherwise. */
  readonly tokenRotationDays: number;
  /** Organization the API token points at (Virtuous `organizationUserId`): a token for another one is an incident. */
  readonly organizationId?: string;
  readonly webhookSubscriptionId?: number;
  /**
   * Set by onboarding just before it asks Virtuous for a subscription, cleared once the id is saved (or Virtuous
   * refused) and by compensation. Found set without an id: the outcome of that request is unknown (no list endpoint).
   */
  readonly webhookCreateAttempt?: WebhookCreateAttempt;
  /** Until when the previous webhook secret is still accepted (ISO-8601), during a rotation window. */
  readonly previousWebhookSecretValidUntil?: string;
  readonly tokenPromotedAt?: string;
  readonly lock?: WorkflowLock;
  /**
   * Step Functions task token of a token rotation waiting for the customer's new key. Lives only here (never in a
   * response or a log) so the lifecycle API can complete the waiting task when the key is submitted.
   */
  readonly awaitingTokenTaskToken?: string;
  /**
   * Until when (ISO-8601) the webhook verifier stores raw deliveries of this customer in the debug-capture store.
   * Set only through the lifecycle API, at most 24 h ahead (functions/customers/debug-capture-flag.ts).
   */
  readonly debugCaptureUntil?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Statuses whose webhooks are accepted and queued (a paused customer's events wait on the queue). */
export const ACCEPTS_WEBHOOKS: ReadonlySet<CustomerStatus> = new Set(['onboarding', 'active', 'paused']);

export interface CustomerRepository {
  get(customerId: string): Promise<CustomerRecord | undefined>;
  /** Creates the record; fails with PermanentError if it exists. */
  create(record: CustomerRecord): Promise<void>;
  /** Applies a partial update; `expectedStatus` makes it conditional (TransientError on a lost race). */
  update(
    customerId: string,
    changes: Partial<Omit<CustomerRecord, 'customerId' | 'createdAt'>>,
    options?: { expectedStatus?: CustomerStatus | readonly CustomerStatus[] },
  ): Promise<CustomerRecord>;
  /** Takes the per-customer workflow lock; PermanentError `WORKFLOW_IN_PROGRESS` if another execution holds it. */
  acquireLock(customerId: string, lock: WorkflowLock): Promise<void>;
  /** Releases the lock if `executionId` holds it; idempotent. */
  releaseLock(customerId: string, executionId: string): Promise<void>;
  list(): Promise<CustomerRecord[]>;
}

/**
 * The secret-access audit trail: one record per SecretStore operation (who, which secret, what, why, when, and how
 * it ended), kept one year. CloudTrail records the Secrets Manager API calls independently; this log adds what
 * CloudTrail cannot know: the business reason, the request id and the accesses served from the in-memory cache.
 *
 * Records hold identifiers and codes only: never a value, never a version's content.
 */
import { randomBytes } from 'node:crypto';
import type { SecretKind, SecretStage } from './secret-store.ts';

export type AuditAction =
  | 'read'
  | 'put_pending'
  | 'promote'
  | 'discard_pending'
  | 'delete_previous'
  | 'delete_customer';

/**
 * `ok`: done. `not_found`: nothing at that stage (reads) or nothing to do (idempotent deletes).
 * `error`: the attempt failed; `errorCode` says how. Attempts are recorded too, so a denied or failing access
 * still leaves a trace for the incident workflow.
 */
export type AuditOutcome = 'ok' | 'not_found' | 'error';

export interface AuditEntry {
  readonly customerId: string;
  /** `all` for a whole-customer deletion. */
  readonly kind: SecretKind | 'all';
  readonly source?: string;
  readonly action: AuditAction;
  readonly stage?: SecretStage;
  /** Version touched (Secrets Manager version id or local version id): an identifier, not content. */
  readonly versionId?: string;
  /** Assumed-role session ARN on AWS; `local:<user>` on one machine. */
  readonly accessor: string;
  readonly reason: string;
  readonly requestId?: string;
  readonly outcome: AuditOutcome;
  readonly errorCode?: string;
  /** Served from the per-container cache without an API call. */
  readonly cached?: boolean;
  /** Secrets deleted by a whole-customer deletion. */
  readonly deletedSecrets?: number;
  /** ISO-8601. */
  readonly at: string;
}

export interface AuditRecord extends AuditEntry {
  /** Sort key: `at` + '#' + random suffix, so simultaneous records never collide and sort by time. */
  readonly auditKey: string;
  /** Epoch seconds; DynamoDB TTL removes the record one year after `at`. */
  readonly expiresAt: number;
}

export interface AuditLog {
  record(entry: AuditEntry): Promise<void>;
  /** Every record of the customer with `from <= at <= to` (ISO-8601), oldest first. */
  accessesBetween(customerId: string, from: string, to: string): Promise<AuditRecord[]>;
  /** Deletes the customer's records, except those after `keepAfter` (ISO-8601) when given. Returns how many went. */
  deleteCustomerEntries(customerId: string, keepAfter?: string): Promise<{ deleted: number }>;
}

export const AUDIT_RETENTION_SECONDS = 366 * 24 * 60 * 60;

export function toAuditRecord(entry: AuditEntry): AuditRecord {
  const atMs = Date.parse(entry.at);
  return {
    ...entry,
    auditKey: `${entry.at}#${randomBytes(6).toString('hex')}`,
    expiresAt: Math.floor(atMs / 1000) + AUDIT_RETENTION_SECONDS,
  };
}

/** Sort-key bounds: every key starting with a time in [from, to] lies between these two strings. */
export function auditKeyRange(from: string, to: string): { low: string; high: string } {
  return { low: from, high: `${to}#\uffff` };
}

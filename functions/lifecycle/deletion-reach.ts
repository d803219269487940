/**
 * What offboarding cannot delete, stated in the deletion record instead of being silently left: for each store that
 * still holds something of the customer, what it holds, until when, and why. The figures are the deployed stack's
 * settings (test/infra/crypto-shredding.test.ts checks them against the synthesized template).
 */
import type { AuditRecord } from '../credentials/audit-log.ts';
import { PermanentError } from '../shared/errors.ts';
import { TABLES, type TableSchema } from '../shared/tables.ts';

/** CloudWatch log groups (infra LOG_RETENTION). */
export const LOG_RETENTION_DAYS = 30;
/** The cold log archive (CloudWatch Logs → Firehose → S3, deleted after a year). */
export const LOG_ARCHIVE_DAYS = 365;
/** DynamoDB point-in-time recovery keeps 35 days of restorable history. */
export const PITR_DAYS = 35;
/** Inbound queue and its dead-letter queue message retention. */
export const INBOUND_QUEUE_DAYS = 4;
export const INBOUND_DLQ_DAYS = 14;
/** The longest recovery window a deployment may set for deleted secrets (SECRET_RECOVERY_WINDOW_DAYS, 0–30). */
export const MAX_SECRET_RECOVERY_DAYS = 30;

/** Bounds that take in every audit row of a customer, whatever clock wrote it. */
export const ALL_AUDIT_ROWS = { from: '1970-01-01T00:00:00.000Z', to: '9999-12-31T23:59:59.999Z' } as const;

export interface RemainingData {
  /** The store, by the name the docs and the stack use. */
  readonly store: string;
  /** What of the customer it still holds. */
  readonly holds: string;
  /** ISO-8601: by when it is gone on its own, at the latest. */
  readonly until: string;
  readonly reason: string;
  /** Items of the customer, where they can be counted. */
  readonly items?: number;
}

/**
 * Every field an audit row may have: identifiers, codes, counts and times (functions/credentials/audit-log.ts). Typed
 * against AuditRecord, so a field added there does not compile here until it is judged identifier-only and listed.
 */
const AUDIT_ROW_FIELD_NAMES = {
  customerId: true,
  auditKey: true,
  expiresAt: true,
  kind: true,
  source: true,
  action: true,
  stage: true,
  versionId: true,
  accessor: true,
  reason: true,
  requestId: true,
  outcome: true,
  errorCode: true,
  cached: true,
  deletedSecrets: true,
  at: true,
} as const satisfies Record<keyof AuditRecord, true>;

const AUDIT_ROW_FIELDS: ReadonlySet<string> = new Set(Object.keys(AUDIT_ROW_FIELD_NAMES));

/** Fields of audit rows that are not in the identifier-only shape; empty when every row holds identifiers only. */
export function nonIdentifierAuditFields(rows: readonly AuditRecord[]): string[] {
  const unexpected = new Set<string>();
  for (const row of rows) {
    for (const field of Object.keys(row)) if (!AUDIT_ROW_FIELDS.has(field)) unexpected.add(field);
  }
  return [...unexpected].sort();
}

function daysAfter(at: Date, days: number): string {
  return new Date(at.getTime() + days * 86_400_000).toISOString();
}

/**
 * The record's `remains` section. The secret-access audit rows are kept (their count and the expiry of the last
 * one are stated); a row with any field outside the identifier-only shape stops the offboarding, since it would
 * keep something the record cannot vouch for.
 */
export function describeRemains(
  deletedAt: Date,
  auditRows: readonly AuditRecord[],
  secretsDeleted = 0,
): RemainingData[] {
  const unexpected = nonIdentifierAuditFields(auditRows);
  if (unexpected.length > 0) {
    throw new PermanentError(
      'AUDIT_ROWS_NOT_IDENTIFIERS_ONLY',
      `secret-access audit rows carry unexpected field(s): ${unexpected.join(', ')}`,
    );
  }
  const audit: TableSchema = TABLES.secretAudit;
  const lastExpiry = auditRows.reduce((latest, row) => Math.max(latest, row.expiresAt), 0);
  const remains: RemainingData[] = [];
  if (auditRows.length > 0) {
    remains.push({
      store: 'secret-audit table',
      holds: 'secret-access audit rows: identifiers, codes and times only (no value, no donor data)',
      until: new Date(lastExpiry * 1000).toISOString(),
      reason: `kept until their TTL for ${audit.keptAfterOffboarding}`,
      items: auditRows.length,
    });
  }
  if (secretsDeleted > 0) {
    remains.push({
      store: 'Secrets Manager (deleted secrets)',
      holds:
        "the customer's secrets, scheduled for deletion: readable by no one, restorable only by the customer-secrets writer role",
      until: daysAfter(deletedAt, MAX_SECRET_RECOVERY_DAYS),
      reason:
        "Secrets Manager keeps a deleted secret for the deployment's recovery window (SECRET_RECOVERY_WINDOW_DAYS, at most 30 days), then deletes it for good",
      items: secretsDeleted,
    });
  }
  remains.push(
    {
      store: 'CloudWatch log groups',
      holds: 'log lines naming the customer id, execution ids and codes (never donor data, tokens or secrets)',
      until: daysAfter(deletedAt, LOG_RETENTION_DAYS),
      reason: 'operational logs expire on their retention setting; they are not rewritten',
    },
    {
      store: 'log archive bucket',
      holds: 'the same log lines, archived (identifiers and codes only)',
      until: daysAfter(deletedAt, LOG_ARCHIVE_DAYS),
      reason: 'one-year log archive for investigations; deleted by its lifecycle rule',
    },
    {
      store: 'DynamoDB point-in-time backups',
      holds:
        "the customer's deleted items: identifiers, counts and timestamps, and payloads sealed under the destroyed customer key (unreadable)",
      until: daysAfter(deletedAt, PITR_DAYS),
      reason:
        'backups cannot be edited; they roll off after 35 days. The customer key table has no backups, so no restorable copy of the key exists',
    },
    {
      store: 'inbound queue and its dead-letter queue',
      holds:
        'webhook deliveries enqueued before the pause: raw bodies, encrypted at rest with the stack key; the processor discards them unread',
      until: daysAfter(deletedAt, INBOUND_DLQ_DAYS),
      reason: `messages expire after ${INBOUND_QUEUE_DAYS} days (queue) or ${INBOUND_DLQ_DAYS} days (dead-letter queue)`,
    },
  );
  return remains;
}

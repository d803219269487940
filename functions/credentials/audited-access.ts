/**
 * Runs one SecretStore operation and writes exactly one audit record for it, whatever the outcome.
 *
 * Fail closed: when the record of a successful operation cannot be written, the caller gets a TransientError and,
 * for a read, never the value, because "every access is audited" must hold even when the audit table is down.
 * When the operation itself failed, its error wins; a failure to record the failure is logged (codes only).
 */
import { errorCode } from '../shared/errors.ts';
import { logger } from '../shared/observability.ts';
import type { AuditAction, AuditEntry, AuditLog, AuditOutcome } from './audit-log.ts';
import type { ResolvedSecretRef } from './secret-names.ts';
import type { AccessContext, SecretStage } from './secret-store.ts';

export interface OperationResult<T> {
  readonly result: T;
  readonly outcome: AuditOutcome;
  readonly versionId?: string;
  readonly cached?: boolean;
  readonly deletedSecrets?: number;
}

export interface AuditTarget {
  readonly customerId: string;
  readonly kind: AuditEntry['kind'];
  readonly source?: string;
}

export function auditTarget(ref: ResolvedSecretRef): AuditTarget {
  return { customerId: ref.customerId, kind: ref.kind, ...(ref.source === undefined ? {} : { source: ref.source }) };
}

export async function runAudited<T>(
  audit: AuditLog,
  call: {
    readonly target: AuditTarget;
    readonly action: AuditAction;
    readonly stage?: SecretStage;
    readonly accessor: () => string;
    readonly context: AccessContext;
    readonly now: () => number;
  },
  operation: () => Promise<OperationResult<T>>,
): Promise<T> {
  const base = {
    ...call.target,
    action: call.action,
    ...(call.stage === undefined ? {} : { stage: call.stage }),
    reason: call.context.reason,
    ...(call.context.requestId === undefined ? {} : { requestId: call.context.requestId }),
  };
  let done: OperationResult<T>;
  try {
    done = await operation();
  } catch (error) {
    try {
      await audit.record({
        ...base,
        accessor: call.accessor(),
        outcome: 'error',
        errorCode: errorCode(error),
        at: new Date(call.now()).toISOString(),
      });
    } catch (auditError) {
      logger.error('secret access failed and its audit record could not be written', {
        customerId: call.target.customerId,
        action: call.action,
        errorCode: errorCode(error),
        auditErrorCode: errorCode(auditError),
      });
    }
    throw error;
  }
  await audit.record({
    ...base,
    accessor: call.accessor(),
    outcome: done.outcome,
    ...(done.versionId === undefined ? {} : { versionId: done.versionId }),
    ...(done.cached ? { cached: true } : {}),
    ...(done.deletedSecrets === undefined ? {} : { deletedSecrets: done.deletedSecrets }),
    at: new Date(call.now()).toISOString(),
  });
  return done.result;
}

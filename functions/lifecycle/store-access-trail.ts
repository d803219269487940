/**
 * The secret-access trail on one machine, which has no CloudTrail: the local secret store's own access records (it
 * writes one per operation, whoever asked, before answering). Reads that reached the store count; reads served from
 * a process cache never reached it, just as they never reach Secrets Manager. The report names this source, so
 * nobody mistakes it for CloudTrail. Records are written before the store answers: no delivery lag.
 */
import type { AuditLog, AuditRecord } from '../credentials/audit-log.ts';
import { resolveSecretRef } from '../credentials/secret-names.ts';
import type { SecretRef } from '../credentials/secret-store.ts';
import type { SecretAccessEvent, SecretAccessTrail, SecretAccessTrailRead } from './secret-access-trail.ts';

export class StoreAccessTrail implements SecretAccessTrail {
  readonly source = 'local-secret-store' as const;
  readonly deliveryLagMinutes = 0;

  constructor(
    private readonly records: Pick<AuditLog, 'accessesBetween'>,
    private readonly environment: string,
  ) {}

  async readAccesses(query: { customerId: string; from: string; to: string }): Promise<SecretAccessTrailRead> {
    const records = await this.records.accessesBetween(query.customerId, query.from, query.to);
    const events = records
      .filter((record) => record.action === 'read' && record.cached !== true)
      .map((record) => this.toAccess(record))
      .filter((event) => event !== undefined);
    return { events, coveredFrom: query.from, coveredTo: query.to, truncated: false };
  }

  private toAccess(record: AuditRecord): SecretAccessEvent | undefined {
    if (record.kind === 'all') return undefined;
    const ref = { customerId: record.customerId, kind: record.kind, source: record.source } as SecretRef;
    let secretName: string;
    try {
      secretName = resolveSecretRef(this.environment, ref).name;
    } catch {
      return undefined;
    }
    const failed = record.outcome === 'error';
    // One vocabulary with CloudTrail's: a refusal is `AccessDenied`, other failures keep the store's code.
    const errorCode = failed ? (/DENIED/i.test(record.errorCode ?? '') ? 'AccessDenied' : record.errorCode) : undefined;
    return {
      at: record.at,
      principal: record.accessor,
      secretName,
      ...(failed ? { errorCode: errorCode ?? 'ERROR' } : {}),
    };
  }
}

/** The audit log kept in memory: for tests and for one-machine runs that do not persist the trail. */
import { assertCustomerId } from '../shared/identifiers.ts';
import { type AuditEntry, type AuditLog, type AuditRecord, auditKeyRange, toAuditRecord } from './audit-log.ts';
import { isoTime } from './dynamodb-audit-log.ts';

export class MemoryAuditLog implements AuditLog {
  private readonly records: AuditRecord[] = [];

  async record(entry: AuditEntry): Promise<void> {
    this.records.push(toAuditRecord(entry));
  }

  /** Every record, in the order written. */
  all(): readonly AuditRecord[] {
    return this.records;
  }

  async accessesBetween(customerId: string, from: string, to: string): Promise<AuditRecord[]> {
    assertCustomerId(customerId);
    const { low, high } = auditKeyRange(isoTime(from), isoTime(to));
    return this.records
      .filter((r) => r.customerId === customerId && r.auditKey >= low && r.auditKey <= high)
      .sort((a, b) => (a.auditKey < b.auditKey ? -1 : 1));
  }

  async deleteCustomerEntries(customerId: string, keepAfter?: string): Promise<{ deleted: number }> {
    assertCustomerId(customerId);
    const keep = keepAfter === undefined ? undefined : isoTime(keepAfter);
    let deleted = 0;
    for (let i = this.records.length - 1; i >= 0; i--) {
      const r = this.records[i] as AuditRecord;
      if (r.customerId !== customerId || (keep !== undefined && r.at > keep)) continue;
      this.records.splice(i, 1);
      deleted++;
    }
    return { deleted };
  }
}

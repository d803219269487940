// The deletion record's `remains`: what is kept where, until when and why; audit rows must hold identifiers only.
import { describe, expect, it } from 'vitest';
import { type AuditRecord, toAuditRecord } from '../../../functions/credentials/audit-log.ts';
import { describeRemains, nonIdentifierAuditFields } from '../../../functions/lifecycle/deletion-reach.ts';
import { DONOR } from '../../support/canaries.ts';

const DELETED_AT = new Date('2026-12-01T00:00:00.000Z');

function row(at: string): AuditRecord {
  return toAuditRecord({
    customerId: 'acme',
    kind: 'api_token',
    action: 'read',
    stage: 'current',
    accessor: 'arn:aws:sts::111122223333:assumed-role/virtuous-staging-customer-secrets-reader/acme@processor',
    reason: 'sync:submit',
    outcome: 'ok',
    at,
  });
}

describe('deletion reach', () => {
  it('states the kept audit rows with the expiry of the last one, and every store with a date and a reason', () => {
    const rows = [row('2026-11-30T10:00:00.000Z'), row('2026-12-01T00:00:00.000Z')];
    const remains = describeRemains(DELETED_AT, rows, 3);
    const audit = remains.find((entry) => entry.store === 'secret-audit table');
    expect(audit).toMatchObject({ items: 2, until: new Date((rows[1]?.expiresAt ?? 0) * 1000).toISOString() });
    expect(remains.find((entry) => entry.store === 'Secrets Manager (deleted secrets)')?.items).toBe(3);
    for (const entry of remains) {
      expect(Date.parse(entry.until), entry.store).toBeGreaterThan(DELETED_AT.getTime());
      expect(entry.reason.length, entry.store).toBeGreaterThan(20);
    }
  });

  it('leaves out what the customer never had: no audit rows, no secrets', () => {
    const stores = describeRemains(DELETED_AT, [], 0).map((entry) => entry.store);
    expect(stores).not.toContain('secret-audit table');
    expect(stores).not.toContain('Secrets Manager (deleted secrets)');
    expect(stores).toEqual([
      'CloudWatch log groups',
      'log archive bucket',
      'DynamoDB point-in-time backups',
      'inbound queue and its dead-letter queue',
    ]);
  });

  it('refuses to keep an audit row with a field outside the identifier-only shape', () => {
    const leaky = { ...row('2026-11-30T10:00:00.000Z'), donorEmail: DONOR.email } as AuditRecord;
    expect(nonIdentifierAuditFields([leaky])).toEqual(['donorEmail']);
    expect(() => describeRemains(DELETED_AT, [leaky])).toThrow(
      expect.objectContaining({ code: 'AUDIT_ROWS_NOT_IDENTIFIERS_ONLY' }),
    );
  });
});

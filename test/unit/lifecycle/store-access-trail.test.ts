import { describe, expect, it } from 'vitest';
import { MemoryAuditLog } from '../../../functions/credentials/memory-audit-log.ts';
import { StoreAccessTrail } from '../../../functions/lifecycle/store-access-trail.ts';

const FROM = '2026-11-29T00:00:00.000Z';
const TO = '2026-11-30T00:00:00.000Z';

describe('StoreAccessTrail (one machine: the local store stands in for CloudTrail)', () => {
  it('keeps the reads that reached the store, named by secret, with a refusal as AccessDenied', async () => {
    const audit = new MemoryAuditLog();
    const base = { customerId: 'acme', reason: 'sync:submit', accessor: 'local:runtime' } as const;
    await audit.record({ ...base, kind: 'api_token', action: 'read', outcome: 'ok', at: '2026-11-29T01:00:00.000Z' });
    // Served from a process cache: the store never saw it, just as Secrets Manager would not.
    await audit.record({
      ...base,
      kind: 'api_token',
      action: 'read',
      outcome: 'ok',
      cached: true,
      at: '2026-11-29T01:01:00.000Z',
    });
    await audit.record({
      ...base,
      kind: 'refresh_token',
      source: 'stripe',
      action: 'read',
      outcome: 'error',
      errorCode: 'SECRET_ACCESS_DENIED',
      accessor: 'local:intruder',
      at: '2026-11-29T02:00:00.000Z',
    });
    await audit.record({
      ...base,
      kind: 'webhook_secret',
      action: 'read',
      outcome: 'error',
      errorCode: 'STATE_FILE_UNREADABLE',
      at: '2026-11-29T03:00:00.000Z',
    });
    // Writes are not reads; a read of another customer or outside the window is not this incident's.
    await audit.record({
      ...base,
      kind: 'api_token',
      action: 'promote',
      outcome: 'ok',
      at: '2026-11-29T04:00:00.000Z',
    });
    await audit.record({
      ...base,
      customerId: 'globex',
      kind: 'api_token',
      action: 'read',
      outcome: 'ok',
      at: '2026-11-29T05:00:00.000Z',
    });
    await audit.record({ ...base, kind: 'api_token', action: 'read', outcome: 'ok', at: '2026-11-30T06:00:00.000Z' });

    const trail = new StoreAccessTrail(audit, 'local');
    expect(trail.source).toBe('local-secret-store');
    expect(trail.deliveryLagMinutes).toBe(0);
    expect(await trail.readAccesses({ customerId: 'acme', from: FROM, to: TO })).toEqual({
      coveredFrom: FROM,
      coveredTo: TO,
      truncated: false,
      events: [
        { at: '2026-11-29T01:00:00.000Z', principal: 'local:runtime', secretName: 'virtuous/local/acme/api_token' },
        {
          at: '2026-11-29T02:00:00.000Z',
          principal: 'local:intruder',
          secretName: 'stripe/local/acme/refresh_token',
          errorCode: 'AccessDenied',
        },
        {
          at: '2026-11-29T03:00:00.000Z',
          principal: 'local:runtime',
          secretName: 'virtuous/local/acme/webhook_secret',
          errorCode: 'STATE_FILE_UNREADABLE',
        },
      ],
    });
  });
});

import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_RETENTION_SECONDS } from '../../../functions/credentials/audit-log.ts';
import { DynamoDbAuditLog } from '../../../functions/credentials/dynamodb-audit-log.ts';
import { EncryptedFileStore } from '../../../functions/credentials/encrypted-file-store.ts';
import { registerSecret } from '../../support/canaries.ts';
import { type LocalAws, startLocalAws } from '../../support/local-aws.ts';

let aws: LocalAws;
let audit: DynamoDbAuditLog;

beforeAll(async () => {
  aws = await startLocalAws();
  audit = new DynamoDbAuditLog(aws.documentClient, aws.tableNames.secretAudit);
});

afterAll(async () => {
  await aws?.stop();
});

const at = (minute: number, second = 0) => new Date(Date.UTC(2026, 10, 29, 3, minute, second)).toISOString();

describe('DynamoDbAuditLog on dynalite', () => {
  it('writes a record with a time-ordered unique sort key and a one-year TTL', async () => {
    await audit.record({
      customerId: 'ttl-cust',
      kind: 'api_token',
      action: 'read',
      stage: 'current',
      accessor: 'arn:aws:sts::123456789012:assumed-role/customer-secrets/ttl-cust@fn',
      reason: 'sync:submit',
      requestId: 'req-9',
      outcome: 'ok',
      versionId: 'v-1',
      at: at(0),
    });
    const items = await aws.documentClient.send(
      new QueryCommand({
        TableName: aws.tableNames.secretAudit,
        KeyConditionExpression: 'customerId = :c',
        ExpressionAttributeValues: { ':c': 'ttl-cust' },
      }),
    );
    const item = items.Items?.[0];
    expect(item?.auditKey).toMatch(/^2026-11-29T03:00:00\.000Z#[0-9a-f]{12}$/);
    expect(item?.expiresAt).toBe(Math.floor(Date.parse(at(0)) / 1000) + AUDIT_RETENTION_SECONDS);
    expect(item).toMatchObject({ action: 'read', reason: 'sync:submit', requestId: 'req-9', outcome: 'ok' });
    expect(item).not.toHaveProperty('source');
  });

  it('answers "who touched customer X between t1 and t2" across pages, and nothing of other customers', async () => {
    const records = Array.from({ length: 260 }, (_, i) => ({
      customerId: i % 2 === 0 ? 'incident-a' : 'incident-b',
      kind: 'webhook_secret' as const,
      action: 'read' as const,
      accessor: `arn:aws:sts::123456789012:assumed-role/customer-secrets/s${i % 3}`,
      reason: 'webhook:verify',
      outcome: 'ok' as const,
      at: at(10 + Math.floor(i / 10), i % 10),
    }));
    // Many records in the same second: the random suffix keeps them all.
    await Promise.all(records.map((r) => audit.record(r)));
    const all = await audit.accessesBetween('incident-a', at(0), at(59));
    expect(all).toHaveLength(130);
    const window = await audit.accessesBetween('incident-a', at(12), at(13, 59));
    expect(window).toHaveLength(
      records.filter((r) => r.customerId === 'incident-a' && r.at >= at(12) && r.at <= at(13, 59)).length,
    );
    expect(window.every((r) => r.customerId === 'incident-a')).toBe(true);
    const keys = window.map((r) => r.auditKey);
    expect([...keys].sort()).toEqual(keys);
  });

  it('deletes a customer’s records, keeping those after keepAfter when asked', async () => {
    for (const minute of [1, 2, 3, 4]) {
      await audit.record({
        customerId: 'gone',
        kind: 'all',
        action: 'delete_customer',
        accessor: 'x',
        reason: 'offboarding:delete',
        outcome: 'ok',
        at: at(minute),
      });
    }
    await audit.record({
      customerId: 'stays',
      kind: 'api_token',
      action: 'read',
      accessor: 'x',
      reason: 'sync:submit',
      outcome: 'ok',
      at: at(1),
    });
    expect(await audit.deleteCustomerEntries('gone', at(3))).toEqual({ deleted: 3 });
    expect((await audit.accessesBetween('gone', at(0), at(59))).map((r) => r.at)).toEqual([at(4)]);
    expect(await audit.deleteCustomerEntries('gone')).toEqual({ deleted: 1 });
    expect(await audit.accessesBetween('gone', at(0), at(59))).toHaveLength(0);
    expect(await audit.accessesBetween('stays', at(0), at(59))).toHaveLength(1);
  });

  it('refuses malformed customer ids and times', async () => {
    await expect(audit.accessesBetween('a/b', at(0), at(1))).rejects.toMatchObject({ name: 'ForbiddenInputError' });
    await expect(audit.accessesBetween('acme', 'yesterday', at(1))).rejects.toMatchObject({ code: 'INVALID_TIME' });
    await expect(audit.deleteCustomerEntries('*')).rejects.toMatchObject({ name: 'ForbiddenInputError' });
  });

  it('receives one record per operation of the local store, and none holds a value', async () => {
    const store = EncryptedFileStore.inMemory({ environment: 'test', audit });
    const value = registerSecret('dynamo-audited-secret-42');
    const ref = { customerId: 'store-cust', kind: 'api_token' } as const;
    await store.putPending(ref, value, { reason: 'onboarding:store', requestId: 'exec-7' });
    await store.promotePending(ref, { reason: 'onboarding:promote' });
    await store.read(ref, 'current', { reason: 'sync:submit' });
    const records = await audit.accessesBetween(
      'store-cust',
      '2000-01-01T00:00:00Z',
      new Date(Date.now() + 60_000).toISOString(),
    );
    expect(records.map((r) => r.action)).toEqual(['put_pending', 'promote', 'read']);
    expect(JSON.stringify(records)).not.toContain(value);
    const raw = await aws.documentClient.send(
      new GetCommand({
        TableName: aws.tableNames.secretAudit,
        Key: { customerId: 'store-cust', auditKey: records[0]?.auditKey },
      }),
    );
    expect(raw.Item?.requestId).toBe('exec-7');
  });
});

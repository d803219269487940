import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BatchWriteCommand, paginateScan, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../functions/credentials/audit-log.ts';
import { createCustomerKeySealer } from '../../functions/crypto/customer-key-sealer.ts';
import { CUSTOMER_KEY_DESTROYED } from '../../functions/crypto/customer-keys.ts';
import type { PayloadSealer, SealedPayload } from '../../functions/crypto/payload-sealer.ts';
import { nonIdentifierAuditFields, type RemainingData } from '../../functions/lifecycle/deletion-reach.ts';
import { PURGED_TABLES } from '../../functions/lifecycle/dynamo-customer-data-store.ts';
import { PermanentError, TransientError } from '../../functions/shared/errors.ts';
import { TABLE_KEYS, TABLES, type TableKey } from '../../functions/shared/tables.ts';
import { createHeldMessages, HELD_MESSAGE_PURPOSE } from '../../functions/sync/held-messages.ts';
import { DONOR, findLeaks, registerSecret } from '../support/canaries.ts';
import {
  enteredStates,
  failingFirst,
  leaksInEvents,
  retriesOf,
  useWorkflowTestEnv,
  virtuousFailingFirst,
  withDeps,
} from '../support/workflow-runner.ts';
import { callApi, executionFrom, onboardedCustomer, secretsExistFor } from './lifecycle-fixtures.ts';

const env = useWorkflowTestEnv();

const SEEDED: Partial<Record<TableKey, number>> = {
  syncRecords: 30,
  deliveries: 12,
  deadLetters: 5,
  reconciliationLog: 3,
  heldMessages: 4,
  checkpoints: 2,
  rateBudgets: 2,
  incidentReports: 1,
};

function itemFor(key: TableKey, customerId: string, index: number): Record<string, unknown> {
  const schema = TABLES[key];
  const item: Record<string, unknown> = { [schema.partitionKey.name]: customerId, createdAt: new Date().toISOString() };
  if ('sortKey' in schema) item[schema.sortKey.name] = schema.sortKey.type === 'N' ? 1_000 + index : `seed-${index}`;
  // Dead letters keep the payload that failed: donor data that must go with the customer.
  if (key === 'deadLetters') item.payload = { email: DONOR.email, firstName: DONOR.firstName };
  return item;
}

async function seedCustomerData(customerId: string): Promise<void> {
  for (const [key, count] of Object.entries(SEEDED) as Array<[TableKey, number]>) {
    const items = Array.from({ length: count }, (_, index) => itemFor(key, customerId, index));
    for (let start = 0; start < items.length; start += 25) {
      await env().aws.documentClient.send(
        new BatchWriteCommand({
          RequestItems: {
            [env().aws.tableNames[key]]: items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } })),
          },
        }),
      );
    }
  }
  const folder = join(env().capturesRoot, 'captures', customerId, '2026-11-29');
  await mkdir(folder, { recursive: true });
  for (const name of ['a.json', 'b.json', 'c.json']) {
    await writeFile(join(folder, name), JSON.stringify({ email: DONOR.email }));
  }
  await env().secrets.putPending(
    { customerId, kind: 'refresh_token', source: 'mailchimp' },
    registerSecret(`mc-refresh-${customerId}-0123456789abcdef`),
    { reason: 'test:seed' },
  );
  await env().secrets.promotePending(
    { customerId, kind: 'refresh_token', source: 'mailchimp' },
    { reason: 'test:seed' },
  );
}

async function countItems(key: TableKey, customerId: string): Promise<number> {
  const answer = await env().aws.documentClient.send(
    new QueryCommand({
      TableName: env().aws.tableNames[key],
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': TABLES[key].partitionKey.name },
      ExpressionAttributeValues: { ':pk': customerId },
      Select: 'COUNT',
    }),
  );
  return answer.Count ?? 0;
}

async function counts(customerId: string): Promise<Partial<Record<TableKey, number>>> {
  const result: Partial<Record<TableKey, number>> = {};
  for (const key of PURGED_TABLES) result[key] = await countItems(key, customerId);
  return result;
}

/** Every item of every table that mentions the customer anywhere (not only by key). */
async function itemsMentioning(customerId: string): Promise<Array<{ table: TableKey; item: Record<string, unknown> }>> {
  const found: Array<{ table: TableKey; item: Record<string, unknown> }> = [];
  for (const table of TABLE_KEYS) {
    for await (const page of paginateScan(
      { client: env().aws.documentClient },
      { TableName: env().aws.tableNames[table] },
    )) {
      for (const item of page.Items ?? []) {
        if (JSON.stringify(item).includes(customerId)) found.push({ table, item });
      }
    }
  }
  return found;
}

function heldMessagesOf(sealer: PayloadSealer) {
  const noQueue = { send: async () => undefined };
  return createHeldMessages({
    client: env().aws.documentClient,
    table: env().aws.tableNames.heldMessages,
    sealer,
    queue: noQueue,
  });
}

async function heldItems(customerId: string): Promise<Record<string, unknown>[]> {
  const answer = await env().aws.documentClient.send(
    new QueryCommand({
      TableName: env().aws.tableNames.heldMessages,
      KeyConditionExpression: 'customerId = :c',
      ExpressionAttributeValues: { ':c': customerId },
    }),
  );
  return answer.Items ?? [];
}

/** Tables that still mention a customer after offboarding: the marker, the record and the kept audit rows. */
function tablesLeft(remaining: Array<{ table: TableKey }>): string[] {
  return [...new Set(remaining.map((entry) => entry.table))].sort();
}

async function offboard(customerId: string) {
  return executionFrom(env(), await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/workflows/offboarding`));
}

describe('offboarding workflow (statemachines/offboarding.asl.json)', () => {
  it('deletes everything of the customer, keeps only the marker and a deletion record whose counts match', async () => {
    const { customerId, org } = await onboardedCustomer(env(), 'off');
    const bystander = await onboardedCustomer(env(), 'off');
    await seedCustomerData(customerId);
    await seedCustomerData(bystander.customerId);
    const before = await counts(customerId);
    const bystanderBefore = await counts(bystander.customerId);
    // Every purged table holds something before, so every count below is a real check.
    for (const key of PURGED_TABLES) expect(before[key], key).toBeGreaterThan(0);
    expect(before.syncRecords).toBe(30);
    expect(PURGED_TABLES).not.toContain('secretAudit');
    // A message held sealed under the customer's own data key; the test keeps a copy of the stored item, as a
    // point-in-time backup or an uncompacted LevelDB file would.
    const sealer = createCustomerKeySealer({ keys: env().deps.customerKeys });
    await heldMessagesOf(sealer).hold(customerId, 'held-residue', JSON.stringify(DONOR), 'paused', new Date());
    const backupCopy = (await heldItems(customerId))[0]?.payload as SealedPayload;
    expect(await sealer.open(backupCopy, { customerId, purpose: HELD_MESSAGE_PURPOSE })).toContain(DONOR.email);
    const keyBefore = await env().deps.customerKeys.describe(customerId);
    expect(keyBefore?.state).toBe('active');

    const original = env().deps;
    // Small purge rounds, so the PurgeCustomerData → PurgeComplete loop runs many times.
    const inner = original.customerData;
    env().deps = {
      ...original,
      customerData: {
        inventory: (id) => inner.inventory(id),
        purge: (id) => inner.purge(id, 7),
        reduceToOffboardedMarker: (id, at) => inner.reduceToOffboardedMarker(id, at),
        putDeletionRecord: (record) => inner.putDeletionRecord(record),
      },
    };
    let execution: Awaited<ReturnType<typeof offboard>>;
    try {
      execution = await offboard(customerId);
      expect((await execution.result).status).toBe('SUCCEEDED');
    } finally {
      env().deps = original;
    }
    expect(enteredStates(execution).filter((name) => name === 'PurgeCustomerData').length).toBeGreaterThan(5);

    const remaining = await itemsMentioning(customerId);
    expect(tablesLeft(remaining)).toEqual(['customers', 'deletionRecords', 'secretAudit']);
    // The key store keeps a tombstone only (locally an entry of the keyring): no key.
    expect(await env().deps.customerKeys.describe(customerId)).toMatchObject({ state: 'destroyed' });
    const marker = remaining.find((entry) => entry.table === 'customers')?.item ?? {};
    expect(Object.keys(marker).sort()).toEqual(['createdAt', 'customerId', 'offboardedAt', 'status', 'updatedAt']);
    expect(marker.status).toBe('offboarded');
    const record = remaining.find((entry) => entry.table === 'deletionRecords')?.item ?? {};
    const tables = record.tables as Record<string, number>;
    for (const key of PURGED_TABLES) {
      expect(tables[key], key).toBe((before[key] ?? 0) + (key === 'heldMessages' ? 1 : 0));
    }
    expect(tables.secretAudit).toBeUndefined();
    // Crypto-shredding: the record names the destroyed key, and the backup copy of the sealed message is dark.
    expect(record.cryptoShredding).toEqual({
      status: 'destroyed',
      keyId: keyBefore?.keyId,
      fingerprint: keyBefore?.fingerprint,
      destroyedAt: record.deletedAt,
      trialOpen: 'refused',
    });
    await expect(sealer.open(backupCopy, { customerId, purpose: HELD_MESSAGE_PURPOSE })).rejects.toMatchObject({
      code: CUSTOMER_KEY_DESTROYED,
    });
    expect(record).toMatchObject({
      secretsDeleted: 3,
      debugCapturesDeleted: 3,
      webhookSubscription: 'deleted',
      customerRecord: 'reduced_to_offboarded_marker',
    });
    expect(findLeaks(JSON.stringify(record))).toHaveLength(0);

    expect(secretsExistFor(env(), customerId)).toBe(false);
    expect(env().sim.control.inspect(org.organizationId).webhooks).toHaveLength(0);
    expect(await readdir(join(env().capturesRoot, 'captures')).then((names) => names.includes(customerId))).toBe(false);
    expect(await counts(bystander.customerId)).toEqual(bystanderBefore);
    expect(secretsExistFor(env(), bystander.customerId)).toBe(true);
    expect(env().notifier.typesFor(customerId)).toEqual(
      expect.arrayContaining(['token_revocation_requested', 'offboarding_complete']),
    );
    expect(leaksInEvents(execution)).toBe(0);
  });

  it("keeps the secret-access audit rows until their TTL and states them, and every other store, in 'remains'", async () => {
    const { customerId } = await onboardedCustomer(env(), 'off');
    const execution = await offboard(customerId);
    expect((await execution.result).status).toBe('SUCCEEDED');
    const remaining = await itemsMentioning(customerId);
    const auditRows = remaining.filter((entry) => entry.table === 'secretAudit').map((entry) => entry.item);
    // Onboarding's and offboarding's own secret accesses (the deletion of every secret included) are all still there.
    expect(auditRows.length).toBeGreaterThan(3);
    expect(auditRows.some((row) => row.action === 'delete_customer')).toBe(true);
    expect(nonIdentifierAuditFields(auditRows as unknown as AuditRecord[])).toEqual([]);
    const record = remaining.find((entry) => entry.table === 'deletionRecords')?.item ?? {};
    const remains = record.remains as RemainingData[];
    const deletedAt = Date.parse(record.deletedAt as string);
    const days = (iso: string) => Math.round((Date.parse(iso) - deletedAt) / 86_400_000);
    const audit = remains.find((entry) => entry.store === 'secret-audit table');
    expect(audit).toMatchObject({ items: auditRows.length });
    expect(remains.find((entry) => entry.store === 'Secrets Manager (deleted secrets)')?.items).toBe(
      record.secretsDeleted,
    );
    expect(audit?.until).toBe(
      new Date(Math.max(...auditRows.map((row) => row.expiresAt as number)) * 1000).toISOString(),
    );
    expect(Object.fromEntries(remains.map((entry) => [entry.store, days(entry.until)]))).toEqual({
      'secret-audit table': 366,
      'Secrets Manager (deleted secrets)': 30,
      'CloudWatch log groups': 30,
      'log archive bucket': 365,
      'DynamoDB point-in-time backups': 35,
      'inbound queue and its dead-letter queue': 14,
    });
    for (const entry of remains) expect(entry.reason.length, entry.store).toBeGreaterThan(20);
    // The customer never had sealed data: there was no key to destroy, and the record says so.
    expect(record.cryptoShredding).toEqual({ status: 'no_key', trialOpen: 'not_applicable' });
    expect(findLeaks(JSON.stringify(record))).toHaveLength(0);
  });

  it('retries a transient failure of the purge and of the subscription deletion', async () => {
    const { customerId } = await onboardedCustomer(env(), 'off');
    await seedCustomerData(customerId);
    await withDeps(
      env(),
      (original) => ({
        customerData: failingFirst(original.customerData, 'purge', 1, () => new TransientError('THROTTLED', 'x')),
        virtuous: virtuousFailingFirst(
          original.virtuous,
          'deleteWebhook',
          2,
          () => new TransientError('VIRTUOUS_UNAVAILABLE', 'x', { statusCode: 503 }),
        ),
      }),
      async () => {
        const execution = await offboard(customerId);
        expect((await execution.result).status).toBe('SUCCEEDED');
        expect(retriesOf(execution)).toMatchObject({ PurgeCustomerData: 1, DeleteWebhookSubscription: 2 });
        expect(tablesLeft(await itemsMentioning(customerId))).toEqual(['customers', 'deletionRecords', 'secretAudit']);
      },
    );
  });

  it('on a permanent failure keeps the customer paused, tells both sides, and a second run completes', async () => {
    const { customerId } = await onboardedCustomer(env(), 'off');
    await seedCustomerData(customerId);
    await withDeps(
      env(),
      (original) => ({
        secrets: failingFirst(original.secrets, 'deleteCustomer', 1, () => new PermanentError('ACCESS_DENIED', 'x')),
      }),
      async () => {
        const failed = await offboard(customerId);
        expect(await failed.result).toMatchObject({ status: 'FAILED', error: 'OffboardingFailed' });
        const record = await env().deps.customers.get(customerId);
        expect(record).toMatchObject({ status: 'offboarding', statusReason: 'offboarding_failed' });
        expect(record?.lock).toBeUndefined();
        expect(env().notifier.typesFor(customerId)).toContain('offboarding_failed');
        expect(env().notifier.alerts).toContainEqual(
          expect.objectContaining({ customerId, code: 'WORKFLOW_FAILED:offboarding', severity: 'critical' }),
        );
        expect(leaksInEvents(failed)).toBe(0);
      },
    );
    const again = env().run('offboarding', { customerId });
    expect((await again.result).status).toBe('SUCCEEDED');
    expect(secretsExistFor(env(), customerId)).toBe(false);
    expect(tablesLeft(await itemsMentioning(customerId))).toEqual(['customers', 'deletionRecords', 'secretAudit']);
  });

  it('still deletes everything when the customer already revoked the key (subscription recorded as not deleted)', async () => {
    const { customerId, org } = await onboardedCustomer(env(), 'off');
    env().sim.control.revokeApiKey(org.apiKey);
    const execution = await offboard(customerId);
    expect((await execution.result).status).toBe('SUCCEEDED');
    const remaining = await itemsMentioning(customerId);
    const record = remaining.find((entry) => entry.table === 'deletionRecords')?.item;
    expect(record?.webhookSubscription).toBe('not_deleted_credential_rejected');
    expect(env().notifier.alertCodesFor(customerId)).toContain('OFFBOARDING_SUBSCRIPTION_NOT_DELETED');
    expect(secretsExistFor(env(), customerId)).toBe(false);
  });
});

// The deletion drill against the local stand-ins: onboarding and offboarding run through the real ASL files, the
// drill's own residue checks run against dynalite, the secret store and the capture folder.
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { createCustomerKeySealer } from '../../functions/crypto/customer-key-sealer.ts';
import type { CustomerKeyStore } from '../../functions/crypto/customer-keys.ts';
import { DRILL_SANDBOX_CUSTOMER_ID, drillCustomerId } from '../../functions/deletion-drill/drill.ts';
import { createDeletionDrillHandler, DELETION_DRILL_FAILURES } from '../../functions/deletion-drill/handler.ts';
import { DynamoCustomerDataStore } from '../../functions/lifecycle/dynamo-customer-data-store.ts';
import type { CustomerDataStore } from '../../functions/lifecycle/ports.ts';
import { PermanentError } from '../../functions/shared/errors.ts';
import { TABLES } from '../../functions/shared/tables.ts';
import { createDeadLetters } from '../../functions/sync/dead-letters.ts';
import { createDynamoSyncStateRepository } from '../../functions/sync/dynamo-sync-state-repository.ts';
import { useWorkflowTestEnv, type WorkflowTestEnv, withDeps } from '../support/workflow-runner.ts';

const env = useWorkflowTestEnv();

function drill(e: WorkflowTestEnv, day: string) {
  const metrics: [string, number][] = [];
  const sealer = createCustomerKeySealer({ keys: e.deps.customerKeys });
  const handler = createDeletionDrillHandler({
    lifecycle: {
      customers: e.deps.customers,
      secrets: e.deps.secrets,
      virtuous: e.deps.virtuous,
      starter: e.starter,
      clock: { now: () => new Date(`${day}T03:00:00.000Z`) },
      settings: e.settings,
    },
    // Independent of the workflow's stores, so a broken purge in the workflow cannot hide from the drill.
    customerData: new DynamoCustomerDataStore(e.aws.documentClient, e.aws.tableNames),
    debugCaptures: e.captures,
    // The same key store the offboarding tasks destroy keys in (the keyring of the test environment).
    customerKeys: e.deps.customerKeys,
    sealer,
    deadLetters: createDeadLetters({
      client: e.aws.documentClient,
      table: e.aws.tableNames.deadLetters,
      sealer,
      queue: {
        send: async () => {
          throw new PermanentError('NOT_CONFIGURED', 'not replayed in the drill');
        },
      },
      syncState: createDynamoSyncStateRepository(e.aws.documentClient, e.aws.tableNames.syncRecords),
    }),
    audit: e.deps.audit,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 10))),
    limits: { onboardingMs: 10_000, offboardingMs: 10_000, pollMs: 10 },
    emitMetric: (name, value) => metrics.push([name, value]),
  });
  return { run: () => handler({}), metrics, customerId: drillCustomerId(new Date(`${day}T03:00:00.000Z`)) };
}

async function items(e: WorkflowTestEnv, table: keyof typeof TABLES, customerId: string): Promise<number> {
  const answer = await e.aws.documentClient.send(
    new QueryCommand({
      TableName: e.aws.tableNames[table],
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': TABLES[table].partitionKey.name },
      ExpressionAttributeValues: { ':pk': customerId },
      Select: 'COUNT',
    }),
  );
  return answer.Count ?? 0;
}

async function seedSandboxKey(e: WorkflowTestEnv): Promise<void> {
  const ref = { customerId: DRILL_SANDBOX_CUSTOMER_ID, kind: 'api_token' } as const;
  await e.secrets.putPending(ref, e.sim.organization().apiKey, { reason: 'test:seed' });
  await e.secrets.promotePending(ref, { reason: 'test:seed' });
}

/** A purge that "forgets" one sync record of the customer: the defect the drill exists to catch. */
function leavingOneSyncRecord(
  e: WorkflowTestEnv,
  original: CustomerDataStore,
  lieInInventory: boolean,
): CustomerDataStore {
  return {
    ...original,
    inventory: lieInInventory ? async () => ({}) : (id) => original.inventory(id),
    purge: async (customerId, maxItems) => {
      const result = await original.purge(customerId, maxItems);
      await e.aws.documentClient.send(
        new PutCommand({
          TableName: e.aws.tableNames.syncRecords,
          Item: { [TABLES.syncRecords.partitionKey.name]: customerId, recordKey: 'gift#left-behind' },
        }),
      );
      return result;
    },
    reduceToOffboardedMarker: (id, at) => original.reduceToOffboardedMarker(id, at),
    putDeletionRecord: (record) => original.putDeletionRecord(record),
  };
}

/** A broken key destruction: answers a tombstone and destroys nothing. */
function forgettingDestroy(keys: CustomerKeyStore): CustomerKeyStore {
  return {
    ...keys,
    current: (id) => keys.current(id),
    byId: (id, keyId) => keys.byId(id, keyId),
    describe: (id) => keys.describe(id),
    destroy: async (id, at) => {
      const state = await keys.describe(id);
      return (
        state && {
          state: 'destroyed',
          keyId: state.keyId,
          fingerprint: state.fingerprint,
          destroyedAt: at.toISOString(),
        }
      );
    },
  };
}

describe('deletion drill', () => {
  it('fails and alarms when no sandbox key is stored under the reserved customer id', async () => {
    const d = drill(env(), '2026-11-01');
    const report = await d.run();
    expect(report).toMatchObject({ ok: false, failure: 'DRILL_SANDBOX_NOT_CONFIGURED', customerId: 'drill-20261101' });
    expect(d.metrics).toEqual([[DELETION_DRILL_FAILURES, 1]]);
    expect(await env().deps.customers.get('drill-20261101')).toBeUndefined();
  });

  it('onboards and offboards a synthetic customer and finds no residue anywhere', async () => {
    await seedSandboxKey(env());
    const d = drill(env(), '2026-11-02');
    const report = await d.run();
    expect(report).toMatchObject({
      ok: true,
      customerId: d.customerId,
      onboarding: 'SUCCEEDED',
      offboarding: 'SUCCEEDED',
      residue: {
        tables: {},
        customerRecord: 'offboarded_marker',
        debugCaptures: 0,
        secrets: 0,
        customerKey: 'destroyed',
        sealedCanary: 'refused',
        auditRows: { identifiersOnly: true },
      },
    });
    expect(report.residue?.auditRows.kept).toBeGreaterThan(0);
    expect(d.metrics).toEqual([[DELETION_DRILL_FAILURES, 0]]);
    // The proof offboarding keeps, and the secret-access audit rows, kept until their TTL for investigations.
    expect(await items(env(), 'deletionRecords', d.customerId)).toBe(1);
    expect(await items(env(), 'secretAudit', d.customerId)).toBe(report.residue?.auditRows.kept);
    expect(await items(env(), 'checkpoints', d.customerId)).toBe(0);
    // The sandbox key itself is untouched for the next drill.
    expect(
      await env().secrets.read({ customerId: DRILL_SANDBOX_CUSTOMER_ID, kind: 'api_token' }, 'current', {
        reason: 'test:inspect',
      }),
    ).toBeDefined();
  });

  it('a second drill on the same day reuses the offboarded synthetic customer and passes again', async () => {
    const report = await drill(env(), '2026-11-02').run();
    expect(report.ok).toBe(true);
    expect(await items(env(), 'deletionRecords', 'drill-20261102')).toBe(2);
  });

  it('fails (metric 1) when a broken purge leaves a sync record and offboarding notices it', async () => {
    const d = drill(env(), '2026-11-03');
    const report = await withDeps(
      env(),
      (original) => ({ customerData: leavingOneSyncRecord(env(), original.customerData, false) }),
      () => d.run(),
    );
    expect(report).toMatchObject({ ok: false, failure: 'DRILL_OFFBOARDING_FAILED', offboarding: 'FAILED' });
    expect(d.metrics).toEqual([[DELETION_DRILL_FAILURES, 1]]);
  });

  it('finds residue on its own when the broken purge also hides it from offboarding', async () => {
    const d = drill(env(), '2026-11-04');
    const report = await withDeps(
      env(),
      (original) => ({ customerData: leavingOneSyncRecord(env(), original.customerData, true) }),
      () => d.run(),
    );
    expect(report).toMatchObject({
      ok: false,
      failure: 'DRILL_RESIDUE',
      offboarding: 'SUCCEEDED',
      residue: { tables: { syncRecords: 1 }, customerRecord: 'offboarded_marker', secrets: 0 },
    });
    expect(d.metrics).toEqual([[DELETION_DRILL_FAILURES, 1]]);
  });

  it('fails when the customer key survives: offboarding cannot prove the shredding and stops', async () => {
    const d = drill(env(), '2026-11-06');
    const report = await withDeps(
      env(),
      (original) => ({ customerKeys: forgettingDestroy(original.customerKeys) }),
      () => d.run(),
    );
    expect(report).toMatchObject({ ok: false, failure: 'DRILL_OFFBOARDING_FAILED', offboarding: 'FAILED' });
    expect(d.metrics).toEqual([[DELETION_DRILL_FAILURES, 1]]);
    // The key is still there: offboarding stopped before the customer was marked offboarded.
    expect((await env().deps.customerKeys.describe(d.customerId))?.state).toBe('active');
    const again = env().run('offboarding', { customerId: d.customerId });
    expect((await again.result).status).toBe('SUCCEEDED');
    expect((await env().deps.customerKeys.describe(d.customerId))?.state).toBe('destroyed');
  });

  it('counts a debug capture left in the store as residue', async () => {
    const d = drill(env(), '2026-11-05');
    const report = await withDeps(
      env(),
      (original) => ({
        debugCaptures: {
          ...original.debugCaptures,
          list: (id) => original.debugCaptures.list(id),
          // A broken capture deletion: claims success and deletes nothing; then a capture is planted.
          deleteCustomer: async (customerId) => {
            await env().captures.write({
              customerId,
              deliveryId: 'c'.repeat(64),
              provider: 'virtuous',
              outcome: 'accepted',
              capturedAt: new Date('2026-11-05T03:00:00.000Z'),
              headers: {},
              rawBody: Buffer.from('{}'),
            });
            return { deleted: 0 };
          },
        },
      }),
      () => d.run(),
    );
    expect(report).toMatchObject({ ok: false, failure: 'DRILL_RESIDUE', residue: { debugCaptures: 1 } });
    await env().captures.deleteCustomer(d.customerId);
  });
});

/**
 * The race between onboarding's initial loads (started asynchronously; a run may wait on Virtuous or on the source
 * platform for long) and an offboarding of the same customer: the run must not write its sync records, checkpoints
 * or log record after the offboarding purged the customer's tables. The run's outside call is held open by a
 * deferred promise while the offboarding steps pause and purge; then it is released. Real DynamoDB calls (dynalite).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CustomerRecord } from '../../../functions/customers/customer.ts';
import { DynamoCustomerRepository } from '../../../functions/customers/dynamo-customer-repository.ts';
import { DynamoCustomerDataStore } from '../../../functions/lifecycle/dynamo-customer-data-store.ts';
import {
  type OffboardingDeps,
  pauseForOffboarding,
  purgeCustomerData,
} from '../../../functions/lifecycle/offboarding.ts';
import { createReconcilerHandler } from '../../../functions/reconciler/handler.ts';
import { runBulkLoad } from '../../../functions/sync/bulk-load.ts';
import { createDynamoCheckpointStore } from '../../../functions/sync/checkpoints.ts';
import { createDynamoSyncStateRepository } from '../../../functions/sync/dynamo-sync-state-repository.ts';
import type { HeldMessages } from '../../../functions/sync/held-messages.ts';
import { RECONCILIATION_CHECKPOINT, reconcileCustomer } from '../../../functions/sync/reconciliation.ts';
import { createDynamoReconciliationLog } from '../../../functions/sync/reconciliation-log.ts';
import { CountingMetrics } from '../../../functions/sync/sync-metrics.ts';
import type { GiftRecord, QueryPage, VirtuousApi } from '../../../functions/virtuous/api.ts';
import { type LocalAws, startLocalAws } from '../../support/local-aws.ts';

let aws: LocalAws;

beforeAll(async () => {
  aws = await startLocalAws();
});

afterAll(async () => {
  await aws?.stop();
});

const NOW = new Date('2026-03-01T02:00:00.000Z');

/** A Virtuous whose first gift query answers only when the test releases it. */
function heldVirtuous(gifts: readonly GiftRecord[]) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let queried!: () => void;
  const waiting = new Promise<void>((resolve) => {
    queried = resolve;
  });
  const api = {
    async queryGiftsModifiedSince(_since: string, skip: number, take: number): Promise<QueryPage<GiftRecord>> {
      queried();
      await released;
      return { list: skip === 0 ? gifts : [], total: gifts.length, skip, take };
    },
    async queryContactsModifiedSince(_since: string, skip: number, take: number) {
      return { list: [], total: 0, skip, take };
    },
  } as unknown as VirtuousApi;
  return { api, waiting, release };
}

function stores() {
  const customers = new DynamoCustomerRepository(aws.documentClient, aws.tableNames.customers);
  return {
    customers,
    syncState: createDynamoSyncStateRepository(aws.documentClient, aws.tableNames.syncRecords),
    checkpoints: createDynamoCheckpointStore(aws.documentClient, aws.tableNames.checkpoints),
    log: createDynamoReconciliationLog(aws.documentClient, aws.tableNames.reconciliationLog),
    customerData: new DynamoCustomerDataStore(aws.documentClient, aws.tableNames),
  };
}

async function activeCustomer(customerId: string): Promise<void> {
  const record: CustomerRecord = {
    customerId,
    status: 'active',
    sensitivity: 'standard',
    tokenRotationDays: 90,
    createdAt: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
  };
  await stores().customers.create(record);
  // Something the purge has to delete: a gift the processor already confirmed.
  await stores().syncState.confirm(customerId, 'gift#Stripe#pi_before', 4_000, NOW);
}

function reconcilerFor(api: VirtuousApi) {
  const { customers, syncState, checkpoints, log } = stores();
  return createReconcilerHandler({
    customers,
    syncState,
    checkpoints,
    log,
    held: { release: async () => 0 } as unknown as HeldMessages,
    virtuousFor: () => api,
    applyDeferredRefund: async () => undefined,
    metrics: new CountingMetrics(),
    clock: () => NOW,
  });
}

/** The offboarding steps that matter here, in the workflow's order: pause, then purge in bounded rounds. */
async function offboard(customerId: string): Promise<void> {
  const { customers, customerData } = stores();
  const deps = {
    customers,
    customerData,
    clock: { now: () => NOW },
    debugCaptures: { list: async () => [], deleteCustomer: async () => ({ deleted: 0 }) },
  } as unknown as OffboardingDeps;
  const step = { customerId, executionId: `exec-${customerId}` };
  await pauseForOffboarding(deps, step);
  for (let round = 0; round < 10; round += 1) {
    if ((await purgeCustomerData(deps, step)).done) return;
  }
  throw new Error('purge did not finish');
}

async function itemsLeft(customerId: string): Promise<number> {
  const counts = await stores().customerData.inventory(customerId);
  return Object.values(counts).reduce((sum, count) => sum + (count ?? 0), 0);
}

const gift = (transactionId: string, id: number): GiftRecord => ({ id, transactionSource: 'Stripe', transactionId });

describe('initial reconciliation overtaken by offboarding', () => {
  it('a run held on Virtuous while the customer is paused and purged writes nothing after the purge', async () => {
    const customerId = 'race-offboarded';
    await activeCustomer(customerId);
    const virtuous = heldVirtuous([gift('pi_before', 4_000), gift('pi_missed', 4_001)]);

    const running = reconcilerFor(virtuous.api)({ customerId });
    await virtuous.waiting;
    await offboard(customerId);
    expect(await itemsLeft(customerId)).toBe(0);

    virtuous.release();
    const result = await running;

    expect(result).toMatchObject({ customers: 1, failed: 0, recovered: 0 });
    expect(await itemsLeft(customerId)).toBe(0);
    expect(await stores().log.list(customerId)).toEqual([]);
    expect(await stores().checkpoints.get(customerId, RECONCILIATION_CHECKPOINT)).toBeUndefined();
    expect(await stores().syncState.get(customerId, 'gift#Stripe#pi_missed')).toBeUndefined();
  });

  it('the same run without the status re-check leaves residue after the purge (the race itself)', async () => {
    const customerId = 'race-unguarded';
    await activeCustomer(customerId);
    const virtuous = heldVirtuous([gift('pi_missed', 4_101)]);
    const { syncState, checkpoints, log } = stores();

    const running = reconcileCustomer(
      {
        syncState,
        checkpoints,
        log,
        virtuousFor: () => virtuous.api,
        applyDeferredRefund: async () => undefined,
        metrics: new CountingMetrics(),
        clock: () => NOW,
      },
      customerId,
    );
    await virtuous.waiting;
    await offboard(customerId);
    virtuous.release();
    await running;

    expect(await itemsLeft(customerId)).toBeGreaterThan(0);
    expect(await log.list(customerId)).toHaveLength(1);
  });

  it('a customer still active gets the run written in full: confirmed record, checkpoint and log', async () => {
    const customerId = 'race-active';
    await activeCustomer(customerId);
    const virtuous = heldVirtuous([gift('pi_missed', 4_201)]);

    const running = reconcilerFor(virtuous.api)({ customerId });
    await virtuous.waiting;
    virtuous.release();

    expect(await running).toMatchObject({ customers: 1, failed: 0, recovered: 1 });
    expect(await stores().syncState.get(customerId, 'gift#Stripe#pi_missed')).toMatchObject({
      state: 'confirmed',
      virtuousId: 4_201,
    });
    expect(await stores().checkpoints.get(customerId, RECONCILIATION_CHECKPOINT)).toMatchObject({
      position: NOW.toISOString(),
    });
    expect(await stores().log.list(customerId)).toEqual([expect.objectContaining({ outcome: 'completed' })]);
  });
});

describe('initial Stripe Connect bulk load overtaken by offboarding', () => {
  it('a load held on its source while the customer is purged sends and writes nothing more', async () => {
    const customerId = 'race-bulk';
    await activeCustomer(customerId);
    const { checkpoints, customers } = stores();
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let secondPageAsked!: () => void;
    const waiting = new Promise<void>((resolve) => {
      secondPageAsked = resolve;
    });
    const source = {
      async page(cursor: string | undefined) {
        if (cursor === undefined) return { events: [], nextCursor: 'payment_intents:pi_1' };
        secondPageAsked();
        await released;
        return { events: [{ id: 'evt_1', type: 'payment_intent.succeeded' }] };
      },
    };
    const sent: string[] = [];

    const running = runBulkLoad(
      {
        checkpoints,
        customers,
        queue: { send: async (bodies) => void sent.push(...bodies) },
        metrics: new CountingMetrics(),
        clock: () => NOW,
      },
      { customerId, loadId: 'initial-load', source },
    );
    await waiting;
    // The first page's checkpoint was written before the offboarding: the purge takes it.
    expect(await checkpoints.get(customerId, 'initial-load')).toMatchObject({ status: 'running' });
    await offboard(customerId);
    release();

    expect(await running).toMatchObject({ completed: false, stoppedBy: 'customer_not_syncing', eventsEnqueued: 0 });
    expect(sent).toEqual([]);
    expect(await itemsLeft(customerId)).toBe(0);
  });
});

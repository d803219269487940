/** The reconciler and bulk-loader entry points (create*Handler) over dynalite and local-aws-sqs. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBulkLoaderHandler } from '../../../functions/bulk-loader/handler.ts';
import { createReconcilerHandler } from '../../../functions/reconciler/handler.ts';
import { ForbiddenInputError } from '../../../functions/shared/errors.ts';
import { jsonlHistorySource } from '../../../functions/sync/bulk-load.ts';
import { createDynamoCheckpointStore } from '../../../functions/sync/checkpoints.ts';
import { createDynamoReconciliationLog } from '../../../functions/sync/reconciliation-log.ts';
import { SYNC_METRICS } from '../../../functions/sync/sync-metrics.ts';
import { findLeaks } from '../../support/canaries.ts';
import { type LocalAws, startLocalAws } from '../../support/local-aws.ts';
import { customerEvent, giftCreated, paymentSucceeded, T0 } from './events.ts';
import { FakeVirtuous } from './fake-virtuous.ts';
import { createHarness } from './harness.ts';

let aws: LocalAws;

beforeAll(async () => {
  aws = await startLocalAws({ maxReceiveCount: 10 });
});

afterAll(async () => {
  await aws.stop();
});

describe('bulk loader handler', () => {
  it('loads a history through the queue and the batch endpoint, once, resumable by checkpoint', async () => {
    const virtuous = new FakeVirtuous();
    const harness = createHarness(aws, () => virtuous.api());
    await harness.addCustomer('bulk-a');
    await harness.addCustomer('bulk-paused', 'paused');
    const history = [
      customerEvent('cus_b', 'customer.created', T0),
      ...Array.from({ length: 250 }, (_, index) =>
        paymentSucceeded(`pi_b${index}`, 100 + index, { customer: 'cus_b' }),
      ),
    ]
      .map((event) => JSON.stringify(event))
      .join('\n');
    const checkpoints = createDynamoCheckpointStore(aws.documentClient, aws.tableNames.checkpoints);
    const handler = createBulkLoaderHandler({
      customers: harness.customers,
      checkpoints,
      queue: harness.queue,
      metrics: harness.metrics,
      clock: () => new Date(),
      historySourceFor: () => jsonlHistorySource(history, 100),
    });

    const result = await handler({ customerId: 'bulk-a' }, { getRemainingTimeInMillis: () => 900_000 });
    expect(result).toMatchObject({
      customerId: 'bulk-a',
      loadId: 'initial-load',
      completed: true,
      eventsEnqueued: 251,
    });
    expect((await checkpoints.get('bulk-a', 'initial-load'))?.status).toBe('completed');
    expect(findLeaks(JSON.stringify(await checkpoints.get('bulk-a', 'initial-load')))).toEqual([]);
    await harness.drain({ visibilityTimeoutSeconds: 30 });

    expect(virtuous.batchCalls.reduce((total, size) => total + size, 0)).toBe(250);
    expect(Math.max(...virtuous.batchCalls)).toBeLessThanOrEqual(100);
    for (let index = 0; index < 250; index += 1) expect(virtuous.transactionsFor(`pi_b${index}`)).toBe(1);
    expect(virtuous.contactTransactions).toHaveLength(1);
    expect(harness.metrics.get(SYNC_METRICS.recordsSubmitted)).toBe(251);

    // Running the same load again does nothing; a paused customer cannot start one; a bad id is refused.
    expect((await handler({ customerId: 'bulk-a' })).eventsEnqueued).toBe(0);
    await expect(handler({ customerId: 'bulk-paused' })).rejects.toThrow(ForbiddenInputError);
    await expect(handler({ customerId: '../etc' })).rejects.toThrow(ForbiddenInputError);
  });
});

describe('reconciler handler', () => {
  it('releases held messages of resumed customers and reconciles every active customer', async () => {
    const virtuous = new FakeVirtuous();
    const harness = createHarness(aws, () => virtuous.api());
    await harness.addCustomer('rec-a');
    await harness.addCustomer('rec-paused', 'paused');
    await harness.addCustomer('rec-gone', 'offboarded');

    // rec-a was paused while three gifts arrived, then resumed without releasing them.
    await harness.customers.update('rec-a', { status: 'paused' });
    for (const id of ['pi_h1', 'pi_h2', 'pi_h3'])
      await harness.sendDelivery('rec-a', 'stripe', paymentSucceeded(id, 900));
    await harness.drain();
    expect(await harness.held.count('rec-a')).toBe(3);
    await harness.customers.update('rec-a', { status: 'active' });

    const log = createDynamoReconciliationLog(aws.documentClient, aws.tableNames.reconciliationLog);
    const reconciler = createReconcilerHandler({
      customers: harness.customers,
      held: harness.held,
      syncState: harness.syncState,
      checkpoints: createDynamoCheckpointStore(aws.documentClient, aws.tableNames.checkpoints),
      log,
      virtuousFor: () => virtuous.api(),
      applyDeferredRefund: async () => {},
      metrics: harness.metrics,
      clock: () => new Date(),
    });
    const first = await reconciler({});
    expect(first.released).toBe(3);
    expect(first.failed).toBe(0);
    expect(first.customers).toBeGreaterThanOrEqual(1);
    expect(await harness.held.count('rec-a')).toBe(0);
    await harness.drain();
    for (const id of ['pi_h1', 'pi_h2', 'pi_h3']) expect(virtuous.transactionsFor(id)).toBe(1);

    // The batch ran, one webhook was lost: the next hourly run finds the gift by its modified time.
    const created = virtuous.nightlyBatch();
    const delivered = created.find((gift) => gift.transactionId === 'pi_h1');
    await harness.sendDelivery('rec-a', 'virtuous', giftCreated(delivered?.id as number, 'pi_h1'));
    await harness.drain();
    const second = await reconciler({ customerId: 'rec-a' });
    expect(second).toMatchObject({ customers: 1, failed: 0, recovered: 2 });
    for (const id of ['pi_h1', 'pi_h2', 'pi_h3']) {
      expect((await harness.syncState.get('rec-a', `gift#Stripe#${id}`))?.state).toBe('confirmed');
    }
    expect(await reconciler({ customerId: 'rec-paused' })).toMatchObject({ customers: 0 });
    expect(await reconciler({ customerId: 'rec-gone' })).toMatchObject({ customers: 0 });

    // A failing Virtuous makes a failed run: counted, logged, and the other customers unaffected.
    virtuous.fault = (operation) => (operation === 'queryGiftsModifiedSince' ? 'transient' : undefined);
    const failing = await reconciler({ customerId: 'rec-a' });
    expect(failing.failed).toBe(1);
    expect(harness.metrics.get(SYNC_METRICS.reconciliationFailures)).toBe(1);
    const runs = await log.list('rec-a');
    expect(runs.map((run) => run.outcome).sort()).toEqual(['completed', 'completed', 'failed']);
    expect(runs.find((run) => run.outcome === 'failed')?.errorCode).toBe('VIRTUOUS_UNAVAILABLE');
  });
});

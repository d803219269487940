/**
 * The processor end to end over real local stand-ins (dynalite, local-aws-sqs) with an in-memory Virtuous: routing by
 * customer status, de-duplication, exactly-once submission, refunds, dead letters, pause and resume.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createBulkMessage } from '../../../functions/sync/bulk-message.ts';
import { SYNC_METRICS } from '../../../functions/sync/sync-metrics.ts';
import { deliveryId } from '../../../functions/webhooks/delivery-id.ts';
import { findLeaks } from '../../support/canaries.ts';
import { type LocalAws, startLocalAws } from '../../support/local-aws.ts';
import { chargeRefunded, customerEvent, giftCreated, paymentSucceeded, T0 } from './events.ts';
import { FakeVirtuous } from './fake-virtuous.ts';
import { createHarness, type Harness } from './harness.ts';

let aws: LocalAws;
let virtuous: FakeVirtuous;
let harness: Harness;
let customerSeq = 0;
let customer: string;

beforeAll(async () => {
  aws = await startLocalAws({ maxReceiveCount: 10 });
});

afterAll(async () => {
  await aws.stop();
});

beforeEach(async () => {
  virtuous = new FakeVirtuous();
  harness = createHarness(aws, () => virtuous.api());
  customerSeq += 1;
  customer = `cust-${customerSeq}`;
  await harness.addCustomer(customer);
});

describe('processor', () => {
  it('submits each gift exactly once through duplicates and out-of-order events, with correct amounts', async () => {
    await harness.sendDelivery(customer, 'stripe', customerEvent('cus_1', 'customer.updated', T0 + 10));
    for (let copy = 0; copy < 3; copy += 1) {
      await harness.sendDelivery(customer, 'stripe', paymentSucceeded('pi_a', 2500));
      await harness.sendDelivery(customer, 'stripe', paymentSucceeded('pi_b', 1999));
      await harness.sendDelivery(customer, 'stripe', paymentSucceeded('pi_c', 5000, { currency: 'jpy' }));
    }
    await harness.sendDelivery(customer, 'stripe', customerEvent('cus_1', 'customer.created', T0));
    await harness.drain();

    expect(virtuous.transactionsFor('pi_a')).toBe(1);
    expect(virtuous.transactionsFor('pi_b')).toBe(1);
    expect(virtuous.transactionsFor('pi_c')).toBe(1);
    const amounts = Object.fromEntries(virtuous.giftTransactions.map((gift) => [gift.transactionId, gift.amount]));
    expect(amounts).toEqual({ pi_a: 25, pi_b: 19.99, pi_c: 5000 });
    // The older customer.created arrived after the newer update: it is not sent over it.
    expect(virtuous.contactTransactions).toHaveLength(1);
    expect(harness.metrics.get(SYNC_METRICS.duplicateDeliveries)).toBe(6);
    const records = await harness.syncState.listByState(customer, ['submitted']);
    expect(records.map((record) => record.recordKey).sort()).toEqual([
      'contact#Stripe#cus_1',
      'gift#Stripe#pi_a',
      'gift#Stripe#pi_b',
      'gift#Stripe#pi_c',
    ]);
  });

  it('de-duplicates a gift delivery by its claim: no delivery-log request, and a re-delivery sends nothing', async () => {
    const tableRequests = new Map<string, number>();
    const counter = 'countTableRequests';
    aws.documentClient.middlewareStack.add(
      (next) => async (args) => {
        const table = (args.input as { TableName?: string }).TableName ?? '';
        tableRequests.set(table, (tableRequests.get(table) ?? 0) + 1);
        return next(args);
      },
      { step: 'initialize', name: counter },
    );
    try {
      const body = paymentSucceeded('pi_once', 2500);
      const id = deliveryId('stripe', customer, Buffer.from(JSON.stringify(body), 'utf8'));
      await harness.sendDelivery(customer, 'stripe', body);
      await harness.drain();
      expect(virtuous.transactionsFor('pi_once')).toBe(1);
      // Claim and mark only: the delivery is recorded by the mark, the delivery log is neither read nor written.
      expect(tableRequests.get(aws.tableNames.deliveries) ?? 0).toBe(0);
      expect(tableRequests.get(aws.tableNames.syncRecords)).toBe(2);
      expect((await harness.syncState.get(customer, 'gift#Stripe#pi_once'))?.submittedByDelivery).toBe(id);

      // The sender retries the same bytes: a duplicate, nothing sent.
      await harness.sendDelivery(customer, 'stripe', body);
      await harness.drain();
      expect(virtuous.transactionsFor('pi_once')).toBe(1);
      expect(harness.metrics.get(SYNC_METRICS.duplicateDeliveries)).toBe(1);

      // Another delivery of the same gift (another event around the same payment): settled, nothing sent, not a
      // re-delivery; it is recorded in the delivery log, so its own retry is a duplicate.
      const other = { ...body, id: 'evt_other_pi_once' };
      await harness.sendDelivery(customer, 'stripe', other);
      await harness.drain();
      expect(virtuous.transactionsFor('pi_once')).toBe(1);
      expect(harness.metrics.get(SYNC_METRICS.duplicateDeliveries)).toBe(1);
      const otherId = deliveryId('stripe', customer, Buffer.from(JSON.stringify(other), 'utf8'));
      expect(await harness.deliveries.wasProcessed(customer, otherId)).toBe(true);
      await harness.sendDelivery(customer, 'stripe', other);
      await harness.drain();
      expect(virtuous.transactionsFor('pi_once')).toBe(1);
      expect(harness.metrics.get(SYNC_METRICS.duplicateDeliveries)).toBe(2);
    } finally {
      aws.documentClient.middlewareStack.remove(counter);
    }
  });

  it('a delivery recorded only in the delivery log (its record marked without it) is still a duplicate', async () => {
    const body = paymentSucceeded('pi_logged', 1000);
    const id = deliveryId('stripe', customer, Buffer.from(JSON.stringify(body), 'utf8'));
    const key = 'gift#Stripe#pi_logged';
    const now = new Date();
    const claim = await harness.syncState.claim({
      customerId: customer,
      recordKey: key,
      kind: 'gift',
      source: 'Stripe',
      sourceId: 'pi_logged',
      version: 0,
      owner: 'earlier-worker',
      now,
      leaseMs: 60_000,
    });
    expect(claim.outcome).toBe('claimed');
    expect(await harness.syncState.markSubmitted(customer, key, 'earlier-worker', now)).toBe(true);
    await harness.deliveries.recordProcessed(customer, id, now);

    await harness.sendDelivery(customer, 'stripe', body);
    await harness.drain();
    expect(virtuous.transactionsFor('pi_logged')).toBe(0);
    expect(harness.metrics.get(SYNC_METRICS.duplicateDeliveries)).toBe(1);
  });

  it('confirms gifts from GiftCreate webhooks and applies a deferred refund once the gift is known', async () => {
    await harness.sendDelivery(customer, 'stripe', paymentSucceeded('pi_r', 2500));
    await harness.sendDelivery(customer, 'stripe', chargeRefunded('ch_r', 'pi_r', 2500));
    await harness.drain();
    expect(virtuous.reversals).toHaveLength(0);
    expect((await harness.syncState.get(customer, 'refund#Stripe#ch_r'))?.state).toBe('deferred');

    const [gift] = virtuous.nightlyBatch();
    await harness.sendDelivery(customer, 'virtuous', giftCreated(gift?.id as number, 'pi_r'));
    await harness.sendDelivery(customer, 'virtuous', {
      event: 'gift.create',
      gift: { id: gift?.id, transactionSource: 'Stripe', transactionId: 'pi_r' },
    });
    await harness.drain();

    const record = await harness.syncState.get(customer, 'gift#Stripe#pi_r');
    expect(record?.state).toBe('confirmed');
    expect(record?.virtuousId).toBe(gift?.id);
    expect(virtuous.reversals).toEqual([
      { reversedGiftId: gift?.id, giftDate: '2026-01-02', notes: 'Stripe refund ch_r' },
    ]);
    expect((await harness.syncState.get(customer, 'refund#Stripe#ch_r'))?.state).toBe('confirmed');
    expect(harness.metrics.get(SYNC_METRICS.recordsConfirmed)).toBe(1);
  });

  it('acknowledges and counts unknown events', async () => {
    await harness.sendDelivery(customer, 'stripe', {
      id: 'evt_x',
      type: 'invoice.paid',
      created: T0,
      data: { object: {} },
    });
    await harness.sendDelivery(customer, 'virtuous', { event: 'ProjectCreate', project: { id: 1 } });
    await harness.drain();
    expect(harness.metrics.get(SYNC_METRICS.unknownEvents)).toBe(2);
    expect(await harness.deadLetters.list(customer)).toHaveLength(0);
  });

  it('dead-letters a malformed signed body at once, sealed, and replays it', async () => {
    await harness.sendDelivery(customer, 'stripe', {
      ...paymentSucceeded('pi_bad', 100),
      data: { object: { id: 'pi_bad', amount: 'a lot', currency: 'usd', created: T0, receipt_email: 'x' } },
    });
    await harness.drain();
    const [letter] = await harness.deadLetters.list(customer);
    expect(letter).toMatchObject({ operation: 'parse', errorCode: 'MALFORMED_EVENT', resolution: 'open', attempts: 1 });
    expect(letter?.expiresAt).toBeUndefined();
    expect(harness.metrics.get(SYNC_METRICS.deadLettersCreated)).toBe(1);

    const discarded = await harness.deadLetters.discard(customer, letter?.deadLetterId as string, new Date());
    expect(discarded.resolution).toBe('discarded');
    expect(discarded.expiresAt).toBe(Math.floor(Date.parse(discarded.resolvedAt as string) / 1000) + 90 * 86_400);
    const stored = (await harness.scanTable('deadLetters')).find((item) => item.deadLetterId === letter?.deadLetterId);
    expect(stored?.payload).toBeUndefined();
  });

  it('retries transient failures, dead-letters after bounded attempts, and replay submits once', async () => {
    virtuous.fault = (operation, ids) => (operation === 'submitGift' && ids.includes('pi_t') ? 'transient' : undefined);
    await harness.sendDelivery(customer, 'stripe', paymentSucceeded('pi_t', 700));
    await harness.sendDelivery(customer, 'stripe', paymentSucceeded('pi_ok', 800));
    await harness.drain();

    const [letter] = await harness.deadLetters.list(customer, 'open');
    expect(letter).toMatchObject({ operation: 'gift', recordKey: 'gift#Stripe#pi_t', statusCode: 503, attempts: 4 });
    expect(virtuous.calls).toBe(5);
    expect(virtuous.transactionsFor('pi_ok')).toBe(1);
    expect((await harness.syncState.get(customer, 'gift#Stripe#pi_t'))?.state).toBe('pending');

    virtuous.fault = () => undefined;
    await harness.deadLetters.replay(customer, letter?.deadLetterId as string, new Date());
    await harness.drain();
    expect(virtuous.transactionsFor('pi_t')).toBe(1);
    expect(await harness.deadLetters.list(customer, 'replayed')).toHaveLength(1);
    // A second replay of a resolved letter is refused.
    await expect(harness.deadLetters.replay(customer, letter?.deadLetterId as string, new Date())).rejects.toThrow(
      /already/,
    );
  });

  it('a write whose answer was lost goes in_doubt: acknowledged, sealed, never re-sent; GiftCreate confirms it', async () => {
    virtuous.fault = (operation, ids) =>
      operation === 'submitGift' && ids.includes('pi_lost') ? 'stored_answer_lost' : undefined;
    await harness.sendDelivery(customer, 'stripe', paymentSucceeded('pi_lost', 4200));
    let retried = 0;
    await harness.drain({
      onBatch: (failed) => {
        retried += failed;
      },
    });

    // Not retried through the queue: one call, the message acknowledged, the payload kept sealed.
    expect(retried).toBe(0);
    expect(virtuous.transactionsFor('pi_lost')).toBe(1);
    expect(await harness.syncState.get(customer, 'gift#Stripe#pi_lost')).toMatchObject({
      state: 'in_doubt',
      lastErrorCode: 'WRITE_OUTCOME_UNKNOWN',
    });
    const [letter] = await harness.deadLetters.list(customer, 'open');
    expect(letter).toMatchObject({
      operation: 'gift',
      recordKey: 'gift#Stripe#pi_lost',
      errorCode: 'WRITE_OUTCOME_UNKNOWN',
    });
    expect(harness.metrics.get(SYNC_METRICS.writesInDoubt)).toBe(1);
    expect(harness.metrics.get(SYNC_METRICS.deadLettersCreated)).toBe(0);
    expect(findLeaks(JSON.stringify(await harness.scanTable('deadLetters')))).toEqual([]);

    // Re-deliveries (same delivery, or a new delivery of the same event) and a premature replay send nothing.
    virtuous.fault = () => undefined;
    await harness.sendDelivery(customer, 'stripe', paymentSucceeded('pi_lost', 4200));
    await harness.sendDelivery(customer, 'stripe', { ...paymentSucceeded('pi_lost', 4200), id: 'evt_again' });
    await harness.drain();
    await expect(
      harness.deadLetters.replay(customer, letter?.deadLetterId as string, new Date()),
    ).rejects.toMatchObject({ code: 'OUTCOME_UNDECIDED' });
    expect(virtuous.transactionsFor('pi_lost')).toBe(1);
    expect(await harness.deadLetters.list(customer, 'open')).toHaveLength(1);

    // Virtuous's GiftCreate after its batch confirms it and the kept payload is discarded.
    const [gift] = virtuous.nightlyBatch();
    await harness.sendDelivery(customer, 'virtuous', giftCreated(gift?.id as number, 'pi_lost'));
    await harness.drain();
    expect(await harness.syncState.get(customer, 'gift#Stripe#pi_lost')).toMatchObject({
      state: 'confirmed',
      virtuousId: gift?.id,
    });
    expect(await harness.deadLetters.list(customer, 'open')).toHaveLength(0);
    const stored = (await harness.scanTable('deadLetters')).find((item) => item.deadLetterId === letter?.deadLetterId);
    expect(stored).toMatchObject({ resolution: 'discarded' });
    expect(stored?.payload).toBeUndefined();
  });

  it('a bulk chunk whose answer was lost puts every gift of it in doubt, sent once', async () => {
    virtuous.fault = (operation) => (operation === 'submitGifts' ? 'stored_answer_lost' : undefined);
    const events = Array.from({ length: 12 }, (_, index) => paymentSucceeded(`pi_chunk${index}`, 100 + index));
    await harness.sendRaw(JSON.stringify(createBulkMessage({ customerId: customer, loadId: 'lost', page: 0, events })));
    await harness.drain();
    await harness.sendRaw(JSON.stringify(createBulkMessage({ customerId: customer, loadId: 'lost', page: 0, events })));
    await harness.drain();

    expect(virtuous.batchCalls).toEqual([12]);
    for (let index = 0; index < 12; index += 1) expect(virtuous.transactionsFor(`pi_chunk${index}`)).toBe(1);
    expect(await harness.syncState.listByState(customer, ['in_doubt'])).toHaveLength(12);
    expect(await harness.deadLetters.list(customer, 'open')).toHaveLength(12);
    expect(harness.metrics.get(SYNC_METRICS.writesInDoubt)).toBe(12);
  });

  it('a permanent Virtuous error fails the record and dead-letters it with the status code', async () => {
    virtuous.fault = (operation) => (operation === 'submitGift' ? 'permanent' : undefined);
    await harness.sendDelivery(customer, 'stripe', paymentSucceeded('pi_p', 100));
    await harness.drain();
    const [letter] = await harness.deadLetters.list(customer);
    expect(letter).toMatchObject({ statusCode: 400, errorCode: 'VIRTUOUS_CLIENT_ERROR', attempts: 1 });
    expect((await harness.syncState.get(customer, 'gift#Stripe#pi_p'))?.state).toBe('failed');
    // A re-delivery of the same event does not resubmit a failed record.
    virtuous.fault = () => undefined;
    await harness.sendDelivery(customer, 'stripe', { ...paymentSucceeded('pi_p', 100), id: 'evt_other' });
    await harness.drain();
    expect(virtuous.transactionsFor('pi_p')).toBe(0);
  });

  it('a revoked key pauses the customer once, holds messages sealed, and resume drains them', async () => {
    virtuous.revoked = true;
    for (const id of ['pi_1', 'pi_2', 'pi_3'])
      await harness.sendDelivery(customer, 'stripe', paymentSucceeded(id, 1000));
    await harness.drain();
    expect((await harness.customers.get(customer))?.status).toBe('paused');
    expect(harness.metrics.get(SYNC_METRICS.customersPaused)).toBe(1);
    expect(harness.notifier.customer.filter((n) => n.type === 'sync_paused')).toHaveLength(1);
    expect(harness.notifier.operators).toHaveLength(1);
    expect(await harness.held.count(customer)).toBe(3);
    const heldItems = await harness.scanTable('heldMessages');
    expect(findLeaks(JSON.stringify(heldItems))).toEqual([]);

    // Messages arriving while paused are held too, not retried hot.
    await harness.sendDelivery(customer, 'stripe', paymentSucceeded('pi_4', 1000));
    await harness.drain();
    expect(await harness.held.count(customer)).toBe(4);
    expect(virtuous.giftTransactions).toHaveLength(0);

    virtuous.revoked = false;
    await harness.customers.update(customer, { status: 'active' });
    expect(await harness.held.release(customer)).toBe(4);
    await harness.drain();
    for (const id of ['pi_1', 'pi_2', 'pi_3', 'pi_4']) expect(virtuous.transactionsFor(id)).toBe(1);
    expect(await harness.held.count(customer)).toBe(0);
  });

  it("discards an offboarded or unknown customer's messages without keeping content", async () => {
    await harness.customers.update(customer, { status: 'offboarded' });
    await harness.sendDelivery(customer, 'stripe', paymentSucceeded('pi_gone', 100));
    await harness.sendDelivery('never-onboarded', 'stripe', paymentSucceeded('pi_gone2', 100));
    await harness.drain();
    expect(harness.metrics.get(SYNC_METRICS.messagesDiscarded)).toBe(2);
    expect(virtuous.calls).toBe(0);
    expect(await harness.held.count(customer)).toBe(0);
    expect(await harness.deadLetters.list(customer)).toHaveLength(0);
    expect(await harness.syncState.listByState(customer, ['pending', 'submitted', 'failed'])).toHaveLength(0);
  });

  it('bulk pages go through the batch endpoint; a bad gift is isolated by halving and dead-lettered alone', async () => {
    virtuous.fault = (_operation, ids) => (ids.includes('pi_bad') ? 'permanent' : undefined);
    const events = Array.from({ length: 100 }, (_, index) =>
      index === 37 ? paymentSucceeded('pi_bad', 100) : paymentSucceeded(`pi_bulk${index}`, 100 + index),
    );
    await harness.sendRaw(
      JSON.stringify(
        createBulkMessage({ customerId: customer, loadId: 'history', page: 0, events: events.slice(0, 50) }),
      ),
    );
    await harness.sendRaw(
      JSON.stringify(createBulkMessage({ customerId: customer, loadId: 'history', page: 1, events: events.slice(50) })),
    );
    await harness.drain();

    for (let index = 0; index < 100; index += 1) {
      if (index !== 37) expect(virtuous.transactionsFor(`pi_bulk${index}`)).toBe(1);
    }
    expect(virtuous.transactionsFor('pi_bad')).toBe(0);
    // 1 refused call for the whole chunk, then two halves per level down to the bad gift.
    expect(virtuous.calls).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(100)));
    const [letter] = await harness.deadLetters.list(customer);
    expect(letter).toMatchObject({
      recordKey: 'gift#Stripe#pi_bad',
      statusCode: 400,
      deadLetterId: 'bulk#history:0:37',
    });
    expect((await harness.syncState.get(customer, 'gift#Stripe#pi_bad'))?.state).toBe('failed');

    // Replaying it sends exactly that one gift once the cause is fixed.
    virtuous.fault = () => undefined;
    await harness.deadLetters.replay(customer, letter?.deadLetterId as string, new Date());
    await harness.drain();
    expect(virtuous.transactionsFor('pi_bad')).toBe(1);
    expect(virtuous.giftTransactions).toHaveLength(100);
  });

  it('dead-letters an unreadable queue message under the unroutable id instead of crashing', async () => {
    await harness.sendRaw('this is not a message');
    await harness.drain();
    const [letter] = await harness.deadLetters.list('_unroutable');
    expect(letter?.errorCode).toBe('INVALID_INBOUND_MESSAGE');
  });
});

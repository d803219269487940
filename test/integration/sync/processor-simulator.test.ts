/**
 * The sync engine against the real pieces: the Virtuous HTTP client and the Virtuous simulator over HTTP, the
 * DynamoDB rate budget, sync state, dead letters and held messages in dynalite, and the inbound queue in
 * local-aws-sqs. Webhook deliveries the simulator sends after its nightly batch are fed back through the queue.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CustomerRecord } from '../../../functions/customers/customer.ts';
import { TransientError } from '../../../functions/shared/errors.ts';
import { createBulkMessage } from '../../../functions/sync/bulk-message.ts';
import { createDynamoCheckpointStore } from '../../../functions/sync/checkpoints.ts';
import { countingRateLimits } from '../../../functions/sync/rate-limit-counter.ts';
import { reconcileCustomer } from '../../../functions/sync/reconciliation.ts';
import { createDynamoReconciliationLog } from '../../../functions/sync/reconciliation-log.ts';
import { SYNC_METRICS } from '../../../functions/sync/sync-metrics.ts';
import { REFUND_OUTCOME_UNKNOWN } from '../../../functions/sync/sync-processor.ts';
import type { VirtuousApi } from '../../../functions/virtuous/api.ts';
import { createVirtuousClient } from '../../../functions/virtuous/client.ts';
import { DynamoDbRateBudget } from '../../../functions/virtuous/rate-budget.ts';
import type { TokenSource } from '../../../functions/virtuous/token-source.ts';
import { findLeaks, registerSecret } from '../../support/canaries.ts';
import { type LocalAws, startLocalAws } from '../../support/local-aws.ts';
import {
  startTestSimulator,
  startWebhookReceiver,
  type TestSimulator,
  type WebhookReceiver,
} from '../../support/simulator.ts';
import { chargeRefunded, customerEvent, paymentSucceeded, T0 } from './events.ts';
import { createHarness, type Harness } from './harness.ts';

let aws: LocalAws;
let sim: TestSimulator;
let receiver: WebhookReceiver;

beforeAll(async () => {
  aws = await startLocalAws({ maxReceiveCount: 10 });
  sim = await startTestSimulator({ timeoutHoldMs: 1_000 });
  receiver = await startWebhookReceiver();
});

afterAll(async () => {
  await receiver.close();
  await sim.close();
  await aws.stop();
});

interface Tenant {
  readonly customerId: string;
  readonly organizationId: number;
  readonly harness: Harness;
  readonly api: VirtuousApi;
  currentKey(): string;
  setKey(key: string): void;
}

let tenantSeq = 0;

/** A customer with its own simulated organization, webhook subscription and client. */
async function tenant(options: { clientAttempts?: number; maxReceiveCount?: number } = {}): Promise<Tenant> {
  tenantSeq += 1;
  const customerId = `sim-${tenantSeq}`;
  const org = sim.organization({ rateLimitPerHour: 5_000 });
  let key = org.apiKey;
  const tokens: TokenSource = { current: async () => key, invalidate: () => {} };
  const budget = new DynamoDbRateBudget({
    client: aws.documentClient,
    tableName: aws.tableNames.rateBudgets,
    hourlyBudget: 5_000,
  });
  let harness: Harness | undefined;
  const api = createVirtuousClient({
    baseUrl: sim.baseUrl,
    customerId,
    tokens,
    budget,
    allowLoopbackHttp: true,
    timeoutMs: 300,
    maxAttempts: options.clientAttempts ?? 3,
    backoff: { baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 5_000 },
    sleep: async () => {},
    fetch: (input, init) => countingRateLimits((harness as Harness).metrics)(input, init),
  });
  harness = createHarness(aws, () => api, { maxReceiveCount: options.maxReceiveCount ?? 4 });
  await harness.addCustomer(customerId);
  await api.createWebhook({
    payloadUrl: receiver.url,
    secret: registerSecret(randomBytes(32).toString('base64')),
    active: true,
    giftCreate: true,
    contactCreate: true,
    contactUpdate: true,
  });
  return {
    customerId,
    organizationId: org.organizationId,
    harness,
    api,
    currentKey: () => key,
    setKey: (value) => {
      key = value;
    },
  };
}

async function throwsIfCalled(): Promise<void> {
  throw new Error('an in-doubt refund must not be applied again');
}

/** Runs the simulator's nightly batch and puts the webhook deliveries it made on the queue. */
async function nightlyBatch(t: Tenant, deliverWebhooks = true): Promise<number> {
  const before = receiver.received.length;
  await sim.control.nightlyBatch({ organizationId: t.organizationId, deliverWebhooks });
  const deliveries = receiver.received.slice(before);
  for (const delivery of deliveries) await t.harness.sendDeliveryBytes(t.customerId, 'virtuous', delivery.rawBody);
  return deliveries.length;
}

function reconciliationDeps(t: Tenant, clock: () => Date) {
  return {
    syncState: t.harness.syncState,
    checkpoints: createDynamoCheckpointStore(aws.documentClient, aws.tableNames.checkpoints),
    log: createDynamoReconciliationLog(aws.documentClient, aws.tableNames.reconciliationLog),
    virtuousFor: () => t.api,
    applyDeferredRefund: async () => {},
    metrics: t.harness.metrics,
    deadLetters: t.harness.deadLetters,
    clock,
  };
}

function giftIds(count: number, prefix: string): string[] {
  return Array.from({ length: count }, (_, index) => `pi_${prefix}${index}`);
}

describe('processor with the Virtuous client and simulator', () => {
  it('duplicates and out-of-order events: exactly one transaction per source id, correct amounts, all confirmed', async () => {
    const t = await tenant();
    const ids = giftIds(12, 'dup');
    const events: unknown[] = ids.flatMap((id, index) => {
      const event = paymentSucceeded(id, 1000 + index * 37, { customer: 'cus_dup' });
      return [event, event];
    });
    events.reverse();
    events.push(customerEvent('cus_dup', 'customer.created', T0));
    for (const event of events) await t.harness.sendDelivery(t.customerId, 'stripe', event);
    await t.harness.drain();

    const afterSubmit = sim.control.inspect(t.organizationId);
    for (const id of ids) expect(afterSubmit.giftTransactions[`Stripe/${id}`]).toBe(1);

    expect(await nightlyBatch(t)).toBeGreaterThanOrEqual(ids.length);
    await t.harness.drain();
    const snapshot = sim.control.inspect(t.organizationId);
    expect(snapshot.needsUpdate).toHaveLength(0);
    for (const [index, id] of ids.entries()) {
      const gift = snapshot.gifts.find((candidate) => candidate.transactionId === id);
      expect(gift?.amount).toBe((1000 + index * 37) / 100);
      const record = await t.harness.syncState.get(t.customerId, `gift#Stripe#${id}`);
      expect(record?.state).toBe('confirmed');
      expect(record?.virtuousId).toBe(gift?.id);
    }
    expect((await t.harness.syncState.get(t.customerId, 'contact#Stripe#cus_dup'))?.state).toBe('confirmed');
  });

  it("fault run (30% 5xx, timeouts, 429 before processing): 429s dead-lettered, ambiguous writes in doubt, all confirmed once after the operator's replay", async () => {
    // One try per delivery and two deliveries per message, so some records do run out of attempts.
    const t = await tenant({ clientAttempts: 1, maxReceiveCount: 2 });
    await t.harness.sendDelivery(t.customerId, 'stripe', customerEvent('cus_f', 'customer.created', T0));
    await t.harness.drain();
    sim.control.setFaults(t.organizationId, {
      serverErrorRatio: 0.1,
      timeoutRatio: 0.1,
      throttleRatio: 0.1,
      throttleRetryAfterSeconds: 1,
      seed: 4242,
    });
    const ids = giftIds(40, 'f');
    const events = ids.map((id, index) => paymentSucceeded(id, 500 + index, { customer: 'cus_f' }));
    for (const event of events) await t.harness.sendDelivery(t.customerId, 'stripe', event);
    await t.harness.drain();
    await nightlyBatch(t);
    await t.harness.drain();

    const open = await t.harness.deadLetters.list(t.customerId, 'open');
    const byKey = new Map(open.map((letter) => [letter.recordKey as string, letter]));
    const inDoubt = open.filter((letter) => letter.errorCode === 'WRITE_OUTCOME_UNKNOWN');
    const exhausted = open.filter((letter) => letter.errorCode !== 'WRITE_OUTCOME_UNKNOWN');
    expect(inDoubt.length).toBeGreaterThan(0);
    for (const letter of open) expect(letter.operation).toBe('gift');
    for (const letter of exhausted) {
      // Only refusals that prove nothing was stored are retried through the queue until they run out.
      expect(letter.attempts).toBe(2);
      expect(letter.errorCode).toBe('VIRTUOUS_RATE_LIMITED');
    }
    for (const id of ids) {
      const key = `gift#Stripe#${id}`;
      const state = (await t.harness.syncState.get(t.customerId, key))?.state;
      const letter = byKey.get(key);
      // Every record is in Virtuous and confirmed, kept in doubt with its sealed message, or dead-lettered (claimable).
      if (letter === undefined) expect(state).toBe('confirmed');
      else expect(state).toBe(letter.errorCode === 'WRITE_OUTCOME_UNKNOWN' ? 'in_doubt' : 'pending');
    }
    const faults = sim.control.inspect(t.organizationId).faultsInjected;
    console.log(
      `fault run: ${ids.length} gifts, faults injected ${JSON.stringify(faults)}, in doubt ${inDoubt.length}, ` +
        `dead letters (429) ${exhausted.length}, 429s counted ${t.harness.metrics.get(SYNC_METRICS.virtuousRateLimited)}`,
    );
    expect(faults.serverError + faults.timeout).toBeGreaterThanOrEqual(inDoubt.length);
    expect(t.harness.metrics.get(SYNC_METRICS.virtuousRateLimited)).toBe(faults.throttle);
    expect(t.harness.metrics.get(SYNC_METRICS.writesInDoubt)).toBe(inDoubt.length);

    // Nothing stored holds plaintext PII.
    for (const table of ['deadLetters', 'heldMessages', 'syncRecords', 'deliveries', 'checkpoints'] as const) {
      expect(findLeaks(JSON.stringify(await t.harness.scanTable(table)))).toEqual([]);
    }

    sim.control.setFaults(t.organizationId, {});
    // Until reconciliation decides, an in-doubt write cannot be replayed, and a re-delivery sends nothing.
    const [firstInDoubt] = inDoubt;
    await expect(
      t.harness.deadLetters.replay(t.customerId, firstInDoubt?.deadLetterId as string, new Date()),
    ).rejects.toMatchObject({ name: 'PermanentError', code: 'OUTCOME_UNDECIDED' });
    for (const event of events) await t.harness.sendDelivery(t.customerId, 'stripe', event);
    await t.harness.drain();
    const afterRedelivery = sim.control.inspect(t.organizationId).giftTransactions;
    for (const letter of inDoubt) {
      const sourceId = (letter.recordKey as string).replace('gift#Stripe#', '');
      expect(afterRedelivery[`Stripe/${sourceId}`]).toBeUndefined();
    }

    // After the batch window, reconciliation finds none of them (the faults came before processing): reported.
    const run = await reconcileCustomer(
      reconciliationDeps(t, () => new Date(Date.now() + 37 * 3_600_000)),
      t.customerId,
    );
    expect(run.outcome).toBe('completed');
    expect([...(run.outcomeUnknownKeys ?? [])].sort()).toEqual(inDoubt.map((letter) => letter.recordKey).sort());
    for (const letter of inDoubt) {
      const record = await t.harness.syncState.get(t.customerId, letter.recordKey as string);
      expect(record).toMatchObject({ state: 'needs_update', needsUpdateReason: 'outcome_unknown_not_found' });
    }

    // The operator's decision: replay every dead letter, once.
    for (const letter of open) await t.harness.deadLetters.replay(t.customerId, letter.deadLetterId, new Date());
    await expect(
      t.harness.deadLetters.replay(t.customerId, firstInDoubt?.deadLetterId as string, new Date()),
    ).rejects.toMatchObject({ code: 'DEAD_LETTER_RESOLVED' });
    await t.harness.drain();
    await nightlyBatch(t);
    await t.harness.drain();

    const snapshot = sim.control.inspect(t.organizationId);
    for (const id of ids) {
      expect(snapshot.giftTransactions[`Stripe/${id}`]).toBe(1);
      expect((await t.harness.syncState.get(t.customerId, `gift#Stripe#${id}`))?.state).toBe('confirmed');
    }
    expect(snapshot.duplicatesMerged).toBe(0);
    expect(await t.harness.deadLetters.list(t.customerId, 'open')).toHaveLength(0);
  });

  it('answers lost after Virtuous stored the write (timeouts, 502s): zero duplicates, every record confirmed once', async () => {
    // Three tries per call: before in-doubt handling the client's own retries stored these gifts twice.
    const t = await tenant({ clientAttempts: 3, maxReceiveCount: 4 });
    sim.control.setFaults(t.organizationId, {
      timeoutAfterProcessingRatio: 0.15,
      serverErrorAfterProcessingRatio: 0.15,
      seed: 77,
    });
    const contacts = ['cus_lost_a', 'cus_lost_b', 'cus_lost_c'];
    const contactEvents = contacts.map((id) => customerEvent(id, 'customer.created', T0));
    const ids = giftIds(30, 'lost');
    const events = ids.map((id, index) => paymentSucceeded(id, 700 + index, { customer: contacts[index % 3] }));
    for (const event of [...contactEvents, ...events]) await t.harness.sendDelivery(t.customerId, 'stripe', event);
    // A bulk page too: the batch endpoint's chunk goes in doubt as a whole when its answer is lost.
    const bulkIds = giftIds(20, 'lostbulk');
    const bulkEvents = bulkIds.map((id, index) => paymentSucceeded(id, 900 + index, { customer: 'cus_lost_a' }));
    for (let page = 0; page < 4; page += 1) {
      const pageEvents = bulkEvents.slice(page * 5, page * 5 + 5);
      await t.harness.sendRaw(
        JSON.stringify(createBulkMessage({ customerId: t.customerId, loadId: 'lost', page, events: pageEvents })),
      );
    }
    await t.harness.drain();

    const allIds = [...ids, ...bulkIds];
    const inDoubt: string[] = [];
    for (const id of allIds) {
      const record = await t.harness.syncState.get(t.customerId, `gift#Stripe#${id}`);
      expect(['submitted', 'in_doubt']).toContain(record?.state);
      if (record?.state === 'in_doubt') inDoubt.push(id);
    }
    const faults = sim.control.inspect(t.organizationId).faultsInjected;
    expect(faults.timeoutAfterProcessing + faults.serverErrorAfterProcessing).toBeGreaterThan(0);
    expect(inDoubt.length).toBeGreaterThan(0);
    expect(t.harness.metrics.get(SYNC_METRICS.writesInDoubt)).toBeGreaterThanOrEqual(inDoubt.length);
    const submissions = () => sim.control.inspect(t.organizationId).giftTransactions;
    for (const id of allIds) expect(submissions()[`Stripe/${id}`]).toBe(1);

    // Re-deliveries of every event (Stripe retries, a replayed bulk page) send nothing in doubt again.
    sim.control.setFaults(t.organizationId, {});
    for (const event of [...contactEvents, ...events]) await t.harness.sendDelivery(t.customerId, 'stripe', event);
    await t.harness.drain();
    for (const id of allIds) expect(submissions()[`Stripe/${id}`]).toBe(1);
    expect(await t.harness.deadLetters.list(t.customerId, 'open')).toHaveLength(
      t.harness.metrics.get(SYNC_METRICS.writesInDoubt),
    );

    // The nightly batch's GiftCreate/ContactCreate webhooks confirm them; reconciliation finds nothing left.
    await nightlyBatch(t);
    await t.harness.drain();
    const run = await reconcileCustomer(
      reconciliationDeps(t, () => new Date(Date.now() + 37 * 3_600_000)),
      t.customerId,
    );
    expect(run).toMatchObject({ outcome: 'completed', needsUpdate: 0, outcomeUnknownNotFound: 0 });

    const snapshot = sim.control.inspect(t.organizationId);
    const perSourceId = new Map<string, number>();
    for (const gift of snapshot.gifts) {
      const key = `${gift.transactionSource}/${gift.transactionId}`;
      perSourceId.set(key, (perSourceId.get(key) ?? 0) + 1);
    }
    for (const id of allIds) {
      expect(perSourceId.get(`Stripe/${id}`)).toBe(1);
      expect(snapshot.giftTransactions[`Stripe/${id}`]).toBe(1);
      expect((await t.harness.syncState.get(t.customerId, `gift#Stripe#${id}`))?.state).toBe('confirmed');
    }
    for (const id of contacts) {
      expect((await t.harness.syncState.get(t.customerId, `contact#Stripe#${id}`))?.state).toBe('confirmed');
    }
    expect(snapshot.duplicatesMerged).toBe(0);
    // Confirmed in-doubt records leave no payload behind: their dead letters were discarded.
    expect(await t.harness.deadLetters.list(t.customerId, 'open')).toHaveLength(0);
    console.log(
      `lost answers: ${allIds.length} gifts + ${contacts.length} contacts, faults ${JSON.stringify(faults)}, ` +
        `in doubt ${inDoubt.length} gifts, writes in doubt ${t.harness.metrics.get(SYNC_METRICS.writesInDoubt)}, ` +
        `duplicates 0`,
    );
  });

  it('a reversal whose answer is lost is sent once, even re-delivered: refund in doubt, dead letter kept, operator replays once after checking', async () => {
    const t = await tenant({ clientAttempts: 3, maxReceiveCount: 4 });
    await t.harness.sendDelivery(t.customerId, 'stripe', customerEvent('cus_rv', 'customer.created', T0));
    await t.harness.sendDelivery(t.customerId, 'stripe', paymentSucceeded('pi_rv', 2500, { customer: 'cus_rv' }));
    await t.harness.drain();
    await nightlyBatch(t);
    await t.harness.drain();
    const gift = await t.harness.syncState.get(t.customerId, 'gift#Stripe#pi_rv');
    expect(gift?.state).toBe('confirmed');
    const giftId = String(gift?.virtuousId);

    // Virtuous stores the reversal, then our timeout cuts the answer off.
    sim.control.setFaults(t.organizationId, { timeoutAfterProcessingRatio: 1 });
    const refunded = chargeRefunded('ch_rv', 'pi_rv', 2500);
    await t.harness.sendDelivery(t.customerId, 'stripe', refunded);
    await t.harness.drain();
    sim.control.setFaults(t.organizationId, {});
    // Stripe re-delivers the same event: nothing is sent again.
    await t.harness.sendDelivery(t.customerId, 'stripe', refunded);
    await t.harness.sendDelivery(t.customerId, 'stripe', refunded);
    await t.harness.drain();

    expect(sim.control.inspect(t.organizationId).reversalTransactions).toEqual({ [giftId]: 1 });
    const refundKey = 'refund#Stripe#ch_rv';
    const record = await t.harness.syncState.get(t.customerId, refundKey);
    expect(record).toMatchObject({ state: 'in_doubt', lastErrorCode: 'WRITE_OUTCOME_UNKNOWN' });
    const open = await t.harness.deadLetters.list(t.customerId, 'open');
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({
      operation: 'refund',
      recordKey: refundKey,
      errorCode: 'WRITE_OUTCOME_UNKNOWN',
      deadLetterId: record?.deadLetterId,
    });
    expect(t.harness.notifier.operators.filter((alert) => alert.code === REFUND_OUTCOME_UNKNOWN)).toEqual([
      {
        customerId: t.customerId,
        code: REFUND_OUTCOME_UNKNOWN,
        severity: 'warning',
        details: { recordKey: refundKey, deadLetterId: record?.deadLetterId as string },
      },
    ]);
    expect(t.harness.metrics.get(SYNC_METRICS.writesInDoubt)).toBe(1);
    expect(t.harness.metrics.get(SYNC_METRICS.deadLettersCreated)).toBe(0);

    // Reconciliation cannot look a reversal up: the refund stays in doubt and is not sent again.
    const run = await reconcileCustomer(
      { ...reconciliationDeps(t, () => new Date(Date.now() + 37 * 3_600_000)), applyDeferredRefund: throwsIfCalled },
      t.customerId,
    );
    expect(run.outcome).toBe('completed');
    expect((await t.harness.syncState.get(t.customerId, refundKey))?.state).toBe('in_doubt');

    // A replay is refused until the operator says they looked in Virtuous.
    const letterId = open[0]?.deadLetterId as string;
    await expect(t.harness.deadLetters.replay(t.customerId, letterId, new Date())).rejects.toMatchObject({
      code: 'OUTCOME_UNDECIDED',
    });
    await expect(
      t.harness.deadLetters.replay(t.customerId, letterId, new Date(), { checked: false }),
    ).rejects.toMatchObject({ code: 'OUTCOME_UNDECIDED' });
    await t.harness.deadLetters.replay(t.customerId, letterId, new Date(), { checked: true });
    await t.harness.drain();
    await expect(
      t.harness.deadLetters.replay(t.customerId, letterId, new Date(), { checked: true }),
    ).rejects.toMatchObject({ code: 'DEAD_LETTER_RESOLVED' });
    await t.harness.sendDelivery(t.customerId, 'stripe', refunded);
    await t.harness.drain();
    // The operator's replay is the one further reversal (here the first one did reach Virtuous: the operator's
    // check in Virtuous is what prevents this; the system sends exactly what it is told, once).
    expect(sim.control.inspect(t.organizationId).reversalTransactions).toEqual({ [giftId]: 2 });
    expect((await t.harness.syncState.get(t.customerId, refundKey))?.state).toBe('confirmed');
  });

  it('a deferred reversal lost when the gift confirmation applies it: in doubt under the refund key, sent once', async () => {
    const t = await tenant({ clientAttempts: 3, maxReceiveCount: 4 });
    await t.harness.sendDelivery(t.customerId, 'stripe', customerEvent('cus_rd', 'customer.created', T0));
    await t.harness.sendDelivery(t.customerId, 'stripe', paymentSucceeded('pi_rd', 1200, { customer: 'cus_rd' }));
    await t.harness.sendDelivery(t.customerId, 'stripe', chargeRefunded('ch_rd', 'pi_rd', 1200));
    await t.harness.drain();
    const refundKey = 'refund#Stripe#ch_rd';
    expect((await t.harness.syncState.get(t.customerId, refundKey))?.state).toBe('deferred');

    sim.control.setFaults(t.organizationId, { serverErrorAfterProcessingRatio: 1 });
    // The nightly batch's GiftCreate confirms the gift, which applies the refund: Virtuous stores it, answers 502.
    await nightlyBatch(t);
    await t.harness.drain();
    sim.control.setFaults(t.organizationId, {});
    await nightlyBatch(t);
    await t.harness.drain();

    const gift = await t.harness.syncState.get(t.customerId, 'gift#Stripe#pi_rd');
    expect(gift?.state).toBe('confirmed');
    expect(sim.control.inspect(t.organizationId).reversalTransactions).toEqual({ [String(gift?.virtuousId)]: 1 });
    expect(await t.harness.syncState.get(t.customerId, refundKey)).toMatchObject({
      state: 'in_doubt',
      deadLetterId: refundKey,
    });
    const open = await t.harness.deadLetters.list(t.customerId, 'open');
    expect(open.map(({ deadLetterId, operation, errorCode }) => ({ deadLetterId, operation, errorCode }))).toEqual([
      { deadLetterId: refundKey, operation: 'refund', errorCode: 'WRITE_OUTCOME_UNKNOWN' },
    ]);
    const run = await reconcileCustomer(
      { ...reconciliationDeps(t, () => new Date(Date.now() + 37 * 3_600_000)), applyDeferredRefund: throwsIfCalled },
      t.customerId,
    );
    expect(run.outcome).toBe('completed');
    expect(sim.control.inspect(t.organizationId).reversalTransactions).toEqual({ [String(gift?.virtuousId)]: 1 });
  });

  it('reconciliation goes on past a deferred refund whose reversal ends in doubt', async () => {
    const t = await tenant();
    await t.harness.sendDelivery(t.customerId, 'stripe', customerEvent('cus_rr', 'customer.created', T0));
    await t.harness.sendDelivery(t.customerId, 'stripe', paymentSucceeded('pi_rr', 900, { customer: 'cus_rr' }));
    await t.harness.sendDelivery(t.customerId, 'stripe', chargeRefunded('ch_rr', 'pi_rr', 900));
    await t.harness.drain();
    await nightlyBatch(t, false);
    const applied: string[] = [];
    const run = await reconcileCustomer(
      {
        ...reconciliationDeps(t, () => new Date()),
        applyDeferredRefund: async (_customerId, refundKey) => {
          applied.push(refundKey);
          throw new TransientError('WRITE_OUTCOME_UNKNOWN', 'reversal outcome unknown');
        },
      },
      t.customerId,
    );
    expect(applied).toEqual(['refund#Stripe#ch_rr']);
    expect(run.outcome).toBe('completed');
    expect(run.refundsApplied).toBe(0);
  });

  it('revoked key: customer paused and alerted once, nothing lost; resume drains every message once', async () => {
    const t = await tenant();
    sim.control.revokeApiKey(t.currentKey());
    const ids = giftIds(5, 'rev');
    for (const id of ids) await t.harness.sendDelivery(t.customerId, 'stripe', paymentSucceeded(id, 2500));
    await t.harness.drain();

    const paused = (await t.harness.customers.get(t.customerId)) as CustomerRecord;
    expect(paused.status).toBe('paused');
    expect(paused.statusReason).toBe('credential_revoked:virtuous');
    expect(t.harness.notifier.customer.filter((n) => n.type === 'sync_paused')).toHaveLength(1);
    expect(t.harness.metrics.get(SYNC_METRICS.customersPaused)).toBe(1);
    expect(await t.harness.held.count(t.customerId)).toBe(ids.length);
    expect(Object.keys(sim.control.inspect(t.organizationId).giftTransactions)).toHaveLength(0);

    t.setKey(sim.addKey(t.organizationId));
    await t.harness.customers.update(t.customerId, { status: 'active' });
    expect(await t.harness.held.release(t.customerId)).toBe(ids.length);
    await t.harness.drain();
    const snapshot = sim.control.inspect(t.organizationId);
    for (const id of ids) expect(snapshot.giftTransactions[`Stripe/${id}`]).toBe(1);
    expect(await t.harness.held.count(t.customerId)).toBe(0);
  });

  it('reconciliation: missed webhooks are confirmed from the modified-since query, stuck ones marked needs_update', async () => {
    const t = await tenant();
    await t.harness.sendDelivery(t.customerId, 'stripe', customerEvent('cus_rec', 'customer.created', T0));
    const matched = giftIds(4, 'rec');
    for (const id of matched)
      await t.harness.sendDelivery(t.customerId, 'stripe', paymentSucceeded(id, 1200, { customer: 'cus_rec' }));
    await t.harness.drain();
    // A gift whose donor Virtuous cannot match: parked in the needs-update bucket, never created.
    await t.harness.sendDelivery(t.customerId, 'stripe', {
      ...paymentSucceeded('pi_orphan', 900, { customer: 'cus_unknown' }),
      data: {
        object: { ...paymentSucceeded('pi_orphan', 900).data.object, customer: 'cus_unknown', receipt_email: null },
      },
    });
    await t.harness.drain();
    // The batch runs while our receiver is down: no webhook reaches us.
    expect(await nightlyBatch(t, false)).toBe(0);
    expect(sim.control.inspect(t.organizationId).needsUpdate).toHaveLength(1);

    const later = () => new Date(Date.now() + 37 * 3_600_000);
    const log = createDynamoReconciliationLog(aws.documentClient, aws.tableNames.reconciliationLog);
    const deps = {
      syncState: t.harness.syncState,
      checkpoints: createDynamoCheckpointStore(aws.documentClient, aws.tableNames.checkpoints),
      log,
      virtuousFor: () => t.api,
      applyDeferredRefund: async () => {},
      metrics: t.harness.metrics,
      clock: later,
    };
    const run = await reconcileCustomer(deps, t.customerId);
    expect(run.outcome).toBe('completed');
    expect(run.missedWebhooksRecovered).toBe(matched.length + 1);
    expect(run.needsUpdate).toBe(1);
    expect(run.needsUpdateKeys).toEqual(['gift#Stripe#pi_orphan']);
    for (const id of matched) {
      expect((await t.harness.syncState.get(t.customerId, `gift#Stripe#${id}`))?.state).toBe('confirmed');
    }
    expect((await t.harness.syncState.get(t.customerId, 'gift#Stripe#pi_orphan'))?.state).toBe('needs_update');
    const [logged] = await log.list(t.customerId);
    expect(logged?.expiresAt).toBe(Math.floor(Date.parse(logged?.finishedAt as string) / 1000) + 365 * 86_400);
    expect(findLeaks(JSON.stringify(logged))).toEqual([]);

    // A second run has nothing new to do.
    const again = await reconcileCustomer(deps, t.customerId);
    expect(again).toMatchObject({ outcome: 'completed', missedWebhooksRecovered: 0, needsUpdate: 0 });
  });
});

/**
 * Submitter benchmark (a script, not a test):  npm run bench:submitter
 *
 * 1. Bulk load: 10,000 Stripe gifts (plus their one donor) from a JSON Lines history through the bulk loader, the
 *    inbound queue (local-aws-sqs), the processor (sync state in dynalite) and the Virtuous HTTP client with the
 *    DynamoDB rate budget at 5,000 requests/hour, against the Virtuous simulator limited to 5,000/hour.
 *    Prints: Virtuous calls made (target ≤ 101), 429s received (target 0), transactions per gift (must be exactly
 *    1), the time those calls need at the budget's pace (calls × 3600 s / budget: the simulated clock, since the
 *    run itself does not wait), the share of the hourly budget used, and the wall time of the run on this machine.
 * 2. Steady state: single webhook deliveries (one gift each) through the processor handler in batches of 10, the
 *    simulator at zero latency; events/s, against two baselines measured in the same run at the same concurrency:
 *    bare HTTP calls to the same simulator endpoint, and the floor of any exactly-once submitter on this store
 *    (claim + client call with the rate budget + mark, nothing else); and the ratios. On one machine the state
 *    store (dynalite) bounds everything: the run prints its raw write rate too.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { createInboundMessage, serializeInboundMessage } from '../../functions/queue/inbound-message.ts';
import { logger } from '../../functions/shared/observability.ts';
import { jsonlHistorySource, runBulkLoad } from '../../functions/sync/bulk-load.ts';
import { createDynamoCheckpointStore } from '../../functions/sync/checkpoints.ts';
import { countingRateLimits } from '../../functions/sync/rate-limit-counter.ts';
import { CountingMetrics, mapLimit, SYNC_METRICS } from '../../functions/sync/sync-metrics.ts';
import { DEFAULT_SYNC_PROCESSOR_CONFIG } from '../../functions/sync/sync-processor.ts';
import { createVirtuousClient } from '../../functions/virtuous/client.ts';
import { DynamoDbRateBudget } from '../../functions/virtuous/rate-budget.ts';
import { deliveryId } from '../../functions/webhooks/delivery-id.ts';
import { customerEvent, paymentSucceeded, T0 } from '../integration/sync/events.ts';
import { createHarness } from '../integration/sync/harness.ts';
import { startLocalAws } from '../support/local-aws.ts';
import { startTestSimulator } from '../support/simulator.ts';
import { sqsRecord } from '../support/sqs-records.ts';

const BULK_GIFTS = 10_000;
const BUDGET_PER_HOUR = 5_000;
const STEADY_EVENTS = 2_000;
const WARMUP_EVENTS = 200;
const ROUNDS = 4;

logger.setLogLevel('WARN');

const aws = await startLocalAws({ maxReceiveCount: 10, visibilityTimeoutSeconds: 120 });
let dynamoRequests = 0;
/** Requests by operation and table ("UpdateItemCommand syncRecords"), counted only while `countByOperation` is on. */
const requestsByOperation = new Map<string, number>();
let countByOperation = false;
const tableKeyOf = new Map(Object.entries(aws.tableNames).map(([key, name]) => [name, key]));
aws.documentClient.middlewareStack.add(
  (next, context) => async (args) => {
    dynamoRequests += 1;
    if (countByOperation) {
      const table = (args.input as { TableName?: string }).TableName ?? '';
      const operation = `${context.commandName ?? 'unknown'} ${tableKeyOf.get(table) ?? table}`;
      requestsByOperation.set(operation, (requestsByOperation.get(operation) ?? 0) + 1);
    }
    return next(args);
  },
  { step: 'initialize', name: 'countRequests' },
);
const sim = await startTestSimulator();

function clientFor(customerId: string, apiKey: string, hourlyBudget: number, metrics: CountingMetrics) {
  return createVirtuousClient({
    baseUrl: sim.baseUrl,
    customerId,
    tokens: { current: async () => apiKey, invalidate: () => {} },
    budget: new DynamoDbRateBudget({ client: aws.documentClient, tableName: aws.tableNames.rateBudgets, hourlyBudget }),
    allowLoopbackHttp: true,
    timeoutMs: 10_000,
    fetch: countingRateLimits(metrics),
  });
}

function fmt(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

try {
  // ---- 1. bulk load ---------------------------------------------------------------------------------------------
  {
    const customerId = 'bench-bulk';
    const org = sim.organization({ rateLimitPerHour: BUDGET_PER_HOUR });
    const metrics = new CountingMetrics();
    const api = clientFor(customerId, org.apiKey, BUDGET_PER_HOUR, metrics);
    const harness = createHarness(aws, () => api);
    await harness.addCustomer(customerId);
    const history = [customerEvent('cus_bulk', 'customer.created', T0)];
    for (let index = 0; index < BULK_GIFTS; index += 1) {
      history.push(paymentSucceeded(`pi_bulk${index}`, 100 + (index % 9_900), { customer: 'cus_bulk' }) as never);
    }
    const jsonl = history.map((event) => JSON.stringify(event)).join('\n');

    const started = performance.now();
    const load = await runBulkLoad(
      {
        checkpoints: createDynamoCheckpointStore(aws.documentClient, aws.tableNames.checkpoints),
        queue: harness.queue,
        metrics,
        clock: () => new Date(),
      },
      { customerId, loadId: 'bench', source: jsonlHistorySource(jsonl, 1_000) },
    );
    const enqueuedMs = performance.now() - started;
    await harness.drain({ visibilityTimeoutSeconds: 120 });
    const wallMs = performance.now() - started;

    const snapshot = sim.control.inspect(org.organizationId);
    const calls = snapshot.requests.filter((request) => request.counted).length;
    const rejected429 = snapshot.requests.filter((request) => request.status === 429).length;
    const counts = Object.values(snapshot.giftTransactions);
    const exactlyOnce = counts.length === BULK_GIFTS && counts.every((count) => count === 1);
    const pacedSeconds = (calls * 3_600) / BUDGET_PER_HOUR;
    const naiveSeconds = (BULK_GIFTS * 3_600) / BUDGET_PER_HOUR;

    console.log('\nBulk load: 10,000 gifts at a 5,000 requests/hour budget');
    console.table([
      { figure: 'history events enqueued', value: fmt(load.eventsEnqueued), target: '' },
      { figure: 'queue pages (≤100 events each)', value: fmt(load.pagesEnqueued), target: '' },
      { figure: 'Virtuous calls made', value: fmt(calls), target: '≤ 101' },
      { figure: '429s received', value: fmt(rejected429), target: '0' },
      {
        figure: '429s counted by the processor (metric)',
        value: fmt(metrics.get(SYNC_METRICS.virtuousRateLimited)),
        target: '0',
      },
      {
        figure: 'gift transactions per source id',
        value: exactlyOnce ? 'exactly 1 for all 10,000' : 'NOT exactly once',
        target: '1',
      },
      {
        figure: 'time at the budget pace (simulated: calls × 3600 s / 5000)',
        value: `${fmt(pacedSeconds, 1)} s`,
        target: '',
      },
      { figure: 'share of one hour’s budget used', value: `${fmt((calls / BUDGET_PER_HOUR) * 100, 2)} %`, target: '' },
      {
        figure: 'same 10,000 as single calls at the budget (for contrast)',
        value: `${fmt(naiveSeconds / 60, 0)} min`,
        target: '',
      },
      { figure: 'wall time: enqueue', value: `${fmt(enqueuedMs / 1000, 2)} s`, target: '' },
      { figure: 'wall time: enqueue + process (this machine)', value: `${fmt(wallMs / 1000, 2)} s`, target: '' },
    ]);
    if (calls > 101 || rejected429 > 0 || !exactlyOnce) process.exitCode = 1;
  }

  // ---- 2. steady state ------------------------------------------------------------------------------------------
  {
    const customerId = 'bench-steady';
    const org = sim.organization({ rateLimitPerHour: 1_000_000 });
    const metrics = new CountingMetrics();
    const api = clientFor(customerId, org.apiKey, 1_000_000, metrics);
    const harness = createHarness(aws, () => api);
    await harness.addCustomer(customerId);
    const concurrency = DEFAULT_SYNC_PROCESSOR_CONFIG.concurrency;

    const batches = (from: number, count: number): SQSEvent[] => {
      const records: SQSRecord[] = [];
      for (let index = from; index < from + count; index += 1) {
        const rawBody = Buffer.from(
          JSON.stringify(paymentSucceeded(`pi_steady${index}`, 2_500, { customer: 'cus_s' })),
        );
        const message = createInboundMessage({
          deliveryId: deliveryId('stripe', customerId, rawBody),
          customerId,
          provider: 'stripe',
          receivedAt: new Date(),
          rawBody,
        });
        records.push(sqsRecord({ messageId: randomUUID(), body: serializeInboundMessage(message) }));
      }
      const events: SQSEvent[] = [];
      for (let start = 0; start < records.length; start += 10)
        events.push({ Records: records.slice(start, start + 10) });
      return events;
    };

    let failures = 0;
    const run = async (events: SQSEvent[]) => {
      for (const event of events) failures += (await harness.handler(event)).batchItemFailures.length;
    };
    // Baseline 1: the same HTTP call the processor makes per event, bare, at the processor's concurrency.
    const url = `${sim.baseUrl}/api/v2/Gift/Transaction`;
    const bodies = Array.from({ length: WARMUP_EVENTS + STEADY_EVENTS }, (_, index) =>
      JSON.stringify({
        transactionSource: 'Baseline',
        transactionId: `pi_base${index}`,
        contact: { referenceId: 'cus_base' },
        giftDate: '2026-01-01',
        giftType: 'Credit',
        amount: 25,
      }),
    );
    const post = (body: string) =>
      fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${org.apiKey}`, 'content-type': 'application/json' },
        body,
      }).then((response) => response.text());

    // Baseline 2: the least an exactly-once submitter does per event on this store: claim (one conditional write),
    // the Virtuous call through the same client and rate budget, mark submitted (one write). Nothing else.
    const syncState = harness.syncState;
    const floorGifts = Array.from({ length: WARMUP_EVENTS + STEADY_EVENTS }, (_, index) => ({
      transactionSource: 'Floor',
      transactionId: `pi_floor${index}`,
      contact: { referenceId: 'cus_floor' },
      giftDate: '2026-01-01',
      giftType: 'Credit',
      amount: 25,
    }));
    const floor = (gifts: typeof floorGifts) =>
      mapLimit(gifts, concurrency, async (gift) => {
        const key = `gift#Floor#${gift.transactionId}`;
        const claim = await syncState.claim({
          customerId,
          recordKey: key,
          kind: 'gift',
          source: 'Floor',
          sourceId: gift.transactionId,
          version: 0,
          owner: 'floor',
          now: new Date(),
          leaseMs: 60_000,
        });
        if (claim.outcome !== 'claimed') throw new Error('floor claim lost');
        await api.submitGift(gift);
        await syncState.markSubmitted(customerId, key, 'floor', new Date());
      });

    const timed = async (work: () => Promise<unknown>) => {
      const start = performance.now();
      await work();
      return (performance.now() - start) / 1000;
    };
    await run(batches(0, WARMUP_EVENTS));
    await mapLimit(bodies.slice(0, WARMUP_EVENTS), concurrency, post);
    await floor(floorGifts.slice(0, WARMUP_EVENTS));

    // Interleaved rounds, so the three measurements share the machine's (noisy, shared) load equally.
    const perRound = STEADY_EVENTS / ROUNDS;
    let processorSeconds = 0;
    let baselineSeconds = 0;
    let floorSeconds = 0;
    let processorRequests = 0;
    for (let round = 0; round < ROUNDS; round += 1) {
      const from = WARMUP_EVENTS + round * perRound;
      const events = batches(from, perRound);
      const requestsBefore = dynamoRequests;
      countByOperation = true;
      processorSeconds += await timed(() => run(events));
      countByOperation = false;
      processorRequests += dynamoRequests - requestsBefore;
      baselineSeconds += await timed(() => mapLimit(bodies.slice(from, from + perRound), concurrency, post));
      floorSeconds += await timed(() => floor(floorGifts.slice(from, from + perRound)));
    }
    const requestsPerEvent = processorRequests / STEADY_EVENTS;

    const rawWrites = 1_000;
    const rawSeconds = await timed(() =>
      mapLimit(
        Array.from({ length: rawWrites }, (_, index) => index),
        concurrency,
        (index) =>
          aws.documentClient.send(
            new UpdateCommand({
              TableName: aws.tableNames.checkpoints,
              Key: { customerId: 'bench-raw', checkpointName: `k${index}` },
              UpdateExpression: 'SET v = :v',
              ExpressionAttributeValues: { ':v': index },
            }),
          ),
      ),
    );
    const rawWriteRate = rawWrites / rawSeconds;
    const floorRate = STEADY_EVENTS / floorSeconds;
    const processorRate = STEADY_EVENTS / processorSeconds;
    const baselineRate = STEADY_EVENTS / baselineSeconds;
    const snapshot = sim.control.inspect(org.organizationId);
    const steadyOnce = Array.from(
      { length: WARMUP_EVENTS + STEADY_EVENTS },
      (_, index) => `Stripe/pi_steady${index}`,
    ).every((key) => snapshot.giftTransactions[key] === 1);
    console.log('\nSteady state: one gift per webhook delivery, batches of 10, simulator at zero latency');
    console.table([
      { figure: 'processor events/s (sync state in dynalite, rate budget in dynalite)', value: fmt(processorRate, 0) },
      {
        figure: `baseline: bare HTTP calls/s to the simulator (concurrency ${concurrency})`,
        value: fmt(baselineRate, 0),
      },
      { figure: 'ratio processor / bare HTTP', value: fmt(processorRate / baselineRate, 2) },
      {
        figure: 'floor: claim + client call (with budget) + mark, events/s',
        value: fmt(floorRate, 0),
      },
      { figure: 'ratio processor / floor', value: fmt(processorRate / floorRate, 2) },
      { figure: 'DynamoDB requests per event (processor + rate budget)', value: fmt(requestsPerEvent, 1) },
      { figure: 'dynalite raw UpdateItem/s on this machine (same concurrency)', value: fmt(rawWriteRate, 0) },
      { figure: 'events measured (after warm-up)', value: fmt(STEADY_EVENTS) },
      { figure: 'failed items', value: fmt(failures) },
      { figure: 'transactions per source id', value: steadyOnce ? 'exactly 1' : 'NOT exactly once' },
    ]);
    console.log('\nDynamoDB requests per event in the steady state, by operation and table');
    console.table(
      [...requestsByOperation]
        .sort(([, a], [, b]) => b - a)
        .map(([operation, count]) => ({ operation, 'per event': fmt(count / STEADY_EVENTS, 2) })),
    );
    if (failures > 0 || !steadyOnce) process.exitCode = 1;
  }
} finally {
  await sim.close();
  await aws.stop();
}

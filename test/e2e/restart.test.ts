// Restart in the middle of a backlog: webhooks are accepted, the runtime is stopped while the processor is still
// working through them, and a second start on the same data folder resumes. Counted at the Virtuous simulator (which
// outlives both runtimes): every gift submitted exactly once, none lost, none twice.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRuntime, type StopReport, startLocalRuntime } from '../../infra/local/runtime.ts';
import { readSettings } from '../../infra/local/settings.ts';
import { paymentSucceededEvent, sendStripeEvent } from '../../infra/local/stripe-events.ts';
import { transactionKey } from '../../infra/local/virtuous-simulator/model.ts';
import { startVirtuousSimulator, type VirtuousSimulator } from '../../infra/local/virtuous-simulator/server.ts';
import { DONOR, registerSecret } from '../support/canaries.ts';
import { cliInProcess, onboardWithStripe, startSlowProxy } from './support.ts';

const CUSTOMER = 'restart-co';
const GIFTS = 30;

describe('stopping mid-backlog and starting again', () => {
  let simulator: VirtuousSimulator;
  let proxy: { url: string; close(): Promise<void> };
  let dataDir: string;
  let first: LocalRuntime;
  let second: LocalRuntime | undefined;
  let organizationId: number;
  let stopReport: StopReport;
  let submittedBeforeStop: number;
  const stripeSecret = registerSecret(`whsec_${randomBytes(24).toString('base64url')}`);

  const start = (simulatorHandle: VirtuousSimulator) =>
    startLocalRuntime(readSettings(['--free-ports', '--data-dir', dataDir, '--poll-wait-seconds', '1'], {}), {
      simulator: simulatorHandle,
    });
  const giftKeys = () => Array.from({ length: GIFTS }, (_, index) => transactionKey('Stripe', `pi_restart_${index}`));

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'virtuous-restart-'));
    simulator = await startVirtuousSimulator();
    // Every Virtuous call takes 150 ms, so the processor is still busy when the runtime is told to stop.
    proxy = await startSlowProxy(simulator.baseUrl, 150);
    const slowSimulator = { ...simulator, baseUrl: proxy.url, close: async () => undefined } as VirtuousSimulator;

    first = await start(slowSimulator);
    const org = simulator.control.createOrganization({ name: 'Restart Org' });
    organizationId = org.organizationId;
    await onboardWithStripe(first, CUSTOMER, org.apiKey, stripeSecret);

    const created = Math.floor(Date.now() / 1000);
    const events = Array.from({ length: GIFTS }, (_, index) =>
      paymentSucceededEvent({
        eventId: `evt_restart_${index}`,
        paymentIntentId: `pi_restart_${index}`,
        customerId: `cus_restart_${index % 5}`,
        donor: DONOR,
        amountCents: 100 + index,
        created,
      }),
    );
    // Every event is delivered, and the first ten a second time (a sender retry): 40 accepted deliveries.
    const statuses: number[] = [];
    for (const event of [...events, ...events.slice(0, 10)]) {
      const answer = await sendStripeEvent({
        webhooksUrl: first.endpoints.webhooks,
        customerId: CUSTOMER,
        secret: stripeSecret,
        event,
      });
      statuses.push(answer.status);
    }
    expect(statuses.every((status) => status === 202)).toBe(true);

    const deadline = Date.now() + 10_000;
    while (first.pollerStatistics().batches === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // A token rotation waiting for the customer's new key is running when the runtime stops.
    const rotation = await cliInProcess(['rotate-token', CUSTOMER, '--later', '--url', first.endpoints.lifecycle]);
    expect(rotation.code).toBe(0);
    const waitingSince = Date.now();
    while (
      !(await first.components.customers.get(CUSTOMER))?.awaitingTokenTaskToken &&
      Date.now() - waitingSince < 10_000
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    stopReport = await first.stop();
    submittedBeforeStop = giftKeys().filter(
      (key) => (simulator.control.inspect(organizationId).giftTransactions[key] ?? 0) > 0,
    ).length;

    second = await start(slowSimulator);
    expect(await second.waitForQueueIdle(30_000)).toBe(true);
  }, 60_000);

  afterAll(async () => {
    await second?.stop();
    await proxy?.close();
    await simulator?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stopped in the middle: some gifts were submitted, the rest waited on the saved queue', () => {
    expect(submittedBeforeStop).toBeGreaterThan(0);
    expect(submittedBeforeStop).toBeLessThan(GIFTS);
    expect(stopReport.savedMessages?.inbound).toBeGreaterThan(0);
    expect(second?.restored.inbound).toBe(stopReport.savedMessages?.inbound);
  });

  it('loses nothing and submits nothing twice', () => {
    const counts = simulator.control.inspect(organizationId).giftTransactions;
    const perGift = giftKeys().map((key) => counts[key] ?? 0);
    expect(perGift.filter((count) => count === 0)).toHaveLength(0);
    expect(perGift.filter((count) => count > 1)).toHaveLength(0);
    expect(Object.keys(counts).filter((key) => key.startsWith('Stripe/pi_restart_'))).toHaveLength(GIFTS);
  });

  it('aborts the workflow still waiting at stop and frees its customer for the next one', async () => {
    expect(stopReport.workflows.aborted).toBe(1);
    const customer = await second?.components.customers.get(CUSTOMER);
    expect(customer?.lock).toBeUndefined();
    expect(customer?.awaitingTokenTaskToken).toBeUndefined();
  });

  it('keeps customers and secrets across the restart (on disk under the data folder)', async () => {
    const customer = await second?.components.customers.get(CUSTOMER);
    expect(customer?.status).toBe('active');
    const stripe = await second?.components.secrets.read(
      { customerId: CUSTOMER, kind: 'source_webhook_secret', source: 'stripe' },
      'current',
      { reason: 'test:verify-restart' },
    );
    expect(stripe?.value === stripeSecret).toBe(true);
  });

  it('dead-letters nothing', async () => {
    expect(await second?.components.deadLetters.list(CUSTOMER)).toEqual([]);
  });
});

// A runtime restarted with `--free-ports` gets another webhook port than the one its customers' Virtuous
// subscriptions were created with. At start it reads every active customer's subscription back and re-points the
// ones that deliver elsewhere, so the next nightly batch's signed deliveries reach the new port (202) instead of
// failing until someone notices; the re-pointing is logged by customer.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.ts';
import { readSettings } from '../../infra/local/settings.ts';
import { transactionKey } from '../../infra/local/virtuous-simulator/model.ts';
import { findLeaks, registerSecret } from '../support/canaries.ts';
import { onboardWithStripe, sendStripeDonor, sendStripeGift, simulatorOf } from './support.ts';

const CUSTOMER = 'port-change-co';

describe('a restart on other ports (--free-ports)', () => {
  let dataDir: string;
  let first: LocalRuntime;
  let second: LocalRuntime | undefined;
  let organizationId: number;
  const logs: string[] = [];
  const stripeSecret = registerSecret(`whsec_${randomBytes(24).toString('base64url')}`);
  const start = () =>
    startLocalRuntime(readSettings(['--data-dir', dataDir, '--free-ports', '--poll-wait-seconds', '1'], {}), {
      log: (line) => logs.push(line),
    });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'virtuous-port-change-'));
    first = await start();
    const org = simulatorOf(first).createOrganization({ name: 'Port Change Org' });
    organizationId = org.organizationId;
    await onboardWithStripe(first, CUSTOMER, registerSecret(org.apiKey), stripeSecret);
    expect((await first.webhookSubscriptions).repointed).toEqual([]);
    await first.stop();
    second = await start();
  });

  afterAll(async () => {
    await second?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('listens for webhooks on another port than before', () => {
    expect(second?.endpoints.webhooks).not.toBe(first.endpoints.webhooks);
  });

  it("re-points the customer's subscription to the new port at start, and says so", async () => {
    const runtime = second as LocalRuntime;
    const report = await runtime.webhookSubscriptions;
    expect(report).toEqual({ checked: 1, repointed: [CUSTOMER], failed: [] });
    const [subscription] = simulatorOf(runtime).inspect(organizationId).webhooks;
    expect(subscription?.payloadUrl).toBe(`${runtime.endpoints.webhooks}/webhooks/virtuous/${CUSTOMER}`);
    expect(subscription?.active).toBe(true);
    expect(logs).toContain(
      `webhook subscription of ${CUSTOMER} re-pointed to this runtime (${runtime.endpoints.webhooks})`,
    );
  });

  it('delivers the next nightly batch to the new port, signed with the secret the verifier knows', async () => {
    const runtime = second as LocalRuntime;
    const donor = await sendStripeDonor(runtime.endpoints.webhooks, {
      customerId: CUSTOMER,
      secret: stripeSecret,
      eventId: 'evt_port_change_donor',
      stripeCustomerId: 'cus_port_change',
    });
    expect(donor.status).toBe(202);
    const gift = await sendStripeGift(runtime, {
      customerId: CUSTOMER,
      secret: stripeSecret,
      paymentIntentId: 'pi_port_change',
      stripeCustomerId: 'cus_port_change',
      amountCents: 1_500,
    });
    expect(gift.status).toBe(202);
    expect(await runtime.waitForQueueIdle(10_000)).toBe(true);

    const batch = await simulatorOf(runtime).nightlyBatch({ organizationId });
    expect(batch.organizations[0]?.giftsCreated).toBe(1);
    expect(batch.organizations[0]?.deliveries).toEqual({ delivered: 2, failed: 0, skipped: 0 });
    const deliveries = simulatorOf(runtime).inspect(organizationId).deliveries;
    expect(deliveries.map((delivery) => delivery.statuses)).toEqual([[202], [202]]);

    // The GiftCreate delivery confirmed the gift in the sync ledger: the verifier accepted it and the processor ran.
    expect(await runtime.waitForQueueIdle(10_000)).toBe(true);
    expect(
      simulatorOf(runtime).inspect(organizationId).giftTransactions[transactionKey('Stripe', 'pi_port_change')],
    ).toBe(1);
    expect(await runtime.components.deadLetters.list(CUSTOMER)).toEqual([]);
  });

  it('logged no secret or donor data', () => {
    expect(findLeaks(logs.join('\n'))).toEqual([]);
  });
});

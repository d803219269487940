// Connecting a customer's Stripe on the one-machine runtime, through the CLI: the webhook signing secret goes in on
// stdin, the lifecycle API stores it, and a signed Stripe gift is then accepted and reaches the simulator once. The
// runtime has no Stripe OAuth client, so a refresh token is refused with its code (and never stored).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.ts';
import { readSettings } from '../../infra/local/settings.ts';
import { transactionKey } from '../../infra/local/virtuous-simulator/model.ts';
import { startVirtuousSimulator, type VirtuousSimulator } from '../../infra/local/virtuous-simulator/server.ts';
import { findLeaks, registerSecret } from '../support/canaries.ts';
import { type CliRun, cliInProcess, sendStripeGift } from './support.ts';

const CUSTOMER = 'stripe-co';
const INSPECT = { reason: 'test:inspect' };

describe('connect-stripe against the local runtime', () => {
  let simulator: VirtuousSimulator;
  let runtime: LocalRuntime;
  let organizationId: number;
  const runs: CliRun[] = [];
  const stripeSecret = registerSecret(`whsec_${randomBytes(24).toString('base64url')}`);
  const cli = async (args: string[], stdin = '') => {
    const run = await cliInProcess([...args, '--url', runtime.endpoints.lifecycle], stdin);
    runs.push(run);
    return run;
  };

  beforeAll(async () => {
    simulator = await startVirtuousSimulator();
    runtime = await startLocalRuntime(readSettings(['--in-memory', '--free-ports', '--poll-wait-seconds', '1'], {}), {
      simulator,
    });
    const org = simulator.control.createOrganization({ name: 'Stripe Org' });
    organizationId = org.organizationId;
    registerSecret(org.apiKey);
    expect((await cli(['onboard', CUSTOMER, '--timeout', '30'], org.apiKey)).code).toBe(0);
  }, 30_000);

  afterAll(async () => {
    await runtime?.stop();
    await simulator?.close();
  });

  it('stores the webhook signing secret read from stdin; a signed Stripe gift then reaches Virtuous once', async () => {
    const connected = await cli(['connect-stripe', CUSTOMER, '--webhook-secret'], `${stripeSecret}\n`);
    expect(connected.code).toBe(0);
    const stored = await runtime.components.secrets.read(
      { customerId: CUSTOMER, kind: 'source_webhook_secret', source: 'stripe' },
      'current',
      INSPECT,
    );
    expect(stored?.value).toBe(stripeSecret);

    const gift = { customerId: CUSTOMER, secret: stripeSecret, stripeCustomerId: 'cus_connect_0', amountCents: 1500 };
    expect((await sendStripeGift(runtime, { ...gift, paymentIntentId: 'pi_connect_0' })).status).toBe(202);
    expect(await runtime.waitForQueueIdle(10_000)).toBe(true);
    expect(simulator.control.inspect(organizationId).giftTransactions[transactionKey('Stripe', 'pi_connect_0')]).toBe(
      1,
    );
  });

  it('refuses a refresh token here (no Stripe OAuth client on one machine) with exit code 2 and stores nothing', async () => {
    const token = registerSecret(`rt_${randomBytes(24).toString('base64url')}`);
    const refused = await cli(['connect-stripe', CUSTOMER, '--refresh-token'], token);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('501 NOT_CONFIGURED');
    const stored = await runtime.components.secrets.read(
      { customerId: CUSTOMER, kind: 'refresh_token', source: 'stripe' },
      'current',
      INSPECT,
    );
    expect(stored).toBeUndefined();
  });

  it('prints no donor data or secret', () => {
    expect(findLeaks(runs.map((run) => run.stdout + run.stderr).join('\n')).length).toBe(0);
  });
});

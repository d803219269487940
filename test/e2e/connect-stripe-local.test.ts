// Connecting a customer's Stripe on the one-machine runtime, through the CLI, as on AWS: the webhook signing secret
// goes in on stdin and a signed Stripe gift is then accepted and reaches the simulator once; a Stripe Connect refresh
// token minted by the Stripe stand-in (`sim stripe connect`) is validated at the stand-in's OAuth token endpoint,
// stored, and starts the Stripe history load, whose seeded gifts reach the simulator exactly once; a revoked grant
// is refused (422) and nothing is stored.
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
const REFRESH_REF = { customerId: CUSTOMER, kind: 'refresh_token', source: 'stripe' } as const;

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
  /** `sim stripe connect`: its stdout is the pipe (the token alone), so only its stderr joins the leak scan. */
  const mintRefreshToken = async (): Promise<{ token: string; accountId: string }> => {
    const minted = await cliInProcess(['sim', 'stripe', 'connect', '--url', runtime.endpoints.lifecycle]);
    expect(minted.code).toBe(0);
    const token = registerSecret(minted.stdout.trim());
    expect(minted.stdout).toBe(`${token}\n`);
    runs.push({ ...minted, stdout: '' });
    const accountId = /Stripe account (acct_\w+) connected/.exec(minted.stderr)?.[1];
    expect(accountId).toBeDefined();
    return { token, accountId: accountId as string };
  };
  const storedRefreshToken = async () => {
    const stored = await runtime.components.secrets.read(REFRESH_REF, 'current', INSPECT);
    if (stored !== undefined) registerSecret(stored.value);
    return stored;
  };
  const giftCount = (paymentIntentId: string) =>
    simulator.control.inspect(organizationId).giftTransactions[transactionKey('Stripe', paymentIntentId)] ?? 0;

  beforeAll(async () => {
    simulator = await startVirtuousSimulator();
    runtime = await startLocalRuntime(readSettings(['--in-memory', '--free-ports', '--poll-wait-seconds', '1'], {}), {
      simulator,
    });
    registerSecret((await runtime.components.provisionStripeClient()).clientSecret);
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
    expect(giftCount('pi_connect_0')).toBe(1);
  });

  it('connects a refresh token minted by the Stripe stand-in; the history load brings its seeded gifts once', async () => {
    const { token, accountId } = await mintRefreshToken();
    const connected = await cli(['connect-stripe', CUSTOMER, '--refresh-token'], token);
    expect(connected.code).toBe(0);
    expect(connected.stdout).toContain('validated with Stripe and stored');
    expect(connected.stdout).toContain('history load started');

    const seeded = runtime.stripe.control.history(accountId)?.paymentIntents ?? [];
    const succeeded = seeded.filter((intent) => intent.status === 'succeeded').map((intent) => intent.id);
    const declined = seeded.filter((intent) => intent.status !== 'succeeded').map((intent) => intent.id);
    expect(succeeded.length).toBeGreaterThan(1);
    expect(declined.length).toBeGreaterThan(0);
    // The load runs in the background (an asynchronous invoke on AWS): wait for its gifts, then for the queue.
    for (let polls = 0; polls < 200 && !succeeded.every((id) => giftCount(id) > 0); polls++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await runtime.waitForQueueIdle(10_000)).toBe(true);
    expect(Object.fromEntries(succeeded.map((id) => [id, giftCount(id)]))).toEqual(
      Object.fromEntries(succeeded.map((id) => [id, 1])),
    );
    for (const id of declined) expect(giftCount(id)).toBe(0);

    // Both refreshes (validation, then the load) rotated the grant: the minted token is spent, the stored one is live.
    const stored = await storedRefreshToken();
    expect(stored).toBeDefined();
    // Compared as booleans: a failing assertion would print the tokens.
    expect(stored?.value === token).toBe(false);
    expect(stored?.value.startsWith('rt_sim_')).toBe(true);
    expect((await runtime.components.customers.get(CUSTOMER))?.status).toBe('active');

    // The same payment arriving as a webhook later is the same Virtuous transaction: still exactly one.
    const [first] = succeeded;
    const intent = seeded.find((candidate) => candidate.id === first);
    const webhook = await sendStripeGift(runtime, {
      customerId: CUSTOMER,
      secret: stripeSecret,
      paymentIntentId: first as string,
      stripeCustomerId: intent?.customer ?? 'cus_guest',
      amountCents: intent?.amount ?? 100,
    });
    expect(webhook.status).toBe(202);
    expect(await runtime.waitForQueueIdle(10_000)).toBe(true);
    expect(giftCount(first as string)).toBe(1);
  }, 30_000);

  it('refuses a refresh token whose grant the account revoked with 422 (exit code 2) and stores nothing', async () => {
    const before = await storedRefreshToken();
    const { token, accountId } = await mintRefreshToken();
    const revoked = await cli(['sim', 'stripe', 'revoke', accountId]);
    expect(revoked.code).toBe(0);

    const refused = await cli(['connect-stripe', CUSTOMER, '--refresh-token'], token);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('422 REFRESH_TOKEN_REJECTED');
    const after = await storedRefreshToken();
    expect(after?.versionId).toBe(before?.versionId);
    expect((await runtime.components.customers.get(CUSTOMER))?.status).toBe('active');
  });

  it('prints no donor data or secret', () => {
    expect(findLeaks(runs.map((run) => run.stdout + run.stderr).join('\n')).length).toBe(0);
  });
});

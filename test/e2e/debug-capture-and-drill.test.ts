// Issue 7 operations on the one-machine runtime through the CLI: a time-limited debug capture switched on and off
// (operators alerted, a signed Stripe delivery copied into the local capture folder, nothing after `--off`), and the
// deletion drill run on demand against the simulator.
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerSecret } from '../support/canaries.ts';
import { onboardWithStripe, sendStripeGift, useSimulatedRuntime } from './support.ts';

const CUSTOMER = 'capture-co';

describe('debug capture and the deletion drill through the CLI', () => {
  // 60× faster workflow waits: the drill's offboarding settles in-flight sync writes for 90 s.
  const local = useSimulatedRuntime({ dataDir: 'capture-drill-', timeScale: 60 });
  const stripeSecret = registerSecret(`whsec_${randomBytes(24).toString('base64url')}`);
  const { cli } = local;
  const captures = async (customerId: string) =>
    readdir(join(local.dataDir, 'debug-captures', 'captures', customerId), { recursive: true }).catch(() => []);
  const deliver = (paymentIntentId: string) =>
    sendStripeGift(local.runtime, {
      customerId: CUSTOMER,
      secret: stripeSecret,
      paymentIntentId,
      stripeCustomerId: 'cus_capture_0',
      amountCents: 1500,
    });

  beforeAll(async () => {
    const org = local.simulator.control.createOrganization({ name: 'Capture Org' });
    await onboardWithStripe(local.runtime, CUSTOMER, org.apiKey, stripeSecret);
  }, 30_000);

  it('captures only inside the window switched on by the CLI, and alerts the operators', async () => {
    expect((await deliver('pi_before')).status).toBe(202);
    expect(await captures(CUSTOMER)).toEqual([]);

    const on = await cli(['debug-capture', CUSTOMER, '--minutes', '15']);
    expect(on.code).toBe(0);
    expect(on.stdout).toMatch(/capture-co debug capture on until \d{4}-\d\d-\d\dT/);
    const alert = local.runtime.components.notifier.messages.find(
      (m) => m.kind === 'operator_alert' && m.code === 'debug_capture_enabled',
    );
    expect(alert).toMatchObject({ customerId: CUSTOMER, severity: 'warning', details: { minutes: 15 } });

    expect((await deliver('pi_during')).status).toBe(202);
    const during = (await captures(CUSTOMER)).filter((name) => String(name).endsWith('.json'));
    expect(during).toHaveLength(1);

    const off = await cli(['debug-capture', CUSTOMER, '--off']);
    expect(off.code).toBe(0);
    expect(off.stdout).toContain('debug capture off');
    expect((await deliver('pi_after')).status).toBe(202);
    expect((await captures(CUSTOMER)).filter((name) => String(name).endsWith('.json'))).toHaveLength(1);

    expect((await cli(['debug-capture', CUSTOMER, '--minutes', '1441'])).code).toBe(2);
    expect((await cli(['debug-capture', CUSTOMER])).code).toBe(2);
  }, 30_000);

  it('runs the deletion drill on demand: the synthetic customer is onboarded, offboarded and leaves nothing', async () => {
    const run = await cli(['run-job', 'deletion-drill']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('deletion-drill finished');
    const summary = JSON.parse(run.stdout.split('\n')[1] ?? '{}') as Record<string, unknown>;
    expect(summary).toMatchObject({
      ok: true,
      onboarding: 'SUCCEEDED',
      offboarding: 'SUCCEEDED',
      residue: { tables: {}, customerRecord: 'offboarded_marker', debugCaptures: 0, secrets: 0 },
    });
    expect(String(summary.customerId)).toMatch(/^drill-\d{8}$/);
    expect((await local.runtime.components.customers.get(String(summary.customerId)))?.status).toBe('offboarded');
  }, 60_000);
});

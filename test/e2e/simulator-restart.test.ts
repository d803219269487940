// A restart of a runtime that owns its Virtuous simulator (as `npm start` does): the simulator's state is saved to
// the data folder while running and at stop, and loaded at the next start, so a customer onboarded before the
// restart still syncs after it: its key still authenticates, its held gift resolves at the next nightly batch, and
// the subscription still delivers, signed with the secret the verifier knows. An unusable snapshot stops the start
// with exit code 2 and the file's path, instead of starting an empty simulator that would revoke every customer.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForbiddenInputError } from '../../functions/shared/errors.ts';
import { type LocalRuntime, type StopReport, startLocalRuntime } from '../../infra/local/runtime.ts';
import { readSettings } from '../../infra/local/settings.ts';
import { simulatorSnapshotPath } from '../../infra/local/simulator-snapshot-file.ts';
import { transactionKey } from '../../infra/local/virtuous-simulator/model.ts';
import { findLeaks, registerSecret } from '../support/canaries.ts';
import { onboardWithStripe, sendStripeDonor, sendStripeGift, simulatorOf } from './support.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../infra/local/main.ts', import.meta.url));
const CUSTOMER = 'sim-restart-co';
const BEFORE = transactionKey('Stripe', 'pi_before_restart');
const AFTER = transactionKey('Stripe', 'pi_after_restart');

/** A port free right now, so both runtimes listen for webhooks where the saved subscription points. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('a runtime that owns its simulator, stopped and started again', () => {
  let dataDir: string;
  let webhooksPort: number;
  let first: LocalRuntime;
  let second: LocalRuntime | undefined;
  let organizationId: number;
  let firstStop: StopReport;
  let savedWhileRunning: { exists: boolean; mode: number; organizations: number };
  const stripeSecret = registerSecret(`whsec_${randomBytes(24).toString('base64url')}`);
  const start = () =>
    startLocalRuntime(
      readSettings(
        [
          '--data-dir',
          dataDir,
          '--webhooks-port',
          String(webhooksPort),
          '--lifecycle-port',
          '0',
          '--dynamodb-port',
          '0',
          '--sqs-port',
          '0',
          '--virtuous-port',
          '0',
          '--poll-wait-seconds',
          '1',
        ],
        {},
      ),
      { simulatorSaveIntervalMs: 100 },
    );
  const sendGift = (runtime: LocalRuntime, id: string, amountCents: number) =>
    sendStripeGift(runtime, {
      customerId: CUSTOMER,
      secret: stripeSecret,
      paymentIntentId: id,
      stripeCustomerId: 'cus_sim_restart',
      amountCents,
    });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'virtuous-sim-restart-'));
    webhooksPort = await freePort();
    first = await start();
    expect(first.restoredSimulator).toBeUndefined();
    const org = simulatorOf(first).createOrganization({ name: 'Simulator Restart Org' });
    organizationId = org.organizationId;
    await onboardWithStripe(first, CUSTOMER, org.apiKey, stripeSecret);

    const donorCreated = await sendStripeDonor(first.endpoints.webhooks, {
      customerId: CUSTOMER,
      secret: stripeSecret,
      eventId: 'evt_sim_restart_customer',
      stripeCustomerId: 'cus_sim_restart',
    });
    expect(donorCreated.status).toBe(202);
    expect((await sendGift(first, 'pi_before_restart', 2_500)).status).toBe(202);
    expect(await first.waitForQueueIdle(10_000)).toBe(true);
    expect(simulatorOf(first).inspect(organizationId).giftTransactions[BEFORE]).toBe(1);

    // The periodic save has run while the runtime is up: a crash now would keep the onboarded customer.
    const path = simulatorSnapshotPath(dataDir);
    const deadline = Date.now() + 5_000;
    while (!existsSync(path) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    savedWhileRunning = {
      exists: existsSync(path),
      mode: existsSync(path) ? statSync(path).mode & 0o777 : 0,
      organizations: existsSync(path)
        ? (JSON.parse(readFileSync(path, 'utf8')) as { organizations: unknown[] }).organizations.length
        : 0,
    };

    firstStop = await first.stop();
    second = await start();
  }, 60_000);

  afterAll(async () => {
    await first?.stop();
    await second?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('saved the simulator state while running and at stop (0600), and resumed it', () => {
    expect(savedWhileRunning).toEqual({ exists: true, mode: 0o600, organizations: 1 });
    expect(firstStop.simulatorSaved).toBe(true);
    expect(statSync(simulatorSnapshotPath(dataDir)).mode & 0o777).toBe(0o600);
    expect(second?.restoredSimulator).toEqual({ organizations: 1, apiKeys: 1 });
    expect(second?.simulator).not.toBe(first.simulator);
  });

  it('keeps syncing the customer onboarded before the restart', async () => {
    const runtime = second as LocalRuntime;
    expect((await sendGift(runtime, 'pi_after_restart', 4_000)).status).toBe(202);
    expect(await runtime.waitForQueueIdle(10_000)).toBe(true);
    const state = simulatorOf(runtime).inspect(organizationId);
    expect(state.giftTransactions[AFTER]).toBe(1);
    expect(state.giftTransactions[BEFORE]).toBe(1);
    // Held before the restart (the donor and the first gift) and after it: all waiting for the nightly batch.
    expect(state.held).toEqual({ gifts: 2, contacts: 1, reversals: 0 });
    expect((await runtime.components.customers.get(CUSTOMER))?.status).toBe('active');
    expect(await runtime.components.deadLetters.list(CUSTOMER)).toEqual([]);
  });

  it('resolves both gifts at the nightly batch and delivers them to the verifier with the saved secret', async () => {
    const runtime = second as LocalRuntime;
    const batch = await simulatorOf(runtime).nightlyBatch({ organizationId });
    expect(batch.organizations[0]).toMatchObject({ contactsCreated: 1, giftsCreated: 2, needsUpdate: 0 });
    expect(batch.organizations[0]?.deliveries.failed).toBe(0);
    expect(batch.organizations[0]?.deliveries.delivered).toBeGreaterThanOrEqual(2);
    expect(await runtime.waitForQueueIdle(10_000)).toBe(true);
    const state = simulatorOf(runtime).inspect(organizationId);
    expect(state.gifts.map((g) => g.transactionId).sort()).toEqual(['pi_after_restart', 'pi_before_restart']);
    expect(new Set(state.gifts.map((g) => g.id)).size).toBe(2);
    expect(state.deliveries.every((d) => d.outcome === 'delivered' && d.statuses.at(-1) === 202)).toBe(true);
    expect((await runtime.components.customers.get(CUSTOMER))?.status).toBe('active');
  });

  it('refuses to start over an unusable snapshot: the error names the file, npm start exits 2', async () => {
    await second?.stop();
    const path = simulatorSnapshotPath(dataDir);
    writeFileSync(path, '{"version":1,"organizations":[', { mode: 0o600 });
    await expect(start()).rejects.toThrow(ForbiddenInputError);
    await expect(start()).rejects.toThrow(`${path} cannot be loaded: it is not valid JSON`);

    writeFileSync(path, JSON.stringify({ version: 99 }), { mode: 0o600 });
    const child = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const process_ = spawn(process.execPath, ['--import', 'tsx', MAIN, '--data-dir', dataDir, '--free-ports'], {
        cwd: ROOT,
        env: { ...process.env },
      });
      let stdout = '';
      let stderr = '';
      process_.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
      });
      process_.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
      });
      process_.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(child.code).toBe(2);
    expect(child.stderr).toContain(`${path} cannot be loaded: snapshot format has version 99`);
    expect(findLeaks(`${child.stdout}\n${child.stderr}`)).toHaveLength(0);
    // The file is left as found, for the developer to inspect or move away.
    expect(readFileSync(path, 'utf8')).toBe(JSON.stringify({ version: 99 }));
  }, 30_000);
});

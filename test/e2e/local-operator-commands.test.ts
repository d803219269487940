// The local-only CLI commands an operator uses instead of the simulator's undocumented routes or its state file:
// `sim org create|list`, `sim key create` (the key goes only into a pipe, straight into `onboard`, npm's banner
// included), `send-test-webhook` (the runtime signs with the stored secret; the CLI never sees it), `sim gifts` (what
// reached the simulated Virtuous, without donor data) and `sim nightly-batch`. All refused with --aws.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../infra/local/cli/main.ts';
import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.ts';
import { readSettings } from '../../infra/local/settings.ts';
import { customerCreatedEvent, paymentSucceededEvent } from '../../infra/local/stripe-events.ts';
import { DONOR, findLeaks, registerSecret } from '../support/canaries.ts';
import { cliInProcess, configureStripeSecret, recordHttpAnswers } from './support.ts';

const CUSTOMER = 'ops-co';

/** What `npm run cli -- sim key create 1 | …` puts on the pipe: npm's banner, then the key. */
const npmBanner = (args: string) =>
  `\n> virtuous-partner-integration@0.1.0 cli\n> tsx infra/local/cli/main.ts ${args}\n\n`;

describe('local operator commands against the runtime', () => {
  let runtime: LocalRuntime;
  let url: string;
  let organizationId: number;
  let apiKey: string;
  const printed: string[] = [];
  const recorder = recordHttpAnswers();
  const cli = async (args: readonly string[], stdin = '') => {
    const result = await cliInProcess([...args, '--url', url], stdin);
    printed.push(result.stdout, result.stderr);
    return result;
  };

  beforeAll(async () => {
    runtime = await startLocalRuntime(
      readSettings(['--in-memory', '--free-ports', '--virtuous-port', '0', '--poll-wait-seconds', '1'], {}),
    );
    url = runtime.endpoints.lifecycle;
  });

  afterAll(async () => {
    recorder.restore();
    await runtime?.stop();
  });

  it('sim org create makes a simulated organization and says how to onboard with a key of it', async () => {
    const created = await cli(['sim', 'org', 'create', '--name', 'Operator Tour Org']);
    expect(created.code).toBe(0);
    const id = /simulated Virtuous organization (\d+) \(Operator Tour Org\) created/.exec(created.stdout)?.[1];
    expect(id).toBeDefined();
    organizationId = Number(id);
    expect(created.stdout).toContain(`sim key create ${organizationId} | npm run cli -- onboard <customerId>`);
    expect(created.stdout).not.toMatch(/vsim_/);
    const listed = await cli(['sim', 'org', 'list']);
    expect(listed.stdout).toMatch(new RegExp(`^${organizationId}\\s+enabled\\s+Operator Tour Org$`, 'm'));
  });

  it('sim key create writes only the key to a pipe, and onboard reads it through npm run banners', async () => {
    // Not added to `printed`: its stdout is the key, by design, for the pipe.
    const key = await cliInProcess(['sim', 'key', 'create', String(organizationId), '--url', url]);
    expect(key.code).toBe(0);
    expect(key.stdout).toMatch(/^vsim_[A-Za-z0-9_-]+\n$/);
    apiKey = registerSecret(key.stdout.trim());
    expect(key.stderr).toContain(`new API key of simulated organization ${organizationId} written to the pipe`);

    const onboarded = await cli(
      ['onboard', CUSTOMER, '--timeout', '30'],
      `${npmBanner(`sim key create ${organizationId}`)}${apiKey}\n`,
    );
    expect(onboarded.code).toBe(0);
    expect(onboarded.stdout).toContain('onboarding succeeded');
    expect((await runtime.components.customers.get(CUSTOMER))?.status).toBe('active');
  });

  it('onboard still refuses piped input that is not exactly one key', async () => {
    const two = await cli(['onboard', 'two-keys-co'], `${npmBanner('x')}vsim_one\nvsim_two\n`);
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('must be one line without spaces');
  });

  it('sim key create refuses a terminal before any key exists', async () => {
    const keysBefore = runtime.simulator?.control.exportSnapshot().apiKeys.length;
    const terminal = Object.assign(
      new Writable({
        write: (chunk, _encoding, callback) => {
          printed.push(String(chunk));
          callback();
        },
      }),
      { isTTY: true },
    );
    const refusal = await runCli(['sim', 'key', 'create', String(organizationId), '--url', url], {
      stdin: process.stdin,
      stdout: terminal as unknown as NodeJS.WriteStream,
      stderr: terminal as unknown as NodeJS.WriteStream,
      env: {},
    }).catch((error: { exitCode?: number; message?: string }) => error);
    expect(refusal).toMatchObject({ exitCode: 2 });
    expect((refusal as Error).message).toContain(`sim key create ${organizationId} | npm run cli -- onboard`);
    expect(runtime.simulator?.control.exportSnapshot().apiKeys.length).toBe(keysBefore);
  });

  it('send-test-webhook: the runtime signs a Virtuous delivery with the stored secret; the verifier accepts it', async () => {
    const processedBefore = runtime.pollerStatistics().succeeded;
    const sent = await cli(['send-test-webhook', CUSTOMER]);
    expect(sent.code).toBe(0);
    expect(sent.stdout).toMatch(
      /^signed virtuous test delivery to ops-co: 202 accepted \(request [0-9a-f-]{36}\), processed\n$/,
    );
    // Answered once processed: the processor has already handled it.
    expect(runtime.pollerStatistics().succeeded).toBe(processedBefore + 1);
    expect(await runtime.components.deadLetters.list(CUSTOMER)).toEqual([]);
  });

  it('send-test-webhook --source stripe --file: a Stripe gift reaches the simulated Virtuous, shown by sim gifts', async () => {
    const stripeSecret = registerSecret('whsec_operator_commands_0123456789abcdef');
    await configureStripeSecret(runtime.components.secrets, CUSTOMER, stripeSecret);
    const folder = mkdtempSync(join(tmpdir(), 'test-webhook-'));
    const donorFile = join(folder, 'customer.json');
    writeFileSync(
      donorFile,
      JSON.stringify(
        customerCreatedEvent({
          eventId: 'evt_ops_donor',
          customerId: 'cus_ops',
          donor: DONOR,
          created: Math.floor(Date.now() / 1000),
        }),
      ),
    );
    expect((await cli(['send-test-webhook', CUSTOMER, '--source', 'stripe', '--file', donorFile])).code).toBe(0);
    const file = join(folder, 'payment.json');
    writeFileSync(
      file,
      JSON.stringify(
        paymentSucceededEvent({
          eventId: 'evt_ops_1',
          paymentIntentId: 'pi_ops_1',
          customerId: 'cus_ops',
          donor: DONOR,
          amountCents: 2_500,
          created: Math.floor(Date.now() / 1000),
        }),
      ),
    );
    const sent = await cli(['send-test-webhook', CUSTOMER, '--source', 'stripe', '--file', file]);
    expect(sent.code).toBe(0);
    expect(sent.stdout).toMatch(/signed stripe test delivery to ops-co: 202 accepted \(request \S+\), processed/);

    const gifts = await cli(['sim', 'gifts', CUSTOMER]);
    expect(gifts.code).toBe(0);
    expect(gifts.stdout).toContain(`ops-co → simulated Virtuous organization ${organizationId} (Operator Tour Org)`);
    expect(gifts.stdout).toMatch(/^Stripe\/pi_ops_1\s+1\s+held\s+-\s+25 USD$/m);
    expect(gifts.stdout).toContain('held for the next nightly batch: 1 gift(s), 1 contact(s)');

    const batch = await cli(['sim', 'nightly-batch']);
    expect(batch.code).toBe(0);
    expect(batch.stdout).toMatch(
      new RegExp(`organization ${organizationId}: 1 gift\\(s\\) and 1 contact\\(s\\) created`),
    );
    const after = await cli(['sim', 'gifts', CUSTOMER]);
    expect(after.stdout).toMatch(/^Stripe\/pi_ops_1\s+1\s+created\s+\d+\s+25 USD$/m);
    expect(after.stdout).toMatch(/webhook deliveries sent: [1-9]\d* delivered, 0 failed/);
  });

  it('refuses what it cannot do: no secret, a bad source, a missing file, a customer not onboarded, --aws', async () => {
    const noSecret = await cli(['send-test-webhook', 'nobody-co']);
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toContain('NO_WEBHOOK_SECRET');
    expect((await cli(['send-test-webhook', CUSTOMER, '--source', 'paypal'])).code).toBe(2);
    expect((await cli(['send-test-webhook', CUSTOMER, '--source', 'stripe'])).stderr).toContain('needs --file');
    expect((await cli(['send-test-webhook', CUSTOMER, '--file', '/nonexistent/body.json'])).stderr).toContain(
      'cannot be read (ENOENT)',
    );
    expect((await cli(['sim', 'gifts', 'nobody-co'])).stderr).toContain('customer_not_found');
    for (const args of [
      ['send-test-webhook', CUSTOMER],
      ['sim', 'gifts', CUSTOMER],
      ['sim', 'key', 'create', '1'],
    ]) {
      const refused = await cliInProcess([...args, '--aws', '--stack-name', 'VirtuousIntegration-staging']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('works against the local runtime only (not with --aws)');
    }
  });

  it('printed no key, secret or donor data, and no answer of the runtime carried one', () => {
    expect(findLeaks(printed.join('\n'))).toEqual([]);
    // The product's own endpoints (the key route answers the key once, by design, into the CLI's pipe).
    const answers = recorder.answers.filter(
      (answer) =>
        (answer.url.startsWith(runtime.endpoints.lifecycle) || answer.url.startsWith(runtime.endpoints.webhooks)) &&
        !answer.url.endsWith('/keys'),
    );
    expect(answers.length).toBeGreaterThan(10);
    expect(findLeaks(answers.map((answer) => answer.body).join('\n'))).toEqual([]);
  });
});

// The README's short tour, run as written: every line of its `<!-- tour -->` block through `sh -c`, with npm and
// the CLI as child processes, against `npm start` (infra/local/main.ts, in memory, free ports: the CLI is told where
// by LOCAL_LIFECYCLE_URL, as `npm start` prints). Each line must exit 0 and say what the README says it does; no
// line may print an API key or a secret.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findLeaks, registerSecret } from '../support/canaries.ts';
import { PROJECT_ROOT, type RuntimeProcess, startRuntimeProcess } from './support.ts';

/** The command lines of the README's tour block (comments and blank lines dropped). */
function tourCommands(readme: string): string[] {
  const block = /<!-- tour -->\n```sh\n([\s\S]*?)```\n<!-- \/tour -->/.exec(readme)?.[1];
  if (block === undefined) throw new Error('README.md has no <!-- tour --> sh block');
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#\s.*$/, '').trim())
    .filter((line) => line !== '');
}

function shell(command: string, env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { cwd: PROJECT_ROOT, env });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

describe("README.md's short tour, as written", () => {
  let runtime: RuntimeProcess | undefined;
  const results: Array<{ command: string; code: number; output: string }> = [];
  const commands = tourCommands(readFileSync(`${PROJECT_ROOT}README.md`, 'utf8'));
  const stripeSecret = /echo (whsec_\S+) \|/.exec(commands.join('\n'))?.[1];
  if (stripeSecret !== undefined) registerSecret(stripeSecret);

  beforeAll(async () => {
    runtime = await startRuntimeProcess(['--in-memory', '--free-ports'], 30_000);
    // What `npm start` prints for the CLI when it is not on the default port.
    const lifecycleUrl = /LOCAL_LIFECYCLE_URL=(http:\/\/127\.0\.0\.1:\d+) npm run cli/.exec(runtime.output)?.[1];
    expect(lifecycleUrl).toBeDefined();
    const env = { ...process.env, LOCAL_LIFECYCLE_URL: lifecycleUrl };
    // One after the other, as typed (send-test-webhook answers once its delivery is processed).
    for (const command of commands) results.push({ command, ...(await shell(command, env)) });
  }, 240_000);

  afterAll(async () => {
    const child = runtime?.child;
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      await exited;
    }
  });

  const outputOf = (pattern: RegExp, occurrence = 0): string => {
    const found = results.filter((result) => pattern.test(result.command))[occurrence];
    if (found === undefined) throw new Error(`the tour has no command matching ${pattern}`);
    return found.output;
  };

  it('every line exits 0', () => {
    expect(results.length).toBeGreaterThanOrEqual(8);
    expect(results.filter((result) => result.code !== 0).map(({ command, code }) => ({ command, code }))).toEqual([]);
  });

  it('creates organization 1, whose new key goes straight into onboarding', () => {
    expect(outputOf(/sim org create/)).toContain('simulated Virtuous organization 1 (Acme Charity) created');
    expect(outputOf(/sim key create 1 \| npm run cli -- onboard acme/)).toContain('onboarding succeeded');
    expect(outputOf(/cli -- status/)).toMatch(/^acme\s+active/m);
  });

  it('sends signed test deliveries that the webhook endpoint accepts', () => {
    for (const [pattern, provider] of [
      [/send-test-webhook acme$/, 'virtuous'],
      [/stripe-customer-created/, 'stripe'],
      [/stripe-payment-succeeded/, 'stripe'],
    ] as const) {
      expect(outputOf(pattern)).toMatch(
        new RegExp(`signed ${provider} test delivery to acme: 202 accepted \\(request \\S+\\), processed`),
      );
    }
  });

  it('shows the gift held in Virtuous, then created by the nightly batch with its webhook delivered', () => {
    expect(outputOf(/sim gifts acme/, 0)).toMatch(/^Stripe\/pi_example\s+1\s+held\s+-\s+25 USD$/m);
    expect(outputOf(/sim nightly-batch/)).toMatch(/organization 1: 1 gift\(s\) and 1 contact\(s\) created/);
    const after = outputOf(/sim gifts acme/, 1);
    expect(after).toMatch(/^Stripe\/pi_example\s+1\s+created\s+\d+\s+25 USD$/m);
    expect(after).toContain('webhook deliveries sent: 2 delivered, 0 failed');
  });

  it("connects a Stripe account's refresh token piped from the Stripe stand-in, which starts the history load", () => {
    const connected = outputOf(/sim stripe connect \| npm run cli -- connect-stripe acme --refresh-token/);
    expect(connected).toContain('Stripe Connect refresh token of acme validated with Stripe and stored');
    expect(connected).toContain('the Stripe history load started');
  });

  it('offboards acme', () => {
    expect(outputOf(/offboard acme --yes/)).toContain('offboarding succeeded');
  });

  it('printed no API key or secret', () => {
    const printed = results.map((result) => result.output).join('\n');
    expect(printed).not.toMatch(/vsim_/);
    // Nor a Stripe stand-in refresh or access token (they went through the pipe only).
    expect(printed).not.toMatch(/rt_sim_|sk_test_sim_/);
    expect(findLeaks(printed)).toEqual([]);
  });
});

// `npm start` and the CLI as the user runs them: the runtime as a child process (in memory, free ports), the CLI as
// separate child processes talking to it over HTTP. Exit codes, plain progress lines without a terminal, a key read
// from stdin, a clean stop on SIGINT, and no donor data or key in anything either process printed or any answer.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DONOR, findLeaks, registerSecret } from '../support/canaries.ts';
import { LOCAL_MAIN, PROJECT_ROOT, type RuntimeProcess, startRuntimeProcess } from './support.ts';

const CLI = fileURLToPath(new URL('../../infra/local/cli/main.ts', import.meta.url));
const CUSTOMER = 'cli-co';

const captured: string[] = [];

function runCli(args: readonly string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      captured.push(stdout, stderr);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

describe('npm start and the CLI as child processes', () => {
  let runtime: RuntimeProcess;
  let lifecycleUrl: string;
  let webhooksUrl: string;
  let virtuousUrl: string;
  let organizationId: number;
  let apiKey: string;
  const answers: string[] = [];

  const control = async (path: string, body: unknown = {}) => {
    const response = await fetch(`${virtuousUrl}/_control${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return (await response.json()) as Record<string, unknown>;
  };

  beforeAll(async () => {
    runtime = await startRuntimeProcess(['--in-memory', '--free-ports', '--time-scale', '60'], 20_000);
    lifecycleUrl = /lifecycle API\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(runtime.output)?.[1] as string;
    webhooksUrl = /webhook endpoint\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(runtime.output)?.[1] as string;
    virtuousUrl = /Virtuous\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(runtime.output)?.[1] as string;
    const org = await control('/organizations', { name: 'CLI Org' });
    organizationId = org.organizationId as number;
    apiKey = registerSecret(org.apiKey as string);
    const onboarded = await runCli(
      ['onboard', CUSTOMER, '--url', lifecycleUrl, '--timeout', '60'],
      org.apiKey as string,
    );
    expect(onboarded.stderr).toBe('');
    expect(onboarded.code).toBe(0);
  }, 60_000);

  afterAll(() => {
    if (runtime.child.exitCode === null) runtime.child.kill('SIGKILL');
  });

  it('prints what runs where', () => {
    expect(lifecycleUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(webhooksUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(runtime.output).toMatch(/DynamoDB\s+http:\/\/127\.0\.0\.1:\d+ \(dynalite\)/);
    expect(runtime.output).toMatch(/SQS\s+http:\/\/127\.0\.0\.1:\d+ \(local-aws-sqs/);
    expect(runtime.output).toMatch(/Virtuous simulator/);
    // On a port other than the CLI's default, the hint tells the CLI where the lifecycle API is.
    expect(runtime.output).toContain(`Try: LOCAL_LIFECYCLE_URL=${lifecycleUrl} npm run cli -- status`);
  });

  it('shows the customer active in status', async () => {
    const result = await runCli(['status', '--url', lifecycleUrl]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`${CUSTOMER}\\s+active`));
  });

  it('takes signed Virtuous deliveries full of donor data through the verifier and the processor', async () => {
    // A contact enters Virtuous (as another integration of the customer would add one); the nightly batch then
    // delivers a signed ContactCreate, with the donor's name, email, phone and address, to this runtime.
    const submitted = await fetch(`${virtuousUrl}/api/Contact/Transaction`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({
        referenceSource: 'Stripe',
        referenceId: 'cus_cli_1',
        firstName: DONOR.firstName,
        lastName: DONOR.lastName,
        email: DONOR.email,
        phone: DONOR.phone,
        address1: DONOR.address1,
        city: DONOR.city,
        postal: DONOR.postal,
      }),
    });
    expect(submitted.status).toBe(200);
    const batch = await control('/nightly-batch', { organizationId });
    expect(JSON.stringify(batch)).toMatch(/"delivered":[1-9]/);
    const state = await fetch(`${virtuousUrl}/_control/organizations/${organizationId}/state`);
    const deliveries = (
      (await state.json()) as { deliveries: Array<{ event: string; outcome: string; statuses: number[] }> }
    ).deliveries;
    const contactCreate = deliveries.filter((delivery) => delivery.event === 'ContactCreate');
    expect(contactCreate.length).toBeGreaterThan(0);
    expect(
      contactCreate.every((delivery) => delivery.outcome === 'delivered' && delivery.statuses.at(-1) === 202),
    ).toBe(true);
  });

  it('refuses bad input with exit code 2 and never takes a token as an argument', async () => {
    const results = await Promise.all([
      runCli(['onboard', 'Not_A_Valid_Id!', '--url', lifecycleUrl]),
      runCli(['offboard', CUSTOMER, '--url', lifecycleUrl]),
      runCli(['onboard', CUSTOMER, '--token', 'abcdefghijklmnopqrstuvwxyz', '--url', lifecycleUrl]),
      runCli(['frobnicate']),
    ]);
    expect(results.map((result) => result.code)).toEqual([2, 2, 2, 2]);
    expect(results[2]?.stderr).toMatch(/never from arguments/);
  });

  it('runs an incident response end to end: the new key comes from stdin while the nested rotation waits', async () => {
    const newKey = (await control(`/organizations/${organizationId}/keys`)).apiKey as string;
    registerSecret(newKey);
    const result = await runCli(['incident', CUSTOMER, '--url', lifecycleUrl, '--timeout', '60'], newKey);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/new key handed over/);
    // The report comes first, while the rotation waits; the key is read after it, the rotation's outcome follows.
    const reportAt = result.stdout.indexOf('incident report incident-');
    expect(reportAt).toBeGreaterThanOrEqual(0);
    expect(reportAt).toBeLessThan(result.stdout.indexOf('new key handed over'));
    expect(result.stdout).toMatch(/token rotation {5}in progress/);
    expect(result.stdout).toMatch(/secrets manager {4}local secret store records \(no CloudTrail here\): \S+ to \S+/);
    expect(result.stdout).toMatch(/incident report incident-\S+ updated: token rotated at \S+; indicators none/);
    expect(result.stdout).toMatch(/incident-response succeeded/);
    // Without a terminal, progress is plain lines: one per step start and end, no control characters.
    expect(result.stdout).toMatch(/^… \w+ started$/m);
    expect(result.stdout).toMatch(/^✔ \w+ \(\d+\.\ds\)$/m);
    expect(result.stdout.includes('\u001b[')).toBe(false);
    expect(result.code).toBe(0);
  }, 60_000);

  it('answers forged webhooks and bad lifecycle requests without echoing what was sent', async () => {
    const body = JSON.stringify({ event: 'ContactCreate', contact: { ...DONOR } });
    const forged = await fetch(`${webhooksUrl}/webhooks/virtuous/${CUSTOMER}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-virtuous-signature': Buffer.from(DONOR.email).toString('base64'),
      },
      body,
    });
    answers.push(await forged.text());
    expect(forged.status).toBe(401);
    const badKey = await fetch(`${lifecycleUrl}/lifecycle/customers/other-co/api-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: `${DONOR.email}-not-a-key` }),
    });
    answers.push(await badKey.text());
    expect(badKey.status).toBe(422);
  });

  it('lists dead letters and egress IPs', async () => {
    const [letters, egress] = await Promise.all([
      runCli(['dead-letters', 'list', '--url', lifecycleUrl]),
      runCli(['egress-ips', '--url', lifecycleUrl]),
    ]);
    expect(letters.code).toBe(0);
    expect(letters.stdout).toMatch(/no dead letters/);
    expect(egress.code).toBe(0);
    expect(egress.stdout).toMatch(/local runtime/);
  });

  it('runs the scheduled jobs on demand', async () => {
    const [reconciliation, reminders] = await Promise.all([
      runCli(['run-job', 'reconciliation', '--url', lifecycleUrl]),
      runCli(['run-job', 'rotation-reminders', '--url', lifecycleUrl]),
    ]);
    expect(reconciliation.code).toBe(0);
    expect(reconciliation.stdout).toMatch(/"customers":1,"failed":0/);
    expect(reminders.code).toBe(0);
    // The token was rotated minutes ago by the incident response: nothing is due.
    expect(reminders.stdout).toMatch(/"checked":1,"due":0,"started":0,"failed":0/);
  });

  it('offboards and prints the deletion record', async () => {
    const result = await runCli(['offboard', CUSTOMER, '--yes', '--url', lifecycleUrl, '--timeout', '60']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/"customerRecord": "reduced_to_offboarded_marker"/);
    const status = await runCli(['status', CUSTOMER, '--url', lifecycleUrl]);
    expect(status.stdout).toMatch(new RegExp(`${CUSTOMER}\\s+offboarded`));
  }, 60_000);

  it('stops cleanly on SIGINT with exit code 0', async () => {
    const exited = new Promise<number | null>((resolve) => runtime.child.on('exit', (code) => resolve(code)));
    runtime.child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(runtime.output).toMatch(/SIGINT: stopping/);
    expect(runtime.output).toMatch(/\nstopped\n/);
    const afterStop = await runCli(['status', '--url', lifecycleUrl]);
    expect(afterStop.code).toBe(1);
    expect(afterStop.stderr).toMatch(/cannot reach the local runtime at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED/);
  });

  it('refuses a bad setting with exit code 2 and names it', async () => {
    const start = (args: string[], env: Record<string, string>) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', LOCAL_MAIN, '--in-memory', ...args], {
          cwd: PROJECT_ROOT,
          env: { ...process.env, ...env },
        });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString('utf8');
        });
        child.on('close', (code) => resolve({ code, stderr }));
      });
    const [port, url] = await Promise.all([
      start(['--webhooks-port', '99999'], {}),
      start(['--free-ports'], { VIRTUOUS_BASE_URL: 'http://virtuous.example' }),
    ]);
    expect(port).toEqual({ code: 2, stderr: expect.stringContaining('--webhooks-port (LOCAL_WEBHOOKS_PORT)') });
    expect(url).toEqual({ code: 2, stderr: expect.stringContaining('VIRTUOUS_BASE_URL) must use https://') });
  });

  it('printed no donor data and no key anywhere (both processes, every answer)', () => {
    captured.push(runtime.output);
    expect(findLeaks(captured.join('\n')).length).toBe(0);
    expect(findLeaks(answers.join('\n')).length).toBe(0);
    expect(answers.length).toBe(2);
  });
});

/**
 * Helpers for the end-to-end tests: the CLI run in-process with a piped stdin, a recorder of every HTTP answer the
 * product's own endpoints give, a slow loopback proxy in front of the simulator (to hold a backlog on the queue), and
 * a deployed stack as the CLI's `--aws` target sees it (mocked CloudFormation outputs, a loopback lifecycle API), and
 * a local runtime in front of the Virtuous simulator for a describe block.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { type CloudFormationClient, DescribeStacksCommand, type StackStatus } from '@aws-sdk/client-cloudformation';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, expect } from 'vitest';
import type { SecretStore } from '../../functions/credentials/secret-store.ts';
import { runCli } from '../../infra/local/cli/main.ts';
import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.ts';
import { readSettings } from '../../infra/local/settings.ts';
import { customerCreatedEvent, paymentSucceededEvent, sendStripeEvent } from '../../infra/local/stripe-events.ts';
import { startVirtuousSimulator, type VirtuousSimulator } from '../../infra/local/virtuous-simulator/server.ts';
import type { VirtuousSimulatorState } from '../../infra/local/virtuous-simulator/simulator.ts';
import { DONOR, registerSecret } from '../support/canaries.ts';

/** The project's folder, where `npm start` and the CLI run. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** What `npm start` runs. */
export const LOCAL_MAIN = fileURLToPath(new URL('../../infra/local/main.ts', import.meta.url));

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    callback();
  }
}

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function cliInProcess(args: readonly string[], stdin = ''): Promise<CliRun> {
  const stdout = new Collect();
  const stderr = new Collect();
  const input = Readable.from(stdin === '' ? [] : [Buffer.from(stdin)]);
  let code: number;
  try {
    code = await runCli(args, {
      stdin: input as unknown as NodeJS.ReadStream,
      stdout: stdout as unknown as NodeJS.WriteStream,
      stderr: stderr as unknown as NodeJS.WriteStream,
      env: {},
    });
  } catch (error) {
    stderr.text += `error: ${(error as Error).message}\n`;
    code = (error as { exitCode?: number }).exitCode ?? 1;
  }
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/**
 * Records the body of every answer fetched in this process, by URL, so a test can scan the answers of the product's
 * endpoints (webhooks, lifecycle API, operator routes) for donor data.
 */
export interface RecordedExchange {
  readonly url: string;
  /** The request body when it was a string. */
  readonly sent: string;
  readonly body: string;
}

export function recordHttpAnswers(): { answers: RecordedExchange[]; restore(): void } {
  const original = globalThis.fetch;
  const answers: RecordedExchange[] = [];
  globalThis.fetch = async (input, init) => {
    const response = await original(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.toString() : input.url;
    const body = await response.clone().text();
    answers.push({ url, sent: typeof init?.body === 'string' ? init.body : '', body });
    return response;
  };
  return {
    answers,
    restore: () => {
      globalThis.fetch = original;
    },
  };
}

/** A loopback proxy that forwards every request after `delayMs`, so the processor works slowly enough to stop mid-backlog. */
export async function startSlowProxy(
  targetBaseUrl: string,
  delayMs: number,
): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(targetBaseUrl);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      setTimeout(() => {
        const upstream = httpRequest(
          {
            hostname: target.hostname,
            port: target.port,
            path: req.url,
            method: req.method,
            headers: req.headers,
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        upstream.on('error', () => {
          res.writeHead(502);
          res.end();
        });
        upstream.end(Buffer.concat(chunks));
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Onboards a customer through the CLI against the runtime, then configures its Stripe endpoint secret. */
export async function onboardWithStripe(
  runtime: LocalRuntime,
  customerId: string,
  apiKey: string,
  stripeSecret: string,
): Promise<void> {
  registerSecret(apiKey);
  const onboarded = await cliInProcess(
    ['onboard', customerId, '--url', runtime.endpoints.lifecycle, '--timeout', '30'],
    apiKey,
  );
  expect(onboarded.code).toBe(0);
  await configureStripeSecret(runtime.components.secrets, customerId, stripeSecret);
}

/** Stores a customer's Stripe endpoint secret as current, as an operator configuring the source would. */
export async function configureStripeSecret(secrets: SecretStore, customerId: string, secret: string): Promise<void> {
  const ref = { customerId, kind: 'source_webhook_secret', source: 'stripe' } as const;
  await secrets.putPending(ref, secret, { reason: 'test:configure-stripe' });
  await secrets.promotePending(ref, { reason: 'test:configure-stripe' });
}

/** Sends a signed Stripe `payment_intent.succeeded` (one gift of the canary donor, created now) to the runtime. */
export function sendStripeGift(
  runtime: LocalRuntime,
  gift: { customerId: string; secret: string; paymentIntentId: string; stripeCustomerId: string; amountCents: number },
) {
  return sendStripeEvent({
    webhooksUrl: runtime.endpoints.webhooks,
    customerId: gift.customerId,
    secret: gift.secret,
    event: paymentSucceededEvent({
      eventId: `evt_${gift.paymentIntentId}`,
      paymentIntentId: gift.paymentIntentId,
      customerId: gift.stripeCustomerId,
      donor: DONOR,
      amountCents: gift.amountCents,
      created: Math.floor(Date.now() / 1000),
    }),
  });
}

/** The signature the `--aws` target puts on every lifecycle API call: SigV4 for execute-api with the test credentials. */
export const EXECUTE_API_SIGNATURE =
  /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/execute-api\/aws4_request/;

/** The lifecycle API was called, and every call was signed as the `--aws` target signs. */
export function expectAllSigned(calls: readonly { headers: IncomingHttpHeaders }[]): void {
  expect(calls.length).toBeGreaterThan(0);
  for (const call of calls) expect(call.headers.authorization).toMatch(EXECUTE_API_SIGNATURE);
}

/**
 * Puts the credentials the `--aws` target signs with into the environment (the AWS APIs themselves are mocked, so
 * nothing reaches AWS); returns what puts the environment back.
 */
export function useSigningCredentials(): () => void {
  const saved = { ...process.env };
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'example-secret-for-signing-only',
    AWS_REGION: 'us-east-1',
  });
  return () => {
    process.env = saved;
  };
}

/** What the mocked CloudFormation answers for the stack: these outputs, in this order. */
export function describeStack(
  cloudFormation: AwsClientStub<CloudFormationClient>,
  stackName: string,
  outputs: Record<string, string>,
  status: StackStatus = 'UPDATE_COMPLETE',
): void {
  cloudFormation.on(DescribeStacksCommand, { StackName: stackName }).resolves({
    Stacks: [
      {
        StackName: stackName,
        CreationTime: new Date(),
        StackStatus: status,
        Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  });
}

export interface LifecycleApiCall {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface DeployedLifecycleApi {
  /** The stack's `LifecycleApiUrl` output: the API's stage and resource, `/prod/lifecycle`. */
  readonly url: string;
  /** Every request, in order, with its headers (the signature) and body. */
  readonly received: LifecycleApiCall[];
  close(): Promise<void>;
}

/**
 * A loopback stand-in for a deployed stack's lifecycle API: `route` answers each request by method and path below
 * `/prod/lifecycle` (anything else is a 404), and every request is recorded so a test can check what was signed and sent.
 */
export async function startDeployedLifecycleApi(
  route: (method: string, path: string) => readonly [number, unknown],
): Promise<DeployedLifecycleApi> {
  const received: LifecycleApiCall[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    request.on('end', () => {
      const method = request.method ?? '';
      const path = request.url ?? '';
      received.push({ method, path, headers: request.headers, body });
      const [status, answer] = path.startsWith('/prod/lifecycle/')
        ? route(method, path.slice('/prod/lifecycle'.length))
        : [404, { error: 'NOT_FOUND' }];
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod/lifecycle`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Sends a signed Stripe `customer.created` (the canary donor, created now) to the webhooks endpoint given. */
export function sendStripeDonor(
  webhooksUrl: string,
  donor: { customerId: string; secret: string; eventId: string; stripeCustomerId: string },
) {
  return sendStripeEvent({
    webhooksUrl,
    customerId: donor.customerId,
    secret: donor.secret,
    event: customerCreatedEvent({
      eventId: donor.eventId,
      customerId: donor.stripeCustomerId,
      donor: DONOR,
      created: Math.floor(Date.now() / 1000),
    }),
  });
}

/** The simulator a runtime started itself (`npm start` without `--virtuous-url`); a test fails without one. */
export function simulatorOf(runtime: LocalRuntime | undefined): VirtuousSimulatorState {
  const control = runtime?.simulator?.control;
  if (!control) throw new Error('the runtime has no simulator');
  return control;
}

export interface RuntimeProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** Everything the process printed so far, stdout and stderr as they came. */
  readonly output: string;
}

/**
 * `npm start` as the user runs it: infra/local/main.ts as a child process with these arguments. Resolves once it
 * prints its stop hint (`Stop: Ctrl-C`), or when `readyWithinMs` have passed (the test's own checks of the output then
 * say what is missing).
 */
export async function startRuntimeProcess(args: readonly string[], readyWithinMs: number): Promise<RuntimeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', LOCAL_MAIN, ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  const deadline = Date.now() + readyWithinMs;
  while (!/Stop: Ctrl-C/.test(output) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    child,
    get output() {
      return output;
    },
  };
}

export interface SimulatedRuntime {
  readonly simulator: VirtuousSimulator;
  readonly runtime: LocalRuntime;
  /** The runtime's data folder (only with the `dataDir` option). */
  readonly dataDir: string;
  /** Every CLI run made through `cli`, in order. */
  readonly runs: CliRun[];
  /** The CLI against this runtime's lifecycle API; the run is kept in `runs`. */
  cli(args: readonly string[], stdin?: string): Promise<CliRun>;
  /** What every CLI run printed (stdout and stderr), for a scan for secrets and donor data. */
  cliOutput(): string;
}

/**
 * A Virtuous simulator and a local runtime in front of it (polling the queue every second) for the calling describe
 * block: started before the block's own `beforeAll` hooks, stopped after its tests. With `dataDir` the runtime keeps
 * its state on disk, in a new temporary folder with that name prefix (removed afterwards); otherwise in memory.
 */
export function useSimulatedRuntime(options: { dataDir?: string; timeScale?: number } = {}): SimulatedRuntime {
  let simulator: VirtuousSimulator | undefined;
  let runtime: LocalRuntime | undefined;
  let dataDir: string | undefined;
  const runs: CliRun[] = [];
  beforeAll(async () => {
    if (options.dataDir !== undefined) dataDir = await mkdtemp(join(tmpdir(), options.dataDir));
    simulator = await startVirtuousSimulator();
    const storage = dataDir === undefined ? ['--in-memory'] : ['--data-dir', dataDir];
    runtime = await startLocalRuntime(readSettings([...storage, '--free-ports', '--poll-wait-seconds', '1'], {}), {
      simulator,
      timeScale: options.timeScale,
    });
  }, 30_000);
  afterAll(async () => {
    await runtime?.stop();
    await simulator?.close();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the simulated runtime is used before its beforeAll hook started it');
    return value;
  };
  return {
    get simulator() {
      return started(simulator);
    },
    get runtime() {
      return started(runtime);
    },
    get dataDir() {
      return started(dataDir);
    },
    runs,
    async cli(args, stdin = '') {
      const run = await cliInProcess([...args, '--url', started(runtime).endpoints.lifecycle], stdin);
      runs.push(run);
      return run;
    },
    cliOutput: () => runs.map((run) => `${run.stdout}\n${run.stderr}`).join('\n'),
  };
}

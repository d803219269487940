/**
 * The lifecycle CLI: `npm run cli -- <command> [options]`. Targets the local runtime by default, or a deployed stack
 * with `--aws --stack-name <name>`. Shows each workflow step as it starts and ends; the exit code says how the
 * execution ended: 0 succeeded, 1 failed, 2 usage or bad input, 3 timed out or aborted.
 *
 * Tokens are read from a no-echo prompt or from stdin, never from arguments.
 */
import { AwsTarget } from './aws-target.ts';
import { CliError, EXIT, type ExitCode, usage } from './errors.ts';
import { formatIncidentReport, formatRotation, reportOfExecution } from './incident-report.ts';
import { localOnly, sendTestWebhookCommand, simCommand } from './local-commands.ts';
import { LocalTarget } from './local-target.ts';
import { ProgressPrinter } from './progress.ts';
import { readSecretInput } from './secret-input.ts';
import type { ExecutionView, Target } from './target.ts';

export const DEFAULT_LIFECYCLE_URL = 'http://127.0.0.1:4511';

const HELP = `Usage: npm run cli -- <command> [arguments] [options]

Commands
  onboard <customerId> [--sensitivity high|standard]
                                 read the customer's Virtuous API key (hidden prompt or stdin), start onboarding
  rotate-token <customerId> [--later]
                                 start an API-token rotation; then read the new key (prompt or stdin) and hand it
                                 over (--later: start only; hand it over later with submit-token)
  submit-token <customerId>      hand the new key (prompt or stdin) to a rotation waiting for it
  connect-stripe <customerId> --webhook-secret | --refresh-token
                                 read the customer's Stripe webhook signing secret (whsec_…) or Stripe Connect
                                 refresh token (hidden prompt or stdin), validate it, store it; a refresh token
                                 connected after onboarding starts the Stripe history load once
  rotate-webhook-secret <customerId>
  offboard <customerId> --yes    delete everything of the customer and print the deletion record
  incident <customerId>          suspected compromise: rotate at once and, alongside, investigate (recent writes,
                                 secret-access audit, CloudTrail); prints the report as soon as it is sent, then
                                 reads the new key (prompt or stdin) and prints the rotation's outcome
  pause <customerId> [--reason <code>]
                                 pause the customer's sync by hand: its messages are held until resume
  resume <customerId>            check the stored Virtuous key, set the customer active, release held messages now
  debug-capture <customerId> --minutes <n> | --off
                                 store the customer's raw webhook deliveries for n minutes (1-1440; operators are
                                 alerted) for an investigation, or stop now
  status [customerId]            customers and their state
  dead-letters list [--customer <id>] | replay <customerId> <deadLetterId> | discard <customerId> <deadLetterId>
                                 replay --checked: an in-doubt refund you looked for in Virtuous and did not find
  egress-ips                     the addresses customers allowlist
  send-test-webhook <customerId> [--file <body.json>] [--source virtuous|stripe]
                                 local runtime: it signs the body (default: a Virtuous GiftCreate that changes
                                 nothing) with the customer's stored secret and posts it to its webhook endpoint
  sim org create [--name <name>] | sim org list
                                 the Virtuous simulator of the local runtime: its organizations
  sim key create <organizationId>
                                 a new API key, written only into a pipe:
                                 npm run cli -- sim key create 1 | npm run cli -- onboard acme
  sim gifts <customerId>         what reached the simulated Virtuous for the customer (no donor data)
  sim nightly-batch              run the simulator's nightly batch now (creates held records, sends webhooks)
  sim stripe connect             a new account of the Stripe stand-in (seeded payments) and its Connect refresh
                                 token, written only into a pipe:
                                 npm run cli -- sim stripe connect | npm run cli -- connect-stripe acme --refresh-token
  sim stripe accounts | sim stripe revoke <accountId>
                                 the stand-in's connected accounts; revoke one's grant (the account deauthorizes)
  drill-sandbox-key              read the Virtuous sandbox organization's key (hidden prompt or stdin) and store it
                                 for the deletion drill (checked against Virtuous first)
  run-job reconciliation|rotation-reminders|deletion-drill
                                 run a scheduled job now (local runtime; the drill onboards and offboards a
                                 synthetic customer and checks nothing is left)

Options
  --url <url>                    local lifecycle API (default ${DEFAULT_LIFECYCLE_URL}, env LOCAL_LIFECYCLE_URL)
  --aws --stack-name <name>      target a deployed stack instead (AWS credentials from the usual chain)
  --region <region>              AWS region of the stack
  --timeout <seconds>            how long to follow an execution (default 900)
  --no-wait                      start the workflow and print its id without following it

Exit codes: 0 succeeded, 1 failed, 2 usage or bad input, 3 timed out or aborted.`;

interface Parsed {
  readonly command: string | undefined;
  readonly positional: string[];
  readonly options: Map<string, string | true>;
}

const VALUE_OPTIONS = new Set([
  '--url',
  '--stack-name',
  '--region',
  '--timeout',
  '--sensitivity',
  '--customer',
  '--reason',
  '--minutes',
  '--file',
  '--source',
  '--name',
]);
const FLAG_OPTIONS = new Set([
  '--aws',
  '--no-wait',
  '--yes',
  '--later',
  '--off',
  '--checked',
  '--webhook-secret',
  '--refresh-token',
  '--help',
  '-h',
]);
/** Options that would carry a secret: refused outright, so a token never lands in shell history by habit. */
const REFUSED_OPTIONS = new Set(['--token', '--api-key', '--key', '--secret']);

export function parseArguments(argv: readonly string[]): Parsed {
  const positional: string[] = [];
  const options = new Map<string, string | true>();
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index] as string;
    if (!arg.startsWith('-')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg];
    if (REFUSED_OPTIONS.has(name as string)) {
      throw usage(`${name} is not accepted: tokens are read from a hidden prompt or stdin, never from arguments`);
    }
    if (FLAG_OPTIONS.has(name as string)) {
      // `--refresh-token=rt_…` would put the secret into shell history: a flag takes no value.
      if (inline !== undefined) throw usage(`${name} takes no value (secrets are read from a hidden prompt or stdin)`);
      options.set(name as string, true);
    } else if (VALUE_OPTIONS.has(name as string)) {
      const value = inline ?? argv[index + 1];
      if (value === undefined || (inline === undefined && value.startsWith('--'))) throw usage(`${name} needs a value`);
      options.set(name as string, value);
      if (inline === undefined) index += 1;
    } else {
      throw usage(`unknown option ${String(name).slice(0, 40)}`);
    }
  }
  const [command, ...rest] = positional;
  return { command, positional: rest, options };
}

const CUSTOMER_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

function customerArgument(parsed: Parsed, index = 0): string {
  const value = parsed.positional[index];
  if (value === undefined) throw usage(`${parsed.command} needs a customer id`);
  if (!CUSTOMER_ID.test(value)) {
    throw usage('customer id must be 1-64 lowercase letters, digits, "_" or "-", starting with a letter or digit');
  }
  return value;
}

function stringOption(parsed: Parsed, name: string): string | undefined {
  const value = parsed.options.get(name);
  return typeof value === 'string' ? value : undefined;
}

export interface CliIo {
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly env: NodeJS.ProcessEnv;
}

function targetFor(parsed: Parsed, env: NodeJS.ProcessEnv): Target {
  if (parsed.options.has('--aws')) {
    const stackName = stringOption(parsed, '--stack-name');
    if (!stackName) throw usage('--aws needs --stack-name <name>');
    return new AwsTarget(stackName, stringOption(parsed, '--region'));
  }
  if (parsed.options.has('--stack-name')) throw usage('--stack-name needs --aws');
  // An empty or blank LOCAL_LIFECYCLE_URL (e.g. `export LOCAL_LIFECYCLE_URL=` left in a shell) means "not set".
  const fromEnv = env.LOCAL_LIFECYCLE_URL?.trim() || undefined;
  const fromOption = stringOption(parsed, '--url');
  const source = fromOption !== undefined ? '--url' : 'LOCAL_LIFECYCLE_URL';
  const url = fromOption ?? fromEnv ?? DEFAULT_LIFECYCLE_URL;
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    throw usage(`${source} must be an absolute URL such as ${DEFAULT_LIFECYCLE_URL}`);
  }
  if (parsedUrl.protocol !== 'http:' && parsedUrl.protocol !== 'https:') throw usage(`${source} must be http(s)`);
  return new LocalTarget(url.replace(/\/+$/, ''));
}

function exitCodeOf(execution: ExecutionView): ExitCode {
  switch (execution.status) {
    case 'SUCCEEDED':
      return EXIT.succeeded;
    case 'FAILED':
      return EXIT.failed;
    default:
      return EXIT.timedOut;
  }
}

interface FollowOptions {
  readonly timeoutMs: number;
  readonly pollMs: number;
  /** Called on every poll while running; may act (e.g. hand over a token) and return a note to print once. */
  readonly onPoll?: (execution: ExecutionView) => Promise<string | undefined>;
}

async function follow(target: Target, executionId: string, io: CliIo, options: FollowOptions): Promise<ExecutionView> {
  const printer = new ProgressPrinter(io.stdout);
  const deadline = Date.now() + options.timeoutMs;
  try {
    for (;;) {
      const execution = await target.describe(executionId);
      printer.update(execution.steps);
      if (execution.status !== 'RUNNING') return execution;
      if (options.onPoll) {
        const note = await options.onPoll(execution);
        if (note) printer.note(note);
      }
      if (Date.now() > deadline) {
        throw new CliError(
          `still running after ${Math.round(options.timeoutMs / 1000)} s; follow it later (execution ${executionId})`,
          EXIT.timedOut,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, options.pollMs));
    }
  } finally {
    printer.finish();
  }
}

function printOutcome(io: CliIo, workflow: string, execution: ExecutionView): void {
  if (execution.status === 'SUCCEEDED') io.stdout.write(`${workflow} succeeded\n`);
  else io.stdout.write(`${workflow} ended ${execution.status}${execution.error ? ` (${execution.error})` : ''}\n`);
}

async function runWorkflowCommand(
  parsed: Parsed,
  target: Target,
  io: CliIo,
  workflow: string,
  start: () => Promise<{ executionId: string }>,
  onPoll?: FollowOptions['onPoll'],
): Promise<ExitCode> {
  const { executionId } = await start();
  io.stdout.write(`started ${workflow} on ${target.description}\nexecution ${executionId}\n`);
  if (parsed.options.has('--no-wait')) return EXIT.succeeded;
  const timeoutSeconds = Number(stringOption(parsed, '--timeout') ?? '900');
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 86_400) {
    throw usage('--timeout must be a whole number of seconds between 1 and 86400');
  }
  const execution = await follow(target, executionId, io, {
    timeoutMs: timeoutSeconds * 1000,
    pollMs: target instanceof AwsTarget ? 2_000 : 250,
    ...(onPoll === undefined ? {} : { onPoll }),
  });
  printOutcome(io, workflow, execution);
  return exitCodeOf(execution);
}

/**
 * The customer record says whether a rotation waits for the key (local runtime and deployed lifecycle API alike):
 * the waiting state may be in a nested execution (incident response), whose steps the parent's history never shows.
 */
async function awaitingToken(target: Target, customerId: string): Promise<boolean> {
  return (await target.customer(customerId))?.awaitingToken === true;
}

/** While the execution waits for the customer's new key, reads it (prompt or stdin) once and hands it over. */
function tokenHandover(target: Target, io: CliIo, customerId: string): NonNullable<FollowOptions['onPoll']> {
  let handedOver = false;
  return async () => {
    if (handedOver || !(await awaitingToken(target, customerId))) return undefined;
    handedOver = true;
    const token = await readToken(io, `new Virtuous API key of ${customerId}`);
    await target.submitRotationToken(customerId, token);
    return 'new key handed over';
  };
}

/**
 * Follows the incident, prints its report as soon as it is stored (the rotation still waits for the new key), then
 * reads the key like rotate-token; when the execution ends, prints the rotation's outcome the report was updated with.
 */
async function incident(parsed: Parsed, target: Target, io: CliIo, customerId: string): Promise<ExitCode> {
  let executionId: string | undefined;
  let printed = false;
  const handover = tokenHandover(target, io, customerId);
  const code = await runWorkflowCommand(
    parsed,
    target,
    io,
    'incident-response',
    async () => {
      const started = await target.startWorkflow(customerId, 'incident-response');
      executionId = started.executionId;
      return started;
    },
    async (execution) => {
      if (printed) return handover(execution);
      // The key is asked for only once the report is out: the report never waits for the key.
      const report = await reportOfExecution(target, customerId, execution.executionId);
      if (report === undefined) return undefined;
      printed = true;
      return formatIncidentReport(report).trimEnd();
    },
  );
  if (executionId === undefined || parsed.options.has('--no-wait')) return code;
  const report = await reportOfExecution(target, customerId, executionId);
  if (report === undefined) io.stdout.write('no incident report was stored; the operators were alerted\n');
  else if (!printed) io.stdout.write(formatIncidentReport(report));
  else {
    io.stdout.write(
      `incident report ${report.reportId} updated: token ${formatRotation(report.tokenRotation)}; indicators ${report.compromiseIndicators.join(', ') || 'none'}\n`,
    );
  }
  return code;
}

async function status(parsed: Parsed, target: Target, io: CliIo): Promise<ExitCode> {
  const customerId = parsed.positional[0] === undefined ? undefined : customerArgument(parsed);
  const customers = customerId
    ? [await target.customer(customerId)].filter((customer) => customer !== undefined)
    : await target.customers();
  if (customerId && customers.length === 0) throw usage(`no customer ${customerId}`);
  if (customers.length === 0) {
    io.stdout.write('no customers yet (onboard one with: npm run cli -- onboard <customerId>)\n');
    return EXIT.succeeded;
  }
  io.stdout.write(`${'CUSTOMER'.padEnd(28)} ${'STATUS'.padEnd(12)} ${'WORKFLOW'.padEnd(26)} REASON\n`);
  for (const customer of customers) {
    const running = customer.runningWorkflow ?? '-';
    const waiting = customer.awaitingToken ? ' (awaiting new token)' : '';
    io.stdout.write(
      `${customer.customerId.padEnd(28)} ${customer.status.padEnd(12)} ${`${running}${waiting}`.padEnd(26)} ${customer.statusReason ?? ''}\n`,
    );
  }
  return EXIT.succeeded;
}

async function deadLetters(parsed: Parsed, target: Target, io: CliIo): Promise<ExitCode> {
  const [action = 'list'] = parsed.positional;
  if (action === 'list') {
    const customer = stringOption(parsed, '--customer');
    if (customer !== undefined && !CUSTOMER_ID.test(customer)) throw usage('--customer must be a customer id');
    const letters = await target.deadLetters(customer);
    if (letters.length === 0) {
      io.stdout.write('no dead letters\n');
      return EXIT.succeeded;
    }
    for (const letter of letters) {
      io.stdout.write(
        `${letter.customerId} ${letter.deadLetterId} ${letter.operation} ${letter.errorCode} attempts=${letter.attempts} ${letter.resolution} ${letter.createdAt}\n`,
      );
    }
    return EXIT.succeeded;
  }
  if (action === 'replay' || action === 'discard') {
    const customerId = customerArgument(parsed, 1);
    const deadLetterId = parsed.positional[2];
    if (!deadLetterId) throw usage(`dead-letters ${action} needs <customerId> <deadLetterId>`);
    // --checked: the operator looked in Virtuous and found no reversal for an in-doubt refund.
    const checked = action === 'replay' && parsed.options.has('--checked');
    const result = await target.resolveDeadLetter(customerId, deadLetterId, action, checked ? { checked } : {});
    io.stdout.write(`${result.deadLetterId}: ${result.resolution}\n`);
    return EXIT.succeeded;
  }
  throw usage('dead-letters takes list, replay or discard');
}

const HISTORY_LOAD_NOTES: Readonly<Record<string, string>> = {
  started: 'the Stripe history load started',
  already_started: 'the Stripe history load had already been started',
  at_onboarding: 'onboarding starts the Stripe history load',
  not_started: 'the customer is paused: resume it, then connect the refresh token again to load the Stripe history',
  not_configured: 'this runtime starts no Stripe history load',
};

/** Reads one Stripe credential (prompt or stdin) and hands it to the lifecycle API, which validates and stores it. */
async function connectStripe(parsed: Parsed, target: Target, io: CliIo): Promise<ExitCode> {
  const customerId = customerArgument(parsed);
  const webhookSecret = parsed.options.has('--webhook-secret');
  if (webhookSecret === parsed.options.has('--refresh-token')) {
    throw usage('connect-stripe needs exactly one of --webhook-secret or --refresh-token');
  }
  const credential = webhookSecret ? 'webhook_secret' : 'refresh_token';
  const what = webhookSecret ? 'Stripe webhook signing secret' : 'Stripe Connect refresh token';
  const value = await readToken(io, `${what} of ${customerId}`);
  const connected = await target.connectSource({ customerId, source: 'stripe', credential, value });
  if (webhookSecret) {
    io.stdout.write(`${what} of ${customerId} stored: Stripe deliveries signed with it are accepted\n`);
  } else {
    const note = HISTORY_LOAD_NOTES[connected.historyLoad] ?? `history load: ${connected.historyLoad}`;
    io.stdout.write(`${what} of ${customerId} validated with Stripe and stored; ${note}\n`);
  }
  return EXIT.succeeded;
}

async function readToken(io: CliIo, what: string): Promise<string> {
  try {
    return await readSecretInput({ what, input: io.stdin, output: io.stderr });
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw usage((error as Error).message);
  }
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const parsed = parseArguments(argv);
  if (parsed.command === undefined || parsed.options.has('--help') || parsed.options.has('-h')) {
    io.stdout.write(`${HELP}\n`);
    return parsed.command === undefined && !parsed.options.has('--help') && !parsed.options.has('-h')
      ? EXIT.usage
      : EXIT.succeeded;
  }
  const target = targetFor(parsed, io.env);
  switch (parsed.command) {
    case 'onboard': {
      const customerId = customerArgument(parsed);
      const sensitivity = stringOption(parsed, '--sensitivity');
      if (sensitivity !== undefined && sensitivity !== 'high' && sensitivity !== 'standard') {
        throw usage('--sensitivity must be high or standard');
      }
      const token = await readToken(io, `Virtuous API key of ${customerId}`);
      return runWorkflowCommand(parsed, target, io, 'onboarding', () =>
        target.onboard(customerId, token, sensitivity === undefined ? {} : { sensitivity }),
      );
    }
    case 'rotate-token': {
      const customerId = customerArgument(parsed);
      if (parsed.options.has('--later')) {
        const { executionId } = await target.startWorkflow(customerId, 'token-rotation');
        io.stdout.write(
          `started token-rotation on ${target.description}\nexecution ${executionId}\nhand over the new key with: npm run cli -- submit-token ${customerId}\n`,
        );
        return EXIT.succeeded;
      }
      return runWorkflowCommand(
        parsed,
        target,
        io,
        'token-rotation',
        () => target.startWorkflow(customerId, 'token-rotation'),
        tokenHandover(target, io, customerId),
      );
    }
    case 'connect-stripe':
      return connectStripe(parsed, target, io);
    case 'submit-token': {
      const customerId = customerArgument(parsed);
      const token = await readToken(io, `new Virtuous API key of ${customerId}`);
      await target.submitRotationToken(customerId, token);
      io.stdout.write('new key handed over to the waiting rotation\n');
      return EXIT.succeeded;
    }
    case 'rotate-webhook-secret': {
      const customerId = customerArgument(parsed);
      return runWorkflowCommand(parsed, target, io, 'webhook-secret-rotation', () =>
        target.startWorkflow(customerId, 'webhook-secret-rotation'),
      );
    }
    case 'offboard': {
      const customerId = customerArgument(parsed);
      if (!parsed.options.has('--yes')) {
        throw usage(`offboarding deletes every secret and record of ${customerId}: repeat with --yes to confirm`);
      }
      const code = await runWorkflowCommand(parsed, target, io, 'offboarding', () =>
        target.startWorkflow(customerId, 'offboarding'),
      );
      if (code === EXIT.succeeded && !parsed.options.has('--no-wait')) {
        const records = await target.deletionRecords(customerId);
        const latest = records.at(-1);
        if (latest) io.stdout.write(`deletion record\n${JSON.stringify(latest, null, 2)}\n`);
      }
      return code;
    }
    case 'incident':
      return incident(parsed, target, io, customerArgument(parsed));
    case 'pause': {
      const customerId = customerArgument(parsed);
      const reason = stringOption(parsed, '--reason');
      if (reason !== undefined && !/^[a-z0-9_]{1,40}$/.test(reason)) {
        throw usage('--reason must be 1-40 lowercase letters, digits or "_"');
      }
      const paused = await target.pause(customerId, reason);
      io.stdout.write(`${customerId} ${paused.status} (${paused.statusReason}); its messages are held until resume\n`);
      return EXIT.succeeded;
    }
    case 'resume': {
      const customerId = customerArgument(parsed);
      const resumed = await target.resume(customerId);
      io.stdout.write(
        `${customerId} ${resumed.status}${resumed.alreadyActive ? ' (was already active)' : ''}; ${resumed.released} held message(s) released\n`,
      );
      return EXIT.succeeded;
    }
    case 'debug-capture': {
      const customerId = customerArgument(parsed);
      const minutesText = stringOption(parsed, '--minutes');
      const off = parsed.options.has('--off');
      if ((minutesText === undefined) === !off)
        throw usage('debug-capture needs exactly one of --minutes <n> or --off');
      let minutes: number | undefined;
      if (minutesText !== undefined) {
        minutes = Number(minutesText);
        if (!/^\d{1,4}$/.test(minutesText) || minutes < 1 || minutes > 1440) {
          throw usage('--minutes must be a whole number from 1 to 1440 (24 h)');
        }
      }
      const state = await target.debugCapture(customerId, minutes);
      io.stdout.write(
        state.debugCaptureUntil === null
          ? `${customerId} debug capture off${state.wasActive === false ? ' (was not active)' : ''}\n`
          : `${customerId} debug capture on until ${state.debugCaptureUntil}; operators were alerted\n`,
      );
      return EXIT.succeeded;
    }
    case 'status':
      return status(parsed, target, io);
    case 'dead-letters':
      return deadLetters(parsed, target, io);
    case 'egress-ips': {
      const { ips, note } = await target.egressIps();
      for (const ip of ips) io.stdout.write(`${ip}\n`);
      if (note) io.stdout.write(`${ips.length === 0 ? '' : '\n'}${note}\n`);
      return EXIT.succeeded;
    }
    case 'send-test-webhook':
      return sendTestWebhookCommand(localOnly(target, 'send-test-webhook'), io, {
        customerId: customerArgument(parsed),
        source: stringOption(parsed, '--source'),
        file: stringOption(parsed, '--file'),
      });
    case 'sim':
      return simCommand(localOnly(target, 'sim'), io, parsed.positional, {
        name: stringOption(parsed, '--name'),
        customerId: (value) => customerArgument({ ...parsed, positional: [value ?? ''].filter(Boolean) }),
      });
    case 'drill-sandbox-key': {
      const token = await readToken(io, 'Virtuous sandbox API key for the deletion drill');
      await target.storeDrillSandboxKey(token);
      io.stdout.write('deletion-drill sandbox key stored\n');
      return EXIT.succeeded;
    }
    case 'run-job': {
      const name = parsed.positional[0];
      if (name !== 'reconciliation' && name !== 'rotation-reminders' && name !== 'deletion-drill') {
        throw usage('run-job takes reconciliation, rotation-reminders or deletion-drill');
      }
      const result = await target.runJob(name);
      io.stdout.write(`${name} ${result.ok ? 'finished' : `failed (${result.errorCode ?? 'error'})`}\n`);
      if (result.summary) io.stdout.write(`${JSON.stringify(result.summary)}\n`);
      return result.ok ? EXIT.succeeded : EXIT.failed;
    }
    default:
      throw usage(`unknown command ${parsed.command.slice(0, 40)} (try --help)`);
  }
}

const isEntry = process.argv[1] !== undefined && import.meta.filename === process.argv[1];
if (isEntry) {
  runCli(process.argv.slice(2), {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  })
    .then(
      (code) => code,
      (error: unknown) => {
        if (error instanceof CliError) {
          process.stderr.write(`error: ${error.message}\n`);
          return error.exitCode;
        }
        const name = error instanceof Error ? error.name : 'Error';
        process.stderr.write(
          `error: ${name}${(error as { code?: string })?.code ? ` (${(error as { code: string }).code})` : ''}\n`,
        );
        return EXIT.failed;
      },
    )
    .then((code) => process.exit(code));
}

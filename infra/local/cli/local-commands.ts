/**
 * CLI commands that exist only against the local runtime: the Virtuous simulator and the Stripe stand-in (`sim ...`)
 * and signed test deliveries (`send-test-webhook`). Refused with `--aws` (exit 2): a deployed stack has neither.
 *
 * `sim key create` writes the new key to stdout and nothing else, and only when stdout is a pipe, so the one way to
 * use it is straight into onboarding: `npm run cli -- sim key create 1 | npm run cli -- onboard acme`.
 */
import { readFileSync, statSync } from 'node:fs';
import type { GiftLedger } from '../virtuous-simulator/simulator.ts';
import { CliError, EXIT, type ExitCode, usage } from './errors.ts';
import { LocalTarget } from './local-target.ts';
import type { Target } from './target.ts';

/** The runtime refuses larger test bodies too (infra/local/test-webhook.ts). */
const MAX_TEST_BODY_BYTES = 256 * 1024;

interface Output {
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
}

export function localOnly(target: Target, command: string): LocalTarget {
  if (!(target instanceof LocalTarget)) {
    throw usage(`${command} works against the local runtime only (not with --aws)`);
  }
  return target;
}

function readBodyFile(path: string): string {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (error) {
    throw usage(`--file ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (size > MAX_TEST_BODY_BYTES) throw usage(`--file must be at most ${MAX_TEST_BODY_BYTES} bytes`);
  return readFileSync(path, 'utf8');
}

export async function sendTestWebhookCommand(
  target: LocalTarget,
  io: Output,
  input: { readonly customerId: string; readonly source: string | undefined; readonly file: string | undefined },
): Promise<ExitCode> {
  if (input.source !== undefined && input.source !== 'virtuous' && input.source !== 'stripe') {
    throw usage('--source must be virtuous or stripe');
  }
  const provider = input.source ?? 'virtuous';
  if (provider === 'stripe' && input.file === undefined) throw usage('--source stripe needs --file <event.json>');
  const body = input.file === undefined ? undefined : readBodyFile(input.file);
  const result = await target.sendTestWebhook(input.customerId, provider, body);
  const request = result.requestId === undefined ? '' : ` (request ${result.requestId})`;
  if (result.status === 202) {
    const processing =
      result.processed === undefined ? '' : result.processed ? ', processed' : ', still queued after 10 s';
    io.stdout.write(`signed ${provider} test delivery to ${input.customerId}: 202 accepted${request}${processing}\n`);
    return EXIT.succeeded;
  }
  io.stdout.write(`signed ${provider} test delivery to ${input.customerId}: refused with ${result.status}${request}\n`);
  return EXIT.failed;
}

function printLedger(io: Output, customerId: string, ledger: GiftLedger): void {
  io.stdout.write(`${customerId} → simulated Virtuous organization ${ledger.organizationId} (${ledger.name})\n`);
  if (ledger.transactions.length === 0) {
    io.stdout.write('no gift transactions received yet\n');
  } else {
    io.stdout.write(
      `${'TRANSACTION'.padEnd(40)} ${'RECEIVED'.padEnd(8)} ${'STATE'.padEnd(12)} ${'GIFT'.padEnd(6)} AMOUNT\n`,
    );
    for (const entry of ledger.transactions) {
      const amount = entry.amount === undefined ? '-' : `${entry.amount} ${entry.currencyCode ?? ''}`.trim();
      io.stdout.write(
        `${entry.transaction.padEnd(40)} ${String(entry.received).padEnd(8)} ${entry.state.padEnd(12)} ${String(entry.giftId ?? '-').padEnd(6)} ${amount}\n`,
      );
    }
  }
  io.stdout.write(
    `held for the next nightly batch: ${ledger.held.gifts} gift(s), ${ledger.held.contacts} contact(s), ${ledger.held.reversals} reversal(s); contact transactions received: ${ledger.contactTransactions}\n`,
  );
  io.stdout.write(
    `webhook deliveries sent: ${ledger.deliveries.delivered} delivered, ${ledger.deliveries.failed} failed\n`,
  );
}

interface OrganizationView {
  readonly organizationId: number;
  readonly name: string;
  readonly isEnabled: boolean;
}

export async function simCommand(
  target: LocalTarget,
  io: Output,
  args: readonly string[],
  options: { readonly name: string | undefined; readonly customerId: (value: string | undefined) => string },
): Promise<ExitCode> {
  const [noun, verb, argument] = args;
  if (noun === 'org' && verb === 'create') {
    const created = (await target.simulator(
      'POST',
      'organizations',
      options.name === undefined ? {} : { name: options.name },
    )) as OrganizationView;
    io.stdout.write(
      `simulated Virtuous organization ${created.organizationId} (${created.name}) created\n` +
        `onboard a customer with a new key of it: npm run cli -- sim key create ${created.organizationId} | npm run cli -- onboard <customerId>\n`,
    );
    return EXIT.succeeded;
  }
  if (noun === 'org' && verb === 'list') {
    const { organizations } = (await target.simulator('GET', 'organizations')) as {
      organizations: OrganizationView[];
    };
    if (organizations.length === 0) io.stdout.write('no simulated organizations (create one: sim org create)\n');
    for (const org of organizations) {
      io.stdout.write(
        `${String(org.organizationId).padEnd(6)} ${org.isEnabled ? 'enabled ' : 'disabled'} ${org.name}\n`,
      );
    }
    return EXIT.succeeded;
  }
  if (noun === 'key' && verb === 'create') {
    if (argument === undefined || !/^\d{1,9}$/.test(argument)) throw usage('sim key create needs an organization id');
    // Checked before the key exists: a key printed on a terminal stays in its scrollback.
    if (io.stdout.isTTY) {
      throw usage(
        `the key is written only into a pipe: npm run cli -- sim key create ${argument} | npm run cli -- onboard <customerId>`,
      );
    }
    const { apiKey } = (await target.simulator('POST', `organizations/${argument}/keys`)) as { apiKey?: unknown };
    if (typeof apiKey !== 'string') throw new CliError('the simulator answered without a key', EXIT.failed);
    io.stdout.write(`${apiKey}\n`);
    io.stderr.write(`new API key of simulated organization ${argument} written to the pipe\n`);
    return EXIT.succeeded;
  }
  if (noun === 'gifts') {
    const customerId = options.customerId(verb);
    const { ledger } = (await target.simulator('GET', `customers/${encodeURIComponent(customerId)}/gifts`)) as {
      ledger: GiftLedger;
    };
    printLedger(io, customerId, ledger);
    return EXIT.succeeded;
  }
  if (noun === 'nightly-batch' && verb === undefined) {
    const { organizations } = (await target.simulator('POST', 'nightly-batch')) as {
      organizations: Array<{
        organizationId: number;
        giftsCreated: number;
        contactsCreated: number;
        needsUpdate: number;
        deliveries: { delivered: number; failed: number };
      }>;
    };
    for (const org of organizations) {
      io.stdout.write(
        `organization ${org.organizationId}: ${org.giftsCreated} gift(s) and ${org.contactsCreated} contact(s) created, ${org.needsUpdate} gift(s) waiting for their contact; webhook deliveries ${org.deliveries.delivered} delivered, ${org.deliveries.failed} failed\n`,
      );
    }
    if (organizations.length === 0) io.stdout.write('no simulated organizations\n');
    return EXIT.succeeded;
  }
  if (noun === 'stripe') return stripeCommand(target, io, verb, argument);
  throw usage(
    'sim takes: org create [--name <name>] | org list | key create <organizationId> | gifts <customerId> | nightly-batch | stripe connect | stripe accounts | stripe revoke <accountId>',
  );
}

/**
 * The Stripe stand-in: `connect` makes a connected account and writes its refresh token to stdout, only into a pipe
 * (`sim stripe connect | connect-stripe <customerId> --refresh-token`); `revoke` deauthorizes an account.
 */
async function stripeCommand(
  target: LocalTarget,
  io: Output,
  verb: string | undefined,
  argument: string | undefined,
): Promise<ExitCode> {
  if (verb === 'connect' && argument === undefined) {
    // Checked before the grant exists: a token printed on a terminal stays in its scrollback.
    if (io.stdout.isTTY) {
      throw usage(
        'the refresh token is written only into a pipe: npm run cli -- sim stripe connect | npm run cli -- connect-stripe <customerId> --refresh-token',
      );
    }
    const { accountId, refreshToken } = (await target.stripe('POST', 'accounts')) as {
      accountId?: unknown;
      refreshToken?: unknown;
    };
    if (typeof refreshToken !== 'string' || typeof accountId !== 'string') {
      throw new CliError('the Stripe stand-in answered without a grant', EXIT.failed);
    }
    io.stdout.write(`${refreshToken}\n`);
    io.stderr.write(`Stripe account ${accountId} connected; its refresh token written to the pipe\n`);
    return EXIT.succeeded;
  }
  if (verb === 'accounts' && argument === undefined) {
    const { accounts } = (await target.stripe('GET', 'accounts')) as {
      accounts: Array<{ accountId: string; deauthorized: boolean; customers: number; succeeded: number }>;
    };
    if (accounts.length === 0) io.stdout.write('no connected Stripe accounts (connect one: sim stripe connect)\n');
    for (const account of accounts) {
      io.stdout.write(
        `${account.accountId} ${account.deauthorized ? 'deauthorized' : 'connected   '} ${account.customers} customer(s), ${account.succeeded} succeeded payment(s)\n`,
      );
    }
    return EXIT.succeeded;
  }
  if (verb === 'revoke') {
    if (argument === undefined || !/^acct_[A-Za-z0-9]{1,64}$/.test(argument)) {
      throw usage('sim stripe revoke needs a connected account id (acct_…, see sim stripe accounts)');
    }
    await target.stripe('POST', `accounts/${argument}/deauthorize`);
    io.stdout.write(`Stripe account ${argument} deauthorized the platform: its refresh tokens no longer work\n`);
    return EXIT.succeeded;
  }
  throw usage('sim stripe takes: connect | accounts | revoke <accountId>');
}

// `sim stripe …` of the CLI against a recording stand-in of the runtime's operator routes: `connect` writes the
// refresh token alone to stdout and only into a pipe (on a terminal it refuses before a grant exists), the account id
// to stderr; `revoke` takes only an account id; `accounts` prints ids and counts.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CliError, EXIT } from '../../../infra/local/cli/errors.ts';
import { simCommand } from '../../../infra/local/cli/local-commands.ts';
import { LocalTarget } from '../../../infra/local/cli/local-target.ts';
import { registerSecret } from '../../support/canaries.ts';

const TOKEN = registerSecret('rt_sim_unit0123456789abcdefghijklmnop');

class Sink extends Writable {
  text = '';
  constructor(readonly isTTY = false) {
    super();
  }
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.text += String(chunk);
    callback();
  }
}

class RecordingTarget extends LocalTarget {
  readonly calls: string[] = [];
  constructor() {
    super('http://127.0.0.1:9');
  }
  override async stripe(method: 'GET' | 'POST', path: string): Promise<unknown> {
    this.calls.push(`${method} ${path}`);
    if (method === 'POST' && path === 'accounts') return { accountId: 'acct_sim0000000001', refreshToken: TOKEN };
    if (method === 'GET' && path === 'accounts') {
      return { accounts: [{ accountId: 'acct_sim0000000001', deauthorized: true, customers: 3, succeeded: 4 }] };
    }
    return { deauthorized: true };
  }
}

function sim(args: string[], options: { tty?: boolean } = {}) {
  const target = new RecordingTarget();
  const stdout = new Sink(options.tty === true);
  const stderr = new Sink();
  const io = { stdout: stdout as unknown as NodeJS.WriteStream, stderr: stderr as unknown as NodeJS.WriteStream };
  const run = simCommand(target, io, args, { name: undefined, customerId: (value) => value ?? '' });
  return { run, target, stdout, stderr };
}

async function refusal(promise: Promise<unknown>): Promise<CliError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(CliError);
  return error as CliError;
}

describe('sim stripe', () => {
  it('connect writes the refresh token alone into the pipe and the account id to stderr', async () => {
    const { run, target, stdout, stderr } = sim(['stripe', 'connect']);
    expect(await run).toBe(EXIT.succeeded);
    expect(target.calls).toEqual(['POST accounts']);
    expect(stdout.text === `${TOKEN}\n`).toBe(true);
    expect(stderr.text).toContain('Stripe account acct_sim0000000001 connected');
    expect(stderr.text.includes(TOKEN)).toBe(false);
  });

  it('connect on a terminal refuses before any grant exists', async () => {
    const { run, target, stdout } = sim(['stripe', 'connect'], { tty: true });
    const error = await refusal(run);
    expect(error.exitCode).toBe(EXIT.usage);
    expect(error.message).toContain('only into a pipe');
    expect(target.calls).toEqual([]);
    expect(stdout.text).toBe('');
  });

  it('revoke takes a connected account id, nothing else', async () => {
    const revoked = sim(['stripe', 'revoke', 'acct_sim0000000001']);
    expect(await revoked.run).toBe(EXIT.succeeded);
    expect(revoked.target.calls).toEqual(['POST accounts/acct_sim0000000001/deauthorize']);
    for (const bad of [[], ['rt_sim_not_an_account'], ['acct_../x']]) {
      const attempt = sim(['stripe', 'revoke', ...bad]);
      expect((await refusal(attempt.run)).exitCode).toBe(EXIT.usage);
      expect(attempt.target.calls).toEqual([]);
    }
  });

  it('accounts lists ids, state and counts', async () => {
    const { run, stdout } = sim(['stripe', 'accounts']);
    expect(await run).toBe(EXIT.succeeded);
    expect(stdout.text).toMatch(/^acct_sim0000000001 deauthorized 3 customer\(s\), 4 succeeded payment\(s\)$/m);
  });

  it('refuses an unknown verb with what it takes', async () => {
    expect((await refusal(sim(['stripe', 'mint']).run)).message).toContain('connect | accounts | revoke');
  });
});

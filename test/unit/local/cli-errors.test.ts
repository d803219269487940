// What the CLI says when the local runtime does not answer: the URL it called and why (the network error code and
// its meaning), and which address it uses when LOCAL_LIFECYCLE_URL is set but empty (the default, not a usage error).
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CliError, EXIT } from '../../../infra/local/cli/errors.ts';
import { DEFAULT_LIFECYCLE_URL, runCli } from '../../../infra/local/cli/main.ts';

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.text += String(chunk);
    callback();
  }
}

function run(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  return runCli(args, {
    stdin: process.stdin,
    stdout: new Sink() as unknown as NodeJS.WriteStream,
    stderr: new Sink() as unknown as NodeJS.WriteStream,
    env,
  });
}

async function failureOf(promise: Promise<unknown>): Promise<CliError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(CliError);
  return error as CliError;
}

/** A loopback port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function networkError(code: string): TypeError {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(`connect ${code}`), { code }) });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the CLI against a local runtime that does not answer', () => {
  it('names the URL and ECONNREFUSED when nothing listens there, and how to fix it', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const error = await failureOf(run(['status', '--url', url]));
    expect(error.exitCode).toBe(EXIT.failed);
    expect(error.message).toContain(`at ${url} (ECONNREFUSED: nothing listens there)`);
    expect(error.message).toContain('npm start');
  });

  it.each([
    ['ENOTFOUND', 'the host name does not resolve'],
    ['ECONNRESET', 'the connection was reset'],
    ['EHOSTUNREACH', 'the host is unreachable'],
  ])('names the URL and %s', async (code, meaning) => {
    vi.spyOn(globalThis, 'fetch').mockRejectedValue(networkError(code));
    const error = await failureOf(run(['status', '--url', 'http://runtime.example:4511']));
    expect(error.message).toBe(`cannot reach the local runtime at http://runtime.example:4511 (${code}: ${meaning})`);
    expect(error.exitCode).toBe(EXIT.failed);
  });

  it('finds the code one level down when the connection attempts were several (AggregateError)', async () => {
    const inner = Object.assign(new Error('connect'), { code: 'ECONNREFUSED' });
    vi.spyOn(globalThis, 'fetch').mockRejectedValue(
      new TypeError('fetch failed', { cause: new AggregateError([inner, inner]) }),
    );
    const error = await failureOf(run(['status', '--url', 'http://localhost:4511']));
    expect(error.message).toContain('at http://localhost:4511 (ECONNREFUSED: nothing listens there)');
  });

  it('says which URL did not answer in time, with the timeout exit code', async () => {
    vi.spyOn(globalThis, 'fetch').mockRejectedValue(new DOMException('timed out', 'TimeoutError'));
    const error = await failureOf(run(['status', '--url', 'http://127.0.0.1:4599']));
    expect(error.message).toBe('the local runtime at http://127.0.0.1:4599 did not answer within 30 s');
    expect(error.exitCode).toBe(EXIT.timedOut);
  });
});

describe('LOCAL_LIFECYCLE_URL', () => {
  const calledUrl = async (env: NodeJS.ProcessEnv, args: readonly string[] = ['status']) => {
    const fetchSpy = vi.spyOn(globalThis, 'fetch').mockResolvedValue(Response.json({ customers: [] }));
    expect(await run(args, env)).toBe(EXIT.succeeded);
    return String(fetchSpy.mock.calls[0]?.[0]);
  };

  it.each(['', '   '])('set but empty (%j) falls back to the default address', async (value) => {
    expect(await calledUrl({ LOCAL_LIFECYCLE_URL: value })).toBe(`${DEFAULT_LIFECYCLE_URL}/local/customers`);
  });

  it('is used when set, and --url wins over it', async () => {
    expect(await calledUrl({ LOCAL_LIFECYCLE_URL: 'http://127.0.0.1:4611/' })).toBe(
      'http://127.0.0.1:4611/local/customers',
    );
    vi.restoreAllMocks();
    expect(
      await calledUrl({ LOCAL_LIFECYCLE_URL: 'http://127.0.0.1:4611' }, ['status', '--url', 'http://127.0.0.1:4711']),
    ).toBe('http://127.0.0.1:4711/local/customers');
  });

  it('that is not a URL is named in the usage error', async () => {
    const error = await failureOf(run(['status'], { LOCAL_LIFECYCLE_URL: 'localhost 4511' }));
    expect(error.exitCode).toBe(EXIT.usage);
    expect(error.message).toMatch(/^LOCAL_LIFECYCLE_URL must be an absolute URL/);
  });
});

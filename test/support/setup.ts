/**
 * Runs before every test file: captures all output written to stdout and stderr and, after the file, fails it if a
 * PII canary or a registered secret value appears anywhere in that output. The check reports which kind of value
 * leaked (by position in the list), never the value itself.
 */
import { afterAll } from 'vitest';
import { findLeaks, forbiddenValues } from './canaries.ts';

const captured: string[] = [];

function tap(stream: NodeJS.WriteStream): void {
  const original = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return original(chunk, ...rest);
  }) as typeof stream.write;
}

tap(process.stdout);
tap(process.stderr);

/** Everything captured so far in this test file (for tests that assert on logs directly). */
export function capturedOutput(): string {
  return captured.join('');
}

afterAll(() => {
  const leaks = findLeaks(captured.join(''));
  if (leaks.length > 0) {
    const all = forbiddenValues();
    const positions = leaks.map((leak) => all.indexOf(leak)).join(', ');
    throw new Error(
      `output of this test file contains ${leaks.length} forbidden value(s) (canary indexes ${positions})`,
    );
  }
});

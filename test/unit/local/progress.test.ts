/**
 * The CLI's live progress: plain lines when the output is not a terminal (pipes, CI logs), a spinner line replaced
 * in place on a terminal. The e2e tests only see the plain mode, so the terminal mode is checked here.
 */
import { describe, expect, it } from 'vitest';
import { ProgressPrinter, type Step } from '../../../infra/local/cli/progress.ts';

function capture(): { out: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const out = { write: (chunk: string) => chunks.push(chunk) > 0 } as unknown as NodeJS.WriteStream;
  return { out, text: () => chunks.join('') };
}

const HISTORY: Step[] = [
  { state: 'AcquireLock', type: 'Task', event: 'entered', at: '2026-11-29T04:00:00.000Z' },
  { state: 'AcquireLock', type: 'Task', event: 'exited', at: '2026-11-29T04:00:01.500Z' },
  { state: 'PromoteToken', type: 'Task', event: 'entered', at: '2026-11-29T04:00:01.600Z' },
  { state: 'PromoteToken', type: 'Task', event: 'retried', at: '2026-11-29T04:00:02.000Z', attempt: 1 },
  { state: 'PromoteToken', type: 'Task', event: 'failed', at: '2026-11-29T04:00:03.000Z', error: 'PermanentError' },
  { state: 'PromoteToken', type: 'Task', event: 'caught', at: '2026-11-29T04:00:03.000Z' },
];

describe('ProgressPrinter', () => {
  it('prints one plain line per event when not on a terminal, each step once', () => {
    const { out, text } = capture();
    const printer = new ProgressPrinter(out, false);
    printer.update(HISTORY.slice(0, 2));
    printer.update(HISTORY);
    printer.finish();
    expect(text().split('\n')).toEqual([
      '… AcquireLock started',
      '✔ AcquireLock (1.5s)',
      '… PromoteToken started',
      '↻ PromoteToken retrying (attempt 2)',
      '✖ PromoteToken failed: PermanentError',
      '→ PromoteToken: error handled, compensating',
      '',
    ]);
    expect(text()).not.toContain('\r');
  });

  it('draws a spinner for the running step on a terminal, replaces it when the step ends, and clears at finish', () => {
    const { out, text } = capture();
    const printer = new ProgressPrinter(out, true);
    printer.update(HISTORY.slice(0, 1));
    const CLEAR_LINE = '\r\x1b[2K';
    expect(text().startsWith(CLEAR_LINE)).toBe(true);
    expect(text().slice(CLEAR_LINE.length)).toMatch(/^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] AcquireLock \(\d+s\)$/);
    printer.update(HISTORY.slice(0, 2));
    expect(text()).toContain('\r\x1b[2K✔ AcquireLock (1.5s)\n');
    expect(text()).not.toContain('started');
    printer.update(HISTORY.slice(0, 3));
    printer.note("waiting for the customer's new token");
    // The note goes above the spinner, which is drawn again for the step still running.
    expect(text().endsWith(' PromoteToken (0s)')).toBe(true);
    expect(text()).toContain("\r\x1b[2K· waiting for the customer's new token\n");
    printer.finish();
    expect(text().endsWith('\r\x1b[2K')).toBe(true);
  });
});

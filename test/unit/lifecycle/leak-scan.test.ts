import { describe, expect, it } from 'vitest';
import type { LocalExecution } from '../../../functions/lifecycle-tasks/local-runner.ts';
import { registerSecret } from '../../support/canaries.ts';
import { leaksInEvents } from '../../support/workflow-runner.ts';

/** The event-log scan the workflow tests rely on must find a secret wherever it sits in an event. */
describe('leaksInEvents', () => {
  const secret = registerSecret(`wh-secret-${'x'.repeat(24)}`);
  const execution = (events: unknown[]) => ({ events }) as unknown as LocalExecution;

  it('finds a registered secret in state input, output or an error cause, and nothing in clean events', () => {
    expect(
      leaksInEvents(execution([{ type: 'StateEntered', state: { name: 'A', input: { customerId: 'acme' } } }])),
    ).toBe(0);
    expect(
      leaksInEvents(execution([{ type: 'StateEntered', state: { name: 'A', input: { nested: { v: secret } } } }])),
    ).toBe(1);
    expect(leaksInEvents(execution([{ type: 'StateExited', state: { name: 'A', output: [secret] } }]))).toBe(1);
    expect(leaksInEvents(execution([{ type: 'StateFailed', Error: 'X', Cause: `bad ${secret}` }]))).toBe(1);
    expect(
      leaksInEvents(
        execution([{ type: 'StateEntered', state: { input: { email: 'canary.donor@pii-canary.example' } } }]),
      ),
    ).toBe(1);
  });
});

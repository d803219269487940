import { describe, expect, it } from 'vitest';
import type { CustomerRecord } from '../../../functions/customers/customer.ts';
import type { WorkflowInput } from '../../../functions/lifecycle/ports.ts';
import { isRotationDue, rotationDays, rotationDueAt } from '../../../functions/lifecycle/rotation-policy.ts';
import { createRotationSchedulerHandler } from '../../../functions/rotation-scheduler/handler.ts';
import { PermanentError, TransientError } from '../../../functions/shared/errors.ts';

const settings = { tokenRotationDays: { high: 90, standard: 180 } };
const NOW = new Date('2026-11-29T06:00:00.000Z');
const daysAgo = (days: number) => new Date(NOW.getTime() - days * 86_400_000).toISOString();

function customer(overrides: Partial<CustomerRecord>): CustomerRecord {
  return {
    customerId: 'acme',
    status: 'active',
    sensitivity: 'standard',
    tokenRotationDays: 180,
    createdAt: daysAgo(400),
    updatedAt: daysAgo(1),
    ...overrides,
  };
}

describe('rotation policy', () => {
  it('caps a high-sensitivity customer at the 90-day ceiling and keeps a standard customer on its own policy', () => {
    expect(rotationDays(customer({ sensitivity: 'high', tokenRotationDays: 365 }), settings)).toBe(90);
    expect(rotationDays(customer({ sensitivity: 'high', tokenRotationDays: 30 }), settings)).toBe(30);
    expect(rotationDays(customer({ tokenRotationDays: 270 }), settings)).toBe(270);
  });

  it('counts from the last promotion, else from creation', () => {
    expect(rotationDueAt(customer({ tokenPromotedAt: daysAgo(10) }), settings)).toBe(
      new Date(NOW.getTime() + 170 * 86_400_000).toISOString(),
    );
    expect(isRotationDue(customer({}), NOW, settings)).toBe(true);
  });

  it('is due only for an active customer with no workflow running, at or past the due date', () => {
    expect(isRotationDue(customer({ tokenPromotedAt: daysAgo(180) }), NOW, settings)).toBe(true);
    expect(isRotationDue(customer({ tokenPromotedAt: daysAgo(179) }), NOW, settings)).toBe(false);
    expect(isRotationDue(customer({ tokenPromotedAt: daysAgo(200), status: 'paused' }), NOW, settings)).toBe(false);
    expect(
      isRotationDue(
        customer({
          tokenPromotedAt: daysAgo(200),
          lock: { workflow: 'offboarding', executionId: 'x', acquiredAt: NOW.toISOString() },
        }),
        NOW,
        settings,
      ),
    ).toBe(false);
  });
});

describe('rotation scheduler', () => {
  const records = [
    customer({ customerId: 'due-high', sensitivity: 'high', tokenRotationDays: 90, tokenPromotedAt: daysAgo(91) }),
    customer({ customerId: 'due-std', tokenPromotedAt: daysAgo(181) }),
    customer({ customerId: 'fresh', tokenPromotedAt: daysAgo(5) }),
    customer({ customerId: 'gone', status: 'offboarded', tokenPromotedAt: daysAgo(500) }),
  ];

  it('starts a token rotation for each overdue customer and emits TokenRotationOverdue', async () => {
    const started: WorkflowInput[] = [];
    const metrics: Array<[string, number]> = [];
    const sweep = await createRotationSchedulerHandler({
      customers: { list: async () => records },
      starter: {
        start: async (workflow, input) => {
          expect(workflow).toBe('token-rotation');
          started.push(input);
          return { executionId: `exec-${input.customerId}` };
        },
      },
      clock: { now: () => NOW },
      settings,
      emitMetric: (name, value) => metrics.push([name, value]),
    })();
    expect(started.map((input) => input.customerId)).toEqual(['due-high', 'due-std']);
    expect(sweep).toEqual({ checked: 4, due: 2, started: 2, failed: 0 });
    expect(metrics).toEqual([['TokenRotationOverdue', 2]]);
  });

  it('keeps going past a customer whose start fails, and fails the sweep only when nothing started', async () => {
    const metrics: Array<[string, number]> = [];
    const partial = await createRotationSchedulerHandler({
      customers: { list: async () => records },
      starter: {
        start: async (_workflow, input) => {
          if (input.customerId === 'due-high') throw new PermanentError('ExecutionAlreadyExists', 'x');
          return { executionId: 'ok' };
        },
      },
      clock: { now: () => NOW },
      settings,
      emitMetric: (name, value) => metrics.push([name, value]),
    })();
    expect(partial).toEqual({ checked: 4, due: 2, started: 1, failed: 1 });
    expect(metrics).toContainEqual(['TokenRotationStartFailed', 1]);

    const none = createRotationSchedulerHandler({
      customers: { list: async () => records },
      starter: {
        start: async () => {
          throw new TransientError('STEP_FUNCTIONS_UNAVAILABLE', 'x');
        },
      },
      clock: { now: () => NOW },
      settings,
      emitMetric: () => undefined,
    });
    await expect(none()).rejects.toMatchObject({ name: 'TransientError', code: 'ROTATION_SWEEP_FAILED' });
  });
});

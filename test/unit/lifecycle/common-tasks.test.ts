/**
 * The tasks every workflow shares hand operators an error name from the execution's state data; that text comes
 * from whatever a Catch recorded, so it passes the same sanitizer as every other failure code.
 */
import { describe, expect, it } from 'vitest';
import type { CustomerRepository } from '../../../functions/customers/customer.ts';
import { createCommonTasks } from '../../../functions/lifecycle-tasks/common-tasks.ts';
import type { Notifier, OperatorAlert } from '../../../functions/notifications/notifier.ts';
import { DONOR } from '../../support/canaries.ts';

function tasksWithAlerts() {
  const alerts: OperatorAlert[] = [];
  const notifier: Notifier = {
    notifyCustomer: async () => undefined,
    alertOperators: async (alert) => {
      alerts.push(alert);
    },
  };
  const tasks = createCommonTasks('webhook-secret-rotation', {
    customers: {} as CustomerRepository,
    clock: { now: () => new Date('2026-11-29T04:00:00Z') },
    notifier,
  });
  return { tasks, alerts };
}

describe('AlertLockNotAcquired', () => {
  it('reduces an error name that is not an identifier to a fixed code', async () => {
    const { tasks, alerts } = tasksWithAlerts();
    await tasks.AlertLockNotAcquired?.({
      task: 'AlertLockNotAcquired',
      executionId: 'exec-1',
      input: { customerId: 'acme', failure: { Error: `lock held: ${DONOR.email}`, Cause: 'x' } },
    });
    expect(alerts).toEqual([
      {
        customerId: 'acme',
        code: 'LOCK_NOT_ACQUIRED:webhook-secret-rotation',
        severity: 'warning',
        details: { executionId: 'exec-1', error: 'UNCLASSIFIED' },
      },
    ]);
  });

  it('keeps an identifier error name as it is', async () => {
    const { tasks, alerts } = tasksWithAlerts();
    await tasks.AlertLockNotAcquired?.({
      task: 'AlertLockNotAcquired',
      executionId: 'exec-2',
      input: { customerId: 'acme', failure: { Error: 'LockHeldError' } },
    });
    expect(alerts[0]?.details).toEqual({ executionId: 'exec-2', error: 'LockHeldError' });
  });
});

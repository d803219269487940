/** Tasks every workflow shares: the per-customer lock and the failure notice. */
import type { WorkflowName } from '../customers/customer.ts';
import { notifyWorkflowFailure } from '../lifecycle/failure.ts';
import { acquireWorkflowLock, releaseWorkflowLock } from '../lifecycle/lock.ts';
import { safeCode } from '../lifecycle/onboarding.ts';
import type { LifecycleDeps } from './deps.ts';
import { customerIdOf, failureOf, field, parentExecutionIdOf, type TaskTable } from './task-event.ts';

export function createCommonTasks(
  workflow: WorkflowName,
  deps: Pick<LifecycleDeps, 'customers' | 'clock' | 'notifier'>,
): TaskTable {
  return {
    AcquireLock: async (event) =>
      acquireWorkflowLock(deps.customers, deps.clock, {
        customerId: customerIdOf(event),
        workflow,
        executionId: event.executionId,
        parentExecutionId: parentExecutionIdOf(event),
      }),
    ReleaseLock: async (event) => {
      await releaseWorkflowLock(deps.customers, {
        customerId: customerIdOf(event),
        executionId: event.executionId,
        parentExecutionId: parentExecutionIdOf(event),
      });
      return {};
    },
    AlertLockNotAcquired: async (event) => {
      const customerId = typeof event.input.customerId === 'string' ? event.input.customerId : undefined;
      await deps.notifier.alertOperators({
        customerId,
        code: `LOCK_NOT_ACQUIRED:${workflow}`,
        severity: 'warning',
        details: { executionId: event.executionId, error: safeCode(failureOf(event)) },
      });
      return {};
    },
    NotifyFailure: async (event) => {
      await notifyWorkflowFailure(deps.notifier, {
        customerId: customerIdOf(event),
        workflow,
        executionId: event.executionId,
        failedWith: failureOf(event),
      });
      if (field(event, 'compensationFailure') !== undefined) {
        await deps.notifier.alertOperators({
          customerId: customerIdOf(event),
          code: `COMPENSATION_FAILED:${workflow}`,
          severity: 'critical',
          details: { executionId: event.executionId },
        });
      }
      return {};
    },
  };
}

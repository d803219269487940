import type { WorkflowName } from '../customers/customer.ts';
import type { CustomerNotificationType, Notifier } from '../notifications/notifier.ts';
import { safeCode } from './onboarding.ts';

const CUSTOMER_NOTICE: Readonly<Record<WorkflowName, CustomerNotificationType>> = {
  onboarding: 'onboarding_failed',
  'token-rotation': 'token_rotation_failed',
  'webhook-secret-rotation': 'webhook_secret_rotation_failed',
  offboarding: 'offboarding_failed',
  'incident-response': 'incident_report_ready',
};

/** Tells the operators (with the error name and execution) and the customer (with a code) that a workflow failed. */
export async function notifyWorkflowFailure(
  notifier: Notifier,
  failure: { customerId: string; workflow: WorkflowName; executionId: string; failedWith: unknown },
): Promise<void> {
  const code = safeCode(failure.failedWith);
  await notifier.alertOperators({
    customerId: failure.customerId,
    code: `WORKFLOW_FAILED:${failure.workflow}`,
    severity: failure.workflow === 'offboarding' || failure.workflow === 'incident-response' ? 'critical' : 'warning',
    details: { executionId: failure.executionId, error: code },
  });
  if (failure.workflow === 'incident-response') return;
  await notifier.notifyCustomer({
    customerId: failure.customerId,
    type: CUSTOMER_NOTICE[failure.workflow],
    details: { reason: code },
  });
}

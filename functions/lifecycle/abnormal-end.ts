/**
 * What a lifecycle execution leaves behind when it ends outside its own Catch paths — stopped from the console,
 * timed out, or failed by a Step Functions-level error: its per-customer lock (which would block every later
 * workflow of the customer) and, for a token rotation, the parked task token and a pending key. Runs on the
 * execution's terminal status event (EventBridge on AWS, the one-machine workflow engine locally).
 *
 * Only what the ended execution still owns is touched: the lock release is conditional on its execution id, and the
 * rotation compensation runs only while the lock is still held by that execution (or, for a rotation nested in an
 * incident response, by its parent), so no other workflow of the customer can be running or be undone.
 */
import type { SecretStore } from '../credentials/secret-store.ts';
import type { CustomerRepository, WorkflowName } from '../customers/customer.ts';
import type { Notifier } from '../notifications/notifier.ts';
import { releaseWorkflowLock } from './lock.ts';
import { compensateTokenRotation } from './token-rotation.ts';

export type AbnormalStatus = 'ABORTED' | 'TIMED_OUT' | 'FAILED';

export const ABNORMAL_STATUSES: readonly AbnormalStatus[] = ['ABORTED', 'TIMED_OUT', 'FAILED'];

export function isAbnormalStatus(value: unknown): value is AbnormalStatus {
  return typeof value === 'string' && (ABNORMAL_STATUSES as readonly string[]).includes(value);
}

export const WORKFLOW_ENDED_ABNORMALLY = 'WORKFLOW_ENDED_ABNORMALLY';

/** As for in-machine failures (failure.ts): an unfinished deletion or incident needs someone now. */
const CRITICAL_WORKFLOWS: ReadonlySet<WorkflowName> = new Set(['offboarding', 'incident-response']);

/**
 * Workflows under whose lock a rotation can wait for a key: a token rotation, and an incident response through its
 * nested one (whose status event may be handled after the parent's has already released the lock). A parked task
 * token marks the window between asking for the key and the cut-over, the only time a pending key can exist;
 * without it a rotation either never asked or already finished (or its own Catch path compensated).
 */
const PARKS_ROTATIONS: ReadonlySet<WorkflowName> = new Set(['token-rotation', 'incident-response']);

export interface EndedExecution {
  readonly workflow: WorkflowName;
  readonly executionId: string;
  readonly status: AbnormalStatus;
  /** Undefined when the status event did not carry the execution input: nothing can be released then. */
  readonly customerId: string | undefined;
  /** Set for a token rotation run by an incident response, which works under its parent's lock. */
  readonly parentExecutionId?: string;
}

export interface AbnormalEndDeps {
  readonly customers: CustomerRepository;
  readonly secrets: SecretStore;
  readonly notifier: Pick<Notifier, 'alertOperators'>;
}

export interface AbnormalEndOutcome {
  readonly lockReleased: boolean;
  readonly rotationCompensated: boolean;
  readonly alerted: boolean;
}

export async function cleanUpAfterAbnormalEnd(
  deps: AbnormalEndDeps,
  ended: EndedExecution,
): Promise<AbnormalEndOutcome> {
  let lockReleased = false;
  let rotationCompensated = false;
  const { customerId } = ended;
  if (customerId !== undefined) {
    const record = await deps.customers.get(customerId);
    const lockOwner = ended.parentExecutionId ?? ended.executionId;
    if (record?.lock?.executionId === lockOwner) {
      // Compensate before releasing: while the lock is held no other rotation can have parked a token or a key.
      if (PARKS_ROTATIONS.has(ended.workflow) && record.awaitingTokenTaskToken !== undefined) {
        await compensateTokenRotation(deps, {
          customerId,
          executionId: ended.executionId,
        });
        rotationCompensated = true;
      }
      if (ended.parentExecutionId === undefined) {
        await releaseWorkflowLock(deps.customers, {
          customerId,
          executionId: ended.executionId,
        });
        lockReleased = true;
      }
    }
  }
  // A FAILED execution that went through its Catch paths already told the operators and released its lock; only
  // failures that left something behind (or came without a customer to check) are news.
  const alert = ended.status !== 'FAILED' || lockReleased || rotationCompensated || customerId === undefined;
  if (alert) {
    await deps.notifier.alertOperators({
      ...(customerId === undefined ? {} : { customerId }),
      code: WORKFLOW_ENDED_ABNORMALLY,
      severity: customerId === undefined || CRITICAL_WORKFLOWS.has(ended.workflow) ? 'critical' : 'warning',
      details: {
        workflow: ended.workflow,
        executionId: ended.executionId,
        status: ended.status,
        lockReleased,
        rotationCompensated,
        ...(customerId === undefined ? { customerUnknown: true } : {}),
      },
    });
  }
  return { lockReleased, rotationCompensated, alerted: alert };
}

/**
 * EventBridge target for "Step Functions Execution Status Change" (ABORTED / TIMED_OUT / FAILED) of the lifecycle
 * state machines: finds the workflow and the customer of the ended execution and hands them to the domain, which
 * releases what the execution left behind (functions/lifecycle/abnormal-end.ts).
 *
 * The customer comes from the event's `input` (the execution input: ids only). Step Functions leaves the input out
 * only when input plus output exceed 248 KB, which the product's inputs never approach; without it the domain still
 * alerts the operators (critical, customer unknown) rather than guessing, so this function needs neither
 * states:DescribeExecution nor a scan of the customers table.
 */
import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas/eventbridge';
import { z } from 'zod';
import type { WorkflowName } from '../customers/customer.ts';
import {
  type AbnormalEndDeps,
  type AbnormalEndOutcome,
  cleanUpAfterAbnormalEnd,
  isAbnormalStatus,
} from '../lifecycle/abnormal-end.ts';
import { errorCode, PermanentError } from '../shared/errors.ts';
import { isCustomerId } from '../shared/identifiers.ts';
import { logger } from '../shared/observability.ts';

const ExecutionStatusChange = EventBridgeSchema.extend({
  source: z.literal('aws.states'),
  'detail-type': z.literal('Step Functions Execution Status Change'),
  detail: z.object({
    executionArn: z.string().min(1),
    stateMachineArn: z.string().min(1),
    status: z.string(),
    input: z.string().nullish(),
  }),
});

export interface LockReleaserDeps extends AbnormalEndDeps {
  /** The workflow a state machine ARN belongs to; undefined for a machine this product does not own. */
  readonly workflowOf: (stateMachineArn: string) => WorkflowName | undefined;
}

export type LockReleaserResult = AbnormalEndOutcome | { readonly ignored: 'not_a_lifecycle_machine' | 'not_abnormal' };

/** Customer and parent execution from the execution input; anything unexpected counts as absent. */
function idsFromInput(input: string | null | undefined): { customerId?: string; parentExecutionId?: string } {
  if (typeof input !== 'string') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(input);
  } catch {
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null) return {};
  const { customerId, parentExecutionId } = parsed as Record<string, unknown>;
  return {
    ...(isCustomerId(customerId) ? { customerId } : {}),
    ...(typeof parentExecutionId === 'string' && parentExecutionId !== '' ? { parentExecutionId } : {}),
  };
}

export function createLockReleaserHandler(deps: LockReleaserDeps) {
  return async (event: unknown): Promise<LockReleaserResult> => {
    const parsed = ExecutionStatusChange.safeParse(event);
    if (!parsed.success) {
      throw new PermanentError('MALFORMED_STATUS_EVENT', 'not a Step Functions execution status change');
    }
    const { detail } = parsed.data;
    const workflow = deps.workflowOf(detail.stateMachineArn);
    if (workflow === undefined) {
      logger.warn('status change of an unknown state machine ignored', { executionId: detail.executionArn });
      return { ignored: 'not_a_lifecycle_machine' };
    }
    if (!isAbnormalStatus(detail.status)) return { ignored: 'not_abnormal' };
    const { customerId, parentExecutionId } = idsFromInput(detail.input);
    try {
      const outcome = await cleanUpAfterAbnormalEnd(deps, {
        workflow,
        executionId: detail.executionArn,
        status: detail.status,
        customerId,
        ...(parentExecutionId === undefined ? {} : { parentExecutionId }),
      });
      logger.info('abnormal workflow end handled', {
        workflow,
        executionId: detail.executionArn,
        status: detail.status,
        customerId,
        ...outcome,
      });
      return outcome;
    } catch (error) {
      // Rethrown: the asynchronous invocation retries, then dead-letters the event.
      logger.error('abnormal workflow end not handled', {
        workflow,
        executionId: detail.executionArn,
        customerId,
        errorCode: errorCode(error),
      });
      throw error;
    }
  };
}

let awsHandler: ReturnType<typeof createLockReleaserHandler> | undefined;

/** AWS entry: dependencies are built on the first invocation, from the environment. */
export const handler = async (event: unknown): Promise<LockReleaserResult> => {
  if (awsHandler === undefined) {
    const { createAwsLockReleaserDeps } = await import('./aws-deps.ts');
    awsHandler = createLockReleaserHandler(createAwsLockReleaserDeps());
  }
  return awsHandler(event);
};

/**
 * Daily (EventBridge schedule): starts a token rotation for every active customer whose API token is older than its
 * policy, which asks the customer for a new key and waits for it, and emits `TokenRotationOverdue` (how many were
 * due). One customer's failure to start does not stop the others; it is counted and reported.
 */
import type { CustomerRepository } from '../customers/customer.ts';
import type { Clock, WorkflowStarter } from '../lifecycle/ports.ts';
import { isRotationDue } from '../lifecycle/rotation-policy.ts';
import type { LifecycleSettings } from '../lifecycle/settings.ts';
import { errorCode, TransientError } from '../shared/errors.ts';
import { logger, MetricUnit, metrics } from '../shared/observability.ts';

export interface RotationSchedulerDeps {
  readonly customers: Pick<CustomerRepository, 'list'>;
  readonly starter: Pick<WorkflowStarter, 'start'>;
  readonly clock: Clock;
  readonly settings: Pick<LifecycleSettings, 'tokenRotationDays'>;
  readonly emitMetric?: (name: string, value: number) => void;
}

export interface RotationSweep {
  readonly checked: number;
  readonly due: number;
  readonly started: number;
  readonly failed: number;
}

function publish(name: string, value: number): void {
  metrics.addMetric(name, MetricUnit.Count, value);
  metrics.publishStoredMetrics();
}

export function createRotationSchedulerHandler(deps: RotationSchedulerDeps) {
  const emit = deps.emitMetric ?? publish;
  return async (_event?: unknown): Promise<RotationSweep> => {
    const now = deps.clock.now();
    const customers = await deps.customers.list();
    const due = customers.filter((record) => isRotationDue(record, now, deps.settings));
    let started = 0;
    let failed = 0;
    for (const record of due) {
      try {
        const { executionId } = await deps.starter.start('token-rotation', {
          customerId: record.customerId,
          reason: 'scheduled',
        });
        started += 1;
        logger.info('scheduled token rotation started', { customerId: record.customerId, executionId });
      } catch (error) {
        failed += 1;
        logger.warn('scheduled token rotation not started', {
          customerId: record.customerId,
          errorCode: errorCode(error),
        });
      }
    }
    emit('TokenRotationOverdue', due.length);
    if (failed > 0) emit('TokenRotationStartFailed', failed);
    const sweep = { checked: customers.length, due: due.length, started, failed };
    logger.info('token rotation sweep', { ...sweep });
    // Let the schedule's retry policy run the sweep again; customers already started are skipped by their lock.
    if (failed > 0 && started === 0)
      throw new TransientError('ROTATION_SWEEP_FAILED', `${failed} rotation(s) not started`);
    return sweep;
  };
}

let awsHandler: ReturnType<typeof createRotationSchedulerHandler> | undefined;

/** AWS entry: dependencies are built on the first invocation, from the environment. */
export const handler = async (event?: unknown): Promise<RotationSweep> => {
  if (awsHandler === undefined) {
    const { createAwsSchedulerDeps } = await import('../lifecycle-tasks/aws-deps.ts');
    awsHandler = createRotationSchedulerHandler(createAwsSchedulerDeps());
  }
  return awsHandler(event);
};

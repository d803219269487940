/**
 * Weekly (EventBridge schedule, only when the deployment enables it): runs the deletion drill and emits
 * `DeletionDrillFailures` (0 or 1 per run: the operators' alarm fires on 1). The result is logged as codes and
 * counts; a run that crashes emits nothing here, and the function's Errors alarm covers it.
 */
import { logger, MetricUnit, metrics } from '../shared/observability.ts';
import { type DeletionDrillDeps, type DrillReport, runDeletionDrill } from './drill.ts';

export const DELETION_DRILL_FAILURES = 'DeletionDrillFailures';

function publish(name: string, value: number): void {
  metrics.addMetric(name, MetricUnit.Count, value);
  metrics.publishStoredMetrics();
}

export function createDeletionDrillHandler(
  deps: DeletionDrillDeps & { readonly emitMetric?: (name: string, value: number) => void },
) {
  const emit = deps.emitMetric ?? publish;
  return async (_event?: unknown): Promise<DrillReport> => {
    const report = await runDeletionDrill(deps);
    emit(DELETION_DRILL_FAILURES, report.ok ? 0 : 1);
    if (report.ok) logger.info('deletion drill passed', { ...report });
    else logger.error('deletion drill failed', { ...report });
    return report;
  };
}

let awsHandler: ((event?: unknown) => Promise<DrillReport>) | undefined;

/** AWS entry: the lifecycle API's and the offboarding tasks' AWS wiring, built on first call from the environment. */
export const handler = async (event?: unknown): Promise<DrillReport> => {
  if (awsHandler === undefined) {
    const { createAwsLifecycleApiDeps, createAwsLifecycleDeps, createAwsDrillSealing } = await import(
      '../lifecycle-tasks/aws-deps.ts'
    );
    const stores = createAwsLifecycleDeps();
    awsHandler = createDeletionDrillHandler({
      lifecycle: createAwsLifecycleApiDeps(),
      customerData: stores.customerData,
      debugCaptures: stores.debugCaptures,
      customerKeys: stores.customerKeys,
      audit: stores.audit,
      ...createAwsDrillSealing(stores.customerKeys),
    });
  }
  return awsHandler(event);
};

/**
 * Incident response for a suspected compromise: the token is rotated at once (the expedited token rotation runs as a
 * nested execution), the customer's recent writes and the secret-access audit are examined, and a report of what was
 * investigated and found is stored and sent, whether or not compromise is confirmed. Identifiers and counts only.
 */
import { randomUUID } from 'node:crypto';
import type { AuditLog, AuditRecord } from '../credentials/audit-log.ts';
import type { CustomerRepository } from '../customers/customer.ts';
import type { Notifier } from '../notifications/notifier.ts';
import { requireCustomer } from './lock.ts';
import { type Step, safeCode } from './onboarding.ts';
import type {
  Clock,
  IncidentReport,
  IncidentReportStore,
  RecentWritesSource,
  RecentWritesSummary,
  SecretAccessFindings,
} from './ports.ts';
import { isExpectedAccessor } from './secret-accessors.ts';
import type { LifecycleSettings } from './settings.ts';

export interface IncidentResponseDeps {
  readonly customers: CustomerRepository;
  readonly notifier: Notifier;
  readonly clock: Clock;
  readonly recentWrites: RecentWritesSource;
  readonly audit: Pick<AuditLog, 'accessesBetween'>;
  readonly incidentReports: IncidentReportStore;
  readonly settings: Pick<
    LifecycleSettings,
    'incidentLookbackHours' | 'expectedSecretAccessors' | 'secretAccessHourlyThreshold'
  >;
}

export interface IncidentWindow {
  readonly reportId: string;
  readonly openedAt: string;
  readonly investigatedFrom: string;
  readonly investigatedTo: string;
}

export async function openIncident(deps: IncidentResponseDeps, step: Step): Promise<IncidentWindow> {
  await requireCustomer(deps.customers, step.customerId);
  const now = deps.clock.now();
  const from = new Date(now.getTime() - deps.settings.incidentLookbackHours * 3_600_000);
  await deps.notifier.alertOperators({
    customerId: step.customerId,
    code: 'INCIDENT_OPENED',
    severity: 'critical',
    details: { executionId: step.executionId },
  });
  return {
    reportId: `incident-${now.toISOString()}-${randomUUID().slice(0, 8)}`,
    openedAt: now.toISOString(),
    investigatedFrom: from.toISOString(),
    investigatedTo: now.toISOString(),
  };
}

export async function collectRecentWrites(
  deps: IncidentResponseDeps,
  step: Step & { readonly investigatedFrom: string },
): Promise<RecentWritesSummary> {
  return deps.recentWrites.recentWrites(step.customerId, step.investigatedFrom);
}

/**
 * Unexpected accessors are those `isExpectedAccessor` does not accept for this customer (secret-accessors.ts); a
 * volume anomaly is an hour above the threshold.
 */
export function analyseSecretAccess(
  entries: readonly Pick<AuditRecord, 'accessor' | 'at'>[],
  expectation: {
    readonly customerId: string;
    readonly expectedAccessors: readonly string[];
    readonly hourlyThreshold: number;
  },
): SecretAccessFindings {
  const { customerId, expectedAccessors, hourlyThreshold } = expectation;
  const unexpected = entries.filter((entry) => !isExpectedAccessor(entry.accessor, customerId, expectedAccessors));
  const perHour = new Map<string, number>();
  for (const entry of entries) {
    const hour = entry.at.slice(0, 13);
    perHour.set(hour, (perHour.get(hour) ?? 0) + 1);
  }
  const peakHourlyAccesses = Math.max(0, ...perHour.values());
  return {
    totalAccesses: entries.length,
    unexpectedPrincipals: [...new Set(unexpected.map((entry) => entry.accessor))].sort().slice(0, 50),
    unexpectedAccesses: unexpected.length,
    peakHourlyAccesses,
    volumeAnomaly: peakHourlyAccesses > hourlyThreshold,
  };
}

export async function collectSecretAccess(
  deps: IncidentResponseDeps,
  step: Step & { readonly investigatedFrom: string; readonly investigatedTo: string },
): Promise<SecretAccessFindings> {
  const entries = await deps.audit.accessesBetween(step.customerId, step.investigatedFrom, step.investigatedTo);
  return analyseSecretAccess(entries, {
    customerId: step.customerId,
    expectedAccessors: deps.settings.expectedSecretAccessors,
    hourlyThreshold: deps.settings.secretAccessHourlyThreshold,
  });
}

export function compromiseIndicators(
  rotation: IncidentReport['tokenRotation'],
  secretAccess: SecretAccessFindings,
): string[] {
  const indicators: string[] = [];
  if (secretAccess.unexpectedAccesses > 0) indicators.push('unexpected_secret_accessors');
  if (secretAccess.volumeAnomaly) indicators.push('secret_access_volume_anomaly');
  if (rotation.status !== 'rotated') indicators.push('token_not_rotated');
  return indicators;
}

export async function compileIncidentReport(
  deps: IncidentResponseDeps,
  step: Step &
    IncidentWindow & {
      readonly rotationStatus: string;
      readonly rotationError?: string;
      readonly recentWrites: RecentWritesSummary;
      readonly secretAccess: SecretAccessFindings;
    },
): Promise<{ reportId: string; indicators: number }> {
  const tokenRotation: IncidentReport['tokenRotation'] =
    step.rotationStatus === 'SUCCEEDED'
      ? { status: 'rotated' }
      : { status: 'not_rotated', errorCode: safeCode(step.rotationError ?? 'ROTATION_NOT_COMPLETED') };
  const indicators = compromiseIndicators(tokenRotation, step.secretAccess);
  const existing = await deps.incidentReports.get(step.customerId, step.reportId);
  if (existing === undefined) {
    await deps.incidentReports.put({
      customerId: step.customerId,
      reportId: step.reportId,
      executionId: step.executionId,
      openedAt: step.openedAt,
      compiledAt: deps.clock.now().toISOString(),
      investigatedFrom: step.investigatedFrom,
      investigatedTo: step.investigatedTo,
      tokenRotation,
      recentWrites: step.recentWrites,
      secretAccess: step.secretAccess,
      compromiseIndicators: indicators,
    });
  }
  await deps.notifier.notifyCustomer({
    customerId: step.customerId,
    type: 'incident_report_ready',
    details: { reportId: step.reportId, indicators: indicators.length },
  });
  await deps.notifier.alertOperators({
    customerId: step.customerId,
    code: 'INCIDENT_REPORT_READY',
    severity: indicators.length > 0 ? 'critical' : 'info',
    details: { reportId: step.reportId, indicators: indicators.join(',') || 'none' },
  });
  return { reportId: step.reportId, indicators: indicators.length };
}

/**
 * Incident response for a suspected compromise: the token is rotated at once (the expedited token rotation runs as a
 * nested execution), and alongside it the customer's recent writes, the integration's secret-access audit and what
 * the secrets manager itself recorded (CloudTrail) are examined. The report of what was investigated and found is
 * stored and sent as soon as that is done, whether or not compromise is confirmed, without waiting for the
 * customer's new key; the rotation's outcome follows as an update of the same report. Identifiers and counts only.
 */
import { randomUUID } from 'node:crypto';
import type { AuditLog, AuditRecord } from '../credentials/audit-log.ts';
import type { CustomerRepository } from '../customers/customer.ts';
import type { Notifier } from '../notifications/notifier.ts';
import { PermanentError } from '../shared/errors.ts';
import { requireCustomer } from './lock.ts';
import { type Step, safeCode } from './onboarding.ts';
import type {
  Clock,
  IncidentReportStore,
  RecentWritesSource,
  RecentWritesSummary,
  SecretAccessFindings,
  TokenRotationOutcome,
} from './ports.ts';
import {
  analyseTrail,
  type SecretAccessTrail,
  type SecretsManagerTrailFindings,
  trailUnavailable,
} from './secret-access-trail.ts';
import { isExpectedAccessor } from './secret-accessors.ts';
import type { LifecycleSettings } from './settings.ts';

export interface IncidentResponseDeps {
  readonly customers: CustomerRepository;
  readonly notifier: Notifier;
  readonly clock: Clock;
  readonly recentWrites: RecentWritesSource;
  readonly audit: Pick<AuditLog, 'accessesBetween'>;
  readonly incidentReports: IncidentReportStore;
  readonly secretAccessTrail: SecretAccessTrail;
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
    // The opening time leads (reports sort by it) in its compact form: no colons, so the id sits plainly in a URL.
    reportId: `incident-${now.toISOString().replace(/[-:]|\.\d{3}/g, '')}-${randomUUID().slice(0, 8)}`,
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

/** Reads the secrets manager's own record of the window (CloudTrail on AWS) and turns it into findings. */
export async function checkSecretsManagerTrail(
  deps: IncidentResponseDeps,
  step: Step & { readonly investigatedFrom: string; readonly investigatedTo: string },
): Promise<SecretsManagerTrailFindings> {
  const read = await deps.secretAccessTrail.readAccesses({
    customerId: step.customerId,
    from: step.investigatedFrom,
    to: step.investigatedTo,
  });
  return analyseTrail(read, deps.secretAccessTrail, {
    customerId: step.customerId,
    expectedAccessors: deps.settings.expectedSecretAccessors,
    hourlyThreshold: deps.settings.secretAccessHourlyThreshold,
  });
}

/** The trail could not be read after the workflow's retries: the report goes out saying so. */
export function secretsManagerTrailUnavailable(
  deps: IncidentResponseDeps,
  error: unknown,
): SecretsManagerTrailFindings {
  return trailUnavailable(deps.secretAccessTrail, safeCode(error ?? 'TRAIL_NOT_READ'));
}

export function compromiseIndicators(
  rotation: TokenRotationOutcome,
  secretAccess: SecretAccessFindings,
  trail: SecretsManagerTrailFindings,
): string[] {
  const indicators: string[] = [];
  if (secretAccess.unexpectedAccesses > 0) indicators.push('unexpected_secret_accessors');
  if (secretAccess.volumeAnomaly) indicators.push('secret_access_volume_anomaly');
  if (trail.foreignCalls > 0) indicators.push('secrets_manager_foreign_accessor');
  if (trail.deniedCalls > 0) indicators.push('secrets_manager_access_denied');
  if (trail.findings.some((finding) => finding.kind === 'volume_anomaly')) {
    indicators.push('secrets_manager_volume_anomaly');
  }
  if (rotation.status === 'not_rotated') indicators.push('token_not_rotated');
  return indicators;
}

/** Stores the report (once: a retry finds it) and sends it; the token rotation is still running. */
export async function compileIncidentReport(
  deps: IncidentResponseDeps,
  step: Step &
    IncidentWindow & {
      readonly recentWrites: RecentWritesSummary;
      readonly secretAccess: SecretAccessFindings;
      readonly secretsManagerTrail: SecretsManagerTrailFindings;
    },
): Promise<{ reportId: string; indicators: number }> {
  const tokenRotation: TokenRotationOutcome = { status: 'in_progress' };
  const existing = await deps.incidentReports.get(step.customerId, step.reportId);
  const indicators =
    existing?.compromiseIndicators ?? compromiseIndicators(tokenRotation, step.secretAccess, step.secretsManagerTrail);
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
      secretsManagerTrail: step.secretsManagerTrail,
      compromiseIndicators: indicators,
    });
  }
  await deps.notifier.notifyCustomer({
    customerId: step.customerId,
    type: 'incident_report_ready',
    details: { reportId: step.reportId, indicators: indicators.length, tokenRotation: 'in_progress' },
  });
  const trailChecked = step.secretsManagerTrail.status === 'checked';
  await deps.notifier.alertOperators({
    customerId: step.customerId,
    code: 'INCIDENT_REPORT_READY',
    // An unread trail is not a finding, but the operators must check it by hand.
    severity: indicators.length > 0 ? 'critical' : trailChecked ? 'info' : 'warning',
    details: {
      reportId: step.reportId,
      indicators: indicators.join(',') || 'none',
      secretsManagerTrail: trailChecked ? step.secretsManagerTrail.source : 'unavailable',
    },
  });
  return { reportId: step.reportId, indicators: indicators.length };
}

/** Writes the rotation's outcome into the stored report and tells the customer and the operators. */
export async function recordRotationOutcome(
  deps: IncidentResponseDeps,
  step: Step & { readonly reportId: string; readonly rotationStatus: string; readonly rotationError?: string },
): Promise<{ tokenRotation: TokenRotationOutcome['status']; indicators: number }> {
  const report = await deps.incidentReports.get(step.customerId, step.reportId);
  if (report === undefined) {
    throw new PermanentError('INCIDENT_REPORT_MISSING', 'the incident report to update was not found');
  }
  const recordedAt = deps.clock.now().toISOString();
  const tokenRotation: TokenRotationOutcome =
    step.rotationStatus === 'SUCCEEDED'
      ? { status: 'rotated', recordedAt }
      : { status: 'not_rotated', errorCode: safeCode(step.rotationError ?? 'ROTATION_NOT_COMPLETED'), recordedAt };
  const indicators = compromiseIndicators(tokenRotation, report.secretAccess, report.secretsManagerTrail);
  const recorded = await deps.incidentReports.recordRotation(step.customerId, step.reportId, {
    tokenRotation,
    compromiseIndicators: indicators,
  });
  if (!recorded) throw new PermanentError('INCIDENT_REPORT_MISSING', 'the incident report to update was not found');
  await deps.notifier.notifyCustomer({
    customerId: step.customerId,
    type: 'incident_report_updated',
    details: { reportId: step.reportId, tokenRotation: tokenRotation.status, indicators: indicators.length },
  });
  await deps.notifier.alertOperators({
    customerId: step.customerId,
    code: 'INCIDENT_REPORT_UPDATED',
    severity: tokenRotation.status === 'rotated' ? 'info' : 'critical',
    details: {
      reportId: step.reportId,
      tokenRotation: tokenRotation.status,
      indicators: indicators.join(',') || 'none',
    },
  });
  return { tokenRotation: tokenRotation.status, indicators: indicators.length };
}

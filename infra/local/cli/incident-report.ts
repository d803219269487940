/**
 * The `incident` command's report: found by its execution while the rotation may still wait for the new key, and
 * printed as plain lines of identifiers, times, counts and codes (what the lifecycle API serves; never a value).
 */
import type { IncidentReport, IncidentReportSummary } from '../../../functions/lifecycle/ports.ts';
import type { Target } from './target.ts';

/** The report the execution compiled, once it is stored; undefined before. */
export async function reportOfExecution(
  target: Pick<Target, 'incidentReports' | 'incidentReport'>,
  customerId: string,
  executionId: string,
): Promise<IncidentReport | undefined> {
  const summaries: IncidentReportSummary[] = await target.incidentReports(customerId);
  const summary = summaries.find((candidate) => candidate.executionId === executionId);
  return summary === undefined ? undefined : target.incidentReport(customerId, summary.reportId);
}

const ROTATION: Readonly<Record<IncidentReport['tokenRotation']['status'], string>> = {
  in_progress: 'in progress (waiting for the new key; the report is updated when it ends)',
  rotated: 'rotated',
  not_rotated: 'NOT rotated',
};

export function formatRotation(rotation: IncidentReport['tokenRotation']): string {
  return `${ROTATION[rotation.status]}${rotation.errorCode ? ` (${rotation.errorCode})` : ''}${
    rotation.recordedAt ? ` at ${rotation.recordedAt}` : ''
  }`;
}

function counts(byKind: Readonly<Record<string, number>>): string {
  const parts = Object.entries(byKind).map(([kind, count]) => `${kind} ${count}`);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

export function formatIncidentReport(report: IncidentReport): string {
  const trail = report.secretsManagerTrail;
  const lines = [
    `incident report ${report.reportId}`,
    `  execution          ${report.executionId}`,
    `  investigated       ${report.investigatedFrom} to ${report.investigatedTo}`,
    `  token rotation     ${formatRotation(report.tokenRotation)}`,
    `  recent writes      ${report.recentWrites.total}${counts(report.recentWrites.byKind)}`,
    `  integration audit  ${report.secretAccess.totalAccesses} accesses, ${report.secretAccess.unexpectedAccesses} unexpected, peak ${report.secretAccess.peakHourlyAccesses}/h`,
  ];
  for (const principal of report.secretAccess.unexpectedPrincipals) lines.push(`    unexpected         ${principal}`);
  const source = trail.source === 'cloudtrail' ? 'CloudTrail' : 'local secret store records (no CloudTrail here)';
  if (trail.status === 'unavailable') {
    lines.push(`  secrets manager    ${source}: NOT READ (${trail.errorCode ?? 'error'}); check it by hand`);
  } else {
    lines.push(
      `  secrets manager    ${source}: ${trail.coveredFrom} to ${trail.coveredTo}, complete until ${trail.completeUntil} (delivery lag up to ${trail.deliveryLagMinutes} min)${trail.truncated ? ', TRUNCATED at the page budget' : ''}`,
      `                     ${trail.totalCalls} reads, ${trail.deniedCalls} denied, ${trail.foreignCalls} by others than the integration, peak ${trail.peakHourlyCalls}/h`,
    );
    for (const finding of trail.findings) {
      lines.push(
        `    ${finding.kind.padEnd(17)}  ${finding.principal} on ${finding.secretName}: ${finding.calls}× ${finding.firstAt} to ${finding.lastAt}${finding.errorCode ? ` (${finding.errorCode})` : ''}`,
      );
    }
    if (trail.findingsTruncated) lines.push('    … more findings than the report keeps');
  }
  lines.push(`  indicators         ${report.compromiseIndicators.join(', ') || 'none'}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Incident reports for the customer's platform and the operators: the list of a customer's incidents and one
 * report, as stored (identifiers, times, counts and codes; never a secret value). Served as soon as the report is
 * compiled, while the incident's token rotation may still be waiting for the new key (`tokenRotation.status`).
 */
import type { IncidentReport, IncidentReportStore, IncidentReportSummary } from '../lifecycle/ports.ts';
import { ApiRefusal } from './lifecycle-api.ts';

/**
 * `incident-<opened at, 20261129T101500Z>-<8 hex>` (functions/lifecycle/incident-response.ts); reports stored before
 * the compact form carry the full ISO-8601 time.
 */
const REPORT_ID = /^incident-(\d{8}T\d{6}Z|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)-[0-9a-f]{8}$/;
const LISTED = 20;

export type IncidentReportReader = Pick<IncidentReportStore, 'get' | 'list'>;

/** A report id from a path (possibly still percent-encoded); the refusal never repeats it. */
export function parseReportId(raw: string): string {
  let decoded: string | undefined;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    decoded = undefined;
  }
  if (decoded === undefined || !REPORT_ID.test(decoded)) {
    throw new ApiRefusal(400, 'INVALID_REPORT_ID', 'the incident report id has the wrong shape');
  }
  return decoded;
}

export async function listIncidentReports(
  reports: IncidentReportReader,
  customerId: string,
): Promise<IncidentReportSummary[]> {
  return reports.list(customerId, LISTED);
}

export async function readIncidentReport(
  reports: IncidentReportReader,
  customerId: string,
  rawReportId: string,
): Promise<IncidentReport> {
  const report = await reports.get(customerId, parseReportId(rawReportId));
  if (report === undefined) throw new ApiRefusal(404, 'INCIDENT_REPORT_NOT_FOUND', 'no such incident report');
  return report;
}

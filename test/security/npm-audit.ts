/**
 * `npm audit` of the production dependency tree, read from its JSON report. An answer that is not a report (the
 * audit endpoint unreachable, refused or answering an error) is "unavailable", never "clean".
 */
import { spawnSync } from 'node:child_process';

export type Severity = 'info' | 'low' | 'moderate' | 'high' | 'critical';

export const BLOCKING: ReadonlySet<Severity> = new Set(['high', 'critical']);

export interface Vulnerability {
  readonly name: string;
  readonly severity: Severity;
  /** Advisory titles, or the packages through which the vulnerability arrives. */
  readonly via: readonly string[];
}

export type AuditOutcome =
  | {
      readonly kind: 'report';
      readonly counts: Readonly<Record<Severity, number>>;
      readonly productionDependencies: number;
      readonly blocking: readonly Vulnerability[];
    }
  | { readonly kind: 'unavailable'; readonly reason: string };

interface AuditReportV2 {
  readonly auditReportVersion?: number;
  readonly vulnerabilities?: Record<string, { severity?: Severity; via?: ReadonlyArray<string | { title?: string }> }>;
  readonly metadata?: {
    readonly vulnerabilities?: Partial<Record<Severity, number>>;
    readonly dependencies?: { readonly prod?: number };
  };
  readonly message?: string;
  readonly statusCode?: number;
  readonly error?: { readonly code?: string; readonly summary?: string; readonly detail?: string };
}

export function parseAuditOutput(stdout: string): AuditOutcome {
  let report: AuditReportV2;
  try {
    report = JSON.parse(stdout) as AuditReportV2;
  } catch {
    return { kind: 'unavailable', reason: 'npm audit printed no JSON report' };
  }
  if (report.error !== undefined || report.message !== undefined || report.auditReportVersion !== 2) {
    const message = report.message ?? report.error?.summary;
    const status =
      report.statusCode !== undefined && !message?.includes(String(report.statusCode)) ? report.statusCode : undefined;
    const detail = [status, report.error?.code, message].filter((part) => part !== undefined && part !== '').join(' ');
    return { kind: 'unavailable', reason: detail === '' ? 'unrecognized npm audit answer' : detail };
  }
  const declared = report.metadata?.vulnerabilities ?? {};
  const counts: Record<Severity, number> = {
    info: declared.info ?? 0,
    low: declared.low ?? 0,
    moderate: declared.moderate ?? 0,
    high: declared.high ?? 0,
    critical: declared.critical ?? 0,
  };
  const blocking = Object.entries(report.vulnerabilities ?? {})
    .filter(([, entry]) => entry.severity !== undefined && BLOCKING.has(entry.severity))
    .map(([name, entry]) => ({
      name,
      severity: entry.severity as Severity,
      via: (entry.via ?? []).map((via) => (typeof via === 'string' ? via : (via.title ?? 'advisory'))),
    }));
  // The per-package list and the summary come from one report; if they disagree, trust the stricter.
  if (blocking.length === 0 && counts.high + counts.critical > 0) {
    return {
      kind: 'report',
      counts,
      productionDependencies: report.metadata?.dependencies?.prod ?? 0,
      blocking: [{ name: '(summary only)', severity: counts.critical > 0 ? 'critical' : 'high', via: [] }],
    };
  }
  return { kind: 'report', counts, productionDependencies: report.metadata?.dependencies?.prod ?? 0, blocking };
}

/** Runs the audit (bounded: one request, 120 s) in `cwd`; npm exits non-zero on findings, so the JSON decides. */
export function runProductionAudit(cwd: string): AuditOutcome {
  const result = spawnSync('npm', ['audit', '--json', '--omit=dev'], {
    cwd,
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, npm_config_audit: 'true', npm_config_fetch_retries: '1' },
  });
  if (result.error !== undefined) {
    return { kind: 'unavailable', reason: `npm audit did not run: ${result.error.message}` };
  }
  return parseAuditOutput(result.stdout);
}

// biome-ignore-all lint/suspicious/noExplicitAny: CloudFormation template JSON is untyped; these helpers and assertions walk it structurally
/**
 * Synthesizes the app once per test file (the same way `cdk synth` does: cdk.json and cdk.context.json context)
 * and shares the template, the validation report and the acknowledged cdk-nag findings.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { buildIntegrationApp, type IntegrationApp } from '../../infra/aws/integration-app.ts';
import type { AcknowledgedFinding } from '../../infra/aws/nag/packs.ts';
import { projectContext } from '../../infra/aws/project-context.ts';

export interface ValidationViolation {
  readonly ruleName: string;
  readonly description: string;
  readonly severity?: string;
  readonly violatingConstructs: readonly ViolatingConstruct[];
}

export interface ViolatingConstruct {
  readonly constructPath: string;
  readonly cloudFormationResource?: { readonly logicalId: string };
}

/** A finding CDK suppressed because the construct (or an ancestor) acknowledges its rule. */
export interface SuppressedViolation {
  readonly ruleName: string;
  readonly description: string;
  readonly acknowledgedId: string;
  readonly acknowledgedAt: string;
  readonly reason: string;
  readonly violatingConstructs: readonly ViolatingConstruct[];
}

export interface ValidationReport {
  readonly pluginReports: readonly {
    readonly pluginName: string;
    readonly conclusion: string;
    readonly violations: readonly ValidationViolation[];
    readonly suppressedViolations?: readonly SuppressedViolation[];
  }[];
}

export interface Synthesized {
  readonly template: Template;
  readonly json: Record<string, any>;
  readonly report: ValidationReport;
  readonly acknowledged: readonly AcknowledgedFinding[];
  readonly built: IntegrationApp;
  /** The error synthesis threw (validation failure), if any: tests assert on the report instead. */
  readonly synthError: unknown;
}

const cache = new Map<string, Synthesized>();

/**
 * Bundling is skipped here (`aws:cdk:bundling-stacks: []`): these tests are about the infrastructure, not about
 * whether every function's code compiles today; secure-function.test.ts bundles a real entry to check the bundle.
 */
export function synthesize(overrides: Record<string, unknown> = {}, options: { nag?: boolean } = {}): Synthesized {
  overrides = { 'aws:cdk:bundling-stacks': [], ...overrides };
  const nag = options.nag ?? true;
  const key = JSON.stringify({ overrides, nag });
  const hit = cache.get(key);
  if (hit) return hit;
  const outdir = mkdtempSync(join(tmpdir(), 'virtuous-infra-'));
  const saved = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
  // The fixed account/region from context, whatever the developer's shell exports.
  delete process.env.CDK_DEFAULT_ACCOUNT;
  delete process.env.CDK_DEFAULT_REGION;
  try {
    const built = buildIntegrationApp({ outdir, context: projectContext(overrides), nag });
    let synthError: unknown;
    try {
      built.app.synth();
    } catch (error) {
      synthError = error;
    }
    const stackName = built.stack.artifactId;
    const json = JSON.parse(readFileSync(join(outdir, `${stackName}.template.json`), 'utf8')) as Record<string, any>;
    const reportPath = join(outdir, 'validation-report.json');
    const report = (
      existsSync(reportPath) ? JSON.parse(readFileSync(reportPath, 'utf8')) : { pluginReports: [] }
    ) as ValidationReport;
    const result: Synthesized = {
      template: Template.fromJSON(json),
      json,
      report,
      acknowledged: built.acknowledged,
      built,
      synthError,
    };
    cache.set(key, result);
    return result;
  } finally {
    if (saved.account !== undefined) process.env.CDK_DEFAULT_ACCOUNT = saved.account;
    if (saved.region !== undefined) process.env.CDK_DEFAULT_REGION = saved.region;
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Every unacknowledged finding as `pack rule @ construct path`, so a failing assertion names them. */
export function unacknowledgedFindings(report: ValidationReport): string[] {
  return report.pluginReports.flatMap((plugin) =>
    plugin.violations.flatMap((violation) =>
      violation.violatingConstructs.map((c) => `${plugin.pluginName} ${violation.ruleName} @ ${c.constructPath}`),
    ),
  );
}

/** The report of one validation plugin; CDK leaves a plugin out when it found nothing at all. */
export function pluginReport(report: ValidationReport, pluginName: string): ValidationReport['pluginReports'][number] {
  const found = report.pluginReports.find((plugin) => plugin.pluginName === pluginName);
  if (!found) {
    const ran = report.pluginReports.map((plugin) => plugin.pluginName).join(', ');
    throw new Error(`no ${pluginName} report in validation-report.json (plugins with findings: ${ran || 'none'})`);
  }
  return found;
}

/** Resources of one type: logical id → resource. */
export function resourcesOfType(json: Record<string, any>, type: string): [string, any][] {
  return Object.entries(json.Resources as Record<string, any>).filter(([, resource]) => resource.Type === type);
}

/**
 * The AWS Control Tower proactive controls, run by cfn-guard through the `@cdklabs/cdk-validator-cfnguard`
 * policy-validation plugin beside the cdk-nag packs: synthesis fails on any finding that is not acknowledged, and
 * cdk.out/validation-report.json names each one (control, construct path, logical id).
 *
 * Unlike cdk-nag, the plugin does not read acknowledgements itself: CDK suppresses a finding when the violating
 * construct (or an ancestor) carries `Validations.of(scope).acknowledge({ id: 'cdk-validator-cfnguard::<rule>' })`
 * and lists it under `suppressedViolations` in the report. The controls are known by their Control Tower id
 * (CT.S3.PR.9) while cfn-guard reports the guard rule name (s3_bucket_object_lock_enabled_check), so
 * acknowledgements name the control and `controlTowerAcknowledgementId` looks the rule up in the bundled file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import type { IPolicyValidationContext, IPolicyValidationPlugin, PolicyValidationPluginReport } from 'aws-cdk-lib';

export const CFN_GUARD_PLUGIN_NAME = 'cdk-validator-cfnguard';

/** `[CT.S3.PR.9]: Require …` — how every bundled control starts its finding description. */
export const CONTROL_ID_PATTERN = /^\[(CT\.[A-Z0-9-]+\.PR\.\d+)\]/;

const RULES_DIR = join(
  dirname(createRequire(import.meta.url).resolve('@cdklabs/cdk-validator-cfnguard/package.json')),
  'rules/control-tower/cfn-guard',
);

/**
 * cfn-guard prints every checked clause as JSON (about 0.6 MB for this stack today); Node's 1 MB default buffer
 * would kill it as the stack grows and fail synthesis with ENOBUFS instead of a report.
 */
const GUARD_OUTPUT_BUFFER_BYTES = 64 * 1024 * 1024;

/**
 * The bundled controls as a validation plugin.
 *
 * - Only the controls that report on a resource type present in the templates are handed to cfn-guard: a control
 *   finds nothing where its type is absent, and loading all ~300 rule files made it about three times slower.
 * - cfn-guard's findings carry no severity. Once CDK has suppressed the acknowledged ones it recomputes the plugin's
 *   verdict from the severities of what is left, so a finding without one would let synthesis pass. Every finding is
 *   an error here: an unacknowledged control fails synthesis.
 */
export function createControlTowerValidator(): IPolicyValidationPlugin {
  const all = new CfnGuardValidator({ controlTowerRulesEnabled: true });
  return {
    name: all.name,
    version: all.version,
    ruleIds: all.ruleIds,
    validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
      const types = new Set(context.templatePaths.flatMap(resourceTypesOf));
      const rules = [...bundledGuardFiles().values()].filter((file) => {
        const reportsOn = reportedResourceTypes(file);
        return reportsOn.length === 0 || reportsOn.some((type) => types.has(type));
      });
      if (rules.length === 0) return { success: true, violations: [] };
      const guard = new CfnGuardValidator({
        controlTowerRulesEnabled: false,
        rules,
        maxBuffer: GUARD_OUTPUT_BUFFER_BYTES,
      });
      const report = guard.validate(context);
      return { ...report, violations: report.violations.map((v) => ({ ...v, severity: v.severity ?? 'error' })) };
    },
  };
}

function resourceTypesOf(templatePath: string): string[] {
  const template = JSON.parse(readFileSync(templatePath, 'utf8')) as { Resources?: Record<string, { Type: string }> };
  return Object.values(template.Resources ?? {}).map((resource) => resource.Type);
}

/** The `# Reports on:` types in a guard file's header; none read means the file is always run. */
function reportedResourceTypes(file: string): string[] {
  const header = readFileSync(file, 'utf8').match(/^# Reports on:\s*\n((?:#\s+AWS::.*\n)+)/m)?.[1] ?? '';
  return header.match(/AWS::[A-Za-z0-9]+::[A-Za-z0-9]+/g) ?? [];
}

let guardFiles: Map<string, string> | undefined;

/** Bundled guard files by name (`ct-s3-pr-9.guard` → its path). */
function bundledGuardFiles(): Map<string, string> {
  guardFiles ??= new Map(
    readdirSync(RULES_DIR, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.guard'))
      .map((file) => [file.split('/').at(-1) as string, join(RULES_DIR, file)]),
  );
  return guardFiles;
}

/** The guard rule name of a bundled control (`CT.S3.PR.9` → `s3_bucket_object_lock_enabled_check`). */
export function controlTowerRuleName(controlId: string): string {
  const file = `${controlId.toLowerCase().replaceAll('.', '-')}.guard`;
  const path = bundledGuardFiles().get(file);
  if (!path) throw new Error(`${controlId} is not a Control Tower proactive control bundled with cfn-guard (${file})`);
  // Each file opens with its rule's name under "Rule Name:" or "Rule Identifier:".
  const name = readFileSync(path, 'utf8').match(/^# Rule (?:Name|Identifier):\s*\n#\s+([a-z0-9_]+)\s*$/m)?.[1];
  if (!name) throw new Error(`cannot read the rule name of ${controlId} from ${path}`);
  return name;
}

/** The id `Validations.of(scope).acknowledge()` takes to suppress one control's findings. */
export function controlTowerAcknowledgementId(controlId: string): string {
  return `${CFN_GUARD_PLUGIN_NAME}::${controlTowerRuleName(controlId)}`;
}

/**
 * `npm run synth`: offline CloudFormation synthesis into cdk.out with the cdk-nag packs and the AWS Control Tower
 * proactive controls (cfn-guard) as policy-validation plugins, then a short summary for humans: the stack, resource
 * counts by type, egress IPs and outputs, and the security findings (unacknowledged ones fail the command,
 * acknowledged ones are counted by rule or control).
 *
 *   npm run synth                                   # staging (cdk.json)
 *   npm run synth -- -c environmentName=production
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './constructs/secure-function.ts';
import { buildIntegrationApp } from './integration-app.ts';
import { CFN_GUARD_PLUGIN_NAME, CONTROL_ID_PATTERN } from './nag/control-tower.ts';
import { NAG_PACK_NAMES } from './nag/packs.ts';
import { contextFromArgs, projectContext } from './project-context.ts';

interface Violation {
  ruleName: string;
  description: string;
  violatingConstructs: { constructPath: string }[];
}

interface Report {
  pluginReports: { pluginName: string; violations: Violation[]; suppressedViolations?: Violation[] }[];
}

const outdir = join(PROJECT_ROOT, 'cdk.out');
rmSync(join(outdir, 'validation-report.json'), { force: true });
const started = Date.now();
let built: ReturnType<typeof buildIntegrationApp>;
try {
  built = buildIntegrationApp({ outdir, context: projectContext(contextFromArgs(process.argv.slice(2))) });
} catch (error) {
  // Bundling runs while the stack is built: a function that does not compile fails here, named by its path.
  const message = error instanceof Error ? error.message : String(error);
  console.error(`synthesis failed while building the stack: ${message.split('\n')[0]}`);
  process.exit(1);
}
const { app, stack, acknowledged } = built;

let synthFailed: unknown;
try {
  app.synth();
} catch (error) {
  synthFailed = error;
}

const reportPath = join(outdir, 'validation-report.json');
const templatePath = join(outdir, `${stack.artifactId}.template.json`);
if (!existsSync(templatePath) || !existsSync(reportPath)) {
  console.error('synthesis failed before producing a template and validation report:');
  console.error(synthFailed instanceof Error ? synthFailed.message : synthFailed);
  process.exit(1);
}
const template = JSON.parse(readFileSync(templatePath, 'utf8')) as {
  Resources: Record<string, { Type: string; DeletionPolicy?: string }>;
  Outputs?: Record<string, { Description?: string }>;
};
const report = JSON.parse(readFileSync(reportPath, 'utf8')) as Report;

const byType = new Map<string, number>();
for (const resource of Object.values(template.Resources))
  byType.set(resource.Type, (byType.get(resource.Type) ?? 0) + 1);
const eips = Object.values(template.Resources).filter((r) => r.Type === 'AWS::EC2::EIP');
// A cfn-guard finding is named by its Control Tower control id (CT.S3.PR.9) before the guard rule name.
const controlOf = (violation: Violation) => violation.description.match(CONTROL_ID_PATTERN)?.[1];
const unacknowledged = report.pluginReports.flatMap((plugin) =>
  plugin.violations.flatMap((violation) =>
    violation.violatingConstructs.map(
      (c) =>
        `${plugin.pluginName}  ${[controlOf(violation), violation.ruleName].filter(Boolean).join(' ')}  @ ${c.constructPath}`,
    ),
  ),
);
const acknowledgedByRule = new Map<string, number>();
for (const finding of acknowledged) {
  const rule = finding.ruleId.replace(/\[.*$/, '');
  acknowledgedByRule.set(rule, (acknowledgedByRule.get(rule) ?? 0) + 1);
}
// cfn-guard's acknowledged findings are the ones CDK suppressed; counted by Control Tower control id.
const guardReport = report.pluginReports.find((plugin) => plugin.pluginName === CFN_GUARD_PLUGIN_NAME);
const guardUnacknowledged = (guardReport?.violations ?? []).reduce((n, v) => n + v.violatingConstructs.length, 0);
const guardAcknowledgedByControl = new Map<string, number>();
for (const violation of guardReport?.suppressedViolations ?? []) {
  const control = controlOf(violation) ?? violation.ruleName;
  guardAcknowledgedByControl.set(
    control,
    (guardAcknowledgedByControl.get(control) ?? 0) + violation.violatingConstructs.length,
  );
}
const guardAcknowledged = [...guardAcknowledgedByControl.values()].reduce((a, b) => a + b, 0);

const lines: string[] = [];
lines.push(`Stack      ${stack.stackName}  (account ${stack.account}, region ${stack.region})`);
lines.push(
  `Template   ${templatePath.replace(PROJECT_ROOT, '')}  (${Object.keys(template.Resources).length} resources, synthesized in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
);
lines.push('');
lines.push('Resources by type:');
for (const [type, count] of [...byType].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
  lines.push(`  ${String(count).padStart(3)}  ${type}`);
}
lines.push('');
lines.push(
  `Egress:    ${eips.length} Elastic IPs (DeletionPolicy ${[...new Set(eips.map((e) => e.DeletionPolicy ?? 'Delete'))].join('/')}), one NAT gateway per AZ; SSM /virtuous/${String(app.node.tryGetContext('environmentName'))}/egress-ips`,
);
lines.push('Outputs:');
for (const [name, output] of Object.entries(template.Outputs ?? {})) {
  lines.push(`  ${name}${output.Description ? ` — ${output.Description}` : ''}`);
}
lines.push('');
lines.push(`Security findings (cdk-nag packs ${NAG_PACK_NAMES.join(', ')}, plus CDK's CloudFormation validation):`);
lines.push(
  `  ${unacknowledged.length - guardUnacknowledged} unacknowledged, ${acknowledged.length} acknowledged (reasons: infra/aws/nag/acknowledgements.ts, docs/security/cdk-nag-acknowledgements.md)`,
);
for (const [rule, count] of [...acknowledgedByRule].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
  lines.push(`    ${String(count).padStart(3)}  ${rule}`);
}
lines.push(`Control Tower proactive controls (cfn-guard, ${CFN_GUARD_PLUGIN_NAME}):`);
lines.push(
  `  ${guardUnacknowledged} unacknowledged, ${guardAcknowledged} acknowledged (reasons: infra/aws/nag/acknowledgements.ts, docs/security/cdk-nag-acknowledgements.md)`,
);
for (const [control, count] of [...guardAcknowledgedByControl].sort(
  (a, b) => b[1] - a[1] || a[0].localeCompare(b[0]),
)) {
  lines.push(`    ${String(count).padStart(3)}  ${control}`);
}
if (unacknowledged.length > 0) {
  lines.push('');
  lines.push('UNACKNOWLEDGED (fix or acknowledge with a specific reason):');
  for (const finding of unacknowledged) lines.push(`  ${finding}`);
}
lines.push('');
lines.push(`Full report: ${reportPath.replace(PROJECT_ROOT, '')}`);
console.log(lines.join('\n'));

if (unacknowledged.length > 0 || (synthFailed && !/Validation failed/.test(String(synthFailed)))) {
  if (synthFailed && !/Validation failed/.test(String(synthFailed))) console.error(String(synthFailed));
  process.exit(1);
}

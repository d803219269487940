/**
 * The Control Tower validator on a two-queue app (cfn-guard runs in about a second on it): what happens to a finding
 * nobody acknowledged, and how control ids map to the rules cfn-guard reports. The stack's own findings are checked in
 * stack-security.test.ts on the shared synthesis.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { App, type IPolicyValidationContext, type PolicyValidationPluginReport, Stack, Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CFN_GUARD_PLUGIN_NAME,
  controlTowerAcknowledgementId,
  controlTowerRuleName,
  createControlTowerValidator,
} from '../../infra/aws/nag/control-tower.ts';
import { pluginReport, type ValidationReport } from './synth.ts';

const outdir = mkdtempSync(join(tmpdir(), 'virtuous-control-tower-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

let synthError: unknown;
let report: ValidationReport;
beforeAll(() => {
  const app = new App({ outdir });
  const stack = new Stack(app, 'Queues', { env: { account: '123456789012', region: 'us-east-1' } });
  // Neither queue has a dead-letter queue (CT.SQS.PR.1); only one is acknowledged.
  const acknowledged = new Queue(stack, 'AcknowledgedQueue', { encryption: QueueEncryption.KMS_MANAGED });
  new Queue(stack, 'UnacknowledgedQueue', { encryption: QueueEncryption.KMS_MANAGED });
  Validations.of(acknowledged).acknowledge({
    id: controlTowerAcknowledgementId('CT.SQS.PR.1'),
    reason: 'Stands for a dead-letter queue: the end of a redrive chain',
  });
  Validations.of(app).addPlugins(createControlTowerValidator());
  try {
    app.synth();
  } catch (error) {
    synthError = error;
  }
  report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as ValidationReport;
}, 60_000);

describe('Control Tower validator', () => {
  it('fails synthesis on a finding left unacknowledged, even when another finding of the control is acknowledged', () => {
    expect(String(synthError)).toMatch(/^ValidationFailed[\s\S]*CT\.SQS\.PR\.1/);
    const guard = pluginReport(report, CFN_GUARD_PLUGIN_NAME);
    expect(guard.conclusion).toBe('failure');
  });

  it('names the control, the rule and the resource of the unacknowledged finding', () => {
    const guard = pluginReport(report, CFN_GUARD_PLUGIN_NAME);
    const findings = guard.violations.flatMap((v) =>
      v.violatingConstructs.map((c) => `${v.description.slice(0, 13)} ${v.ruleName} @ ${c.constructPath}`),
    );
    expect(findings).toEqual(['[CT.SQS.PR.1] sqs_dlq_check @ Queues/UnacknowledgedQueue/Resource']);
  });

  it('lists the acknowledged finding with its reason and where it was acknowledged', () => {
    const guard = pluginReport(report, CFN_GUARD_PLUGIN_NAME);
    expect(guard.suppressedViolations?.map((s) => [s.ruleName, s.acknowledgedAt, s.reason])).toEqual([
      ['sqs_dlq_check', 'Queues/AcknowledgedQueue', 'Stands for a dead-letter queue: the end of a redrive chain'],
    ]);
  });
});

describe('control ids', () => {
  it('resolve to the rule name in the bundled guard file', () => {
    expect(controlTowerRuleName('CT.S3.PR.9')).toBe('s3_bucket_object_lock_enabled_check');
    expect(controlTowerAcknowledgementId('CT.SQS.PR.1')).toBe('cdk-validator-cfnguard::sqs_dlq_check');
  });

  it('that are not bundled are refused, so an acknowledgement cannot silently match nothing', () => {
    expect(() => controlTowerRuleName('CT.SQS.PR.99')).toThrow(/not a Control Tower proactive control/);
  });
});

describe('control selection', () => {
  it('runs only the controls for the resource types present, with the findings the whole bundled set gives', () => {
    const templatePath = join(outdir, 'mixed.template.json');
    writeFileSync(
      templatePath,
      JSON.stringify({
        Resources: {
          Bucket: { Type: 'AWS::S3::Bucket', Properties: {} },
          Queue: { Type: 'AWS::SQS::Queue', Properties: {} },
          Logs: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 1 } },
        },
      }),
    );
    const context = { templatePaths: [templatePath] } as unknown as IPolicyValidationContext;
    const findings = (report: PolicyValidationPluginReport) =>
      report.violations
        .flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} @ ${r.resourceLogicalId}`))
        .sort();
    const selected = findings(createControlTowerValidator().validate(context));
    expect(selected).toEqual(findings(new CfnGuardValidator().validate(context)));
    // One control of each type present, so an empty selection cannot pass.
    expect(selected).toEqual(
      expect.arrayContaining([
        'cloudwatch_log_group_retention_period_check @ Logs',
        's3_bucket_logging_enabled_check @ Bucket',
        'sqs_dlq_check @ Queue',
      ]),
    );
  });
});

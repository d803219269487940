// biome-ignore-all lint/suspicious/noExplicitAny: CloudFormation template JSON is untyped
/**
 * The deletion drill in the template: a weekly schedule that is disabled unless the deployment enables it, a function
 * that may only list (never read or delete) debug captures, and an alarm to the operators on a failed drill.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { synthesize } from './synth.ts';
import { logicalId } from './template-policies.ts';

function drillSchedule(json: Record<string, any>, functionId: string): any {
  const schedules = Object.values(json.Resources as Record<string, any>).filter(
    (resource) =>
      resource.Type === 'AWS::Scheduler::Schedule' &&
      JSON.stringify(resource.Properties?.Target?.Arn ?? '').includes(functionId),
  );
  expect(schedules).toHaveLength(1);
  return schedules[0];
}

describe('deletion drill infrastructure', () => {
  it('schedules the drill weekly, disabled by default', () => {
    const synth = synthesize({}, { nag: false });
    const fn = logicalId(synth.built.stack.workers.functions.deletionDrill.function);
    const schedule = drillSchedule(synth.json, fn);
    expect(schedule.Properties.ScheduleExpression).toBe('rate(7 days)');
    expect(schedule.Properties.State).toBe('DISABLED');
    expect(schedule.Properties.Target.RetryPolicy.MaximumRetryAttempts).toBe(0);
    const resource = synth.json.Resources[fn];
    expect(resource.Properties.Timeout).toBe(900);
  });

  it('enables the schedule with -c deletionDrillEnabled=true, and refuses a value that is not a boolean', () => {
    const synth = synthesize({ deletionDrillEnabled: 'true' }, { nag: false });
    const fn = logicalId(synth.built.stack.workers.functions.deletionDrill.function);
    expect(drillSchedule(synth.json, fn).Properties.State).toBe('ENABLED');
    expect(() => synthesize({ deletionDrillEnabled: 'yes' }, { nag: false })).toThrow(/deletionDrillEnabled/);
  });

  it('lets the drill list debug captures but never read or delete them, and alarms operators on a failure', () => {
    const synth = synthesize({}, { nag: false });
    const role = logicalId(synth.built.stack.workers.functions.deletionDrill.role);
    const statements = Object.values(synth.json.Resources as Record<string, any>)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles as any[]).some((x) => x.Ref === role))
      .flatMap((r) => r.Properties.PolicyDocument.Statement as any[]);
    const s3Actions = statements.flatMap((s) => [s.Action].flat()).filter((a: string) => a.startsWith('s3:'));
    expect(s3Actions).toEqual(['s3:ListBucket']);
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'DeletionDrillFailures',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: Match.anyValue(),
    });
  });
});

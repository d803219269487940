// biome-ignore-all lint/suspicious/noExplicitAny: CloudFormation template JSON is untyped; these assertions walk it structurally
/**
 * The lock releaser in the synthesized template: the rule that sends abnormal ends of exactly the five lifecycle
 * machines to it, retried and dead-lettered; and a role that can do what releasing needs and nothing more.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowName } from '../../functions/customers/customer.ts';
import { stateMachineArnVariable } from '../../functions/lifecycle/sfn-workflow-starter.ts';
import { WORKFLOWS } from '../../statemachines/workflows.ts';
import { resourcesOfType, type Synthesized, synthesize } from './synth.ts';
import { TemplatePolicies } from './template-policies.ts';

let synth: Synthesized;
beforeAll(() => {
  synth = synthesize({}, { nag: false });
}, 180_000);

const logicalId = (construct: any): string => synth.built.stack.getLogicalId(construct.node.defaultChild ?? construct);
const workflows = Object.keys(WORKFLOWS) as WorkflowName[];

function ruleOf(): [string, any] {
  const rules = resourcesOfType(synth.json, 'AWS::Events::Rule') as [string, any][];
  const matching = rules.filter(([, rule]) => rule.Properties.EventPattern?.source?.includes('aws.states'));
  expect(matching).toHaveLength(1);
  return matching[0] as [string, any];
}

describe('lock-release rule', () => {
  it('matches ABORTED, TIMED_OUT and FAILED status changes of the five lifecycle machines only', () => {
    const [, rule] = ruleOf();
    const stack = synth.built.stack;
    expect(rule.Properties.State ?? 'ENABLED').toBe('ENABLED');
    expect(rule.Properties.EventPattern).toEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: {
        status: ['ABORTED', 'TIMED_OUT', 'FAILED'],
        stateMachineArn: workflows.map((w) => ({ Ref: logicalId(stack.workflows.machines[w]) })),
      },
    });
  });

  it('targets the lock releaser with bounded retries and the encrypted DLQ, which EventBridge may use', () => {
    const [ruleId, rule] = ruleOf();
    const stack = synth.built.stack;
    const fnId = logicalId(stack.workers.functions.lockReleaser.function);
    const dlqId = logicalId(stack.state.scheduleDeadLetterQueue);
    expect(rule.Properties.Targets).toHaveLength(1);
    const [target] = rule.Properties.Targets;
    expect(target.Arn).toEqual({ 'Fn::GetAtt': [fnId, 'Arn'] });
    expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 20, MaximumEventAgeInSeconds: 86_400 });
    expect(target.DeadLetterConfig).toEqual({ Arn: { 'Fn::GetAtt': [dlqId, 'Arn'] } });
    expect(target.Input).toBeUndefined();

    const permissions = (resourcesOfType(synth.json, 'AWS::Lambda::Permission') as [string, any][]).filter(
      ([, p]) => p.Properties.Principal === 'events.amazonaws.com',
    );
    expect(permissions.map(([, p]) => [p.Properties.FunctionName, p.Properties.SourceArn])).toEqual([
      [{ 'Fn::GetAtt': [fnId, 'Arn'] }, { 'Fn::GetAtt': [ruleId, 'Arn'] }],
    ]);

    const queuePolicies = resourcesOfType(synth.json, 'AWS::SQS::QueuePolicy') as [string, any][];
    const eventsSend = queuePolicies
      .filter(([, p]) => p.Properties.Queues.some((q: any) => q.Ref === dlqId))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement)
      .filter(
        (s: any) =>
          s.Principal?.Service === 'events.amazonaws.com' && JSON.stringify(s.Condition).includes(`"${ruleId}"`),
      );
    expect(eventsSend).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: 'sqs:SendMessage',
        Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ruleId, 'Arn'] } } },
      }),
    ]);

    // The DLQ is encrypted with the data key: EventBridge must be allowed to use it, or dead letters are lost.
    const policies = new TemplatePolicies(synth.json as never);
    expect(stack.state.scheduleDeadLetterQueue.encryptionMasterKey).toBe(stack.secrets.dataKey);
    const keyPolicy = policies.keyPolicy(logicalId(stack.secrets.dataKey));
    const keyUse = keyPolicy.Statement.filter(
      (s: any) => s.Effect === 'Allow' && s.Principal?.Service === 'events.amazonaws.com',
    );
    expect(keyUse.flatMap((s: any) => [s.Action].flat())).toEqual(
      expect.arrayContaining(['kms:Decrypt', expect.stringMatching(/^kms:GenerateDataKey\*?$/)]),
    );
  });
});

describe('lock-releaser function', () => {
  it('knows the five machine ARNs and the operators topic, dead-letters failed invocations, runs outside the VPC', () => {
    const stack = synth.built.stack;
    const fn = synth.json.Resources[logicalId(stack.workers.functions.lockReleaser.function)];
    const env = fn.Properties.Environment.Variables;
    for (const w of workflows) {
      expect(env[stateMachineArnVariable(w)], w).toEqual({ Ref: logicalId(stack.workflows.machines[w]) });
    }
    expect(env.OPERATOR_ALERTS_TOPIC_ARN).toEqual({ Ref: logicalId(stack.observability.operatorAlerts) });
    expect(env.CUSTOMER_NOTIFICATIONS_TOPIC_ARN).toBeUndefined();
    expect(fn.Properties.DeadLetterConfig).toEqual({
      TargetArn: { 'Fn::GetAtt': [logicalId(stack.state.scheduleDeadLetterQueue), 'Arn'] },
    });
    expect(fn.Properties.VpcConfig).toBeUndefined();
  });

  it('may publish to the operators topic only and call no Step Functions API', () => {
    const stack = synth.built.stack;
    const policies = new TemplatePolicies(synth.json as never);
    const statements = policies
      .identityPolicies(logicalId(stack.workers.functions.lockReleaser.role))
      .flatMap((p) => p.policy.Statement as any[])
      .filter((s) => s.Effect === 'Allow');
    const actions = statements.flatMap((s) => [s.Action].flat());
    expect(actions.filter((a: string) => a.startsWith('states:'))).toEqual([]);
    const publish = statements.filter((s) => [s.Action].flat().includes('sns:Publish'));
    expect(publish.map((s) => s.Resource)).toEqual([
      policies.resolve({ Ref: logicalId(stack.observability.operatorAlerts) }),
    ]);
    expect(publish.map((s) => s.Resource)).not.toContainEqual(
      policies.resolve({ Ref: logicalId(stack.observability.customerNotifications) }),
    );
  });
});

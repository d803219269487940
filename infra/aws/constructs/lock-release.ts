/**
 * Every path inside a lifecycle state machine releases the customer's lock, but an execution stopped from the
 * console, timed out (TimeoutSeconds) or failed by a Step Functions-level error skips those paths. This rule sends
 * the terminal status events of the five lifecycle machines to the lock releaser, which releases the lock only if
 * that execution still holds it (functions/lifecycle/abnormal-end.ts).
 *
 * Delivery: EventBridge retries for a day, then puts the event on the encrypted schedule DLQ (alarmed); a failed
 * invocation is retried by Lambda and lands on the same queue through the function's own async DLQ.
 */
import { Duration } from 'aws-cdk-lib';
import { Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { WorkflowName } from '../../../functions/customers/customer.ts';
import { ABNORMAL_STATUSES } from '../../../functions/lifecycle/abnormal-end.ts';
import { stateMachineArnVariable } from '../../../functions/lifecycle/sfn-workflow-starter.ts';
import type { SecureFunction } from './secure-function.ts';

export interface LockReleaseProps {
  readonly environmentName: string;
  readonly machines: Readonly<Record<WorkflowName, IStateMachine>>;
  readonly lockReleaser: SecureFunction;
  /**
   * Encrypted with the data key, whose policy already lets EventBridge use it (Observability: rules publishing to
   * the encrypted operators topic); the target adds the queue policy naming this rule.
   */
  readonly deadLetterQueue: IQueue;
}

export class LockRelease extends Construct {
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: LockReleaseProps) {
    super(scope, id);
    const machines = Object.entries(props.machines) as [WorkflowName, IStateMachine][];
    // Names only (no grant): the function maps an event's state machine ARN to its workflow.
    for (const [workflow, machine] of machines) {
      props.lockReleaser.function.addEnvironment(stateMachineArnVariable(workflow), machine.stateMachineArn);
    }

    this.rule = new Rule(this, 'AbnormalEnds', {
      ruleName: `virtuous-${props.environmentName}-lock-release`,
      description: 'Lifecycle executions that ended ABORTED, TIMED_OUT or FAILED: release what they left locked',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: [...ABNORMAL_STATUSES],
          stateMachineArn: machines.map(([, machine]) => machine.stateMachineArn),
        },
      },
      targets: [
        new LambdaFunction(props.lockReleaser.function, {
          deadLetterQueue: props.deadLetterQueue,
          retryAttempts: 20,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });
  }
}

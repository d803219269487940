/**
 * The five lifecycle workflows as Standard state machines, each loaded from its ASL file (statemachines/) with the
 * substitutions declared in statemachines/workflows.ts, and each allowed to invoke only its own tasks Lambda (the
 * incident workflow may also run the token-rotation workflow, synchronously).
 *
 * Logging: level ALL to an encrypted log group kept 30 days, WITHOUT execution data. Executions carry customer ids
 * and handles only (never a token or secret, which the workflow tests check on every event), but state data still
 * names Virtuous ids and error causes; the execution history in Step Functions already keeps that for 90 days for
 * investigations, so the logs (and their one-year archive) record transitions and errors without copying the data.
 */
import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { WorkflowName } from '../../../functions/customers/customer.ts';
import { WORKFLOWS, workflowFilePath } from '../../../statemachines/workflows.ts';
import { LOG_RETENTION } from './secure-function.ts';

export interface WorkflowsProps {
  readonly environmentName: string;
  readonly logKey: IKey;
  readonly tasksFunctions: Readonly<Record<WorkflowName, IFunction>>;
}

/** Order matters: the incident workflow needs the token-rotation machine's ARN. */
const CREATION_ORDER: readonly WorkflowName[] = [
  'onboarding',
  'token-rotation',
  'webhook-secret-rotation',
  'offboarding',
  'incident-response',
];

export class Workflows extends Construct {
  readonly machines: Readonly<Record<WorkflowName, StateMachine>>;
  readonly logGroup: LogGroup;
  private readonly environmentName: string;

  constructor(scope: Construct, id: string, props: WorkflowsProps) {
    super(scope, id);
    this.environmentName = props.environmentName;
    this.logGroup = new LogGroup(this, 'Logs', {
      // The vended-logs prefix keeps CloudWatch Logs' resource policy small when many machines log.
      logGroupName: `/aws/vendedlogs/states/virtuous-${props.environmentName}-workflows`,
      retention: LOG_RETENTION,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const machines = {} as Record<WorkflowName, StateMachine>;
    for (const name of CREATION_ORDER) {
      const workflow = WORKFLOWS[name];
      const tasks = props.tasksFunctions[name];
      const substitutions: Record<string, string> = {};
      for (const placeholder of workflow.substitutions) {
        if (placeholder === 'TasksFunctionArn') substitutions[placeholder] = tasks.functionArn;
        else if (placeholder === 'TokenRotationStateMachineArn') {
          const rotation = machines['token-rotation'];
          if (!rotation) throw new Error('token-rotation machine must exist before incident-response');
          substitutions[placeholder] = rotation.stateMachineArn;
        } else {
          throw new Error(`workflow ${name}: no value for substitution \${${placeholder}}`);
        }
      }
      const machine = new StateMachine(this, pascal(name), {
        stateMachineName: this.machineName(name),
        stateMachineType: StateMachineType.STANDARD,
        definitionBody: DefinitionBody.fromFile(workflowFilePath(name)),
        definitionSubstitutions: substitutions,
        tracingEnabled: true,
        logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: false },
      });
      tasks.grantInvoke(machine);
      machines[name] = machine;
    }

    // startExecution.sync:2 — start, observe and (on abort) stop the child, via the managed EventBridge rule.
    const incident = machines['incident-response'];
    const rotation = machines['token-rotation'];
    rotation.grantStartExecution(incident);
    incident.addToRolePolicy(
      new PolicyStatement({
        actions: ['states:DescribeExecution', 'states:StopExecution'],
        resources: [this.executionArnPattern('token-rotation')],
      }),
    );
    incident.addToRolePolicy(
      new PolicyStatement({
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [
          Stack.of(this).formatArn({
            service: 'events',
            resource: 'rule',
            resourceName: 'StepFunctionsGetEventsForStepFunctionsExecutionRule',
          }),
        ],
      }),
    );
    this.machines = machines;
  }

  machineName(name: WorkflowName): string {
    return `virtuous-${this.environmentName}-${name}`;
  }

  /** Every execution of one machine: `arn:…:states:…:execution:{machine}:*`. */
  executionArnPattern(name: WorkflowName): string {
    return Stack.of(this).formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${this.machineName(name)}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }
}

function pascal(name: string): string {
  return name
    .split('-')
    .map((part) => `${part[0]?.toUpperCase() ?? ''}${part.slice(1)}`)
    .join('');
}

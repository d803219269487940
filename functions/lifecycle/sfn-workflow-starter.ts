/**
 * WorkflowStarter on AWS Step Functions. State machine ARNs come from `STATE_MACHINE_ARN_<WORKFLOW>` variables
 * (e.g. STATE_MACHINE_ARN_TOKEN_ROTATION). Execution input carries ids only.
 */
import {
  DescribeExecutionCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { WorkflowName } from '../customers/customer.ts';
import { ENV, requireSetting } from '../shared/environment.ts';
import { isClassified, PermanentError, TransientError } from '../shared/errors.ts';
import type { ExecutionDescription, ExecutionStatus, WorkflowInput, WorkflowStarter } from './ports.ts';

const WORKFLOW_NAMES: readonly WorkflowName[] = [
  'onboarding',
  'token-rotation',
  'webhook-secret-rotation',
  'offboarding',
  'incident-response',
];

export function stateMachineArnVariable(workflow: WorkflowName): string {
  return `${ENV.stateMachineArnPrefix}${workflow.replace(/-/g, '_').toUpperCase()}`;
}

/** Execution names: at most 80 of [A-Za-z0-9-_], unique per start, readable in the console. */
export function executionName(workflow: WorkflowName, customerId: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:.TZ]/g, '');
  return `${customerId}-${workflow}`.slice(0, 60).concat('-', stamp).slice(0, 80);
}

export class SfnWorkflowStarter implements WorkflowStarter {
  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly client = new SFNClient({
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
    }),
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** A function is given the ARNs of the workflows it may start only; a missing one is a deployment fault. */
  private arnOf(workflow: WorkflowName): string {
    return requireSetting(stateMachineArnVariable(workflow), this.env);
  }

  async start(workflow: WorkflowName, input: WorkflowInput): Promise<{ executionId: string }> {
    const answer = await this.call('start', () =>
      this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.arnOf(workflow),
          name: executionName(workflow, input.customerId, this.now()),
          input: JSON.stringify(input),
        }),
      ),
    );
    if (answer.executionArn === undefined) throw new TransientError('START_UNCONFIRMED', 'no execution ARN returned');
    return { executionId: answer.executionArn };
  }

  async describe(executionId: string): Promise<ExecutionDescription | undefined> {
    try {
      const answer = await this.call('describe', () =>
        this.client.send(new DescribeExecutionCommand({ executionArn: executionId })),
      );
      const workflow = WORKFLOW_NAMES.find(
        (name) => this.env[stateMachineArnVariable(name)] === answer.stateMachineArn,
      );
      return {
        executionId,
        ...(workflow === undefined ? {} : { workflow }),
        status: (answer.status ?? 'RUNNING') as ExecutionStatus,
        ...(answer.startDate === undefined ? {} : { startedAt: answer.startDate.toISOString() }),
        ...(answer.stopDate === undefined ? {} : { stoppedAt: answer.stopDate.toISOString() }),
        ...(answer.error === undefined ? {} : { error: answer.error }),
      };
    } catch (error) {
      if (error instanceof PermanentError && error.code === 'ExecutionDoesNotExist') return undefined;
      throw error;
    }
  }

  async sendTaskSuccess(taskToken: string, output: Readonly<Record<string, string | number | boolean>>) {
    await this.call('sendTaskSuccess', () =>
      this.client.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) })),
    );
  }

  private async call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (isClassified(error)) throw error;
      const name = error instanceof Error ? error.name : 'UnknownError';
      const meta = error as { $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
      const retryable =
        meta.$retryable !== undefined ||
        name === 'ThrottlingException' ||
        name === 'TimeoutError' ||
        (meta.$metadata?.httpStatusCode ?? 0) >= 500;
      if (retryable) throw new TransientError('STEP_FUNCTIONS_UNAVAILABLE', `${operation} failed (${name})`);
      throw new PermanentError(name, `${operation} was refused (${name})`);
    }
  }
}

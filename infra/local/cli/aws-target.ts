/**
 * A deployed stack as the CLI's target. Workflows start and are followed with Step Functions (StartExecution,
 * DescribeExecution, GetExecutionHistory); tokens, pause/resume, customer status and dead letters go to the stack's
 * lifecycle API (IAM-authorized: requests are SigV4-signed with the caller's credentials), never into an execution's
 * input; egress IPs come from the stack outputs (or the SSM parameter the stack writes).
 *
 * The state machines and the API are found from the stack's outputs: a `arn:aws:states:` output whose key names the
 * workflow (e.g. `OnboardingStateMachineArn`), and an output whose key contains `LifecycleApi` (or the ingress API
 * URL, to which `/lifecycle` is appended).
 */
import { createHash, createHmac } from 'node:crypto';
import { CloudFormationClient, DescribeStacksCommand, type Output } from '@aws-sdk/client-cloudformation';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SFNClient,
  type ExecutionStatus as SfnStatus,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { SignatureV4 } from '@smithy/signature-v4';
import type { WorkflowName } from '../../../functions/customers/customer.ts';
import type { IncidentReport, IncidentReportSummary } from '../../../functions/lifecycle/ports.ts';
import { CliError, EXIT, usage } from './errors.ts';
import type { Step } from './progress.ts';
import {
  type CustomerView,
  type DeadLetterView,
  type DebugCaptureView,
  type ExecutionView,
  type OnboardOptions,
  type PauseView,
  type ResumeView,
  type SourceConnection,
  type SourceConnectionView,
  sourceConnectionRequest,
  type Target,
} from './target.ts';

const CALL_TIMEOUT_MS = 30_000;
const CLIENT_SETTINGS = { maxAttempts: 3, requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 } };
/** GetExecutionHistory pages followed per poll; far above what one lifecycle execution produces. */
const MAX_HISTORY_PAGES = 50;

/** node:crypto behind the small hash interface SigV4 expects. */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: string | Uint8Array | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', Buffer.from(secret as Uint8Array));
  }
  update(data: string | Uint8Array | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === 'string' ? data : Buffer.from(data as Uint8Array));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {}
}

function pascal(workflow: WorkflowName): string {
  return workflow.replace(/(^|-)(\w)/g, (_, __, c: string) => c.toUpperCase());
}

function stepsFrom(events: readonly HistoryEvent[]): { steps: Step[]; error?: string } {
  const steps: Step[] = [];
  let current: { name: string; type: string } | undefined;
  let error: string | undefined;
  for (const event of events) {
    const at = (event.timestamp ?? new Date()).toISOString();
    const type = event.type ?? '';
    if (type.endsWith('StateEntered') && event.stateEnteredEventDetails?.name) {
      current = { name: event.stateEnteredEventDetails.name, type: type.replace('StateEntered', '') };
      steps.push({ state: current.name, type: current.type, event: 'entered', at });
    } else if (type.endsWith('StateExited') && event.stateExitedEventDetails?.name) {
      steps.push({
        state: event.stateExitedEventDetails.name,
        type: type.replace('StateExited', ''),
        event: 'exited',
        at,
      });
    } else if (type === 'TaskFailed' || type === 'LambdaFunctionFailed' || type === 'TaskTimedOut') {
      const name =
        event.taskFailedEventDetails?.error ??
        event.lambdaFunctionFailedEventDetails?.error ??
        event.taskTimedOutEventDetails?.error;
      steps.push({
        state: current?.name ?? 'Task',
        type: 'Task',
        event: 'failed',
        at,
        error: name ?? 'States.TaskFailed',
      });
    } else if (type === 'ExecutionFailed') {
      error = event.executionFailedEventDetails?.error ?? 'States.Failed';
    }
  }
  return { steps, ...(error === undefined ? {} : { error }) };
}

export class AwsTarget implements Target {
  readonly description: string;
  private readonly sfn: SFNClient;
  private readonly cloudFormation: CloudFormationClient;
  private readonly ssm: SSMClient;
  private outputs: Output[] | undefined;

  constructor(
    private readonly stackName: string,
    region: string | undefined,
  ) {
    const config = { ...CLIENT_SETTINGS, ...(region === undefined ? {} : { region }) };
    this.sfn = new SFNClient(config);
    this.cloudFormation = new CloudFormationClient(config);
    this.ssm = new SSMClient(config);
    this.description = `stack ${stackName}${region === undefined ? '' : ` in ${region}`}`;
  }

  private async stackOutputs(): Promise<Output[]> {
    if (this.outputs) return this.outputs;
    const answer = await this.cloudFormation.send(new DescribeStacksCommand({ StackName: this.stackName }));
    const stack = answer.Stacks?.[0];
    if (!stack) throw usage(`stack ${this.stackName} was not found`);
    this.outputs = stack.Outputs ?? [];
    return this.outputs;
  }

  private async stateMachineArn(workflow: WorkflowName): Promise<string> {
    const key = pascal(workflow).toLowerCase();
    const match = (await this.stackOutputs()).find(
      (output) =>
        output.OutputValue?.startsWith('arn:aws:states:') &&
        (output.OutputKey ?? '')
          .toLowerCase()
          .replace(/[^a-z]/g, '')
          .includes(key),
    );
    if (!match?.OutputValue) throw usage(`stack ${this.stackName} has no state machine output for ${workflow}`);
    return match.OutputValue;
  }

  private async lifecycleApiUrl(): Promise<string> {
    const outputs = await this.stackOutputs();
    const lifecycle = outputs.find((output) => /lifecycleapi/i.test(output.OutputKey ?? ''));
    if (lifecycle?.OutputValue) return lifecycle.OutputValue.replace(/\/+$/, '');
    const api = outputs.find((output) => /^https:\/\/.+execute-api/.test(output.OutputValue ?? ''));
    if (api?.OutputValue) return `${api.OutputValue.replace(/\/+$/, '')}/lifecycle`;
    throw usage(`stack ${this.stackName} has no lifecycle API output`);
  }

  /** A SigV4-signed call to the IAM-authorized lifecycle API; a refusal is a usage error, a failure exit 1. */
  private async callApi(
    path: string,
    body: unknown,
    method: 'GET' | 'POST' | 'DELETE' = 'POST',
    options: { readonly notFound?: 'undefined' } = {},
  ): Promise<unknown> {
    const url = new URL(`${await this.lifecycleApiUrl()}${path}`);
    const region = await this.sfn.config.region();
    const signer = new SignatureV4({
      service: 'execute-api',
      region,
      credentials: this.sfn.config.credentials,
      sha256: NodeSha256,
    });
    const text = body === undefined ? '' : JSON.stringify(body);
    const signed = await signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      path: url.pathname,
      headers: { host: url.hostname, ...(text === '' ? {} : { 'content-type': 'application/json' }) },
      body: text,
    });
    const response = await fetch(url, {
      method,
      headers: signed.headers as Record<string, string>,
      ...(text === '' ? {} : { body: text }),
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
    const answer = (await response.json().catch(() => ({}))) as { error?: unknown; message?: unknown };
    if (response.status === 404 && options.notFound === 'undefined') return undefined;
    if (response.status >= 400) {
      const code = typeof answer.error === 'string' ? answer.error : `HTTP ${response.status}`;
      // The API's refusal messages are fixed texts (never the request's data), so they may be shown.
      const detail = typeof answer.message === 'string' ? `: ${answer.message}` : '';
      // 501: this deployment does not offer it: a refusal to explain, not a failure.
      if (response.status < 500 || response.status === 501) {
        throw usage(`refused by the lifecycle API (${response.status} ${code})${detail}`);
      }
      throw new CliError(`the lifecycle API failed (${response.status} ${code})`, EXIT.failed);
    }
    return answer;
  }

  async storeDrillSandboxKey(token: string): Promise<void> {
    await this.callApi('/deletion-drill/sandbox-key', { token });
  }

  async onboard(customerId: string, token: string, options: OnboardOptions) {
    const answer = (await this.callApi(`/customers/${encodeURIComponent(customerId)}/api-token`, {
      token,
      ...(options.sensitivity === undefined ? {} : { sensitivity: options.sensitivity }),
    })) as { executionId?: unknown };
    if (typeof answer.executionId !== 'string') throw new CliError('no execution id in the answer', EXIT.failed);
    return { executionId: answer.executionId };
  }

  async startWorkflow(customerId: string, workflow: Exclude<WorkflowName, 'onboarding'>) {
    const answer = await this.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: await this.stateMachineArn(workflow),
        input: JSON.stringify({ customerId }),
      }),
    );
    if (!answer.executionArn) throw new CliError('Step Functions answered without an execution ARN', EXIT.failed);
    return { executionId: answer.executionArn };
  }

  async submitRotationToken(customerId: string, token: string): Promise<void> {
    await this.callApi(`/customers/${encodeURIComponent(customerId)}/rotation-token`, { token });
  }

  async connectSource(connection: SourceConnection): Promise<SourceConnectionView> {
    const { path, body } = sourceConnectionRequest(connection);
    return (await this.callApi(path, body)) as SourceConnectionView;
  }

  async pause(customerId: string, reason: string | undefined): Promise<PauseView> {
    return (await this.callApi(
      `/customers/${encodeURIComponent(customerId)}/pause`,
      reason === undefined ? {} : { reason },
    )) as PauseView;
  }

  async resume(customerId: string): Promise<ResumeView> {
    return (await this.callApi(`/customers/${encodeURIComponent(customerId)}/resume`, {})) as ResumeView;
  }

  async debugCapture(customerId: string, minutes: number | undefined): Promise<DebugCaptureView> {
    const path = `/customers/${encodeURIComponent(customerId)}/debug-capture`;
    return (await (minutes === undefined
      ? this.callApi(path, undefined, 'DELETE')
      : this.callApi(path, { minutes }))) as DebugCaptureView;
  }

  async describe(executionId: string): Promise<ExecutionView> {
    const description = await this.sfn.send(new DescribeExecutionCommand({ executionArn: executionId }));
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_HISTORY_PAGES; page += 1) {
      const history = await this.sfn.send(
        new GetExecutionHistoryCommand({ executionArn: executionId, includeExecutionData: false, nextToken }),
      );
      events.push(...(history.events ?? []));
      nextToken = history.nextToken;
      if (!nextToken) break;
    }
    const { steps, error } = stepsFrom(events);
    const status = (description.status ?? 'RUNNING') as SfnStatus;
    return {
      executionId,
      status,
      steps,
      ...(error === undefined && description.error === undefined ? {} : { error: error ?? description.error }),
    };
  }

  async customers(): Promise<CustomerView[]> {
    const answer = (await this.callApi('/customers', undefined, 'GET')) as { customers?: CustomerView[] };
    return answer.customers ?? [];
  }

  async customer(customerId: string): Promise<CustomerView | undefined> {
    const answer = (await this.callApi(`/customers/${encodeURIComponent(customerId)}`, undefined, 'GET', {
      notFound: 'undefined',
    })) as { customer?: CustomerView } | undefined;
    return answer?.customer;
  }

  /** One customer's dead letters, or every customer's (one call per customer, as the local runtime does). */
  async deadLetters(customerId: string | undefined): Promise<DeadLetterView[]> {
    const customerIds =
      customerId === undefined ? (await this.customers()).map((customer) => customer.customerId) : [customerId];
    const letters: DeadLetterView[] = [];
    for (const id of customerIds) {
      const answer = (await this.callApi(`/customers/${encodeURIComponent(id)}/dead-letters`, undefined, 'GET')) as {
        deadLetters?: DeadLetterView[];
      };
      letters.push(...(answer.deadLetters ?? []));
    }
    return letters;
  }

  async resolveDeadLetter(
    customerId: string,
    deadLetterId: string,
    action: 'replay' | 'discard',
    options: { readonly checked?: boolean } = {},
  ): Promise<DeadLetterView> {
    const answer = (await this.callApi(
      `/customers/${encodeURIComponent(customerId)}/dead-letters/${encodeURIComponent(deadLetterId)}/${action}`,
      action === 'replay' && options.checked === true ? { checked: true } : {},
    )) as { deadLetter?: DeadLetterView };
    if (answer.deadLetter === undefined)
      throw new CliError('the lifecycle API answered without the dead letter', EXIT.failed);
    return answer.deadLetter;
  }

  async egressIps(): Promise<{ ips: string[]; note?: string }> {
    const outputs = await this.stackOutputs();
    const ips = outputs
      .filter((output) => /^EgressIp\d+$/.test(output.OutputKey ?? ''))
      .sort((a, b) => (a.OutputKey ?? '').localeCompare(b.OutputKey ?? '', undefined, { numeric: true }))
      .map((output) => output.OutputValue ?? '')
      .filter((ip) => ip !== '');
    if (ips.length > 0) return { ips };
    const environment = outputs.find((output) => /environment/i.test(output.OutputKey ?? ''))?.OutputValue;
    if (environment) {
      const parameter = await this.ssm.send(new GetParameterCommand({ Name: `/virtuous/${environment}/egress-ips` }));
      const value = parameter.Parameter?.Value ?? '';
      return { ips: value.split(',').filter((ip) => ip !== '') };
    }
    throw usage(`stack ${this.stackName} publishes no egress IPs`);
  }

  async runJob(): Promise<{ ok: boolean }> {
    throw usage('run-job is for the local runtime; on AWS the jobs run on EventBridge schedules (invoke the function)');
  }

  async incidentReports(customerId: string): Promise<IncidentReportSummary[]> {
    const answer = (await this.callApi(`/customers/${encodeURIComponent(customerId)}/incidents`, undefined, 'GET')) as {
      incidents?: IncidentReportSummary[];
    };
    return answer.incidents ?? [];
  }

  async incidentReport(customerId: string, reportId: string): Promise<IncidentReport> {
    const answer = (await this.callApi(
      `/customers/${encodeURIComponent(customerId)}/incidents/${encodeURIComponent(reportId)}`,
      undefined,
      'GET',
    )) as { report?: IncidentReport };
    if (answer.report === undefined) throw new CliError('no report in the answer', EXIT.failed);
    return answer.report;
  }

  async deletionRecords(): Promise<Record<string, unknown>[]> {
    return [];
  }
}

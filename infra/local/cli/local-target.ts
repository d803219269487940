/**
 * The local runtime as the CLI's target: its lifecycle API (the same routes as on AWS) and its operator routes
 * under `/local`, over HTTP on loopback. Every call has a timeout; a 4xx is bad input (exit 2), anything else a
 * failure (exit 1). Error answers are shown by their code only.
 */
import type { WorkflowName } from '../../../functions/customers/customer.ts';
import type { IncidentReport, IncidentReportSummary } from '../../../functions/lifecycle/ports.ts';
import { CliError, EXIT, usage } from './errors.ts';
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

export class LocalTarget implements Target {
  readonly description: string;

  constructor(private readonly baseUrl: string) {
    this.description = `local runtime at ${baseUrl}`;
  }

  private async call(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      });
    } catch (error) {
      throw unreachable(this.baseUrl, error);
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? {} : JSON.parse(text);
    } catch {
      json = {};
    }
    if (response.status >= 400) {
      const code = (json as { error?: unknown }).error;
      const label = typeof code === 'string' ? code : `HTTP ${response.status}`;
      const message = (json as { message?: unknown }).message;
      const detail = typeof message === 'string' ? `: ${message}` : '';
      // 501: the target does not offer it (e.g. a deployment without a Stripe OAuth client): a refusal to explain.
      if (response.status < 500 || response.status === 501)
        throw usage(`refused (${response.status} ${label})${detail}`);
      throw new CliError(`the runtime failed (${response.status} ${label})`, EXIT.failed);
    }
    return { status: response.status, json };
  }

  async storeDrillSandboxKey(token: string): Promise<void> {
    await this.call('POST', '/lifecycle/deletion-drill/sandbox-key', { token });
  }

  async onboard(customerId: string, token: string, options: OnboardOptions): Promise<{ executionId: string }> {
    const { json } = await this.call('POST', `/lifecycle/customers/${encodeURIComponent(customerId)}/api-token`, {
      token,
      ...(options.sensitivity === undefined ? {} : { sensitivity: options.sensitivity }),
    });
    return { executionId: executionIdOf(json) };
  }

  async startWorkflow(customerId: string, workflow: Exclude<WorkflowName, 'onboarding'>) {
    const { json } = await this.call(
      'POST',
      `/lifecycle/customers/${encodeURIComponent(customerId)}/workflows/${workflow}`,
      {},
    );
    return { executionId: executionIdOf(json) };
  }

  async submitRotationToken(customerId: string, token: string): Promise<void> {
    await this.call('POST', `/lifecycle/customers/${encodeURIComponent(customerId)}/rotation-token`, { token });
  }

  async connectSource(connection: SourceConnection): Promise<SourceConnectionView> {
    const { path, body } = sourceConnectionRequest(connection);
    const { json } = await this.call('POST', `/lifecycle${path}`, body);
    return json as SourceConnectionView;
  }

  async pause(customerId: string, reason: string | undefined): Promise<PauseView> {
    const { json } = await this.call(
      'POST',
      `/lifecycle/customers/${encodeURIComponent(customerId)}/pause`,
      reason === undefined ? {} : { reason },
    );
    return json as PauseView;
  }

  async resume(customerId: string): Promise<ResumeView> {
    const { json } = await this.call('POST', `/lifecycle/customers/${encodeURIComponent(customerId)}/resume`, {});
    return json as ResumeView;
  }

  async debugCapture(customerId: string, minutes: number | undefined): Promise<DebugCaptureView> {
    const path = `/lifecycle/customers/${encodeURIComponent(customerId)}/debug-capture`;
    const { json } =
      minutes === undefined ? await this.call('DELETE', path) : await this.call('POST', path, { minutes });
    return json as DebugCaptureView;
  }

  async describe(executionId: string): Promise<ExecutionView> {
    const { json } = await this.call('GET', `/local/executions/${encodeURIComponent(executionId)}`);
    return (json as { execution: ExecutionView }).execution;
  }

  async customers(): Promise<CustomerView[]> {
    const { json } = await this.call('GET', '/local/customers');
    return (json as { customers: CustomerView[] }).customers;
  }

  async customer(customerId: string): Promise<CustomerView | undefined> {
    try {
      const { json } = await this.call('GET', `/local/customers/${encodeURIComponent(customerId)}`);
      return (json as { customer: CustomerView }).customer;
    } catch (error) {
      if (error instanceof CliError && error.message.includes('customer_not_found')) return undefined;
      throw error;
    }
  }

  async deadLetters(customerId: string | undefined): Promise<DeadLetterView[]> {
    const query = customerId === undefined ? '' : `?customerId=${encodeURIComponent(customerId)}`;
    const { json } = await this.call('GET', `/local/dead-letters${query}`);
    return (json as { deadLetters: DeadLetterView[] }).deadLetters;
  }

  async resolveDeadLetter(
    customerId: string,
    deadLetterId: string,
    action: 'replay' | 'discard',
    options: { readonly checked?: boolean } = {},
  ) {
    const { json } = await this.call(
      'POST',
      `/local/dead-letters/${encodeURIComponent(customerId)}/${encodeURIComponent(deadLetterId)}/${action}${
        options.checked === true ? '?checked=true' : ''
      }`,
    );
    return (json as { deadLetter: DeadLetterView }).deadLetter;
  }

  async egressIps(): Promise<{ ips: string[]; note?: string }> {
    const { json } = await this.call('GET', '/local/egress-ips');
    const answer = json as { egressIps: string[]; note?: string };
    return { ips: answer.egressIps, ...(answer.note === undefined ? {} : { note: answer.note }) };
  }

  async runJob(name: string) {
    const { json } = await this.call('POST', `/local/jobs/${encodeURIComponent(name)}`);
    return (json as { result: { ok: boolean; summary?: Record<string, unknown>; errorCode?: string } }).result;
  }

  /** Local only: the runtime signs `body` (or its default event) with the customer's stored secret and posts it. */
  async sendTestWebhook(
    customerId: string,
    provider: 'virtuous' | 'stripe',
    body: string | undefined,
  ): Promise<{ status: number; requestId?: string; processed?: boolean }> {
    const { json } = await this.call('POST', `/local/customers/${encodeURIComponent(customerId)}/test-webhook`, {
      provider,
      ...(body === undefined ? {} : { body }),
    });
    return json as { status: number; requestId?: string; processed?: boolean };
  }

  /** The Virtuous simulator behind the runtime (`/local/simulator/...`, simulator-admin.ts). */
  async simulator(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const { json } = await this.call(method, `/local/simulator/${path}`, body);
    return json;
  }

  /** The Stripe stand-in behind the runtime (`/local/stripe/...`, stripe-admin.ts). */
  async stripe(method: 'GET' | 'POST', path: string): Promise<unknown> {
    const { json } = await this.call(method, `/local/stripe/${path}`);
    return json;
  }

  async incidentReports(customerId: string): Promise<IncidentReportSummary[]> {
    const { json } = await this.call('GET', `/lifecycle/customers/${encodeURIComponent(customerId)}/incidents`);
    return (json as { incidents: IncidentReportSummary[] }).incidents;
  }

  async incidentReport(customerId: string, reportId: string): Promise<IncidentReport> {
    const { json } = await this.call(
      'GET',
      `/lifecycle/customers/${encodeURIComponent(customerId)}/incidents/${encodeURIComponent(reportId)}`,
    );
    return (json as { report: IncidentReport }).report;
  }

  async deletionRecords(customerId: string): Promise<Record<string, unknown>[]> {
    const { json } = await this.call('GET', `/local/customers/${encodeURIComponent(customerId)}/deletion-records`);
    return (json as { deletionRecords: Record<string, unknown>[] }).deletionRecords;
  }
}

/** Why a request to the runtime got no answer, in plain words, by the network error code Node reports. */
const NETWORK_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'nothing listens there',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved now',
  ECONNRESET: 'the connection was reset',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  ETIMEDOUT: 'the connection timed out',
  EPIPE: 'the connection closed while sending',
  UND_ERR_SOCKET: 'the connection closed before an answer',
  UND_ERR_HEADERS_TIMEOUT: 'no answer headers in time',
};

/**
 * A request that got no HTTP answer, as one line naming the URL, the error code and what it means. fetch reports
 * network failures as a TypeError whose `cause` carries the code (sometimes one level deeper, in an AggregateError).
 */
export function unreachable(baseUrl: string, error: unknown): CliError {
  if ((error as Error)?.name === 'TimeoutError') {
    return new CliError(
      `the local runtime at ${baseUrl} did not answer within ${CALL_TIMEOUT_MS / 1000} s`,
      EXIT.timedOut,
    );
  }
  const cause = (error as { cause?: { code?: unknown; message?: unknown; errors?: Array<{ code?: unknown }> } })?.cause;
  const code =
    (typeof cause?.code === 'string' ? cause.code : undefined) ??
    cause?.errors?.map((inner) => inner.code).find((inner): inner is string => typeof inner === 'string');
  if (code === undefined) {
    // fetch refuses some requests itself (e.g. "bad port") with a message and no code; it holds no request data.
    const message = typeof cause?.message === 'string' ? cause.message.slice(0, 120) : (error as Error)?.name;
    return new CliError(`cannot reach the local runtime at ${baseUrl} (${message ?? 'error'})`, EXIT.failed);
  }
  const reason = NETWORK_REASONS[code];
  const hint =
    code === 'ECONNREFUSED'
      ? ': start it with `npm start`, or point the CLI at the lifecycle API address `npm start` printed (--url or LOCAL_LIFECYCLE_URL)'
      : '';
  return new CliError(
    `cannot reach the local runtime at ${baseUrl} (${code}${reason === undefined ? '' : `: ${reason}`})${hint}`,
    EXIT.failed,
  );
}

function executionIdOf(json: unknown): string {
  const id =
    (json as { executionId?: unknown; executionArn?: unknown }).executionId ??
    (json as { executionArn?: unknown }).executionArn;
  if (typeof id !== 'string') throw new CliError('the lifecycle API answered without an execution id', EXIT.failed);
  return id;
}

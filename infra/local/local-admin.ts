/**
 * Operator routes of the one-machine runtime, under `/local/...` beside the lifecycle API: what an operator reads
 * from the Step Functions and DynamoDB consoles on AWS (customers and their state, execution step history, dead
 * letters, deletion records) and the scheduled jobs on demand. The CLI uses them in local mode.
 *
 * Answers hold identifiers, statuses, codes and counts only. A customer record is reduced to a fixed list of fields,
 * so a task token kept in it never leaves.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { CustomerRecord, CustomerRepository } from '../../functions/customers/customer.ts';
import { errorCode, ForbiddenInputError, isClassified, PermanentError } from '../../functions/shared/errors.ts';
import { assertCustomerId } from '../../functions/shared/identifiers.ts';
import type { DeadLetterResolution, DeadLetters } from '../../functions/sync/dead-letters.ts';
import { json } from './http-json.ts';
import type { Scheduler } from './scheduler.ts';
import type { LocalWorkflowEngine } from './workflow-engine.ts';

export interface LocalAdminDeps {
  readonly customers: CustomerRepository;
  readonly deadLetters: DeadLetters;
  readonly deletionRecords: (customerId: string) => Promise<readonly Record<string, unknown>[]>;
  readonly engine: () => LocalWorkflowEngine;
  readonly scheduler: () => Scheduler | undefined;
  readonly virtuousBaseUrl: string;
  readonly clock?: () => Date;
}

export interface CustomerSummary {
  readonly customerId: string;
  readonly status: string;
  readonly statusReason?: string;
  readonly sensitivity?: string;
  readonly organizationId?: string;
  readonly webhookSubscriptionId?: number;
  readonly runningWorkflow?: string;
  readonly awaitingToken: boolean;
  readonly previousWebhookSecretValidUntil?: string;
  readonly tokenPromotedAt?: string;
  readonly createdAt?: string;
  readonly updatedAt?: string;
}

export function summarizeCustomer(record: CustomerRecord): CustomerSummary {
  return {
    customerId: record.customerId,
    status: record.status,
    ...(record.statusReason === undefined ? {} : { statusReason: record.statusReason }),
    ...(record.sensitivity === undefined ? {} : { sensitivity: record.sensitivity }),
    ...(record.organizationId === undefined ? {} : { organizationId: String(record.organizationId) }),
    ...(record.webhookSubscriptionId === undefined ? {} : { webhookSubscriptionId: record.webhookSubscriptionId }),
    ...(record.lock === undefined ? {} : { runningWorkflow: record.lock.workflow }),
    awaitingToken: record.awaitingTokenTaskToken !== undefined,
    ...(record.previousWebhookSecretValidUntil === undefined
      ? {}
      : { previousWebhookSecretValidUntil: record.previousWebhookSecretValidUntil }),
    ...(record.tokenPromotedAt === undefined ? {} : { tokenPromotedAt: record.tokenPromotedAt }),
    ...(record.createdAt === undefined ? {} : { createdAt: record.createdAt }),
    ...(record.updatedAt === undefined ? {} : { updatedAt: record.updatedAt }),
  };
}

const RESOLUTIONS: readonly DeadLetterResolution[] = ['open', 'replayed', 'discarded'];
const DEAD_LETTER_ID = /^[A-Za-z0-9_#:.-]{1,200}$/;

function segments(event: APIGatewayProxyEvent): string[] {
  const proxy = event.pathParameters?.proxy ?? '';
  return proxy.split('/').filter((part) => part !== '');
}

export function createLocalAdminHandler(deps: LocalAdminDeps) {
  const clock = deps.clock ?? (() => new Date());

  async function route(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    const method = event.httpMethod.toUpperCase();
    const parts = segments(event);
    const query = event.queryStringParameters ?? {};
    const [head, second, third, fourth] = parts;

    if (method === 'GET' && head === 'health' && parts.length === 1) {
      return json(200, { status: 'ok' });
    }
    if (method === 'GET' && head === 'customers' && parts.length === 1) {
      const records = await deps.customers.list();
      records.sort((a, b) => a.customerId.localeCompare(b.customerId));
      return json(200, { customers: records.map(summarizeCustomer) });
    }
    if (method === 'GET' && head === 'customers' && parts.length === 2) {
      const record = await deps.customers.get(assertCustomerId(second));
      if (!record) return json(404, { error: 'customer_not_found' });
      return json(200, { customer: summarizeCustomer(record) });
    }
    if (method === 'GET' && head === 'customers' && third === 'deletion-records' && parts.length === 3) {
      const records = await deps.deletionRecords(assertCustomerId(second));
      return json(200, { deletionRecords: records });
    }
    if (method === 'POST' && head === 'customers' && third === 'rotation-abort' && parts.length === 3) {
      const record = await deps.customers.get(assertCustomerId(second));
      if (!record?.awaitingTokenTaskToken) return json(409, { error: 'no_rotation_waiting' });
      await deps.engine().sendTaskFailure(record.awaitingTokenTaskToken, 'RotationCancelled');
      return json(202, { status: 'cancelled' });
    }
    if (method === 'GET' && head === 'executions' && parts.length === 1) {
      const customerId = query.customerId === undefined ? undefined : assertCustomerId(query.customerId);
      const executions = deps
        .engine()
        .list()
        .filter((execution) => customerId === undefined || execution.customerId === customerId)
        .map(({ steps: _steps, ...rest }) => rest);
      return json(200, { executions });
    }
    if (method === 'GET' && head === 'executions' && parts.length >= 2) {
      const executionId = decodeURIComponent(parts.slice(1).join('/'));
      const execution = await deps.engine().describe(executionId);
      if (!execution) return json(404, { error: 'execution_not_found' });
      return json(200, { execution });
    }
    if (method === 'POST' && head === 'jobs' && parts.length === 2) {
      const scheduler = deps.scheduler();
      if (!scheduler?.names().includes(second as string)) return json(404, { error: 'job_not_found' });
      const result = await scheduler.runNow(second as string);
      return json(result.ok ? 200 : 500, { result });
    }
    if (method === 'GET' && head === 'dead-letters' && parts.length === 1) {
      const resolution = query.resolution as DeadLetterResolution | undefined;
      if (resolution !== undefined && !RESOLUTIONS.includes(resolution)) {
        throw new ForbiddenInputError('INVALID_RESOLUTION', 'resolution must be open, replayed or discarded');
      }
      const customerIds =
        query.customerId === undefined
          ? (await deps.customers.list()).map((customer) => customer.customerId)
          : [assertCustomerId(query.customerId)];
      const deadLetters = [];
      for (const customerId of customerIds) deadLetters.push(...(await deps.deadLetters.list(customerId, resolution)));
      return json(200, { deadLetters });
    }
    if (
      method === 'POST' &&
      head === 'dead-letters' &&
      parts.length === 4 &&
      (fourth === 'replay' || fourth === 'discard')
    ) {
      const customerId = assertCustomerId(second);
      const deadLetterId = decodeURIComponent(third as string);
      if (!DEAD_LETTER_ID.test(deadLetterId)) {
        throw new ForbiddenInputError('INVALID_DEAD_LETTER_ID', 'dead letter id is malformed');
      }
      const summary =
        fourth === 'replay'
          ? await deps.deadLetters.replay(customerId, deadLetterId, clock(), { checked: query.checked === 'true' })
          : await deps.deadLetters.discard(customerId, deadLetterId, clock());
      return json(200, { deadLetter: summary });
    }
    if (method === 'GET' && head === 'egress-ips' && parts.length === 1) {
      return json(200, {
        egressIps: [],
        note: 'local runtime: calls to Virtuous leave from this machine; a deployed stack publishes its NAT Elastic IPs',
        virtuousBaseUrl: deps.virtuousBaseUrl,
      });
    }
    return json(404, { error: 'route_not_found' });
  }

  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    try {
      return await route(event);
    } catch (error) {
      if (error instanceof ForbiddenInputError) return json(400, { error: errorCode(error), message: error.message });
      if (error instanceof PermanentError) {
        const status = error.code.endsWith('NOT_FOUND') ? 404 : 409;
        return json(status, { error: error.code, message: error.message });
      }
      return json(isClassified(error) && error.errorClass === 'Transient' ? 503 : 500, { error: errorCode(error) });
    }
  };
}

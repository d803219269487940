/**
 * Operator routes of the one-machine runtime, under `/local/...` beside the lifecycle API: what an operator reads
 * from the Step Functions and DynamoDB consoles on AWS (customers and their state, execution step history, dead
 * letters, deletion records) and the scheduled jobs on demand. The CLI uses them in local mode.
 *
 * Answers hold identifiers, statuses, codes and counts only. A customer record is reduced to a fixed list of fields,
 * so a task token kept in it never leaves.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { CustomerRepository } from '../../functions/customers/customer.ts';
import { summarizeCustomer, summarizeCustomers } from '../../functions/customers/customer-summary.ts';
import {
  listDeadLetters,
  parseDeadLetterId,
  parseResolution,
  resolveDeadLetter,
} from '../../functions/lifecycle-api/operator-views.ts';
import { errorCode, ForbiddenInputError, isClassified, PermanentError } from '../../functions/shared/errors.ts';
import { assertCustomerId } from '../../functions/shared/identifiers.ts';
import type { DeadLetters } from '../../functions/sync/dead-letters.ts';
import { json, jsonBody } from './http-json.ts';
import type { Scheduler } from './scheduler.ts';
import { routeSimulator } from './simulator-admin.ts';
import { routeStripe } from './stripe-admin.ts';
import type { StripeSimulatorState } from './stripe-simulator/state.ts';
import { parseProvider, type TestWebhookResult } from './test-webhook.ts';
import type { VirtuousSimulatorState } from './virtuous-simulator/simulator.ts';
import type { LocalWorkflowEngine } from './workflow-engine.ts';

export interface LocalAdminDeps {
  readonly customers: CustomerRepository;
  readonly deadLetters: DeadLetters;
  readonly deletionRecords: (customerId: string) => Promise<readonly Record<string, unknown>[]>;
  readonly engine: () => LocalWorkflowEngine;
  readonly scheduler: () => Scheduler | undefined;
  readonly virtuousBaseUrl: string;
  /** The simulator when it is the Virtuous in use (routes under `/local/simulator`); undefined with a real one. */
  readonly simulator?: () => VirtuousSimulatorState | undefined;
  /** The Stripe stand-in (routes under `/local/stripe`). */
  readonly stripe?: () => StripeSimulatorState | undefined;
  /** Signs a test delivery with the customer's stored secret and posts it to the runtime's webhook endpoint. */
  readonly sendTestWebhook?: (input: {
    customerId: string;
    provider: 'virtuous' | 'stripe';
    body?: string;
  }) => Promise<TestWebhookResult>;
  readonly clock?: () => Date;
}

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
      return json(200, { customers: await summarizeCustomers(deps.customers) });
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
    if (
      method === 'POST' &&
      head === 'customers' &&
      third === 'test-webhook' &&
      parts.length === 3 &&
      deps.sendTestWebhook
    ) {
      const body = jsonBody(event);
      if (body.body !== undefined && typeof body.body !== 'string') {
        throw new ForbiddenInputError('INVALID_BODY', 'body must be the raw JSON text of the delivery');
      }
      const result = await deps.sendTestWebhook({
        customerId: assertCustomerId(second),
        provider: parseProvider(body.provider === undefined ? undefined : String(body.provider)),
        ...(typeof body.body === 'string' ? { body: body.body } : {}),
      });
      return json(200, result);
    }
    if (head === 'simulator' && deps.simulator) {
      return routeSimulator(deps.simulator(), deps.customers, {
        method,
        parts: parts.slice(1),
        body: () => jsonBody(event),
      });
    }
    if (head === 'stripe' && deps.stripe) {
      return routeStripe(deps.stripe(), { method, parts: parts.slice(1) });
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
      const resolution = parseResolution(query.resolution);
      const customerIds =
        query.customerId === undefined
          ? (await deps.customers.list()).map((customer) => customer.customerId)
          : [assertCustomerId(query.customerId)];
      const deadLetters = await listDeadLetters(deps.deadLetters, customerIds, resolution);
      return json(200, { deadLetters });
    }
    if (
      method === 'POST' &&
      head === 'dead-letters' &&
      parts.length === 4 &&
      (fourth === 'replay' || fourth === 'discard')
    ) {
      const summary = await resolveDeadLetter(deps.deadLetters, {
        customerId: assertCustomerId(second),
        deadLetterId: parseDeadLetterId(third),
        action: fourth,
        now: clock(),
        checked: query.checked === 'true',
      });
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

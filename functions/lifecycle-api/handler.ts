/**
 * Lambda entry of the lifecycle API (API Gateway REST, `/lifecycle/{proxy+}`):
 *
 *   POST /lifecycle/customers/{customerId}/api-token            {token, sensitivity?, tokenRotationDays?} → 202
 *   POST /lifecycle/customers/{customerId}/rotation-token       {token}                                   → 202
 *   POST /lifecycle/customers/{customerId}/workflows/{workflow} {expedited?}                              → 202
 *   POST /lifecycle/customers/{customerId}/pause                {reason?}                                 → 200
 *   POST /lifecycle/customers/{customerId}/resume               (empty or {})                             → 200
 *   POST /lifecycle/customers/{customerId}/debug-capture        {minutes} (1-1440)                        → 200
 *   POST /lifecycle/customers/{customerId}/sources/{source}      {credential, value}                       → 200
 *   DELETE /lifecycle/customers/{customerId}/debug-capture                                               → 200
 *   POST /lifecycle/deletion-drill/sandbox-key                  {token}  (deletion-drill set-up)          → 200
 *   GET  /lifecycle/executions/{executionId}                                                              → 200
 *   GET  /lifecycle/customers                                          status of every customer              → 200
 *   GET  /lifecycle/customers/{customerId}                             its status (404 when unknown)          → 200
 *   GET  /lifecycle/customers/{customerId}/dead-letters[?resolution=open|replayed|discarded]                 → 200
 *   POST /lifecycle/customers/{customerId}/dead-letters/{id}/replay    {checked?: true}                      → 200
 *   POST /lifecycle/customers/{customerId}/dead-letters/{id}/discard   (empty or {})                         → 200
 *   GET  /lifecycle/customers/{customerId}/incidents                  its incident reports, newest first     → 200
 *   GET  /lifecycle/customers/{customerId}/incidents/{reportId}       one report (404 when unknown)          → 200
 *
 * Thin: parse the shape (a 400 names what is wrong with it, never the data), call the domain, map the result.
 * No answer, log or error carries a key.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { z } from 'zod';
import type { WorkflowName } from '../customers/customer.ts';
import { summarizeCustomer, summarizeCustomers } from '../customers/customer-summary.ts';
import { MAX_DEBUG_CAPTURE_MINUTES } from '../customers/debug-capture-flag.ts';
import { DRILL_SANDBOX_CUSTOMER_ID } from '../deletion-drill/drill.ts';
import { storeDrillSandboxKey } from '../deletion-drill/sandbox-key.ts';
import { isClassified, TransientError } from '../shared/errors.ts';
import { isCustomerId } from '../shared/identifiers.ts';
import { logger } from '../shared/observability.ts';
import { disableDebugCapture, enableDebugCapture } from './debug-capture.ts';
import { listIncidentReports, readIncidentReport } from './incident-reports.ts';
import {
  ApiRefusal,
  describeExecution,
  type LifecycleApiDeps,
  pauseSync,
  receiveOnboardingToken,
  receiveRotationToken,
  resumeSync,
  STARTABLE,
  startWorkflow,
} from './lifecycle-api.ts';
import {
  listDeadLetters,
  parseDeadLetterId,
  parseResolution,
  resolveDeadLetter,
  viewDeadLetter,
} from './operator-views.ts';
import { connectSourceCredential } from './source-credentials.ts';

/** Virtuous API keys are opaque; this bounds them without describing them. */
const Token = z
  .string()
  .min(16)
  .max(4096)
  .regex(/^[\x21-\x7e]+$/);

const OnboardingBody = z.strictObject({
  token: Token,
  sensitivity: z.enum(['high', 'standard']).default('standard'),
  tokenRotationDays: z.number().int().min(1).max(365).optional(),
});

const RotationBody = z.strictObject({ token: Token });

const StartBody = z.strictObject({ expedited: z.boolean().optional() });

const PauseBody = z.strictObject({
  reason: z
    .string()
    .regex(/^[a-z0-9_]{1,40}$/)
    .optional(),
});

const ResumeBody = z.strictObject({});

const ReplayBody = z.strictObject({ checked: z.literal(true).optional() });

const DiscardBody = z.strictObject({});

const DebugCaptureBody = z.strictObject({ minutes: z.number().int().min(1).max(MAX_DEBUG_CAPTURE_MINUTES) });

/** A source platform's credential (Stripe: its webhook signing secret or its OAuth refresh token). */
const SourceCredentialBody = z.strictObject({
  credential: z.enum(['webhook_secret', 'refresh_token']),
  value: Token,
});

/** The Virtuous sandbox organization's key the deletion drill onboards with. */
const SandboxKeyBody = z.strictObject({ token: Token });

const MAX_BODY_BYTES = 16 * 1024;

function answer(statusCode: number, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  } satisfies APIGatewayProxyResult;
}

/** Parses a JSON body against a schema; the refusal names the offending fields and the rule, never a value. */
function parseBody<T>(event: APIGatewayProxyEvent, schema: z.ZodType<T>, optional = false): T {
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES) throw new ApiRefusal(413, 'BODY_TOO_LARGE', 'body too large');
  let json: unknown;
  if (text.trim() === '') {
    if (!optional) throw new ApiRefusal(400, 'BODY_REQUIRED', 'a JSON body is required');
    json = {};
  } else {
    try {
      json = JSON.parse(text);
    } catch {
      throw new ApiRefusal(400, 'BODY_NOT_JSON', 'the body is not valid JSON');
    }
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const where = issue.path.length > 0 ? issue.path.join('.') : '(body)';
      return issue.code === 'unrecognized_keys' ? `${where}: unknown field(s)` : `${where}: ${issue.code}`;
    });
    throw new ApiRefusal(400, 'INVALID_BODY', `invalid body: ${[...new Set(problems)].join('; ')}`);
  }
  return parsed.data;
}

function routePath(event: APIGatewayProxyEvent): string[] {
  const proxy = event.pathParameters?.proxy;
  const path = proxy !== undefined ? `lifecycle/${proxy}` : event.path;
  return path.split('/').filter((segment) => segment !== '');
}

function customerIdFrom(segment: string | undefined): string {
  if (!isCustomerId(segment)) throw new ApiRefusal(400, 'INVALID_CUSTOMER_ID', 'the customer id has the wrong shape');
  return segment;
}

async function route(deps: LifecycleApiDeps, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const [root, collection, id, action, name, ...rest] = routePath(event);
  const method = event.httpMethod.toUpperCase();
  if (root === 'lifecycle' && collection === 'customers' && (action === undefined || action === 'dead-letters')) {
    return operatorRoute(deps, event, method, [id, action, name, ...rest]);
  }
  if (root === 'lifecycle' && collection === 'customers' && action === 'incidents' && rest.length === 0) {
    return incidentRoute(deps, customerIdFrom(id), method, name);
  }
  if (root !== 'lifecycle' || rest.length > 0) throw new ApiRefusal(404, 'NOT_FOUND', 'no such route');
  if (collection === 'executions' && id !== undefined && action === undefined) {
    if (method !== 'GET') throw new ApiRefusal(405, 'METHOD_NOT_ALLOWED', 'use GET');
    return answer(200, { ...(await describeExecution(deps, decodeURIComponent(id))) });
  }
  if (collection === 'customers' && action === 'debug-capture' && name === undefined) {
    return debugCaptureRoute(deps, event, customerIdFrom(id), method);
  }
  if (collection === 'deletion-drill' && id === 'sandbox-key' && action === undefined) {
    if (method !== 'POST') throw new ApiRefusal(405, 'METHOD_NOT_ALLOWED', 'use POST');
    const body = parseBody(event, SandboxKeyBody);
    const stored = await storeDrillSandboxKey(deps, body.token);
    return answer(200, { customerId: stored.customerId, stored: true });
  }
  if (collection !== 'customers' || method !== 'POST') throw new ApiRefusal(404, 'NOT_FOUND', 'no such route');
  const customerId = customerIdFrom(id);
  if (action === 'api-token' && name === undefined) {
    // The drill's sandbox key lives under this id; onboarding it would make it a customer's key (and offboarding
    // would delete it).
    if (customerId === DRILL_SANDBOX_CUSTOMER_ID) {
      throw new ApiRefusal(
        409,
        'RESERVED_CUSTOMER_ID',
        `${DRILL_SANDBOX_CUSTOMER_ID} is reserved for the deletion drill`,
      );
    }
    const body = parseBody(event, OnboardingBody);
    const started = await receiveOnboardingToken(deps, { customerId, ...body });
    return answer(202, { customerId, workflow: 'onboarding', executionId: started.executionId });
  }
  if (action === 'rotation-token' && name === undefined) {
    const body = parseBody(event, RotationBody);
    await receiveRotationToken(deps, { customerId, token: body.token });
    return answer(202, { customerId, accepted: true });
  }
  if (action === 'pause' && name === undefined) {
    const body = parseBody(event, PauseBody, true);
    const paused = await pauseSync(deps, customerId, body.reason);
    return answer(200, { customerId, status: paused.status, statusReason: paused.statusReason });
  }
  if (action === 'resume' && name === undefined) {
    parseBody(event, ResumeBody, true);
    const resumed = await resumeSync(deps, customerId);
    return answer(200, {
      customerId,
      status: resumed.status,
      released: resumed.released,
      alreadyActive: resumed.alreadyActive,
    });
  }
  if (action === 'sources' && name !== undefined) {
    const body = parseBody(event, SourceCredentialBody);
    const connected = await connectSourceCredential(deps, { customerId, source: name, ...body });
    return answer(200, { customerId, source: name, credential: body.credential, historyLoad: connected.historyLoad });
  }
  if (action === 'workflows' && name !== undefined) {
    if (!STARTABLE.has(name as WorkflowName)) throw new ApiRefusal(404, 'UNKNOWN_WORKFLOW', 'no such workflow');
    const body = parseBody(event, StartBody, true);
    const started = await startWorkflow(deps, { customerId, workflow: name as WorkflowName, ...body });
    return answer(202, { customerId, workflow: name, executionId: started.executionId });
  }
  throw new ApiRefusal(404, 'NOT_FOUND', 'no such route');
}

/** Customer status and dead letters: what an operator of a deployed stack reads and decides from the CLI. */
async function operatorRoute(
  deps: LifecycleApiDeps,
  event: APIGatewayProxyEvent,
  method: string,
  [id, action, deadLetterId, decision, ...rest]: (string | undefined)[],
): Promise<APIGatewayProxyResult> {
  if (rest.length > 0) throw new ApiRefusal(404, 'NOT_FOUND', 'no such route');
  if (id === undefined) {
    if (method !== 'GET') throw new ApiRefusal(405, 'METHOD_NOT_ALLOWED', 'use GET');
    return answer(200, { customers: await summarizeCustomers(deps.customers) });
  }
  const customerId = customerIdFrom(id);
  if (action === undefined) {
    if (method !== 'GET') throw new ApiRefusal(405, 'METHOD_NOT_ALLOWED', 'use GET');
    const record = await deps.customers.get(customerId);
    if (record === undefined) throw new ApiRefusal(404, 'CUSTOMER_NOT_FOUND', 'no such customer');
    return answer(200, { customer: summarizeCustomer(record) });
  }
  const deadLetters = deps.deadLetters;
  if (deadLetters === undefined) {
    throw new ApiRefusal(501, 'NOT_CONFIGURED', 'dead letters are not available on this deployment');
  }
  if (deadLetterId === undefined) {
    if (method !== 'GET') throw new ApiRefusal(405, 'METHOD_NOT_ALLOWED', 'use GET');
    const resolution = parseResolution(event.queryStringParameters?.resolution ?? undefined);
    const found = await listDeadLetters(deadLetters, [customerId], resolution);
    return answer(200, { deadLetters: found.map(viewDeadLetter) });
  }
  if (decision !== 'replay' && decision !== 'discard') throw new ApiRefusal(404, 'NOT_FOUND', 'no such route');
  if (method !== 'POST') throw new ApiRefusal(405, 'METHOD_NOT_ALLOWED', 'use POST');
  const letterId = parseDeadLetterId(deadLetterId);
  // checked: the operator looked in Virtuous and found no reversal for an in-doubt refund (replay only).
  const checked = decision === 'replay' ? parseBody(event, ReplayBody, true).checked === true : false;
  if (decision === 'discard') parseBody(event, DiscardBody, true);
  try {
    const resolved = await resolveDeadLetter(deadLetters, {
      customerId,
      deadLetterId: letterId,
      action: decision,
      now: deps.clock.now(),
      checked,
    });
    return answer(200, { deadLetter: viewDeadLetter(resolved) });
  } catch (error) {
    if (isClassified(error) && error.code === 'DEAD_LETTER_NOT_FOUND') {
      throw new ApiRefusal(404, error.code, error.message);
    }
    if (isClassified(error) && error.name === 'PermanentError') throw new ApiRefusal(409, error.code, error.message);
    throw error;
  }
}

async function incidentRoute(
  deps: LifecycleApiDeps,
  customerId: string,
  method: string,
  reportId: string | undefined,
): Promise<APIGatewayProxyResult> {
  if (method !== 'GET') throw new ApiRefusal(405, 'METHOD_NOT_ALLOWED', 'use GET');
  const reports = deps.incidentReports;
  if (reports === undefined) {
    throw new ApiRefusal(501, 'NOT_CONFIGURED', 'incident reports are not available on this deployment');
  }
  if (reportId === undefined) return answer(200, { incidents: await listIncidentReports(reports, customerId) });
  return answer(200, { report: await readIncidentReport(reports, customerId, reportId) });
}

async function debugCaptureRoute(
  deps: LifecycleApiDeps,
  event: APIGatewayProxyEvent,
  customerId: string,
  method: string,
): Promise<APIGatewayProxyResult> {
  // Who switched it: the SigV4 caller API Gateway verified (the alert names it), never a value from the body.
  const identity = event.requestContext?.identity;
  const requestedBy = identity?.userArn ?? identity?.caller ?? undefined;
  if (method === 'POST') {
    const body = parseBody(event, DebugCaptureBody);
    return answer(200, { ...(await enableDebugCapture(deps, { customerId, minutes: body.minutes, requestedBy })) });
  }
  if (method === 'DELETE') {
    return answer(200, { ...(await disableDebugCapture(deps, { customerId, requestedBy })) });
  }
  throw new ApiRefusal(405, 'METHOD_NOT_ALLOWED', 'use POST or DELETE');
}

export function createLifecycleApiHandler(deps: LifecycleApiDeps) {
  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    try {
      return await route(deps, event);
    } catch (error) {
      if (error instanceof ApiRefusal) return answer(error.statusCode, { error: error.code, message: error.message });
      if (error instanceof TransientError) {
        logger.warn('lifecycle request deferred', { errorCode: error.code });
        return answer(503, { error: 'TRY_AGAIN' }, { 'retry-after': String(error.retryAfterSeconds ?? 5) });
      }
      if (isClassified(error) && error.name === 'ForbiddenInputError') {
        return answer(400, { error: error.code, message: error.message });
      }
      if (isClassified(error) && error.name === 'PermanentError') {
        return answer(409, { error: error.code });
      }
      logger.error('lifecycle request failed', { errorCode: isClassified(error) ? error.code : 'UNCLASSIFIED' });
      return answer(500, { error: 'INTERNAL' });
    }
  };
}

let awsHandler: ((event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>) | undefined;

/** AWS entry: dependencies are built on the first call, from the environment. */
export const handler = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  if (awsHandler === undefined) {
    const { createAwsLifecycleApiDeps } = await import('../lifecycle-tasks/aws-deps.ts');
    awsHandler = createLifecycleApiHandler(createAwsLifecycleApiDeps());
  }
  return awsHandler(event);
};

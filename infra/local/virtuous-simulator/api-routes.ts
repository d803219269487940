/**
 * The Virtuous API endpoints the product uses, answered from an organization's state. Called after authentication,
 * rate limiting and fault injection (simulator.ts), so every handler here is the "Virtuous is healthy" path.
 */
import { WEBHOOK_EVENT_FLAGS } from '../../../functions/virtuous/api.ts';
import type { OrganizationState, SimContact, SimGift, SimWebhook } from './model.ts';
import { transactionKey } from './model.ts';
import { contactJson, giftJson, webhookJson } from './representations.ts';
import { checkContactTransaction, checkGiftTransaction, checkReversal, type FieldProblem } from './validation.ts';

export interface SimResponse {
  readonly status: number;
  readonly json?: unknown;
  readonly text?: string;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Never answer (a timeout fault). */
  readonly hang?: boolean;
}

export interface ApiRequest {
  readonly method: string;
  readonly segments: readonly string[];
  readonly query: URLSearchParams;
  /** Parsed JSON body; undefined when there was none. */
  readonly body: unknown;
}

export interface RouteContext {
  readonly org: OrganizationState;
  readonly nowMs: number;
  readonly maxGiftBatch: number;
  readonly amountsAsStrings: boolean;
  nextWebhookId(): number;
}

type Handler = (request: ApiRequest, params: Readonly<Record<string, string>>, context: RouteContext) => SimResponse;

interface Route {
  readonly method: string;
  readonly pattern: readonly string[];
  readonly handler: Handler;
}

export function errorResponse(
  org: OrganizationState | undefined,
  status: number,
  code: string,
  message: string,
  details: readonly FieldProblem[] = [],
): SimResponse {
  if (org?.faults.plainTextErrors === true) return { status, text: message, contentType: 'text/plain; charset=utf-8' };
  return { status, json: { error: { code, message, details } } };
}

const ok = (json?: unknown): SimResponse => (json === undefined ? { status: 200 } : { status: 200, json });

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function webhookFrom(id: number, body: Record<string, unknown>): SimWebhook | FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (typeof body.payloadUrl !== 'string' || !URL.canParse(body.payloadUrl)) {
    problems.push({ field: 'payloadUrl', code: 'INVALID', message: 'must be a URL' });
  }
  if (typeof body.secret !== 'string' || body.secret === '') {
    problems.push({ field: 'secret', code: 'REQUIRED', message: 'required' });
  }
  if (problems.length > 0) return problems;
  const flags = Object.fromEntries(
    WEBHOOK_EVENT_FLAGS.map((flag) => [flag, body[flag] === true || body[flag] === 'true']),
  );
  return {
    id,
    payloadUrl: body.payloadUrl as string,
    secret: body.secret as string,
    active: body.active === undefined ? true : body.active === true || body.active === 'true',
    ...flags,
  } as SimWebhook;
}

function webhookId(params: Readonly<Record<string, string>>): number {
  return /^\d+$/.test(params.id ?? '') ? Number(params.id) : Number.NaN;
}

const MODIFIED_PARAMETERS = new Set(['last modified date', 'modified date', 'date modified', 'modifieddatetimeutc']);
const AFTER_OPERATORS = new Set(['greaterthanorequal', 'onorafter', 'after', 'greaterthan']);

/** The lower bound of a Query's modified-date condition, or undefined when it has none. */
function modifiedSince(body: unknown): number | undefined {
  if (!isObject(body) || !Array.isArray(body.groups)) return undefined;
  for (const group of body.groups) {
    if (!isObject(group) || !Array.isArray(group.conditions)) continue;
    for (const condition of group.conditions) {
      if (!isObject(condition)) continue;
      const parameter = String(condition.parameter ?? '').toLowerCase();
      const operator = String(condition.operator ?? '').toLowerCase();
      if (MODIFIED_PARAMETERS.has(parameter) && AFTER_OPERATORS.has(operator)) {
        const since = Date.parse(String(condition.value));
        if (!Number.isNaN(since)) return since;
      }
    }
  }
  return undefined;
}

function queryPage<T extends SimGift | SimContact>(
  request: ApiRequest,
  context: RouteContext,
  records: Iterable<T>,
  render: (record: T) => unknown,
): SimResponse {
  const skip = Number(request.query.get('skip') ?? '0');
  const take = Number(request.query.get('take') ?? '10');
  if (!Number.isInteger(skip) || skip < 0 || !Number.isInteger(take) || take < 1 || take > 1000) {
    return errorResponse(context.org, 400, 'VALIDATION_ERROR', 'skip must be >= 0 and take between 1 and 1000', [
      { field: 'take', code: 'OUT_OF_RANGE', message: 'take must be between 1 and 1000' },
    ]);
  }
  const since = modifiedSince(request.body);
  const matching = [...records]
    .filter((record) => since === undefined || Date.parse(record.modifiedDateTimeUtc) >= since)
    .sort((a, b) => a.modifiedDateTimeUtc.localeCompare(b.modifiedDateTimeUtc) || a.id - b.id);
  return ok({ list: matching.slice(skip, skip + take).map(render), total: matching.length, skip, take });
}

function findGiftByTransaction(org: OrganizationState, source: string, id: string): SimGift | undefined {
  for (const gift of org.gifts.values())
    if (gift.transactionSource === source && gift.transactionId === id) return gift;
  return undefined;
}

function findContactByReference(org: OrganizationState, source: string, id: string): SimContact | undefined {
  for (const contact of org.contacts.values()) {
    if (contact.references.some((r) => r.source === source && r.id === id)) return contact;
  }
  return undefined;
}

function countSubmission(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

const routes: readonly Route[] = [
  {
    method: 'GET',
    pattern: ['api', 'Organization', 'Current'],
    handler: (_request, _params, { org }) =>
      ok({
        organizationName: org.name,
        organizationUserId: org.userId,
        organizationTimeZone: org.timeZone,
        isAdministrator: false,
        isEnabled: org.isEnabled,
      }),
  },
  {
    method: 'POST',
    pattern: ['api', 'Webhook'],
    handler: (request, _params, context) => {
      if (!isObject(request.body)) return errorResponse(context.org, 400, 'INVALID_BODY', 'expected a JSON object');
      const webhook = webhookFrom(context.nextWebhookId(), request.body);
      if (Array.isArray(webhook))
        return errorResponse(context.org, 400, 'VALIDATION_ERROR', 'invalid webhook', webhook);
      context.org.webhooks.set(webhook.id, webhook);
      return ok(webhookJson(webhook));
    },
  },
  {
    method: 'GET',
    pattern: ['api', 'Webhook', ':id'],
    handler: (_request, params, { org }) => {
      const webhook = org.webhooks.get(webhookId(params));
      return webhook === undefined
        ? errorResponse(org, 404, 'NOT_FOUND', 'webhook not found')
        : ok(webhookJson(webhook));
    },
  },
  {
    method: 'PUT',
    pattern: ['api', 'Webhook', ':id'],
    handler: (request, params, { org }) => {
      const id = webhookId(params);
      if (!org.webhooks.has(id)) return errorResponse(org, 404, 'NOT_FOUND', 'webhook not found');
      if (!isObject(request.body)) return errorResponse(org, 400, 'INVALID_BODY', 'expected a JSON object');
      // A full replace: every flag not sent is now off, as with the real endpoint.
      const webhook = webhookFrom(id, request.body);
      if (Array.isArray(webhook)) return errorResponse(org, 400, 'VALIDATION_ERROR', 'invalid webhook', webhook);
      org.webhooks.set(id, webhook);
      return ok(webhookJson(webhook));
    },
  },
  {
    method: 'PUT',
    pattern: ['api', 'Webhook', ':id', 'Active'],
    handler: (request, params, { org }) => {
      const webhook = org.webhooks.get(webhookId(params));
      if (webhook === undefined) return errorResponse(org, 404, 'NOT_FOUND', 'webhook not found');
      const active = request.query.get('active')?.toLowerCase();
      if (active !== 'true' && active !== 'false') {
        return errorResponse(org, 400, 'VALIDATION_ERROR', 'active must be true or false');
      }
      webhook.active = active === 'true';
      return ok();
    },
  },
  {
    method: 'DELETE',
    pattern: ['api', 'Webhook', ':id'],
    handler: (_request, params, { org }) => {
      const id = webhookId(params);
      if (!org.webhooks.delete(id)) return errorResponse(org, 404, 'NOT_FOUND', 'webhook not found');
      return ok();
    },
  },
  {
    method: 'POST',
    pattern: ['api', 'v2', 'Gift', 'Transaction'],
    handler: (request, _params, { org, nowMs }) => {
      const checked = checkGiftTransaction(request.body, new Date(nowMs).toISOString());
      if (!checked.ok) return errorResponse(org, 400, 'VALIDATION_ERROR', 'invalid gift transaction', checked.problems);
      org.heldGifts.push(checked.value);
      countSubmission(
        org.giftSubmissions,
        transactionKey(checked.value.transactionSource, checked.value.transactionId),
      );
      return ok();
    },
  },
  {
    method: 'POST',
    pattern: ['api', 'v2', 'Gift', 'Transactions'],
    handler: (request, _params, { org, nowMs, maxGiftBatch }) => {
      const body = request.body;
      if (!isObject(body) || !Array.isArray(body.transactions)) {
        return errorResponse(org, 400, 'VALIDATION_ERROR', 'transactions must be a list', [
          { field: 'transactions', code: 'REQUIRED', message: 'required' },
        ]);
      }
      if (body.transactions.length > maxGiftBatch) {
        return errorResponse(org, 400, 'BATCH_TOO_LARGE', `at most ${maxGiftBatch} transactions per batch`);
      }
      const defaultSource = typeof body.transactionSource === 'string' ? body.transactionSource : undefined;
      const receivedAt = new Date(nowMs).toISOString();
      const held = [];
      const problems: FieldProblem[] = [];
      for (const [index, raw] of body.transactions.entries()) {
        const checked = checkGiftTransaction(raw, receivedAt, defaultSource, `transactions[${index}].`);
        if (checked.ok) held.push(checked.value);
        else problems.push(...checked.problems);
      }
      // The batch is all or nothing, so a client never has to guess which half went in.
      if (problems.length > 0)
        return errorResponse(org, 400, 'VALIDATION_ERROR', 'invalid gift transactions', problems);
      for (const gift of held) {
        org.heldGifts.push(gift);
        countSubmission(org.giftSubmissions, transactionKey(gift.transactionSource, gift.transactionId));
      }
      return ok();
    },
  },
  {
    method: 'POST',
    pattern: ['api', 'Contact', 'Transaction'],
    handler: (request, _params, { org }) => {
      const checked = checkContactTransaction(request.body);
      if (!checked.ok)
        return errorResponse(org, 400, 'VALIDATION_ERROR', 'invalid contact transaction', checked.problems);
      org.heldContacts.push(checked.value);
      countSubmission(org.contactSubmissions, transactionKey(checked.value.referenceSource, checked.value.referenceId));
      return ok();
    },
  },
  {
    method: 'POST',
    pattern: ['api', 'Gift', 'ReversingTransaction'],
    handler: (request, _params, { org }) => {
      const checked = checkReversal(request.body);
      if (!checked.ok)
        return errorResponse(org, 400, 'VALIDATION_ERROR', 'invalid reversing transaction', checked.problems);
      const original = org.gifts.get(checked.value.reversedGiftId);
      if (original === undefined || original.reversedGiftId !== undefined) {
        return errorResponse(org, 404, 'GIFT_NOT_FOUND', 'the gift to reverse does not exist');
      }
      org.heldReversals.push(checked.value);
      org.reversalSubmissions.set(original.id, (org.reversalSubmissions.get(original.id) ?? 0) + 1);
      return ok();
    },
  },
  {
    method: 'POST',
    pattern: ['api', 'Gift', 'Query'],
    handler: (request, _params, context) =>
      queryPage(request, context, context.org.gifts.values(), (gift) => giftJson(gift, context.amountsAsStrings)),
  },
  {
    method: 'POST',
    pattern: ['api', 'Contact', 'Query'],
    handler: (request, _params, context) => queryPage(request, context, context.org.contacts.values(), contactJson),
  },
  {
    method: 'GET',
    pattern: ['api', 'Gift', ':source', ':id'],
    handler: (_request, params, context) => {
      const gift = findGiftByTransaction(context.org, params.source ?? '', params.id ?? '');
      return gift === undefined
        ? errorResponse(context.org, 404, 'NOT_FOUND', 'gift not found')
        : ok(giftJson(gift, context.amountsAsStrings));
    },
  },
  {
    method: 'GET',
    pattern: ['api', 'Gift', ':id'],
    handler: (_request, params, context) => {
      const gift = context.org.gifts.get(webhookId(params));
      return gift === undefined
        ? errorResponse(context.org, 404, 'NOT_FOUND', 'gift not found')
        : ok(giftJson(gift, context.amountsAsStrings));
    },
  },
  {
    method: 'GET',
    pattern: ['api', 'Contact', ':source', ':id'],
    handler: (_request, params, { org }) => {
      const contact = findContactByReference(org, params.source ?? '', params.id ?? '');
      return contact === undefined
        ? errorResponse(org, 404, 'NOT_FOUND', 'contact not found')
        : ok(contactJson(contact));
    },
  },
  {
    method: 'GET',
    pattern: ['api', 'Contact', ':id'],
    handler: (_request, params, { org }) => {
      const contact = org.contacts.get(webhookId(params));
      return contact === undefined
        ? errorResponse(org, 404, 'NOT_FOUND', 'contact not found')
        : ok(contactJson(contact));
    },
  },
];

export interface MatchedRoute {
  readonly template: string;
  readonly handler: Handler;
  readonly params: Readonly<Record<string, string>>;
}

export function matchRoute(method: string, segments: readonly string[]): MatchedRoute | undefined {
  for (const route of routes) {
    if (route.method !== method || route.pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let matches = true;
    route.pattern.forEach((part, index) => {
      const segment = segments[index] as string;
      if (part.startsWith(':')) params[part.slice(1)] = segment;
      else if (part.toLowerCase() !== segment.toLowerCase()) matches = false;
    });
    if (matches) return { template: `${route.method} /${route.pattern.join('/')}`, handler: route.handler, params };
  }
  return undefined;
}

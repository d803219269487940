/**
 * The Virtuous CRM+ HTTP client for one customer (the VirtuousApi contract of api.ts).
 *
 * Every call: reserve one request from the customer's shared budget, send with a Bearer token and a timeout, read
 * the rate-limit headers back into the budget, classify failures (http-errors.ts) and retry the transient ones a
 * bounded number of times with full-jitter backoff (429: after Retry-After). A 401 re-reads the token once and
 * retries once; a second 401 is a RecoverableError for the caller to pause the customer and alert.
 *
 * Requests are sent over HTTPS with Node's default certificate checks; plain HTTP only to a loopback simulator
 * when the caller says so (local mode).
 *
 * Writes Virtuous may store twice (gift, gift batch and contact transactions, a reversing transaction, a webhook
 * subscription create) have no idempotency key, so they are retried only after failures that prove nothing was sent
 * or stored: 429, other 4xx, a connection refused before sending, DNS, our own budget refusal. An ambiguous end
 * (timeout after sending, reset, 5xx, 520, 408) is never retried: the call throws a TransientError
 * `WRITE_OUTCOME_UNKNOWN` (shared/errors.ts) and the caller decides (a lookup later, or an operator). Reads and the
 * idempotent writes (webhook PUT is a full replace, DELETE answers 404 once gone) are retried on every transient
 * failure.
 */
import { ForbiddenInputError, TransientError } from '../shared/errors.ts';
import { logger } from '../shared/observability.ts';
import type {
  ContactRecord,
  ContactTransaction,
  GiftRecord,
  GiftTransaction,
  OrganizationInfo,
  QueryPage,
  RateLimitObservation,
  ReversingTransaction,
  SubmitGiftsOptions,
  VirtuousApi,
  WebhookRecord,
  WebhookSubscription,
} from './api.ts';
import {
  classifyHttpFailure,
  classifyNetworkFailure,
  type HttpFailure,
  httpStatusLeavesWriteOutcomeUnknown,
  networkFailureMayHaveReachedServer,
  writeOutcomeUnknown,
} from './http-errors.ts';
import type { RateBudget } from './rate-budget.ts';
import { readRateLimitHeaders, readRetryAfterSeconds } from './rate-limit-headers.ts';
import { contactTransactionBody, type DesignationField, giftTransactionBody, reversalBody } from './request-bodies.ts';
import {
  parseJsonBody,
  readContact,
  readContactPage,
  readGift,
  readGiftPage,
  readOrganization,
  readWebhook,
} from './responses.ts';
import {
  type BackoffPolicy,
  DEFAULT_BACKOFF,
  fullJitterDelayMs,
  realSleep,
  retryAfterDelayMs,
  type Sleep,
} from './retry.ts';
import type { TokenSource } from './token-source.ts';

/** Virtuous does not publish a batch limit; partners send 100, and so do we. */
export const MAX_GIFT_BATCH = 100;
export const MAX_QUERY_TAKE = 1_000;
const MAX_ERROR_BODY_CHARS = 16_384;

export interface QueryFilterSettings {
  /** Query-builder parameter for the last-modified time; not published with certainty, so configurable. */
  readonly modifiedParameter: string;
  readonly operator: string;
}

export const DEFAULT_QUERY_FILTER: QueryFilterSettings = {
  modifiedParameter: 'Last Modified Date',
  operator: 'GreaterThanOrEqual',
};

export interface VirtuousClientOptions {
  readonly baseUrl: string;
  readonly customerId: string;
  readonly tokens: TokenSource;
  readonly budget: RateBudget;
  /** Epoch milliseconds. */
  readonly clock?: () => number;
  /** Per HTTP call, headers and body. */
  readonly timeoutMs?: number;
  /** Total tries per call for transient failures (the 401 re-read is on top). */
  readonly maxAttempts?: number;
  /** Local mode only: permits http:// to a loopback address (the simulator). */
  readonly allowLoopbackHttp?: boolean;
  readonly backoff?: Partial<Omit<BackoffPolicy, 'maxAttempts'>>;
  /**
   * Longest the client waits in place for the next budget window. Default 0: an exhausted budget is a
   * TransientError with retryAfterSeconds at once, so a queue consumer reschedules instead of spinning.
   */
  readonly maxBudgetWaitMs?: number;
  /** Published under two names; the customer's organization decides which one it accepts. */
  readonly designationField?: DesignationField;
  readonly giftBatchSize?: number;
  readonly queryFilter?: QueryFilterSettings;
  readonly sleep?: Sleep;
  /** [0, 1): the jitter source. */
  readonly random?: () => number;
  readonly fetch?: typeof fetch;
}

export interface VirtuousClient extends VirtuousApi {
  /** Rate-limit headers of the most recent answer that carried them. */
  lastRateLimit(): RateLimitObservation | undefined;
}

const LOOPBACK_HOSTS = new Set(['localhost', '[::1]', '::1']);

function isLoopback(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** Validates the base URL: HTTPS, or HTTP to loopback in local mode; never credentials in the URL. */
export function checkBaseUrl(baseUrl: string, allowLoopbackHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new ForbiddenInputError('INVALID_VIRTUOUS_BASE_URL', 'the Virtuous base URL is not a valid URL');
  }
  if (url.username !== '' || url.password !== '') {
    throw new ForbiddenInputError('INVALID_VIRTUOUS_BASE_URL', 'the Virtuous base URL must not carry credentials');
  }
  if (url.search !== '' || url.hash !== '') {
    throw new ForbiddenInputError(
      'INVALID_VIRTUOUS_BASE_URL',
      'the Virtuous base URL must not carry a query or fragment',
    );
  }
  if (url.protocol === 'https:') {
    // Node honours this variable process-wide; refusing to run beats sending tokens over unverified TLS.
    if (process.env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
      throw new ForbiddenInputError('TLS_VERIFICATION_DISABLED', 'TLS certificate verification is disabled');
    }
    return url;
  }
  if (url.protocol === 'http:' && allowLoopbackHttp && isLoopback(url.hostname)) return url;
  throw new ForbiddenInputError(
    'INSECURE_VIRTUOUS_BASE_URL',
    'the Virtuous base URL must use https (plain http only to a loopback simulator in local mode)',
  );
}

interface CallSpec<T> {
  readonly operation: string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  /** What a 404 means for this call: a value to return (lookups, idempotent delete), or an error (default). */
  readonly onNotFound?: () => T;
  readonly read: (text: string) => T;
  /** A write Virtuous may store twice if sent twice: never retried after an ambiguous failure. */
  readonly nonIdempotent?: boolean;
}

function assertInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ForbiddenInputError('INVALID_ARGUMENT', `${name} must be an integer between ${min} and ${max}`);
  }
}

function assertIdentifier(name: string, value: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) {
    throw new ForbiddenInputError('INVALID_ARGUMENT', `${name} must be a non-empty string of at most 200 characters`);
  }
}

function assertUtcTimestamp(name: string, value: string): void {
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
    throw new ForbiddenInputError('INVALID_ARGUMENT', `${name} must be an ISO-8601 timestamp`);
  }
}

const MIN_WEBHOOK_SECRET_CHARS = 32;

/** The payload URL follows the base URL's rule: https, or plain http to loopback only in local mode. */
function assertSubscription(subscription: WebhookSubscription, allowLoopbackHttp: boolean): void {
  if (typeof subscription.secret !== 'string' || subscription.secret.length < MIN_WEBHOOK_SECRET_CHARS) {
    throw new ForbiddenInputError(
      'WEAK_WEBHOOK_SECRET',
      `a webhook secret must have at least ${MIN_WEBHOOK_SECRET_CHARS} characters (32 random bytes, encoded)`,
    );
  }
  let url: URL;
  try {
    url = new URL(subscription.payloadUrl);
  } catch {
    throw new ForbiddenInputError('INVALID_PAYLOAD_URL', 'the webhook payload URL is not a valid URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowLoopbackHttp && isLoopback(url.hostname))) {
    throw new ForbiddenInputError(
      'INVALID_PAYLOAD_URL',
      'the webhook payload URL must use https (plain http only to loopback in local mode)',
    );
  }
}

export function createVirtuousClient(options: VirtuousClientOptions): VirtuousClient {
  const base = checkBaseUrl(options.baseUrl, options.allowLoopbackHttp === true);
  const basePath = base.pathname.replace(/\/+$/, '');
  const { customerId, tokens, budget } = options;
  const now = options.clock ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const policy: BackoffPolicy = {
    ...DEFAULT_BACKOFF,
    ...options.backoff,
    maxAttempts: options.maxAttempts ?? DEFAULT_BACKOFF.maxAttempts,
  };
  assertInteger('maxAttempts', policy.maxAttempts, 1, 10);
  assertInteger('timeoutMs', timeoutMs, 1, 120_000);
  assertInteger('backoff.maxCallMs', policy.maxCallMs, timeoutMs, 15 * 60_000);
  const maxBudgetWaitMs = options.maxBudgetWaitMs ?? 0;
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const designationField = options.designationField ?? 'designations';
  const giftBatchSize = options.giftBatchSize ?? MAX_GIFT_BATCH;
  assertInteger('giftBatchSize', giftBatchSize, 1, MAX_GIFT_BATCH);
  const queryFilter = options.queryFilter ?? DEFAULT_QUERY_FILTER;
  let lastObservation: RateLimitObservation | undefined;

  function urlFor(path: string, query?: Readonly<Record<string, string>>): URL {
    const url = new URL(base.origin);
    url.pathname = `${basePath}${path}`;
    for (const [name, value] of Object.entries(query ?? {})) url.searchParams.set(name, value);
    return url;
  }

  /** One request from the shared budget, waiting for the next window only if that is allowed and short. */
  async function reserveBudget(operation: string): Promise<void> {
    for (let waits = 0; ; waits += 1) {
      const decision = await budget.acquire(customerId, 1);
      if (decision.granted) return;
      const waitMs = decision.retryAfterSeconds * 1000;
      if (waits >= 2 || waitMs > maxBudgetWaitMs) {
        throw new TransientError(
          'RATE_BUDGET_EXHAUSTED',
          `${operation}: the customer's hourly Virtuous request budget is spent`,
          { retryAfterSeconds: decision.retryAfterSeconds },
        );
      }
      await sleep(waitMs);
    }
  }

  async function observe(headers: Headers): Promise<void> {
    const observation = readRateLimitHeaders(headers);
    if (observation === undefined) return;
    lastObservation = observation;
    try {
      await budget.observe(customerId, observation);
    } catch (error) {
      // A missed correction only makes the budget less exact; it must not fail a call Virtuous already served.
      logger.warn('rate budget correction failed', { customerId, errorCode: (error as { code?: string }).code });
    }
  }

  async function call<T>(spec: CallSpec<T>): Promise<T> {
    const url = urlFor(spec.path, spec.query);
    const payload = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    const startedAt = now();
    let tokenReread = false;
    for (let attempt = 1; ; attempt += 1) {
      await reserveBudget(spec.operation);
      const token = await tokens.current();
      let failure: HttpFailure;
      let outcomeUnknown = false;
      try {
        const response = await fetchImpl(url, {
          method: spec.method,
          headers: {
            Authorization: `Bearer ${token}`,
            Accept: 'application/json',
            ...(payload === undefined ? {} : { 'Content-Type': 'application/json' }),
          },
          ...(payload === undefined ? {} : { body: payload }),
          // A redirect would carry the token to wherever it points; Virtuous does not redirect API calls.
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
        });
        // A write answered 2xx is stored even if its body is then lost; only reads need the body.
        const text = await response.text().catch((error: unknown) => {
          if (spec.nonIdempotent === true) return '';
          throw error;
        });
        await observe(response.headers);
        if (response.ok) return spec.read(text);
        if (response.status === 404 && spec.onNotFound !== undefined) return spec.onNotFound();
        if (response.status === 401 && !tokenReread) {
          // The token may have been rotated under us: re-read it once and try again, outside the attempt count.
          tokenReread = true;
          tokens.invalidate();
          attempt -= 1;
          continue;
        }
        failure = classifyHttpFailure({
          operation: spec.operation,
          status: response.status,
          bodyText: text.slice(0, MAX_ERROR_BODY_CHARS),
          ...optionalRetryAfter(readRetryAfterSeconds(response.headers, now())),
        });
        outcomeUnknown = httpStatusLeavesWriteOutcomeUnknown(response.status);
      } catch (error) {
        if (error instanceof TransientError) failure = error;
        else if (isFetchFailure(error)) {
          failure = classifyNetworkFailure(spec.operation, error);
          outcomeUnknown = networkFailureMayHaveReachedServer(error);
        } else throw error;
      }
      if (spec.nonIdempotent === true && outcomeUnknown && failure instanceof TransientError) {
        logger.warn('virtuous write outcome unknown, not retried', {
          customerId,
          operation: spec.operation,
          errorCode: failure.code,
          statusCode: failure.statusCode,
          attempt,
        });
        throw writeOutcomeUnknown(spec.operation, failure);
      }
      if (!(failure instanceof TransientError) || attempt >= policy.maxAttempts) throw failure;
      const delayMs =
        failure.retryAfterSeconds === undefined
          ? fullJitterDelayMs(policy, attempt, random)
          : retryAfterDelayMs(policy, failure.retryAfterSeconds, random);
      if (delayMs === undefined || now() - startedAt + delayMs + timeoutMs > policy.maxCallMs) throw failure;
      logger.info('virtuous call retried', {
        customerId,
        operation: spec.operation,
        errorCode: failure.code,
        statusCode: failure.statusCode,
        attempt,
      });
      await sleep(delayMs);
    }
  }

  const ignoreBody = (): void => undefined;

  const client: VirtuousClient = {
    lastRateLimit: () => lastObservation,

    currentOrganization: (): Promise<OrganizationInfo> =>
      call({
        operation: 'currentOrganization',
        method: 'GET',
        path: '/api/Organization/Current',
        read: (text) => readOrganization('currentOrganization', parseJsonBody('currentOrganization', text)),
      }),

    async createWebhook(subscription: WebhookSubscription): Promise<WebhookRecord> {
      assertSubscription(subscription, options.allowLoopbackHttp === true);
      return call({
        operation: 'createWebhook',
        method: 'POST',
        path: '/api/Webhook',
        body: subscription,
        read: (text) => readWebhook('createWebhook', parseJsonBody('createWebhook', text)),
        // A second POST makes a second subscription, and with no list endpoint its id could never be found.
        nonIdempotent: true,
      });
    },

    async getWebhook(id: number): Promise<WebhookRecord> {
      assertInteger('webhook id', id, 1, Number.MAX_SAFE_INTEGER);
      return call({
        operation: 'getWebhook',
        method: 'GET',
        path: `/api/Webhook/${id}`,
        read: (text) => readWebhook('getWebhook', parseJsonBody('getWebhook', text)),
      });
    },

    async replaceWebhook(id: number, subscription: WebhookSubscription): Promise<WebhookRecord> {
      assertInteger('webhook id', id, 1, Number.MAX_SAFE_INTEGER);
      assertSubscription(subscription, options.allowLoopbackHttp === true);
      return call({
        operation: 'replaceWebhook',
        method: 'PUT',
        path: `/api/Webhook/${id}`,
        body: { ...subscription, id },
        // Some versions answer the PUT with no body: what we wrote is then the record.
        read: (text) =>
          text.trim() === ''
            ? { ...subscription, id }
            : readWebhook('replaceWebhook', parseJsonBody('replaceWebhook', text)),
      });
    },

    async setWebhookActive(id: number, active: boolean): Promise<void> {
      assertInteger('webhook id', id, 1, Number.MAX_SAFE_INTEGER);
      return call({
        operation: 'setWebhookActive',
        method: 'PUT',
        path: `/api/Webhook/${id}/Active`,
        query: { active: active ? 'true' : 'false' },
        read: ignoreBody,
      });
    },

    async deleteWebhook(id: number): Promise<void> {
      assertInteger('webhook id', id, 1, Number.MAX_SAFE_INTEGER);
      return call({
        operation: 'deleteWebhook',
        method: 'DELETE',
        path: `/api/Webhook/${id}`,
        onNotFound: ignoreBody,
        read: ignoreBody,
      });
    },

    async submitGift(gift: GiftTransaction): Promise<void> {
      const body = giftTransactionBody(gift, designationField);
      return call({
        operation: 'submitGift',
        method: 'POST',
        path: '/api/v2/Gift/Transaction',
        body,
        read: ignoreBody,
        nonIdempotent: true,
      });
    },

    async submitGifts(
      transactionSource: string,
      gifts: readonly GiftTransaction[],
      submitOptions: SubmitGiftsOptions = {},
    ): Promise<void> {
      assertIdentifier('transactionSource', transactionSource);
      if (gifts.some((gift) => gift.transactionSource !== transactionSource)) {
        throw new ForbiddenInputError(
          'MIXED_TRANSACTION_SOURCES',
          'every gift of a batch must carry its transactionSource',
        );
      }
      // Bodies first: a bad gift late in the list must not leave the earlier chunks half-sent.
      const bodies = gifts.map((gift) => giftTransactionBody(gift, designationField));
      for (let start = 0; start < bodies.length; start += giftBatchSize) {
        const chunk = bodies.slice(start, start + giftBatchSize);
        await call({
          operation: 'submitGifts',
          method: 'POST',
          path: '/api/v2/Gift/Transactions',
          body: { transactionSource, transactions: chunk },
          read: ignoreBody,
          nonIdempotent: true,
        });
        await submitOptions.onChunkSubmitted?.(gifts.slice(start, start + giftBatchSize));
      }
    },

    async submitContact(contact: ContactTransaction): Promise<void> {
      const body = contactTransactionBody(contact);
      return call({
        operation: 'submitContact',
        method: 'POST',
        path: '/api/Contact/Transaction',
        body,
        read: ignoreBody,
        nonIdempotent: true,
      });
    },

    async findGiftByTransaction(transactionSource: string, transactionId: string): Promise<GiftRecord | undefined> {
      assertIdentifier('transactionSource', transactionSource);
      assertIdentifier('transactionId', transactionId);
      return lookup('findGiftByTransaction', 'Gift', transactionSource, transactionId, readGift);
    },

    async findContactByReference(referenceSource: string, referenceId: string): Promise<ContactRecord | undefined> {
      assertIdentifier('referenceSource', referenceSource);
      assertIdentifier('referenceId', referenceId);
      return lookup('findContactByReference', 'Contact', referenceSource, referenceId, readContact);
    },

    async queryGiftsModifiedSince(sinceUtc: string, skip: number, take: number): Promise<QueryPage<GiftRecord>> {
      const spec = queryCall('queryGiftsModifiedSince', '/api/Gift/Query', sinceUtc, skip, take);
      return call({
        ...spec,
        read: (text) => readGiftPage(spec.operation, parseJsonBody(spec.operation, text), skip, take),
      });
    },

    async queryContactsModifiedSince(sinceUtc: string, skip: number, take: number): Promise<QueryPage<ContactRecord>> {
      const spec = queryCall('queryContactsModifiedSince', '/api/Contact/Query', sinceUtc, skip, take);
      return call({
        ...spec,
        read: (text) => readContactPage(spec.operation, parseJsonBody(spec.operation, text), skip, take),
      });
    },

    async reverseGift(reversal: ReversingTransaction): Promise<void> {
      const body = reversalBody(reversal);
      return call({
        operation: 'reverseGift',
        method: 'POST',
        path: '/api/Gift/ReversingTransaction',
        body,
        read: ignoreBody,
        // A second POST reverses the refund twice.
        nonIdempotent: true,
      });
    },
  };

  /** One record by the source system's pair of identifiers (already checked); Virtuous answers 404 when it has none. */
  function lookup<T>(
    operation: string,
    resource: 'Gift' | 'Contact',
    source: string,
    id: string,
    read: (operation: string, body: unknown) => T,
  ): Promise<T | undefined> {
    return call<T | undefined>({
      operation,
      method: 'GET',
      path: `/api/${resource}/${encodeURIComponent(source)}/${encodeURIComponent(id)}`,
      onNotFound: () => undefined,
      read: (text) => read(operation, parseJsonBody(operation, text)),
    });
  }

  function queryCall(operation: string, path: string, sinceUtc: string, skip: number, take: number) {
    assertUtcTimestamp('sinceUtc', sinceUtc);
    assertInteger('skip', skip, 0, Number.MAX_SAFE_INTEGER);
    assertInteger('take', take, 1, MAX_QUERY_TAKE);
    return {
      operation,
      method: 'POST' as const,
      path,
      query: { skip: String(skip), take: String(take) },
      body: {
        groups: [
          {
            conditions: [{ parameter: queryFilter.modifiedParameter, operator: queryFilter.operator, value: sinceUtc }],
          },
        ],
        sortBy: queryFilter.modifiedParameter,
        descending: false,
      },
    };
  }

  return client;
}

function optionalRetryAfter(seconds: number | undefined): { retryAfterSeconds?: number } {
  return seconds === undefined ? {} : { retryAfterSeconds: seconds };
}

/** What fetch and body reads reject with when the network or our timeout ends a call (undici: TypeError). */
function isFetchFailure(error: unknown): boolean {
  if (error instanceof TypeError) return true;
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}

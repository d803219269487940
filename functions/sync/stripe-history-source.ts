/**
 * A customer's history read from their connected Stripe account (Stripe Connect, OAuth): first every customer, then
 * every succeeded PaymentIntent, 100 per request, newest first with `starting_after` paging (stable while new objects
 * arrive: they appear before the first page). Each object becomes the Stripe event the webhook path would have
 * delivered (`customer.created`, `payment_intent.succeeded`), so the processor maps it with the same code
 * (inbound-events.ts) and the same sync-state keys de-duplicate it against webhooks.
 *
 * The access token comes from the SourceTokenManager (source `stripe`) for every request: reused while valid,
 * refreshed once for concurrent callers, rotated refresh tokens stored first. A 401 drops the cached token and asks
 * once more; a refused refresh is a CredentialRevokedError (the manager has paused the customer and alerted once)
 * and is passed on untouched so the load stops at its checkpoint. Every request has a timeout; 429, 5xx, timeouts
 * and network failures are retried a bounded number of times with backoff. With the defaults (3 × 10 s, waits of at
 * most 10 s) one page ends well within the bulk loader's one-minute deadline margin. Errors carry codes and statuses
 * only.
 *
 * Cursor (stored in the bulk-load checkpoint, object ids only): `customers`, `customers:cus_…`, `payment_intents`,
 * `payment_intents:pi_…`.
 */
import { z } from 'zod';
import { CredentialRevokedError, ForbiddenInputError, PermanentError, TransientError } from '../shared/errors.ts';
import { assertSecureEndpoint } from '../shared/loopback.ts';
import type { HistorySource } from './bulk-load.ts';

/** The OAuth source name: the refresh token lives at `stripe/{env}/{customer}/refresh_token`. */
export const STRIPE_OAUTH_SOURCE = 'stripe';
export const STRIPE_API_BASE_URL = 'https://api.stripe.com';
export const STRIPE_CONNECT_TOKEN_URL = 'https://connect.stripe.com/oauth/token';

/** What the source needs of the SourceTokenManager. */
export interface SourceAccessTokens {
  accessToken(customerId: string, source: string, requestId?: string): Promise<string>;
  invalidate(customerId: string, source: string): void;
}

export interface StripeHistorySourceOptions {
  readonly customerId: string;
  readonly tokens: SourceAccessTokens;
  readonly apiBaseUrl?: string;
  /** Local mode and tests only: permits http:// to a loopback stub. */
  readonly allowLoopbackHttp?: boolean;
  readonly fetch?: typeof fetch;
  readonly requestId?: string;
  readonly timeoutMs?: number;
  /** Attempts per request for retryable failures (429, 5xx, timeout, network). */
  readonly maxAttempts?: number;
  readonly backoffMs?: number;
  /** Upper bound on a server-requested wait (Retry-After) before the next attempt. */
  readonly maxRetryAfterMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly pageSize?: number;
}

type Resource = 'customers' | 'payment_intents';
const PHASES: readonly Resource[] = ['customers', 'payment_intents'];
const OBJECT_ID = /^[A-Za-z0-9_]{1,255}$/;

const listAnswer = z.object({
  data: z.array(z.object({ id: z.string().regex(OBJECT_ID), created: z.number().int().nonnegative() }).loose()),
  has_more: z.boolean(),
});

interface Position {
  readonly resource: Resource;
  readonly after?: string;
}

function parseCursor(cursor: string | undefined): Position {
  if (cursor === undefined) return { resource: 'customers' };
  const [resource, after, ...rest] = cursor.split(':');
  if (rest.length > 0 || !PHASES.includes(resource as Resource) || (after !== undefined && !OBJECT_ID.test(after))) {
    throw new ForbiddenInputError('INVALID_CURSOR', 'cursor is not a Stripe history position');
  }
  return after === undefined ? { resource: resource as Resource } : { resource: resource as Resource, after };
}

/** The event the webhook path would carry for this object (same shape, so the same mapping applies). */
function asEvent(resource: Resource, object: { id: string; created: number }): unknown {
  const type = resource === 'customers' ? 'customer.created' : 'payment_intent.succeeded';
  // The object's own time, not the read time: a resumed load re-reads a page and must produce the same versions.
  return { id: `evt_bulk_${object.id}`, type, created: object.created, data: { object } };
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function stripeHistorySource(options: StripeHistorySourceOptions): HistorySource {
  const base = assertSecureEndpoint(
    options.apiBaseUrl ?? STRIPE_API_BASE_URL,
    'Stripe API base URL',
    options.allowLoopbackHttp === true,
  );
  const fetchImpl = options.fetch ?? fetch;
  const maxAttempts = Math.max(1, Math.min(options.maxAttempts ?? 3, 10));
  const backoffMs = options.backoffMs ?? 500;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 10_000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const sleep = options.sleep ?? defaultSleep;
  // Stripe lists take 1-100.
  const pageSize = Math.max(1, Math.min(options.pageSize ?? 100, 100));
  const { customerId, tokens, requestId } = options;

  const retryDelay = (error: TransientError | undefined, attempt: number) =>
    error?.retryAfterSeconds !== undefined
      ? Math.min(error.retryAfterSeconds * 1000, maxRetryAfterMs)
      : backoffMs * 2 ** (attempt - 2);
  const token = () => tokens.accessToken(customerId, STRIPE_OAUTH_SOURCE, requestId);

  /** One list request with bounded retries; a 401 refreshes the access token once. */
  async function list(position: Position): Promise<z.infer<typeof listAnswer>> {
    const url = new URL(`/v1/${position.resource}`, base);
    url.searchParams.set('limit', String(pageSize));
    if (position.after !== undefined) url.searchParams.set('starting_after', position.after);
    let reauthorized = false;
    let lastError: TransientError | undefined;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (attempt > 1) await sleep(retryDelay(lastError, attempt));
      let response: Response;
      try {
        response = await fetchImpl(url, {
          method: 'GET',
          headers: { authorization: `Bearer ${await token()}`, accept: 'application/json' },
          redirect: 'error',
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        if (!(error instanceof TransientError) && isClassified(error)) throw error;
        lastError =
          error instanceof TransientError
            ? error
            : new TransientError('STRIPE_UNREACHABLE', `Stripe did not answer (${position.resource})`, {
                cause: error,
              });
        continue;
      }
      const status = response.status;
      if (response.ok) {
        let text: string;
        try {
          text = await response.text();
        } catch (error) {
          // The timeout covers the body too: a body cut short is retried like an unanswered request.
          lastError = new TransientError('STRIPE_UNREACHABLE', `Stripe's answer was cut short (${position.resource})`, {
            cause: error,
          });
          continue;
        }
        const parsed = listAnswer.safeParse(parseJson(text));
        if (!parsed.success) {
          throw new PermanentError(
            'STRIPE_MALFORMED_ANSWER',
            `Stripe answered an unexpected ${position.resource} list`,
          );
        }
        return parsed.data;
      }
      await response.body?.cancel().catch(() => undefined);
      if (status === 401) {
        if (reauthorized) {
          // A freshly refreshed token refused as well: the account's access is gone, but the token endpoint did not
          // say so. Left to an operator rather than looped on.
          throw new PermanentError('STRIPE_UNAUTHORIZED', 'Stripe refused a freshly refreshed access token', {
            statusCode: status,
          });
        }
        reauthorized = true;
        tokens.invalidate(customerId, STRIPE_OAUTH_SOURCE);
        attempt--;
        lastError = undefined;
        continue;
      }
      const shouldRetry = response.headers.get('stripe-should-retry');
      if ((status === 429 || status >= 500) && shouldRetry !== 'false') {
        const retryAfter = Number(response.headers.get('retry-after'));
        lastError = new TransientError('STRIPE_UNAVAILABLE', `Stripe is unavailable (${position.resource})`, {
          statusCode: status,
          ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
        });
        continue;
      }
      throw new PermanentError('STRIPE_REQUEST_REFUSED', `Stripe refused the ${position.resource} list`, {
        statusCode: status,
      });
    }
    throw lastError ?? new TransientError('STRIPE_UNAVAILABLE', 'Stripe is unavailable');
  }

  return {
    async page(cursor) {
      const position = parseCursor(cursor);
      const answer = await list(position);
      const objects =
        position.resource === 'payment_intents'
          ? answer.data.filter((object) => (object as { status?: unknown }).status === 'succeeded')
          : answer.data;
      const events = objects.map((object) => asEvent(position.resource, object));
      const last = answer.data.at(-1);
      if (answer.has_more && last !== undefined) return { events, nextCursor: `${position.resource}:${last.id}` };
      const next = PHASES[PHASES.indexOf(position.resource) + 1];
      return next === undefined ? { events } : { events, nextCursor: next };
    },
  };
}

/** An error the token manager already classified (revoked, permanent, forbidden input): not retried here. */
function isClassified(error: unknown): boolean {
  return (
    error instanceof CredentialRevokedError || (typeof error === 'object' && error !== null && 'errorClass' in error)
  );
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

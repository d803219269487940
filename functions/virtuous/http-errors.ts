/**
 * Turns a failed Virtuous answer into one of the product's error classes.
 *
 * The API is mid-migration: errors arrive as `{"error":{"code","message","details"}}`, as plain text, empty, or as
 * a CDN page (520). So the status decides the class and the body only contributes Virtuous's error code, and only
 * when it looks like one. Messages carry the operation, the status and that code: never the body Virtuous sent
 * back (it may echo our request, i.e. donor data) and never anything we sent.
 */
import { PermanentError, RecoverableError, TransientError, WRITE_OUTCOME_UNKNOWN } from '../shared/errors.ts';

export type HttpFailure = TransientError | RecoverableError | PermanentError;

/** Virtuous codes are SCREAMING_SNAKE; anything else in that slot is not trusted into a message. */
const UPSTREAM_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

export interface ParsedErrorBody {
  readonly upstreamCode?: string;
  /** `field:code` pairs from `details`, when both look like identifiers (never the detail message). */
  readonly fieldCodes: readonly string[];
}

const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_.[\]]{0,63}$/;

export function parseErrorBody(text: string): ParsedErrorBody {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return { fieldCodes: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return { fieldCodes: [] };
  }
  if (typeof parsed !== 'object' || parsed === null) return { fieldCodes: [] };
  const envelope = (parsed as { error?: unknown }).error;
  if (typeof envelope !== 'object' || envelope === null) return { fieldCodes: [] };
  const { code, details } = envelope as { code?: unknown; details?: unknown };
  const fieldCodes: string[] = [];
  if (Array.isArray(details)) {
    for (const detail of details.slice(0, 20)) {
      if (typeof detail !== 'object' || detail === null) continue;
      const { field, code: detailCode } = detail as { field?: unknown; code?: unknown };
      if (typeof field === 'string' && FIELD_NAME.test(field) && typeof detailCode === 'string') {
        if (UPSTREAM_CODE.test(detailCode)) fieldCodes.push(`${field}:${detailCode}`);
      }
    }
  }
  return {
    ...(typeof code === 'string' && UPSTREAM_CODE.test(code) ? { upstreamCode: code } : {}),
    fieldCodes,
  };
}

export interface HttpFailureInput {
  /** Client operation name, e.g. `submitGift`: safe to log, unlike a path with identifiers in it. */
  readonly operation: string;
  readonly status: number;
  readonly bodyText: string;
  readonly retryAfterSeconds?: number;
}

function describe(input: HttpFailureInput, parsed: ParsedErrorBody): string {
  const code = parsed.upstreamCode === undefined ? '' : ` (${parsed.upstreamCode})`;
  const fields = parsed.fieldCodes.length === 0 ? '' : ` fields: ${parsed.fieldCodes.join(', ')}`;
  return `${input.operation}: Virtuous answered ${input.status}${code}${fields}`;
}

const PERMANENT_CODES: Readonly<Record<number, string>> = {
  400: 'VIRTUOUS_BAD_REQUEST',
  403: 'VIRTUOUS_FORBIDDEN',
  404: 'VIRTUOUS_NOT_FOUND',
  409: 'VIRTUOUS_CONFLICT',
  422: 'VIRTUOUS_UNPROCESSABLE',
};

export function classifyHttpFailure(input: HttpFailureInput): HttpFailure {
  const parsed = parseErrorBody(input.bodyText);
  const message = describe(input, parsed);
  const { status } = input;
  if (status === 429) {
    return new TransientError('VIRTUOUS_RATE_LIMITED', message, {
      statusCode: status,
      ...(input.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: input.retryAfterSeconds }),
    });
  }
  if (status === 520) return new TransientError('VIRTUOUS_CDN_ERROR', message, { statusCode: status });
  if (status >= 500 || status === 408) {
    return new TransientError('VIRTUOUS_UNAVAILABLE', message, { statusCode: status });
  }
  if (status === 401) return new RecoverableError('VIRTUOUS_UNAUTHORIZED', message, { statusCode: status });
  const permanentCode = PERMANENT_CODES[status];
  if (permanentCode !== undefined) return new PermanentError(permanentCode, message, { statusCode: status });
  if (status >= 400) return new PermanentError('VIRTUOUS_CLIENT_ERROR', message, { statusCode: status });
  // A redirect or an informational answer where JSON was expected: retrying will not change it.
  return new PermanentError('VIRTUOUS_UNEXPECTED_STATUS', message, { statusCode: status });
}

/** fetch rejected: the request timed out (our AbortSignal) or the connection failed. Both are worth a retry. */
export function classifyNetworkFailure(operation: string, error: unknown): TransientError {
  const name = error instanceof Error ? error.name : '';
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new TransientError('VIRTUOUS_TIMEOUT', `${operation}: Virtuous did not answer in time`, { cause: error });
  }
  // The cause's code (ECONNREFUSED, ECONNRESET, ENOTFOUND...) is safe and helps operators; its message may hold a URL.
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  const code = typeof cause?.code === 'string' && /^[A-Z_]{2,40}$/.test(cause.code) ? ` (${cause.code})` : '';
  return new TransientError('VIRTUOUS_NETWORK_ERROR', `${operation}: could not reach Virtuous${code}`);
}

/**
 * Connection failures that happen before a byte of the request is written: the write certainly did not reach
 * Virtuous, so even a non-idempotent one may be retried. Anything else (a reset or a closed socket mid-exchange,
 * our timeout) may come after Virtuous read the request.
 */
const NOT_SENT_CAUSES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Whether a rejected fetch may have delivered the request (so Virtuous may have acted on it). */
export function networkFailureMayHaveReachedServer(error: unknown): boolean {
  if (!(error instanceof Error)) return true;
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return true;
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  return !(typeof code === 'string' && NOT_SENT_CAUSES.has(code));
}

/**
 * Whether an HTTP answer leaves a write's outcome unknown. 429 and the other 4xx are refusals (nothing stored);
 * a 5xx, a 520 from the CDN or a 408 from a proxy can come after the origin handled the request.
 */
export function httpStatusLeavesWriteOutcomeUnknown(status: number): boolean {
  return status >= 500 || status === 408;
}

/** The error a non-idempotent write ends in when it may have been stored: never retried by the client. */
export function writeOutcomeUnknown(operation: string, failure: TransientError): TransientError {
  return new TransientError(
    WRITE_OUTCOME_UNKNOWN,
    `${operation}: Virtuous may have stored the write, its outcome is unknown (${failure.code}); not retried`,
    { ...(failure.statusCode === undefined ? {} : { statusCode: failure.statusCode }), cause: failure },
  );
}

/**
 * Reads Virtuous's rate-limit headers. Names are matched case-insensitively and the variant spelling
 * `X-Rate-Limit-*` is accepted, because both appear in the wild and a missed header means an uncorrected budget.
 */
import type { RateLimitObservation } from './api.ts';

export type HeaderSource = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

const NAMES = {
  limit: ['x-ratelimit-limit', 'x-rate-limit-limit'],
  remaining: ['x-ratelimit-remaining', 'x-rate-limit-remaining'],
  reset: ['x-ratelimit-reset', 'x-rate-limit-reset'],
} as const;

function lowerCaseMap(headers: HeaderSource): Map<string, string> {
  const map = new Map<string, string>();
  if (headers instanceof Headers) {
    headers.forEach((value, name) => {
      map.set(name.toLowerCase(), value);
    });
    return map;
  }
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const text = typeof value === 'string' ? value : value[0];
    if (text !== undefined) map.set(name.toLowerCase(), text);
  }
  return map;
}

function nonNegativeInteger(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (!/^\d+(\.\d+)?$/.test(trimmed)) return undefined;
  return Math.floor(Number(trimmed));
}

function firstPresent(map: Map<string, string>, names: readonly string[]): number | undefined {
  for (const name of names) {
    const value = nonNegativeInteger(map.get(name));
    if (value !== undefined) return value;
  }
  return undefined;
}

/** The observation, or undefined when the answer carried no usable rate-limit header. */
export function readRateLimitHeaders(headers: HeaderSource): RateLimitObservation | undefined {
  const map = lowerCaseMap(headers);
  const limit = firstPresent(map, NAMES.limit);
  const remaining = firstPresent(map, NAMES.remaining);
  const resetAt = firstPresent(map, NAMES.reset);
  if (limit === undefined && remaining === undefined && resetAt === undefined) return undefined;
  return {
    ...(limit === undefined ? {} : { limit }),
    ...(remaining === undefined ? {} : { remaining }),
    ...(resetAt === undefined ? {} : { resetAt }),
  };
}

/**
 * Retry-After in seconds: either delta-seconds or an HTTP date (RFC 9110). Undefined when absent or unreadable,
 * so the caller falls back to its own backoff instead of trusting garbage.
 */
export function readRetryAfterSeconds(headers: Headers, nowMs: number): number | undefined {
  const raw = headers.get('retry-after')?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (/^\d+$/.test(raw)) return Number(raw);
  // An HTTP date names its day and month; without letters Date.parse would read "-5" as a year.
  if (!/^[A-Za-z]{3}, /.test(raw)) return undefined;
  const date = Date.parse(raw);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - nowMs) / 1000));
}

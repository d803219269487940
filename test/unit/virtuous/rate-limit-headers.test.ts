import { describe, expect, it } from 'vitest';
import { readRateLimitHeaders, readRetryAfterSeconds } from '../../../functions/virtuous/rate-limit-headers.ts';

describe('readRateLimitHeaders', () => {
  it('reads the standard names in any case', () => {
    expect(
      readRateLimitHeaders({
        'X-RATELIMIT-LIMIT': '5000',
        'x-RateLimit-Remaining': '12',
        'X-Ratelimit-Reset': '1764410400',
      }),
    ).toEqual({
      limit: 5000,
      remaining: 12,
      resetAt: 1764410400,
    });
  });

  it('tolerates the X-Rate-Limit-* spelling, in a Headers object too', () => {
    const headers = new Headers({ 'X-Rate-Limit-Remaining': '0', 'x-rate-limit-reset': '1764410400' });
    expect(readRateLimitHeaders(headers)).toEqual({ remaining: 0, resetAt: 1764410400 });
  });

  it('prefers the standard spelling when both appear, and takes the first of repeated values', () => {
    expect(readRateLimitHeaders({ 'x-ratelimit-remaining': ['7', '9'], 'x-rate-limit-remaining': '3' })).toEqual({
      remaining: 7,
    });
  });

  it('ignores garbage and reports nothing when no header is usable', () => {
    expect(
      readRateLimitHeaders({ 'x-ratelimit-remaining': 'lots', 'x-ratelimit-limit': '-1', other: '5' }),
    ).toBeUndefined();
    expect(readRateLimitHeaders(new Headers())).toBeUndefined();
  });
});

describe('readRetryAfterSeconds', () => {
  const now = Date.parse('2026-11-29T10:00:00Z');

  it('reads delta-seconds and HTTP dates', () => {
    expect(readRetryAfterSeconds(new Headers({ 'Retry-After': '120' }), now)).toBe(120);
    expect(readRetryAfterSeconds(new Headers({ 'Retry-After': 'Sun, 29 Nov 2026 10:00:30 GMT' }), now)).toBe(30);
    expect(readRetryAfterSeconds(new Headers({ 'Retry-After': 'Sun, 29 Nov 2026 09:00:00 GMT' }), now)).toBe(0);
  });

  it('is undefined when absent or unreadable', () => {
    expect(readRetryAfterSeconds(new Headers(), now)).toBeUndefined();
    expect(readRetryAfterSeconds(new Headers({ 'Retry-After': 'soon' }), now)).toBeUndefined();
    expect(readRetryAfterSeconds(new Headers({ 'Retry-After': '-5' }), now)).toBeUndefined();
  });
});

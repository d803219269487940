import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, fullJitterDelayMs, retryAfterDelayMs } from '../../../functions/virtuous/retry.ts';

describe('fullJitterDelayMs', () => {
  it('draws from [0, min(cap, base * 2^(retry-1)))', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (retry, r) => {
          const delay = fullJitterDelayMs(DEFAULT_BACKOFF, retry, () => r);
          const ceiling = Math.min(DEFAULT_BACKOFF.maxDelayMs, DEFAULT_BACKOFF.baseDelayMs * 2 ** (retry - 1));
          return Number.isInteger(delay) && delay >= 0 && delay < ceiling;
        },
      ),
    );
  });

  it('grows exponentially until the cap', () => {
    const almostOne = () => 0.999_999;
    const delays = [1, 2, 3, 4, 5, 6, 7].map((retry) => fullJitterDelayMs(DEFAULT_BACKOFF, retry, almostOne));
    expect(delays).toEqual([249, 499, 999, 1999, 3999, 7999, 7999]);
  });
});

describe('retryAfterDelayMs', () => {
  it('waits Retry-After plus bounded jitter, and refuses waits longer than the policy holds a call', () => {
    expect(retryAfterDelayMs(DEFAULT_BACKOFF, 3, () => 0)).toBe(3_000);
    expect(retryAfterDelayMs(DEFAULT_BACKOFF, 3, () => 0.5)).toBe(3_125);
    expect(retryAfterDelayMs(DEFAULT_BACKOFF, 10, () => 0)).toBe(10_000);
    expect(retryAfterDelayMs(DEFAULT_BACKOFF, 11, () => 0)).toBeUndefined();
  });
});

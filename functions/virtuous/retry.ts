/**
 * Bounded retries with exponential backoff and full jitter (delay drawn uniformly from 0 to the capped exponential),
 * so containers that failed together do not come back together. Sleep and randomness are injected for tests.
 */

export type Sleep = (ms: number) => Promise<void>;

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export interface BackoffPolicy {
  /** Total tries, including the first. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Longest Retry-After the client waits in place; beyond it the caller gets the error and reschedules. */
  readonly maxRetryAfterMs: number;
  /**
   * Longest one call may take, tries and pauses together: no retry starts that could not finish (at its timeout)
   * within it. Callers that hold a lease while calling size the lease from this.
   */
  readonly maxCallMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  maxAttempts: 4,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  // A queue consumer hands a longer wait back to the queue instead of holding a Lambda.
  maxRetryAfterMs: 10_000,
  maxCallMs: 60_000,
};

/** Delay before retry number `retry` (1 = the first retry). `random` returns [0, 1). */
export function fullJitterDelayMs(policy: BackoffPolicy, retry: number, random: () => number): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(random() * exponential);
}

/**
 * Delay before the next try when the server said how long to wait: Retry-After plus a little jitter so the
 * waiting callers do not all return in the same millisecond; undefined when the wait is longer than we hold a call.
 */
export function retryAfterDelayMs(
  policy: BackoffPolicy,
  retryAfterSeconds: number,
  random: () => number,
): number | undefined {
  const ms = retryAfterSeconds * 1000;
  if (ms > policy.maxRetryAfterMs) return undefined;
  return ms + Math.floor(random() * Math.min(1000, policy.baseDelayMs));
}

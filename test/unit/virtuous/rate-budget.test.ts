import { describe, expect, it } from 'vitest';
import { ENV } from '../../../functions/shared/environment.ts';
import {
  DEFAULT_HOURLY_REQUEST_BUDGET,
  hourlyBudgetFromEnv,
  InMemoryRateBudget,
  impliedUsed,
  windowStartOf,
} from '../../../functions/virtuous/rate-budget.ts';

describe('settings', () => {
  it('defaults to a conservative 1,200 requests per hour and validates the override', () => {
    expect(DEFAULT_HOURLY_REQUEST_BUDGET).toBe(1_200);
    expect(hourlyBudgetFromEnv({})).toBe(1_200);
    expect(hourlyBudgetFromEnv({ [ENV.hourlyRequestBudget]: '4500' })).toBe(4_500);
    expect(() => hourlyBudgetFromEnv({ [ENV.hourlyRequestBudget]: 'lots' })).toThrow(/VIRTUOUS_HOURLY_REQUEST_BUDGET/);
    expect(() => hourlyBudgetFromEnv({ [ENV.hourlyRequestBudget]: '0' })).toThrow();
  });

  it('aligns windows to the hour, in epoch seconds', () => {
    expect(windowStartOf(Date.parse('2026-11-29T10:59:59.999Z'))).toBe(Date.parse('2026-11-29T10:00:00Z') / 1000);
    expect(windowStartOf(Date.parse('2026-11-29T11:00:00Z'))).toBe(Date.parse('2026-11-29T11:00:00Z') / 1000);
  });

  it('implies a used count from what Virtuous says is left, capped at the budget', () => {
    expect(impliedUsed(1_200, { remaining: 1_000 })).toBe(200);
    expect(impliedUsed(1_200, { remaining: 4_000 })).toBeUndefined();
    expect(impliedUsed(1_200, { remaining: 0 })).toBe(1_200);
    expect(impliedUsed(1_200, { limit: 5_000 })).toBeUndefined();
  });

  it("ignores an answer whose reset time is before the window (it described Virtuous's previous hour)", () => {
    const windowStart = Date.parse('2026-11-29T11:00:00Z') / 1000;
    expect(impliedUsed(1_200, { remaining: 0, resetAt: windowStart }, windowStart)).toBeUndefined();
    expect(impliedUsed(1_200, { remaining: 0, resetAt: windowStart + 3_600 }, windowStart)).toBe(1_200);
    expect(impliedUsed(1_200, { remaining: 0 }, windowStart)).toBe(1_200);
  });
});

describe('InMemoryRateBudget', () => {
  it('behaves like the table: grants to the budget, waits for the next hour, corrections only raise', async () => {
    let now = Date.parse('2026-11-29T10:59:00Z');
    const budget = new InMemoryRateBudget({ hourlyBudget: 5, now: () => now });
    expect((await budget.acquire('a', 4)).granted).toBe(true);
    expect(await budget.acquire('a', 2)).toMatchObject({ granted: false, retryAfterSeconds: 60 });
    await budget.observe('a', { remaining: 3 });
    expect(budget.usedInCurrentWindow('a')).toBe(4);
    await budget.observe('a', { remaining: 0 });
    expect(budget.usedInCurrentWindow('a')).toBe(5);
    expect((await budget.acquire('a')).granted).toBe(false);
    now += 60_000;
    expect((await budget.acquire('a', 5)).granted).toBe(true);
    await expect(budget.acquire('a', 6)).rejects.toMatchObject({ name: 'ForbiddenInputError' });
  });
});

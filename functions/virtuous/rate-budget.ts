/**
 * The per-customer Virtuous request budget, shared by every Lambda container working for that customer.
 *
 * Virtuous limits requests per organization per hour, and every key of the organization draws from the same
 * allowance. A per-container limiter cannot see its siblings, so the count lives in DynamoDB (TABLES.rateBudgets):
 * one item per customer and hour, `used` raised by a conditional ADD that fails once the budget is spent.
 *
 * Default 1,200 requests/hour, on purpose below every documented limit: the older documentation says 1,500/hour
 * (the newer one 5,000/hour and it is unclear which applies to a given organization), and the organization's
 * allowance is shared with the customer's other integrations and staff tools, which we cannot see until Virtuous's
 * X-RateLimit-Remaining tells us. Partners raise it per deployment with VIRTUOUS_HOURLY_REQUEST_BUDGET.
 */
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ENV, integerSetting, tableNameFromEnv } from '../shared/environment.ts';
import { ForbiddenInputError, TransientError } from '../shared/errors.ts';
import { TABLES } from '../shared/tables.ts';
import type { RateLimitObservation } from './api.ts';

export const DEFAULT_HOURLY_REQUEST_BUDGET = 1_200;
export const WINDOW_SECONDS = 3_600;
/** Items outlive their window by one more, so a late correction still finds its item; TTL removes them after. */
const ITEM_LIFETIME_SECONDS = 2 * WINDOW_SECONDS;

export type BudgetDecision =
  | { readonly granted: true; readonly windowStart: number }
  | { readonly granted: false; readonly windowStart: number; readonly retryAfterSeconds: number };

export interface RateBudget {
  /** Reserves `requests` calls in the current window, or says how long until the next window opens. */
  acquire(customerId: string, requests?: number): Promise<BudgetDecision>;
  /** Raises the window's count when Virtuous reports fewer requests left than our count implies; never lowers it. */
  observe(customerId: string, observation: RateLimitObservation): Promise<void>;
}

export function hourlyBudgetFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  return integerSetting(ENV.hourlyRequestBudget, DEFAULT_HOURLY_REQUEST_BUDGET, { min: 1, max: 1_000_000 }, env);
}

export function windowStartOf(nowMs: number): number {
  const seconds = Math.floor(nowMs / 1000);
  return seconds - (seconds % WINDOW_SECONDS);
}

function secondsUntilNextWindow(nowMs: number): number {
  return Math.max(1, Math.ceil(((windowStartOf(nowMs) + WINDOW_SECONDS) * 1000 - nowMs) / 1000));
}

function checkRequestCount(requests: number, hourlyBudget: number): void {
  if (!Number.isInteger(requests) || requests < 1 || requests > hourlyBudget) {
    throw new ForbiddenInputError('INVALID_BUDGET_REQUEST', `a budget request must be 1..${hourlyBudget} calls`);
  }
}

/**
 * The count Virtuous's answer implies we have used in the window starting at `windowStart`: our budget minus what
 * Virtuous says is left. An answer whose reset time is already past belongs to an earlier window and says nothing.
 */
export function impliedUsed(
  hourlyBudget: number,
  observation: RateLimitObservation,
  windowStart?: number,
): number | undefined {
  if (observation.remaining === undefined) return undefined;
  if (windowStart !== undefined && observation.resetAt !== undefined && observation.resetAt <= windowStart) {
    return undefined;
  }
  const implied = hourlyBudget - observation.remaining;
  return implied > 0 ? Math.min(implied, hourlyBudget) : undefined;
}

export interface DynamoDbRateBudgetOptions {
  readonly client: DynamoDBClient | DynamoDBDocumentClient;
  readonly tableName: string;
  readonly hourlyBudget: number;
  /** Epoch milliseconds. */
  readonly now?: () => number;
}

/** An acquire that waits to be sent with others of the same customer. */
interface WaitingReservation {
  readonly requests: number;
  readonly resolve: (decision: BudgetDecision) => void;
  readonly reject: (error: unknown) => void;
}

/** The highest `used` this process has seen stored for a customer's window (the count only rises within one). */
interface KnownCount {
  readonly windowStart: number;
  readonly used: number;
}

export class DynamoDbRateBudget implements RateBudget {
  readonly hourlyBudget: number;
  private readonly documents: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly now: () => number;
  /** One entry per customer, for the latest window only: bounded by the customers this process serves. */
  private readonly known = new Map<string, KnownCount>();
  /** Customers with a reservation in flight, and the acquires that arrived meanwhile (sent together after it). */
  private readonly waiting = new Map<string, WaitingReservation[]>();

  constructor(options: DynamoDbRateBudgetOptions) {
    this.documents =
      options.client instanceof DynamoDBDocumentClient ? options.client : DynamoDBDocumentClient.from(options.client);
    this.tableName = options.tableName;
    this.hourlyBudget = options.hourlyBudget;
    this.now = options.now ?? Date.now;
  }

  /**
   * Reserves like one conditional ADD per call, but calls for a customer that arrive while one of theirs is in flight
   * wait for it and then go out together as one ADD of their sum (a processor's concurrent submissions otherwise cost
   * one request each). Nothing is reserved ahead of a call, so nothing is left unused; when the sum does not fit in
   * what is left, each is tried alone, so as many are granted as the budget allows and never more.
   */
  async acquire(customerId: string, requests = 1): Promise<BudgetDecision> {
    checkRequestCount(requests, this.hourlyBudget);
    const waiting = this.waiting.get(customerId);
    if (waiting !== undefined) {
      return new Promise<BudgetDecision>((resolve, reject) => waiting.push({ requests, resolve, reject }));
    }
    this.waiting.set(customerId, []);
    try {
      return await this.reserve(customerId, requests);
    } finally {
      this.sendWaiting(customerId);
    }
  }

  private sendWaiting(customerId: string): void {
    const group = this.waiting.get(customerId) ?? [];
    if (group.length === 0) {
      this.waiting.delete(customerId);
      return;
    }
    this.waiting.set(customerId, []);
    void this.reserveTogether(customerId, group).finally(() => this.sendWaiting(customerId));
  }

  private async reserveTogether(customerId: string, group: readonly WaitingReservation[]): Promise<void> {
    try {
      const total = group.reduce((sum, reservation) => sum + reservation.requests, 0);
      if (total <= this.hourlyBudget) {
        const decision = await this.reserve(customerId, total);
        if (decision.granted || group.length === 1) {
          for (const reservation of group) reservation.resolve(decision);
          return;
        }
      }
    } catch (error) {
      for (const reservation of group) reservation.reject(error);
      return;
    }
    for (const reservation of group) {
      try {
        reservation.resolve(await this.reserve(customerId, reservation.requests));
      } catch (error) {
        reservation.reject(error);
      }
    }
  }

  /** One conditional ADD of `requests` to the customer's current window. */
  private async reserve(customerId: string, requests: number): Promise<BudgetDecision> {
    const nowMs = this.now();
    const windowStart = windowStartOf(nowMs);
    try {
      const result = await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(customerId, windowStart),
          UpdateExpression: 'ADD #used :requests SET #expiresAt = if_not_exists(#expiresAt, :expiresAt)',
          ConditionExpression: 'attribute_not_exists(#used) OR #used <= :ceiling',
          ExpressionAttributeNames: { '#used': 'used', '#expiresAt': this.ttlAttribute() },
          ExpressionAttributeValues: {
            ':requests': requests,
            ':ceiling': this.hourlyBudget - requests,
            ':expiresAt': windowStart + ITEM_LIFETIME_SECONDS,
          },
          // The count after our reservation comes back with the write: observe() needs no read to know it.
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      const used = result.Attributes?.used;
      if (typeof used === 'number') this.remember(customerId, windowStart, used);
      return { granted: true, windowStart };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        return { granted: false, windowStart, retryAfterSeconds: secondsUntilNextWindow(nowMs) };
      }
      throw storageFailure('acquire', error);
    }
  }

  async observe(customerId: string, observation: RateLimitObservation): Promise<void> {
    const windowStart = windowStartOf(this.now());
    const target = impliedUsed(this.hourlyBudget, observation, windowStart);
    if (target === undefined) return;
    // The stored count never falls within a window, so a target at or below a count we have seen stored would only
    // fail the write's condition: skip the request. Usually Virtuous's count matches ours and this is every answer.
    const known = this.known.get(customerId);
    if (known !== undefined && known.windowStart === windowStart && target <= known.used) return;
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(customerId, windowStart),
          UpdateExpression: 'SET #used = :target, #expiresAt = if_not_exists(#expiresAt, :expiresAt)',
          ConditionExpression: 'attribute_not_exists(#used) OR #used < :target',
          ExpressionAttributeNames: { '#used': 'used', '#expiresAt': this.ttlAttribute() },
          ExpressionAttributeValues: { ':target': target, ':expiresAt': windowStart + ITEM_LIFETIME_SECONDS },
        }),
      );
      this.remember(customerId, windowStart, target);
    } catch (error) {
      // Our count is already at or above what Virtuous implies: nothing to correct.
      if (error instanceof ConditionalCheckFailedException) return;
      throw storageFailure('observe', error);
    }
  }

  private remember(customerId: string, windowStart: number, used: number): void {
    const known = this.known.get(customerId);
    if (
      known === undefined ||
      known.windowStart < windowStart ||
      (known.windowStart === windowStart && known.used < used)
    ) {
      this.known.set(customerId, { windowStart, used });
    }
  }

  private key(customerId: string, windowStart: number): Record<string, string | number> {
    return {
      [TABLES.rateBudgets.partitionKey.name]: customerId,
      [TABLES.rateBudgets.sortKey.name]: windowStart,
    };
  }

  private ttlAttribute(): string {
    return TABLES.rateBudgets.timeToLiveAttribute;
  }
}

function storageFailure(operation: string, error: unknown): TransientError {
  // The SDK error name (ProvisionedThroughputExceededException, TimeoutError...) is safe; the message may not be.
  const name = error instanceof Error && /^[A-Za-z]{1,64}$/.test(error.name) ? ` (${error.name})` : '';
  return new TransientError('RATE_BUDGET_UNAVAILABLE', `rate budget ${operation} failed${name}`);
}

/** Same semantics in one process: for unit tests and tools that have no table. */
export class InMemoryRateBudget implements RateBudget {
  readonly hourlyBudget: number;
  private readonly used = new Map<string, number>();
  private readonly now: () => number;

  constructor(options: { hourlyBudget: number; now?: () => number }) {
    this.hourlyBudget = options.hourlyBudget;
    this.now = options.now ?? Date.now;
  }

  async acquire(customerId: string, requests = 1): Promise<BudgetDecision> {
    checkRequestCount(requests, this.hourlyBudget);
    const nowMs = this.now();
    const windowStart = windowStartOf(nowMs);
    const key = `${customerId}#${windowStart}`;
    const used = this.used.get(key) ?? 0;
    if (used + requests > this.hourlyBudget) {
      return { granted: false, windowStart, retryAfterSeconds: secondsUntilNextWindow(nowMs) };
    }
    this.used.set(key, used + requests);
    return { granted: true, windowStart };
  }

  async observe(customerId: string, observation: RateLimitObservation): Promise<void> {
    const windowStart = windowStartOf(this.now());
    const target = impliedUsed(this.hourlyBudget, observation, windowStart);
    if (target === undefined) return;
    const key = `${customerId}#${windowStart}`;
    if ((this.used.get(key) ?? 0) < target) this.used.set(key, target);
  }

  /** Calls counted in the current window (tests and diagnostics). */
  usedInCurrentWindow(customerId: string): number {
    return this.used.get(`${customerId}#${windowStartOf(this.now())}`) ?? 0;
  }
}

/**
 * The product's budget for a Lambda: table name and budget from the environment, a DynamoDB client with short
 * timeouts and few SDK retries (a slow budget table must not hold a submission longer than Virtuous itself would).
 * AWS_ENDPOINT_URL_DYNAMODB points the same code at dynalite on one machine.
 */
export function createRateBudgetFromEnv(env: NodeJS.ProcessEnv = process.env): DynamoDbRateBudget {
  const client = new DynamoDBClient({
    maxAttempts: 3,
    requestHandler: { requestTimeout: 2_000, connectionTimeout: 1_000 },
  });
  return new DynamoDbRateBudget({
    client,
    tableName: tableNameFromEnv('rateBudgets', env),
    hourlyBudget: hourlyBudgetFromEnv(env),
  });
}

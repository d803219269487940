/**
 * The shared per-customer request budget on DynamoDB (dynalite): conditional reservations that never overshoot,
 * window roll-over, header corrections that only raise, and two concurrent "processors" (two clients, two budget
 * instances, one table, one customer) whose accepted calls at the simulator never exceed the budget in a window.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../../functions/shared/environment.ts';
import { ForbiddenInputError, TransientError } from '../../../functions/shared/errors.ts';
import { createVirtuousClient } from '../../../functions/virtuous/client.ts';
import { createRateBudgetFromEnv, DynamoDbRateBudget, windowStartOf } from '../../../functions/virtuous/rate-budget.ts';
import { staticTokenSource } from '../../../functions/virtuous/token-source.ts';
import { type LocalAws, startLocalAws, TEST_CREDENTIALS, TEST_REGION } from '../../support/local-aws.ts';
import { startTestSimulator, type TestSimulator } from '../../support/simulator.ts';

// A fixed base time a quarter past the hour, so no test straddles a window boundary by accident.
const BASE_MS = Date.parse('2026-11-29T10:15:00Z');

let aws: LocalAws;
let sim: TestSimulator;

beforeAll(async () => {
  [aws, sim] = await Promise.all([startLocalAws(), startTestSimulator({ now: () => BASE_MS })]);
});

afterAll(async () => {
  await Promise.all([aws?.stop(), sim?.close()]);
});

function budget(hourlyBudget: number, now: () => number = () => sim.control.now()): DynamoDbRateBudget {
  return new DynamoDbRateBudget({ client: aws.dynamodb, tableName: aws.tableNames.rateBudgets, hourlyBudget, now });
}

/**
 * A budget on a DynamoDB client of its own, counting the requests it sends (a client of its own: document clients
 * share the middleware stack of the client they wrap).
 */
function countedBudget(hourlyBudget: number): { budget: DynamoDbRateBudget; sent: { requests: number } } {
  const documents = DynamoDBDocumentClient.from(
    new DynamoDBClient({ region: TEST_REGION, credentials: TEST_CREDENTIALS, endpoint: aws.dynamodbEndpoint }),
  );
  const sent = { requests: 0 };
  documents.middlewareStack.add(
    (next) => async (args) => {
      sent.requests += 1;
      return next(args);
    },
    { step: 'initialize', name: 'countBudgetRequests' },
  );
  const budget = new DynamoDbRateBudget({
    client: documents,
    tableName: aws.tableNames.rateBudgets,
    hourlyBudget,
    now: () => sim.control.now(),
  });
  return { budget, sent };
}

async function storedItem(customerId: string, windowStart: number): Promise<Record<string, unknown> | undefined> {
  const { Item } = await aws.documentClient.send(
    new GetCommand({ TableName: aws.tableNames.rateBudgets, Key: { customerId, windowStart } }),
  );
  return Item;
}

describe('DynamoDbRateBudget', () => {
  it('grants until the budget is spent, then reports the wait until the next window', async () => {
    const now = Date.parse('2026-11-29T10:59:30Z');
    const b = budget(3, () => now);
    expect(await b.acquire('cust-a', 2)).toEqual({ granted: true, windowStart: windowStartOf(now) });
    expect((await b.acquire('cust-a', 2)).granted).toBe(false);
    expect(await b.acquire('cust-a')).toMatchObject({ granted: true });
    expect(await b.acquire('cust-a')).toEqual({
      granted: false,
      windowStart: windowStartOf(now),
      retryAfterSeconds: 30,
    });
    // Another customer has its own budget.
    expect((await b.acquire('cust-b')).granted).toBe(true);
    const item = await storedItem('cust-a', windowStartOf(now));
    expect(item).toEqual({
      customerId: 'cust-a',
      windowStart: Date.parse('2026-11-29T10:00:00Z') / 1000,
      used: 3,
      expiresAt: Date.parse('2026-11-29T12:00:00Z') / 1000,
    });
    // The next hour is a new window.
    const later = budget(3, () => now + 31_000);
    expect((await later.acquire('cust-a', 3)).granted).toBe(true);
  });

  it('never grants more than the budget to many concurrent reservations', async () => {
    const b1 = budget(37);
    const b2 = budget(37);
    const decisions = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? b1 : b2).acquire('cust-race')),
    );
    expect(decisions.filter((d) => d.granted)).toHaveLength(37);
    expect((await storedItem('cust-race', windowStartOf(sim.control.now())))?.used).toBe(37);
  });

  it('raises the count from X-RateLimit-Remaining and never lowers it', async () => {
    const b = budget(100);
    await b.acquire('cust-obs', 10);
    await b.observe('cust-obs', { remaining: 95 });
    const windowStart = windowStartOf(sim.control.now());
    expect((await storedItem('cust-obs', windowStart))?.used).toBe(10);
    await b.observe('cust-obs', { limit: 5_000, remaining: 30, resetAt: windowStart + 3_600 });
    expect((await storedItem('cust-obs', windowStart))?.used).toBe(70);
    // An answer about Virtuous's previous hour (reset already past) corrects nothing.
    await b.observe('cust-obs', { remaining: 0, resetAt: windowStart });
    expect((await storedItem('cust-obs', windowStart))?.used).toBe(70);
    await b.observe('cust-obs', { remaining: 60 });
    await b.observe('cust-obs', { limit: 100 });
    expect((await storedItem('cust-obs', windowStart))?.used).toBe(70);
    await b.observe('cust-fresh', { remaining: 0 });
    expect((await storedItem('cust-fresh', windowStart))?.used).toBe(100);
    expect((await b.acquire('cust-fresh')).granted).toBe(false);
  });

  it('sends no correction that its own stored count already covers, and still raises a count it has not seen', async () => {
    const { budget: b, sent } = countedBudget(100);
    const windowStart = windowStartOf(sim.control.now());
    await b.acquire('cust-known', 10);
    expect(sent.requests).toBe(1);
    // Virtuous counts 10 of 100 used, or fewer: what we stored already says so.
    await b.observe('cust-known', { remaining: 90 });
    await b.observe('cust-known', { remaining: 95, resetAt: windowStart + 3_600 });
    expect(sent.requests).toBe(1);
    // Virtuous counts more than we stored (another integration of the organization): raised, once.
    await b.observe('cust-known', { remaining: 60 });
    expect(sent.requests).toBe(2);
    expect((await storedItem('cust-known', windowStart))?.used).toBe(40);
    await b.observe('cust-known', { remaining: 60 });
    expect(sent.requests).toBe(2);
    // A sibling container raised the count meanwhile: this one has not seen it, so it still asks the table, which
    // keeps the higher count.
    await budget(100).acquire('cust-known', 30);
    await b.observe('cust-known', { remaining: 50 });
    expect(sent.requests).toBe(3);
    expect((await storedItem('cust-known', windowStart))?.used).toBe(70);
    // Our own next reservation reports the stored count back, so the same answer is known to be covered.
    await b.acquire('cust-known');
    await b.observe('cust-known', { remaining: 50 });
    expect(sent.requests).toBe(4);
    expect((await storedItem('cust-known', windowStart))?.used).toBe(71);
  });

  it('sends the acquires that arrive while one is in flight as one reservation, and never more than the budget', async () => {
    const { budget: b, sent } = countedBudget(12);
    const windowStart = windowStartOf(sim.control.now());
    // Eight submissions of one batch ask at once: the first goes alone, the seven behind it in one ADD.
    const decisions = await Promise.all(Array.from({ length: 8 }, () => b.acquire('cust-group')));
    expect(decisions.every((decision) => decision.granted)).toBe(true);
    expect(sent.requests).toBe(2);
    expect((await storedItem('cust-group', windowStart))?.used).toBe(8);
    // Six more with four left: the group does not fit, so each is tried alone and exactly four are granted.
    sent.requests = 0;
    const rest = await Promise.all(Array.from({ length: 6 }, () => b.acquire('cust-group')));
    expect(rest.filter((decision) => decision.granted)).toHaveLength(4);
    expect(rest.filter((decision) => !decision.granted)).toHaveLength(2);
    expect((await storedItem('cust-group', windowStart))?.used).toBe(12);
    expect(sent.requests).toBe(1 + 1 + 5);
    // Another customer's acquires are not held behind this one's.
    expect((await b.acquire('cust-other')).granted).toBe(true);
  });

  it('refuses impossible requests and reports storage failures as TransientError', async () => {
    const b = budget(5);
    await expect(b.acquire('cust-x', 6)).rejects.toThrow(ForbiddenInputError);
    await expect(b.acquire('cust-x', 0)).rejects.toThrow(ForbiddenInputError);
    const broken = new DynamoDbRateBudget({ client: aws.dynamodb, tableName: 'no-such-table', hourlyBudget: 5 });
    await expect(broken.acquire('cust-x')).rejects.toMatchObject({
      name: 'TransientError',
      code: 'RATE_BUDGET_UNAVAILABLE',
    });
  });
});

describe('createRateBudgetFromEnv', () => {
  it('builds the product budget from the environment and reaches the table by endpoint configuration', async () => {
    // The SDK reads its endpoint, region and credentials from process.env, as in a Lambda or the local runtime.
    const saved = { ...process.env };
    Object.assign(process.env, aws.env, { [ENV.hourlyRequestBudget]: '2' });
    try {
      const fromEnv = createRateBudgetFromEnv(process.env);
      expect(fromEnv.hourlyBudget).toBe(2);
      expect((await fromEnv.acquire('cust-env', 2)).granted).toBe(true);
      expect((await fromEnv.acquire('cust-env')).granted).toBe(false);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });
});

describe('two processors sharing one customer budget', () => {
  async function runProcessor(client: ReturnType<typeof createVirtuousClient>, calls: number, prefix: string) {
    const outcomes = { ok: 0, budgetExhausted: 0, rateLimited: 0 };
    // Four calls in flight per processor, like a Lambda working through an SQS batch.
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < calls) {
          const id = `${prefix}_${next++}`;
          try {
            await client.findGiftByTransaction('Stripe', id);
            outcomes.ok += 1;
          } catch (error) {
            if (error instanceof TransientError && error.code === 'RATE_BUDGET_EXHAUSTED')
              outcomes.budgetExhausted += 1;
            else if (error instanceof TransientError && error.code === 'VIRTUOUS_RATE_LIMITED')
              outcomes.rateLimited += 1;
            else throw error;
          }
        }
      }),
    );
    return outcomes;
  }

  function processorClient(hourlyBudget: number, apiKey: string) {
    return createVirtuousClient({
      baseUrl: sim.baseUrl,
      customerId: 'cust-shared',
      tokens: staticTokenSource(apiKey),
      budget: budget(hourlyBudget),
      clock: () => sim.control.now(),
      allowLoopbackHttp: true,
      timeoutMs: 5_000,
    });
  }

  it('the simulator accepts at most the budget per window, across both processors, and no 429', async () => {
    const { organizationId, apiKey } = sim.organization({ rateLimitPerHour: 5_000 });
    const [first, second] = await Promise.all([
      runProcessor(processorClient(50, apiKey), 45, 'p1'),
      runProcessor(processorClient(50, apiKey), 45, 'p2'),
    ]);
    expect(first.ok + second.ok).toBe(50);
    expect(first.budgetExhausted + second.budgetExhausted).toBe(40);
    expect(first.rateLimited + second.rateLimited).toBe(0);
    const requests = sim.control.inspect(organizationId).requests;
    expect(requests.filter((r) => r.counted)).toHaveLength(50);
    expect(requests.filter((r) => r.status === 429)).toHaveLength(0);

    // The next window opens a fresh budget.
    sim.control.advanceClock(3_600_000);
    const next = await runProcessor(processorClient(50, apiKey), 10, 'p3');
    expect(next).toEqual({ ok: 10, budgetExhausted: 0, rateLimited: 0 });
  });

  it('shrinks to what Virtuous has left when other integrations share the organization', async () => {
    const { organizationId, apiKey } = sim.organization({ rateLimitPerHour: 40 });
    const otherKey = sim.addKey(organizationId);
    // The customer's other integration spends 30 of the organization's 40.
    for (let i = 0; i < 30; i += 1) {
      await fetch(`${sim.baseUrl}/api/Organization/Current`, { headers: { Authorization: `Bearer ${otherKey}` } });
    }
    const [first, second] = await Promise.all([
      runProcessor(processorClient(50, apiKey), 20, 'q1'),
      runProcessor(processorClient(50, apiKey), 20, 'q2'),
    ]);
    // Our budget says 50, Virtuous says 10 are left: the corrections stop the processors at what Virtuous allows.
    // Calls already reserved when the first correction lands may still meet a 429, so at most one per call in
    // flight (2 processors x 4) does; without corrections the other 30 calls would all have been refused.
    const requests = sim.control.inspect(organizationId).requests;
    expect(first.ok + second.ok).toBe(10);
    const refused = requests.filter((r) => r.status === 429).length;
    expect(refused).toBe(first.rateLimited + second.rateLimited);
    expect(refused).toBeLessThanOrEqual(8);
    expect(first.budgetExhausted + second.budgetExhausted).toBeGreaterThanOrEqual(40 - 10 - 8);
    expect(requests.filter((r) => r.counted)).toHaveLength(40);
  });
});

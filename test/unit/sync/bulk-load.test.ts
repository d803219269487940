import { describe, expect, it } from 'vitest';
import { ForbiddenInputError, TransientError } from '../../../functions/shared/errors.ts';
import { type HistorySource, jsonlHistorySource, pageEvents, runBulkLoad } from '../../../functions/sync/bulk-load.ts';
import { type BulkMessage, bulkEvents, parseBulkMessage } from '../../../functions/sync/bulk-message.ts';
import type { MessageQueue } from '../../../functions/sync/message-queue.ts';
import { CountingMetrics, SYNC_METRICS } from '../../../functions/sync/sync-metrics.ts';
import { DONOR } from '../../support/canaries.ts';
import { MemoryCheckpoints } from '../../support/memory-checkpoints.ts';

const gift = (index: number) => ({
  id: `evt_${index}`,
  type: 'payment_intent.succeeded',
  data: { object: { id: `pi_${index}`, receipt_email: DONOR.email } },
});
const contact = (index: number) => ({
  id: `evt_c${index}`,
  type: 'customer.created',
  data: { object: { id: `cus_${index}` } },
});

class MemoryQueue implements MessageQueue {
  readonly bodies: string[] = [];
  failAfter = Number.POSITIVE_INFINITY;
  async send(bodies: readonly string[]) {
    if (this.bodies.length + bodies.length > this.failAfter)
      throw new TransientError('QUEUE_SEND_FAILED', 'sqs refused');
    this.bodies.push(...bodies);
  }
  messages(): BulkMessage[] {
    return this.bodies.map((body) => parseBulkMessage(JSON.parse(body)));
  }
  /** Source ids of every gift enqueued, in order. */
  giftIds(): string[] {
    return this.messages().flatMap((message) =>
      (bulkEvents(message) as ReturnType<typeof gift>[])
        .filter((event) => event.type === 'payment_intent.succeeded')
        .map((event) => event.data.object.id),
    );
  }
}

const history = (events: unknown[]) => events.map((event) => JSON.stringify(event)).join('\n');

function deps(queue: MemoryQueue, checkpoints = new MemoryCheckpoints(), metrics = new CountingMetrics()) {
  return { checkpoints, queue, metrics, clock: () => new Date('2026-11-29T12:00:00Z') };
}

describe('bulk load paging', () => {
  it('pages by event type in pages of at most 100, carried across source pages', async () => {
    const events = [contact(0), ...Array.from({ length: 1_000 }, (_, index) => gift(index))];
    const queue = new MemoryQueue();
    const result = await runBulkLoad(deps(queue), {
      customerId: 'acme',
      loadId: 'initial-load',
      source: jsonlHistorySource(history(events), 333),
    });
    expect(result).toEqual({ completed: true, pagesEnqueued: 11, eventsEnqueued: 1_001 });
    const messages = queue.messages();
    const giftPages = messages.filter(
      (message) => (bulkEvents(message)[0] as { type: string }).type === 'payment_intent.succeeded',
    );
    expect(giftPages.map((message) => bulkEvents(message).length)).toEqual(Array(10).fill(100));
    expect(messages.map((message) => message.page)).toEqual([...Array(11).keys()]);
    expect(new Set(queue.giftIds()).size).toBe(1_000);
  });

  it('bounds a page by bytes and refuses a single oversized event', () => {
    const big = (index: number) => ({ type: 'payment_intent.succeeded', pad: 'x'.repeat(1_000), index });
    const pages = pageEvents(
      Array.from({ length: 50 }, (_, index) => big(index)),
      10_000,
    );
    expect(pages.every((page) => Buffer.byteLength(JSON.stringify(page)) <= 10_000)).toBe(true);
    expect(pages.flat()).toHaveLength(50);
    expect(() => pageEvents([big(0)], 500)).toThrow(ForbiddenInputError);
  });

  it('reports a bad history line by number, never its content', async () => {
    const source = jsonlHistorySource(`${JSON.stringify(gift(1))}\n{"email":"${DONOR.email}"`);
    await expect(source.page(undefined)).rejects.toThrow(/line 2 is not JSON/);
    await expect(source.page(undefined)).rejects.not.toThrow(DONOR.email);
  });
});

describe('bulk load resumption', () => {
  it('resumes after a failed send from the checkpoint, losing nothing', async () => {
    const events = Array.from({ length: 950 }, (_, index) => gift(index));
    const checkpoints = new MemoryCheckpoints();
    const queue = new MemoryQueue();
    queue.failAfter = 5;
    const source = jsonlHistorySource(history(events), 250);
    await expect(runBulkLoad(deps(queue, checkpoints), { customerId: 'acme', loadId: 'l1', source })).rejects.toThrow(
      TransientError,
    );
    expect(checkpoints.items.get('acme/l1')?.status).toBe('running');

    queue.failAfter = Number.POSITIVE_INFINITY;
    const result = await runBulkLoad(deps(queue, checkpoints), { customerId: 'acme', loadId: 'l1', source });
    expect(result.completed).toBe(true);
    expect(new Set(queue.giftIds()).size).toBe(950);
    expect(checkpoints.items.get('acme/l1')?.status).toBe('completed');
    // Page numbers never repeat, so a resumed page is not taken for a duplicate of an earlier one.
    const pages = queue.messages().map((message) => message.page);
    expect(new Set(pages).size).toBe(pages.length);
    // A completed load is not run again.
    expect(await runBulkLoad(deps(queue, checkpoints), { customerId: 'acme', loadId: 'l1', source })).toEqual({
      completed: true,
      pagesEnqueued: 0,
      eventsEnqueued: 0,
    });
  });

  it('stops at its deadline with what it read sent, and the next run continues', async () => {
    const events = Array.from({ length: 600 }, (_, index) => gift(index));
    const checkpoints = new MemoryCheckpoints();
    const queue = new MemoryQueue();
    let reads = 0;
    const inner = jsonlHistorySource(history(events), 150);
    const source: HistorySource = {
      page: (cursor) => {
        reads += 1;
        return inner.page(cursor);
      },
    };
    let now = 0;
    const clock = () => new Date(now);
    const metrics = new CountingMetrics();
    const first = await runBulkLoad(
      { checkpoints, queue, metrics, clock },
      {
        customerId: 'acme',
        loadId: 'l2',
        source: {
          page: async (cursor) => {
            now += 10;
            return source.page(cursor);
          },
        },
        deadline: 25,
      },
    );
    expect(first.completed).toBe(false);
    expect(reads).toBe(3);
    expect(new Set(queue.giftIds()).size).toBe(450);
    const second = await runBulkLoad(
      { checkpoints, queue, metrics, clock },
      { customerId: 'acme', loadId: 'l2', source },
    );
    expect(second.completed).toBe(true);
    expect(new Set(queue.giftIds()).size).toBe(600);
    expect(queue.giftIds()).toHaveLength(600);
    expect(metrics.get(SYNC_METRICS.bulkEventsEnqueued)).toBe(600);
  });
});

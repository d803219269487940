/**
 * Bulk load: a customer's history (source events from the partner platform) enters the same inbound queue as the
 * webhooks, in pages of at most 100 events (one batch-endpoint call each), so it shares the processor's sync-state
 * idempotency, rate budget, dead letters and metrics.
 *
 * Resumable: after each source page is enqueued the checkpoint records the source cursor and the next page number.
 * A crash between enqueue and checkpoint re-sends the same pages with the same page numbers; the processor's
 * delivery log and sync-state claims absorb the copies. A run stops before its deadline and reports `completed:
 * false`; the next run continues from the checkpoint.
 */
import { ForbiddenInputError } from '../shared/errors.ts';
import { logger } from '../shared/observability.ts';
import { createBulkMessage, MAX_BULK_PAGE_EVENTS } from './bulk-message.ts';
import type { CheckpointStore } from './checkpoints.ts';
import type { MessageQueue } from './message-queue.ts';
import { SYNC_METRICS, type SyncMetrics } from './sync-metrics.ts';

/** Where history comes from: pages of source events (e.g. Stripe events) behind an opaque cursor. */
export interface HistorySource {
  page(cursor: string | undefined): Promise<{ readonly events: readonly unknown[]; readonly nextCursor?: string }>;
}

/** A JSON Lines export (one source event per line) read in pages; the cursor is the next line number. */
export function jsonlHistorySource(text: string, linesPerPage = 500): HistorySource {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  return {
    async page(cursor) {
      const start = cursor === undefined ? 0 : Number.parseInt(cursor, 10);
      if (!Number.isInteger(start) || start < 0)
        throw new ForbiddenInputError('INVALID_CURSOR', 'cursor is not a line number');
      const events = lines.slice(start, start + linesPerPage).map((line, index) => {
        try {
          return JSON.parse(line) as unknown;
        } catch {
          // Reported by line number only: the line may hold personal data.
          throw new ForbiddenInputError('INVALID_HISTORY_LINE', `history line ${start + index + 1} is not JSON`);
        }
      });
      const next = start + events.length;
      return next < lines.length ? { events, nextCursor: String(next) } : { events };
    },
  };
}

export interface BulkLoadDeps {
  readonly checkpoints: CheckpointStore;
  readonly queue: MessageQueue;
  readonly metrics: SyncMetrics;
  readonly clock: () => Date;
}

export interface BulkLoadRequest {
  readonly customerId: string;
  /** Names the load and its checkpoint; the lifecycle's onboarding requests `initial-load`. */
  readonly loadId: string;
  readonly source: HistorySource;
  /** Stop reading new source pages after this time (epoch ms), leaving room for the checkpoint write. */
  readonly deadline?: number;
  /** Upper bound on one page's encoded events, under the queue's 1 MiB message limit. */
  readonly maxPageBytes?: number;
}

export interface BulkLoadResult {
  readonly completed: boolean;
  readonly pagesEnqueued: number;
  readonly eventsEnqueued: number;
}

interface Position {
  readonly cursor?: string;
  readonly nextPage: number;
}

const DEFAULT_MAX_PAGE_BYTES = 600_000;

function eventType(event: unknown): string {
  const type = (event as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type : '';
}

/** Donors before their gifts (so Virtuous's nightly batch can match them), refunds and the rest after. */
function typeRank(type: string): number {
  if (type.startsWith('customer.')) return 0;
  if (type === 'payment_intent.succeeded') return 1;
  return 2;
}

/**
 * Splits events into pages of ≤ 100 events and ≤ maxBytes of JSON each, one event type per page: a page of gifts
 * is then exactly one batch-endpoint call, and a contact never splits a gift page in two calls.
 */
export function pageEvents(events: readonly unknown[], maxBytes: number): unknown[][] {
  const byType = Map.groupBy(events, eventType);
  const types = [...byType.keys()].sort((a, b) => typeRank(a) - typeRank(b));
  return types.flatMap((type) => pageOneType(byType.get(type) ?? [], maxBytes));
}

function pageOneType(events: readonly unknown[], maxBytes: number): unknown[][] {
  const pages: unknown[][] = [];
  let current: unknown[] = [];
  let bytes = 2;
  for (const event of events) {
    const size = Buffer.byteLength(JSON.stringify(event), 'utf8') + 1;
    if (size + 2 > maxBytes) {
      throw new ForbiddenInputError('HISTORY_EVENT_TOO_LARGE', `a history event exceeds ${maxBytes} bytes`);
    }
    if (current.length === MAX_BULK_PAGE_EVENTS || bytes + size > maxBytes) {
      pages.push(current);
      current = [];
      bytes = 2;
    }
    current.push(event);
    bytes += size;
  }
  if (current.length > 0) pages.push(current);
  return pages;
}

export async function runBulkLoad(deps: BulkLoadDeps, request: BulkLoadRequest): Promise<BulkLoadResult> {
  const { customerId, loadId } = request;
  const maxBytes = request.maxPageBytes ?? DEFAULT_MAX_PAGE_BYTES;
  const checkpoint = await deps.checkpoints.get(customerId, loadId);
  if (checkpoint?.status === 'completed') return { completed: true, pagesEnqueued: 0, eventsEnqueued: 0 };
  let position: Position = checkpoint?.position ? (JSON.parse(checkpoint.position) as Position) : { nextPage: 0 };
  let pagesEnqueued = 0;
  let eventsEnqueued = 0;

  for (;;) {
    if (request.deadline !== undefined && deps.clock().getTime() >= request.deadline) {
      logger.info('bulk load paused at deadline', { customerId, loadId, nextPage: position.nextPage });
      return { completed: false, pagesEnqueued, eventsEnqueued };
    }
    const sourcePage = await request.source.page(position.cursor);
    const pages = pageEvents(sourcePage.events, maxBytes);
    const bodies = pages.map((events, index) =>
      JSON.stringify(createBulkMessage({ customerId, loadId, page: position.nextPage + index, events })),
    );
    await deps.queue.send(bodies);
    pagesEnqueued += pages.length;
    eventsEnqueued += sourcePage.events.length;
    deps.metrics.count(SYNC_METRICS.bulkEventsEnqueued, sourcePage.events.length);
    position = {
      ...(sourcePage.nextCursor === undefined ? {} : { cursor: sourcePage.nextCursor }),
      nextPage: position.nextPage + pages.length,
    };
    const done = sourcePage.nextCursor === undefined;
    await deps.checkpoints.put(
      customerId,
      loadId,
      { position: JSON.stringify(position), status: done ? 'completed' : 'running' },
      deps.clock(),
    );
    if (done) {
      logger.info('bulk load enqueued', { customerId, loadId, pages: position.nextPage });
      return { completed: true, pagesEnqueued, eventsEnqueued };
    }
  }
}

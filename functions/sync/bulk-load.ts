/**
 * Bulk load: a customer's history (source events from the partner platform) enters the same inbound queue as the
 * webhooks, in pages of at most 100 events of one type, so it shares the processor's sync-state idempotency, rate
 * budget, dead letters and metrics, and a page of gifts is exactly one call to the batch endpoint.
 *
 * Events are collected per type across source pages and a page is sent when it is full (100 events or the byte
 * bound), so source page boundaries do not split gift pages. Resumable: after each source page the checkpoint
 * records where to read again, which is the source page holding the oldest event not yet sent, and the next page
 * number. A resume (after a crash or a run that reached its deadline) may send some events of that source page a
 * second time; the processor's sync-state claims make those copies cost no Virtuous call. A run that reaches its
 * deadline sends what it holds, records the position after it, and answers `completed: false`. A run whose customer
 * stopped syncing (offboarding began while the run read its source) stops before its next send or checkpoint
 * write and answers `stoppedBy: 'customer_not_syncing'`: offboarding may already have purged the checkpoints.
 */
import type { CustomerRepository } from '../customers/customer.ts';
import { CredentialRevokedError, ForbiddenInputError } from '../shared/errors.ts';
import { logger } from '../shared/observability.ts';
import { createActiveCustomerGate, isCustomerNotActive } from './active-customer-gate.ts';
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
  /** Re-read before sends and checkpoint writes so a run overtaken by offboarding stops (optional: unit tests). */
  readonly customers?: Pick<CustomerRepository, 'get'>;
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
  /**
   * Set when the source's grant was revoked: the customer is paused (by the token manager, which alerted once) and
   * the checkpoint stays where the last source page left it, so a run after re-authorization resumes there.
   */
  readonly stoppedBy?: 'credential_revoked' | 'customer_not_syncing';
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

interface Pending {
  readonly event: unknown;
  readonly bytes: number;
  /** Cursor of the source page the event came from (undefined: the first page). */
  readonly sourceCursor: string | undefined;
}

/** Per event type, the events waiting for a full page. */
class PageCollector {
  readonly #byType = new Map<string, { events: Pending[]; bytes: number }>();
  readonly #maxBytes: number;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Adds an event; returns the pages it completed. */
  add(event: unknown, sourceCursor: string | undefined): unknown[][] {
    const bytes = Buffer.byteLength(JSON.stringify(event), 'utf8') + 1;
    if (bytes + 2 > this.#maxBytes) {
      throw new ForbiddenInputError('HISTORY_EVENT_TOO_LARGE', `a history event exceeds ${this.#maxBytes} bytes`);
    }
    const type = eventType(event);
    let group = this.#byType.get(type);
    if (!group) {
      group = { events: [], bytes: 2 };
      this.#byType.set(type, group);
    }
    const full: unknown[][] = [];
    if (group.bytes + bytes > this.#maxBytes) {
      full.push(group.events.map((pending) => pending.event));
      group.events = [];
      group.bytes = 2;
    }
    group.events.push({ event, bytes, sourceCursor });
    group.bytes += bytes;
    if (group.events.length === MAX_BULK_PAGE_EVENTS) {
      full.push(group.events.map((pending) => pending.event));
      group.events = [];
      group.bytes = 2;
    }
    return full;
  }

  /** Every partial page, emptying the collector. */
  drain(): unknown[][] {
    const pages = [...this.#byType.values()]
      .filter((group) => group.events.length > 0)
      .map((group) => group.events.map((pending) => pending.event));
    this.#byType.clear();
    return pages;
  }

  /** The source cursor to read again from so that no waiting event is lost; null when nothing waits. */
  oldestWaitingCursor(order: readonly (string | undefined)[]): string | undefined | null {
    const waiting = new Set<string | undefined>();
    for (const group of this.#byType.values()) for (const pending of group.events) waiting.add(pending.sourceCursor);
    if (waiting.size === 0) return null;
    return order.find((cursor) => waiting.has(cursor));
  }
}

/** Splits events into pages of ≤ 100 events of one type and ≤ maxBytes of JSON each (all of them sent). */
export function pageEvents(events: readonly unknown[], maxBytes: number = DEFAULT_MAX_PAGE_BYTES): unknown[][] {
  const collector = new PageCollector(maxBytes);
  const pages = events.flatMap((event) => collector.add(event, undefined));
  return [...pages, ...collector.drain()];
}

export async function runBulkLoad(deps: BulkLoadDeps, request: BulkLoadRequest): Promise<BulkLoadResult> {
  const { customerId, loadId } = request;
  const checkpoint = await deps.checkpoints.get(customerId, loadId);
  if (checkpoint?.status === 'completed') return { completed: true, pagesEnqueued: 0, eventsEnqueued: 0 };
  const start: Position = checkpoint?.position ? (JSON.parse(checkpoint.position) as Position) : { nextPage: 0 };
  const collector = new PageCollector(request.maxPageBytes ?? DEFAULT_MAX_PAGE_BYTES);
  let nextPage = start.nextPage;
  let cursor = start.cursor;
  /** Source cursors read in this run, oldest first. */
  const readOrder: (string | undefined)[] = [];
  let pagesEnqueued = 0;
  let eventsEnqueued = 0;
  // A pause mid-run keeps the load going (the processor holds its pages until resume, the checkpoint stays); an
  // offboarding, or an onboarding undone, stops it.
  const gate = createActiveCustomerGate(deps.customers, customerId, { statuses: ['active', 'onboarding', 'paused'] });

  const send = async (pages: unknown[][]) => {
    if (pages.length === 0) return;
    await gate.assertActive();
    const bodies = pages.map((events, index) =>
      JSON.stringify(createBulkMessage({ customerId, loadId, page: nextPage + index, events })),
    );
    await deps.queue.send(bodies);
    nextPage += pages.length;
    pagesEnqueued += pages.length;
    const events = pages.reduce((total, page) => total + page.length, 0);
    eventsEnqueued += events;
    deps.metrics.count(SYNC_METRICS.bulkEventsEnqueued, events);
  };
  const save = async (position: Position, status: 'running' | 'completed') => {
    await gate.assertActive();
    await deps.checkpoints.put(customerId, loadId, { position: JSON.stringify(position), status }, deps.clock());
  };

  try {
    for (;;) {
      if (request.deadline !== undefined && deps.clock().getTime() >= request.deadline) {
        await send(collector.drain());
        await save({ ...(cursor === undefined ? {} : { cursor }), nextPage }, 'running');
        logger.info('bulk load paused at deadline', { customerId, loadId, nextPage });
        return { completed: false, pagesEnqueued, eventsEnqueued };
      }
      let sourcePage: Awaited<ReturnType<HistorySource['page']>>;
      try {
        sourcePage = await request.source.page(cursor);
        gate.invalidate();
      } catch (error) {
        if (!(error instanceof CredentialRevokedError)) throw error;
        // Nothing more is read or sent: events collected but not sent are re-read on resume (the checkpoint of the
        // last page points at the oldest of them).
        logger.warn('bulk load stopped: source credential revoked', { customerId, loadId, source: error.source });
        return { completed: false, pagesEnqueued, eventsEnqueued, stoppedBy: 'credential_revoked' };
      }
      readOrder.push(cursor);
      for (const event of sourcePage.events) await send(collector.add(event, cursor));
      if (sourcePage.nextCursor === undefined) {
        await send(collector.drain());
        await save({ nextPage }, 'completed');
        logger.info('bulk load enqueued', { customerId, loadId, pages: nextPage });
        return { completed: true, pagesEnqueued, eventsEnqueued };
      }
      cursor = sourcePage.nextCursor;
      const waitingFrom = collector.oldestWaitingCursor(readOrder);
      const resumeAt = waitingFrom === null ? cursor : waitingFrom;
      await save({ ...(resumeAt === undefined ? {} : { cursor: resumeAt }), nextPage }, 'running');
    }
  } catch (error) {
    if (!isCustomerNotActive(error)) throw error;
    logger.warn('bulk load stopped: customer no longer syncing', { customerId, loadId, nextPage });
    return { completed: false, pagesEnqueued, eventsEnqueued, stoppedBy: 'customer_not_syncing' };
  }
}

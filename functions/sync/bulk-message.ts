/**
 * A page of a customer's history (source events from the partner platform) on the inbound queue. It shares the
 * queue with webhook deliveries (InboundMessage) and is told apart by `kind: 'bulk'`. Up to 100 events per page, so
 * one page is one call to the Virtuous batch endpoint whatever batch size the queue consumer uses. The events
 * travel Base64-encoded JSON for the same reason as webhook bodies: SQS bodies carry only part of Unicode.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ForbiddenInputError } from '../shared/errors.ts';
import { isCustomerId } from '../shared/identifiers.ts';

export const BULK_MESSAGE_VERSION = 1;
export const MAX_BULK_PAGE_EVENTS = 100;

export interface BulkMessage {
  readonly version: typeof BULK_MESSAGE_VERSION;
  readonly kind: 'bulk';
  readonly customerId: string;
  readonly provider: 'stripe';
  /** The bulk load this page belongs to (checkpoint name) and its position in it. */
  readonly loadId: string;
  readonly page: number;
  /** Set when the message carries one event of a page (a dead letter's replay). */
  readonly item?: number;
  /** Base64 of the JSON array of source events. */
  readonly events: string;
}

const bulkMessageSchema = z.object({
  version: z.literal(BULK_MESSAGE_VERSION),
  kind: z.literal('bulk'),
  customerId: z.string().refine(isCustomerId),
  provider: z.literal('stripe'),
  loadId: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/),
  page: z.number().int().nonnegative(),
  item: z.number().int().nonnegative().optional(),
  events: z.string().min(1),
});

export function createBulkMessage(input: {
  customerId: string;
  loadId: string;
  page: number;
  item?: number;
  events: readonly unknown[];
}): BulkMessage {
  return {
    version: BULK_MESSAGE_VERSION,
    kind: 'bulk',
    customerId: input.customerId,
    provider: 'stripe',
    loadId: input.loadId,
    page: input.page,
    ...(input.item === undefined ? {} : { item: input.item }),
    events: Buffer.from(JSON.stringify(input.events), 'utf8').toString('base64'),
  };
}

/** Identifies the page (or page item) in the delivery log, dead letters and held messages. */
export function bulkUnitId(message: BulkMessage): string {
  const unit = `${message.loadId}:${message.page}${message.item === undefined ? '' : `:${message.item}`}`;
  return createHash('sha256').update(`bulk\n${message.customerId}\n${unit}`).digest('hex');
}

export function isBulkMessageJson(json: unknown): boolean {
  return typeof json === 'object' && json !== null && (json as { kind?: unknown }).kind === 'bulk';
}

export function parseBulkMessage(json: unknown): BulkMessage {
  const result = bulkMessageSchema.safeParse(json);
  if (!result.success) {
    const fields = [...new Set(result.error.issues.map((issue) => issue.path.join('.') || '(root)'))].join(',');
    throw new ForbiddenInputError('INVALID_BULK_MESSAGE', `bulk message has invalid fields: ${fields}`);
  }
  return result.data as BulkMessage;
}

/** The page's events; a page that does not decode to a JSON array is refused (permanent). */
export function bulkEvents(message: BulkMessage): unknown[] {
  let events: unknown;
  try {
    events = JSON.parse(Buffer.from(message.events, 'base64').toString('utf8'));
  } catch {
    throw new ForbiddenInputError('INVALID_BULK_MESSAGE', 'bulk events are not JSON');
  }
  if (!Array.isArray(events) || events.length > MAX_BULK_PAGE_EVENTS) {
    throw new ForbiddenInputError(
      'INVALID_BULK_MESSAGE',
      `bulk events must be an array of at most ${MAX_BULK_PAGE_EVENTS}`,
    );
  }
  return events;
}

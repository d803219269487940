/**
 * A delivery's identity for de-duplication. Virtuous documents no event id or timestamp, and a re-delivery carries
 * the same bytes, so the id is a content hash: SHA-256 over provider, customer id and raw body. Provider and
 * customer id are validated identifiers that cannot contain a newline, so the newline separators make the encoding
 * unambiguous (no two different triples hash the same input).
 */
import { createHash } from 'node:crypto';
import type { WebhookProvider } from '../queue/inbound-message.ts';

export function deliveryId(provider: WebhookProvider, customerId: string, rawBody: Buffer): string {
  return createHash('sha256').update(`${provider}\n${customerId}\n`).update(rawBody).digest('hex');
}

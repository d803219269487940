/**
 * A delivery's identity for de-duplication. Virtuous documents no event id or timestamp, and a re-delivery carries
 * the same bytes, so the id is a content hash: SHA-256 over provider, customer id and raw body. Provider and
 * customer id are validated identifiers that cannot contain a newline, so the newline separators make the encoding
 * unambiguous (no two different triples hash the same input).
 */
import { createHash, hash } from 'node:crypto';
import type { WebhookProvider } from '../queue/inbound-message.ts';

/**
 * Up to this body size the input is copied into one buffer for the one-shot `hash()`, which skips building a Hash
 * object and its two update calls: for a typical 2 KB delivery that saves more than the copy costs. The copy grows
 * with the body and the saving does not, so larger bodies are streamed into a Hash as before.
 */
const ONE_SHOT_MAX_BYTES = 16 * 1024;

export function deliveryId(provider: WebhookProvider, customerId: string, rawBody: Buffer): string {
  const prefix = `${provider}\n${customerId}\n`;
  if (rawBody.length > ONE_SHOT_MAX_BYTES) {
    return createHash('sha256').update(prefix).update(rawBody).digest('hex');
  }
  const prefixBytes = Buffer.byteLength(prefix, 'utf8');
  const input = Buffer.allocUnsafe(prefixBytes + rawBody.length);
  input.write(prefix, 0, 'utf8');
  input.set(rawBody, prefixBytes);
  return hash('sha256', input, 'hex');
}

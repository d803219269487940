/**
 * How the simulator signs webhook deliveries: HMAC-SHA256 over the exact bytes sent, keyed with the subscription's
 * secret as UTF-8, encoded Base64 (the older Virtuous article and public verifiers) or hex (the newer docs' reading).
 */
import { createHmac } from 'node:crypto';

export type SignatureEncoding = 'base64' | 'hex';

export function signPayload(secret: string, rawBody: Buffer, encoding: SignatureEncoding): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(rawBody).digest(encoding);
}

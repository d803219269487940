/**
 * The message the webhook verifier puts on the inbound queue and the processor takes off it: one verified delivery.
 * Shared contract between the two; change it only by adding optional fields or by a new `version`.
 *
 * The raw body travels Base64-encoded, always. The processor needs the exact bytes that were signed (to parse
 * them and, for de-duplication, to hash them again), and an SQS message body only carries a subset of Unicode:
 * a UTF-8 string would fail or be altered for bodies with invalid UTF-8 or control characters. Base64 of the
 * largest accepted body (MAX_WEBHOOK_BODY_BYTES, 256 KiB by default) is 342 KiB, which needs the queue's maximum
 * message size above the old 256 KiB default (SQS allows up to 1 MiB).
 *
 * The SQS message attributes repeat the routing fields (customer id, provider, delivery id, version) so a consumer,
 * a redrive tool or an operator can route and de-duplicate without decoding the body. They hold identifiers only.
 */

export const INBOUND_MESSAGE_VERSION = 1;

export const WEBHOOK_PROVIDERS = ['virtuous', 'stripe'] as const;
export type WebhookProvider = (typeof WEBHOOK_PROVIDERS)[number];

export interface InboundMessage {
  readonly version: typeof INBOUND_MESSAGE_VERSION;
  /** Lowercase hex SHA-256 over provider, customer id and raw body (see delivery-id.ts): equal for a re-delivery. */
  readonly deliveryId: string;
  readonly customerId: string;
  readonly provider: WebhookProvider;
  /** ISO-8601 UTC time the verifier accepted the delivery. */
  readonly receivedAt: string;
  /** The raw request body exactly as signed, Base64-encoded (standard alphabet, padded). */
  readonly body: string;
  readonly bodyEncoding: 'base64';
}

/** SQS message attribute names: `version` is a Number attribute, the others String. */
export const INBOUND_MESSAGE_ATTRIBUTES = {
  version: 'version',
  deliveryId: 'deliveryId',
  customerId: 'customerId',
  provider: 'provider',
} as const;

export function createInboundMessage(input: {
  deliveryId: string;
  customerId: string;
  provider: WebhookProvider;
  receivedAt: Date;
  rawBody: Buffer;
  /** `rawBody` already in canonical Base64, when the caller has it (saves encoding the body twice). */
  rawBodyBase64?: string;
}): InboundMessage {
  return {
    version: INBOUND_MESSAGE_VERSION,
    deliveryId: input.deliveryId,
    customerId: input.customerId,
    provider: input.provider,
    receivedAt: isoTimestamp(input.receivedAt),
    body: input.rawBodyBase64 ?? input.rawBody.toString('base64'),
    bodyEncoding: 'base64',
  };
}

const twoDigits = (value: number): string => (value < 10 ? `0${value}` : `${value}`);

/**
 * `date.toISOString()`, character for character. V8 formats it in a runtime call that costs about an eighth of the
 * verifier's HMAC; reading the UTC fields and joining them takes half that. Years before 1000 (which toISOString
 * pads) or after 9999 (signed, six digits) and invalid dates (it throws) are left to toISOString itself.
 */
function isoTimestamp(date: Date): string {
  const year = date.getUTCFullYear();
  if (!(year >= 1000 && year <= 9999)) return date.toISOString();
  const millis = date.getUTCMilliseconds();
  return (
    `${year}-${twoDigits(date.getUTCMonth() + 1)}-${twoDigits(date.getUTCDate())}T${twoDigits(date.getUTCHours())}:` +
    `${twoDigits(date.getUTCMinutes())}:${twoDigits(date.getUTCSeconds())}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`
  );
}

/**
 * The SQS message body for a message: the JSON of the message. The Base64 body is appended as is rather than passed
 * through JSON.stringify, which would scan up to 342 KiB for characters to escape that the Base64 alphabet never has.
 */
export function serializeInboundMessage(message: InboundMessage): string {
  const { body, ...envelope } = message;
  return `${JSON.stringify(envelope).slice(0, -1)},"body":"${body}"}`;
}

/** The raw body bytes of a message, exactly as the sender signed them. */
export function inboundMessageRawBody(message: InboundMessage): Buffer {
  return Buffer.from(message.body, 'base64');
}

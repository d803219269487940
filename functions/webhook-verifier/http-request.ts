/**
 * The transport checks that come before any secret is touched, over API Gateway's REST proxy event: method,
 * Content-Type, body size, and decoding the body to the exact bytes the sender signed. Header names are matched
 * case-insensitively; a header sent twice with different values is treated as absent (never guessed).
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { WEBHOOK_PROVIDERS, type WebhookProvider } from '../queue/inbound-message.ts';

export type TransportRejection =
  | { readonly status: 404; readonly error: 'not_found' }
  | { readonly status: 405; readonly error: 'method_not_allowed' }
  | { readonly status: 415; readonly error: 'unsupported_media_type' }
  | { readonly status: 413; readonly error: 'payload_too_large' }
  | { readonly status: 400; readonly error: 'invalid_body_encoding' };

export interface TransportRequest {
  readonly provider: WebhookProvider;
  /** The path's customer id exactly as sent: not yet validated. */
  readonly customerIdParameter: string | undefined;
  readonly rawBody: Buffer;
  /** The same bytes in canonical Base64 (the form the queue message carries). */
  readonly rawBodyBase64: string;
}

const ACCEPTED_MEDIA_TYPE = 'application/json';

export function providerOf(event: Pick<APIGatewayProxyEvent, 'resource' | 'path'>): WebhookProvider | undefined {
  // The route template (`/webhooks/virtuous/{customerId}`) is set by API Gateway, not by the caller.
  const segments = (event.resource || event.path || '').split('/');
  const name = segments[1] === 'webhooks' ? segments[2] : undefined;
  return WEBHOOK_PROVIDERS.find((provider) => provider === name);
}

/**
 * A header's value by case-insensitive name, from `headers` and `multiValueHeaders` together; undefined when it is
 * absent or arrives with conflicting values. Looks up only the names asked for: a request carries a dozen headers
 * and the verifier reads two.
 */
export function headerValue(
  event: Pick<APIGatewayProxyEvent, 'headers' | 'multiValueHeaders'>,
  lowerCaseName: string,
): string | undefined {
  let found: string | undefined;
  let conflict = false;
  const see = (value: string | undefined): void => {
    if (value === undefined) return;
    if (found === undefined) found = value;
    else if (found !== value) conflict = true;
  };
  const headers = event.headers ?? {};
  for (const name in headers) {
    if (name.length === lowerCaseName.length && name.toLowerCase() === lowerCaseName) see(headers[name]);
  }
  const multi = event.multiValueHeaders ?? {};
  for (const name in multi) {
    if (name.length !== lowerCaseName.length || name.toLowerCase() !== lowerCaseName) continue;
    for (const value of multi[name] ?? []) see(value);
  }
  return conflict ? undefined : found;
}

/** `application/json`, with or without parameters such as `; charset=utf-8`. */
export function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const separator = value.indexOf(';');
  const mediaType = (separator < 0 ? value : value.slice(0, separator)).trim().toLowerCase();
  return mediaType === ACCEPTED_MEDIA_TYPE;
}

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** Character code → 6-bit value of the standard Base64 alphabet; -1 for every other character. */
const BASE64_VALUE = new Int8Array(128).fill(-1);
for (let value = 0; value < BASE64_ALPHABET.length; value += 1) BASE64_VALUE[BASE64_ALPHABET.charCodeAt(value)] = value;

/**
 * Whether `body` is the canonical Base64 of `decoded` (standard alphabet, padded, unused bits zero), i.e. exactly
 * `decoded.toString('base64') === body` without encoding 2.7 KB again. Node's decoder skips characters outside the
 * alphabet and stops at a misplaced `=`, and every data character carries 6 bits, so any such character leaves fewer
 * bytes than the length implies; what the decoder accepts beyond the standard alphabet (`-`, `_`) and non-zero
 * unused bits before the padding are checked directly. test/unit/webhook-verifier/http-request.test.ts checks the
 * equivalence on arbitrary and mutated text.
 */
export function isCanonicalBase64(body: string, decoded: Buffer): boolean {
  if (body.length % 4 !== 0) return false;
  const padding = body.endsWith('==') ? 2 : body.endsWith('=') ? 1 : 0;
  if (decoded.length !== (body.length / 4) * 3 - padding) return false;
  if (body.includes('-') || body.includes('_')) return false;
  if (padding === 0) return true;
  const lastValue = BASE64_VALUE[body.charCodeAt(body.length - padding - 1)] ?? -1;
  return lastValue >= 0 && (lastValue & (padding === 1 ? 0b11 : 0b1111)) === 0;
}

function decodedLength(body: string, isBase64: boolean): number {
  if (!isBase64) return Buffer.byteLength(body, 'utf8');
  const padding = body.endsWith('==') ? 2 : body.endsWith('=') ? 1 : 0;
  return Math.floor((body.length * 3) / 4) - padding;
}

/**
 * Applies the transport checks in the order the issue fixes (method, Content-Type, size, decoding). Returns the
 * request with its raw bytes, or the rejection to answer.
 */
export function readTransportRequest(
  event: APIGatewayProxyEvent,
  maxBodyBytes: number,
): { readonly request: TransportRequest } | { readonly rejection: TransportRejection } {
  const provider = providerOf(event);
  if (provider === undefined) return { rejection: { status: 404, error: 'not_found' } };
  if (event.httpMethod !== 'POST') return { rejection: { status: 405, error: 'method_not_allowed' } };
  if (!isJsonContentType(headerValue(event, 'content-type'))) {
    return { rejection: { status: 415, error: 'unsupported_media_type' } };
  }
  const body = event.body ?? '';
  const isBase64 = event.isBase64Encoded === true;
  if (decodedLength(body, isBase64) > maxBodyBytes) return { rejection: { status: 413, error: 'payload_too_large' } };
  const rawBody = Buffer.from(body, isBase64 ? 'base64' : 'utf8');
  // A Base64 body is accepted only in its canonical form (what API Gateway sends always is), which is then the
  // queue message's body as it came: no second encoding of the bytes.
  if (isBase64 && !isCanonicalBase64(body, rawBody)) {
    return { rejection: { status: 400, error: 'invalid_body_encoding' } };
  }
  const rawBodyBase64 = isBase64 ? body : rawBody.toString('base64');
  return {
    request: { provider, customerIdParameter: event.pathParameters?.customerId, rawBody, rawBodyBase64 },
  };
}

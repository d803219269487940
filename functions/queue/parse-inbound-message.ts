/**
 * Validation of inbound queue messages for consumers (the processor, redrive tools). Kept out of inbound-message.ts
 * so the webhook verifier, which only writes messages, does not bundle zod.
 */
import { z } from 'zod';
import { ForbiddenInputError } from '../shared/errors.ts';
import { isCustomerId } from '../shared/identifiers.ts';
import { INBOUND_MESSAGE_VERSION, type InboundMessage, WEBHOOK_PROVIDERS } from './inbound-message.ts';

const DELIVERY_ID = /^[0-9a-f]{64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export const inboundMessageSchema = z.object({
  version: z.literal(INBOUND_MESSAGE_VERSION),
  deliveryId: z.string().regex(DELIVERY_ID),
  customerId: z.string().refine(isCustomerId),
  provider: z.enum(WEBHOOK_PROVIDERS),
  receivedAt: z.iso.datetime(),
  body: z.string().regex(BASE64),
  bodyEncoding: z.literal('base64'),
});

/**
 * Parses an SQS message body. A body that is not a valid version-1 message is ForbiddenInput: retrying cannot fix
 * it, so the consumer sends it to the dead-letter path. The error names the shape problem only, never content.
 */
export function parseInboundMessage(sqsBody: string): InboundMessage {
  let json: unknown;
  try {
    json = JSON.parse(sqsBody);
  } catch {
    throw new ForbiddenInputError('INVALID_INBOUND_MESSAGE', 'inbound message is not JSON');
  }
  const result = inboundMessageSchema.safeParse(json);
  if (!result.success) {
    const fields = [...new Set(result.error.issues.map((issue) => issue.path.join('.') || '(root)'))].join(',');
    throw new ForbiddenInputError('INVALID_INBOUND_MESSAGE', `inbound message has invalid fields: ${fields}`);
  }
  return result.data as InboundMessage;
}

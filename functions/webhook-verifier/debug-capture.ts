/**
 * Copies a delivery into the debug-capture store while its customer's debug flag is on: the accepted ones, and the
 * ones refused for a signature mismatch (the case an investigation needs the exact bytes for). Only a short
 * allowlist of headers travels with the body; the signature header never does (not a secret, but an HMAC over the
 * body is of no use without the secret and has no place next to it). A capture is best effort: its failure is
 * counted and logged by class, never fails the delivery, and nothing about the content is ever logged.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { isDebugCaptureActive } from '../customers/debug-capture-flag.ts';
import type { DebugCaptureWriter } from '../debug-captures/debug-capture-store.ts';
import type { WebhookProvider } from '../queue/inbound-message.ts';
import { errorCode } from '../shared/errors.ts';
import { logger, MetricUnit, metrics } from '../shared/observability.ts';
import { deliveryId } from '../webhooks/delivery-id.ts';
import type { DeliveryOutcome } from './accept-delivery.ts';
import { headerValue } from './http-request.ts';

/** Headers that help explain a delivery (format, size, sender software, trace) and carry no credential. */
export const CAPTURED_HEADERS: readonly string[] = [
  'content-type',
  'content-length',
  'content-encoding',
  'user-agent',
  'x-amzn-trace-id',
];

/** Refusal reasons worth a body: the sender is the customer's, the bytes did not match the secret. */
const CAPTURED_REFUSALS: ReadonlySet<string> = new Set(['signature_mismatch']);

export interface CaptureContext {
  readonly writer: DebugCaptureWriter | undefined;
  readonly event: Pick<APIGatewayProxyEvent, 'headers' | 'multiValueHeaders'>;
  readonly provider: WebhookProvider;
  readonly rawBody: Buffer;
  readonly requestId: string;
  readonly signatureHeader: string;
  readonly now: Date;
  readonly timeoutMs: number;
  /** The verifier's logger with this request's Lambda context; the shared logger (no context) when absent. */
  readonly log?: () => Logger;
}

/** Whether this outcome is one to capture: the customer's flag active, and accepted or refused for a mismatch. */
export function shouldCapture(
  outcome: DeliveryOutcome,
  now: Date,
): outcome is Extract<DeliveryOutcome, { kind: 'accepted' | 'unauthorized' }> & { customerId: string } {
  if (outcome.kind === 'unavailable' || outcome.customerId === undefined) return false;
  if (outcome.kind === 'unauthorized' && !CAPTURED_REFUSALS.has(outcome.reason)) return false;
  return isDebugCaptureActive(outcome.debugCaptureUntil, now);
}

export function capturedHeaders(
  event: Pick<APIGatewayProxyEvent, 'headers' | 'multiValueHeaders'>,
  signatureHeader: string,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of CAPTURED_HEADERS) {
    if (name === signatureHeader.toLowerCase()) continue;
    const value = headerValue(event, name);
    if (value !== undefined) headers[name] = value.slice(0, 512);
  }
  return headers;
}

/** Writes the capture if the outcome calls for one; resolves whether one was written, never rejects. */
export async function captureIfFlagged(outcome: DeliveryOutcome, context: CaptureContext): Promise<boolean> {
  if (context.writer === undefined || !shouldCapture(outcome, context.now)) return false;
  const { customerId } = outcome;
  let timer: NodeJS.Timeout | undefined;
  try {
    const write = context.writer.write({
      customerId,
      deliveryId:
        outcome.kind === 'accepted' ? outcome.deliveryId : deliveryId(context.provider, customerId, context.rawBody),
      provider: context.provider,
      outcome: outcome.kind === 'accepted' ? 'accepted' : 'refused',
      ...(outcome.kind === 'unauthorized' ? { reason: outcome.reason } : {}),
      requestId: context.requestId,
      capturedAt: context.now,
      headers: capturedHeaders(context.event, context.signatureHeader),
      rawBody: context.rawBody,
    });
    const { timeoutMs } = context;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CaptureTimeout()), timeoutMs);
    });
    await Promise.race([write, timeout]);
    metrics.addMetadata('customerId', customerId);
    metrics.addMetric('DebugCapturesWritten', MetricUnit.Count, 1);
    return true;
  } catch (error) {
    metrics.addMetric('DebugCaptureFailures', MetricUnit.Count, 1);
    // Identifiers and the error's class only: an S3 or file-system message could quote a key or a path.
    (context.log?.() ?? logger).warn('debug capture not written', {
      customerId,
      requestId: context.requestId,
      errorName: error instanceof Error ? error.name : typeof error,
      errorCode: errorCode(error),
    });
    return false;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

class CaptureTimeout extends Error {
  constructor() {
    super('the debug capture did not finish in time');
    this.name = 'CaptureTimeout';
  }
}

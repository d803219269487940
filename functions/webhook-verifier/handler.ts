/**
 * The webhook receiver: POST /webhooks/{virtuous|stripe}/{customerId}. Checks, in this order: method, Content-Type,
 * body size, body decoding, signature header present, customer known and accepting webhooks, signature valid; then
 * one message on the inbound queue and 202. Answers carry a generic code and the request id, never anything the
 * caller sent; logs carry identifiers and reason codes, never the body or a header value.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { SecretStore } from '../credentials/secret-store.ts';
import type { CustomerRepository } from '../customers/customer.ts';
import type { InboundQueue } from '../queue/inbound-queue.ts';
import { errorCode } from '../shared/errors.ts';
import { logger, MetricUnit, metrics } from '../shared/observability.ts';
import { SecretCandidates } from '../webhooks/secret-candidates.ts';
import { STRIPE_SIGNATURE_HEADER } from '../webhooks/stripe-signature.ts';
import { acceptDelivery, type DeliveryOutcome } from './accept-delivery.ts';
import { DEFAULT_CONFIG, validHeaderName, type WebhookVerifierConfig } from './config.ts';
import { providerOf, readTransportRequest } from './http-request.ts';
import { publishRecordedMetrics } from './publish-metrics.ts';

export interface WebhookVerifierDeps {
  readonly customers: CustomerRepository;
  readonly secrets: SecretStore;
  readonly queue: InboundQueue;
  readonly clock?: () => Date;
  readonly config?: Partial<WebhookVerifierConfig>;
}

export type WebhookVerifierHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

const RESPONSE_HEADERS = {
  'content-type': 'application/json',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
} as const;

/** Seconds a sender should wait before retrying after a 503. */
const RETRY_AFTER_SECONDS = '5';

function answer(
  statusCode: number,
  body: Record<string, string>,
  extraHeaders: Record<string, string> = {},
): APIGatewayProxyResult {
  return { statusCode, headers: { ...RESPONSE_HEADERS, ...extraHeaders }, body: JSON.stringify(body) };
}

function countOutcome(name: string, provider: string, metadata: Record<string, string> = {}): void {
  metrics.addDimension('provider', provider);
  for (const [key, value] of Object.entries(metadata)) metrics.addMetadata(key, value);
  metrics.addMetric(name, MetricUnit.Count, 1);
}

export function createWebhookVerifierHandler(deps: WebhookVerifierDeps): WebhookVerifierHandler {
  const config: WebhookVerifierConfig = { ...DEFAULT_CONFIG, ...deps.config };
  if (!validHeaderName(config.virtuousSignatureHeader)) {
    throw new TypeError('virtuousSignatureHeader must be a plain HTTP header name');
  }
  const clock = deps.clock ?? (() => new Date());
  const candidates = new SecretCandidates(deps.secrets, { clock, ttlMs: config.secretCacheTtlMs });
  const signatureHeaderFor = {
    virtuous: config.virtuousSignatureHeader.toLowerCase(),
    stripe: STRIPE_SIGNATURE_HEADER.toLowerCase(),
  } as const;

  const handle = async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
    const requestId = event.requestContext?.requestId || context.awsRequestId;
    const transport = readTransportRequest(event, config.maxBodyBytes);
    if ('rejection' in transport) {
      const { status, error } = transport.rejection;
      const provider = status === 404 ? 'none' : (providerOf(event) ?? 'none');
      countOutcome('DeliveriesRejected', provider, { reason: error });
      logger.info('webhook rejected', { requestId, provider, status, reason: error });
      return answer(status, { error, requestId }, status === 405 ? { allow: 'POST' } : {});
    }
    const { provider, customerIdParameter, rawBody, headers } = transport.request;
    const outcome: DeliveryOutcome = await acceptDelivery(
      { provider, customerIdParameter, rawBody, signatureHeader: headers.get(signatureHeaderFor[provider]), requestId },
      {
        customers: deps.customers,
        candidates,
        queue: deps.queue,
        clock,
        stripeToleranceSeconds: config.stripeToleranceSeconds,
      },
    );
    switch (outcome.kind) {
      case 'accepted':
        // Debug, not info: a log line costs about as much as the signature check, and accepted deliveries are
        // traced by their message on the queue (delivery id) and by API Gateway's access log (request id).
        // POWERTOOLS_LOGGER_SAMPLE_RATE turns these lines on for a share of requests when needed.
        logger.debug('webhook accepted', {
          requestId,
          provider,
          customerId: outcome.customerId,
          deliveryId: outcome.deliveryId,
          bodyBytes: rawBody.length,
        });
        return answer(202, { status: 'accepted', requestId });
      case 'unauthorized': {
        const metadata: Record<string, string> = { reason: outcome.reason };
        if (outcome.customerId !== undefined) metadata.customerId = outcome.customerId;
        countOutcome('SignatureFailures', provider, metadata);
        logger.warn('webhook refused', { requestId, provider, ...metadata });
        return answer(401, { error: 'unauthorized', requestId });
      }
      case 'unavailable':
        countOutcome('DependencyFailures', provider, { stage: outcome.stage });
        logger.error('webhook not accepted: dependency unavailable', {
          requestId,
          provider,
          stage: outcome.stage,
          errorCode: errorCode(outcome.cause),
          errorName: outcome.cause instanceof Error ? outcome.cause.name : typeof outcome.cause,
        });
        return answer(503, { error: 'temporarily_unavailable', requestId }, { 'retry-after': RETRY_AFTER_SECONDS });
    }
  };

  const guarded = async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
    try {
      return await handle(event, context);
    } catch (error) {
      // Never the error's message: it could quote input. Its class is enough to find the fault.
      logger.error('webhook verifier failed', { errorName: error instanceof Error ? error.name : typeof error });
      return answer(500, {
        error: 'internal_error',
        requestId: event?.requestContext?.requestId || context.awsRequestId,
      });
    }
  };

  return middy(guarded)
    .use(injectLambdaContext(logger, { logEvent: false, resetKeys: true }))
    .use(publishRecordedMetrics(metrics));
}

let awsHandler: WebhookVerifierHandler | undefined;

/** AWS entry: builds the AWS dependencies from the environment on first call and reuses them while warm. */
export const handler: WebhookVerifierHandler = async (event, context) => {
  if (awsHandler === undefined) {
    try {
      // Imported here so tests and the one-machine runtime, which inject their own dependencies, never load it.
      const { createAwsDependencies } = await import('./aws-dependencies.ts');
      awsHandler = createWebhookVerifierHandler(createAwsDependencies());
    } catch (error) {
      // A deployment fault (missing setting): answer like any other internal failure; the next call tries again.
      logger.error('webhook verifier is misconfigured', { errorCode: errorCode(error) });
      return answer(500, {
        error: 'internal_error',
        requestId: event.requestContext?.requestId || context.awsRequestId,
      });
    }
  }
  return awsHandler(event, context);
};

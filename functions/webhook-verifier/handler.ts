/**
 * The webhook receiver: POST /webhooks/{virtuous|stripe}/{customerId}. Checks, in this order: method, Content-Type,
 * body size, body decoding, signature header present, customer known and accepting webhooks, signature valid; then
 * one message on the inbound queue and 202. Answers carry a generic code and the request id, never anything the
 * caller sent; logs carry identifiers and reason codes, never the body or a header value.
 */
import { type Logger, LogLevelThreshold } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { SecretStore } from '../credentials/secret-store.ts';
import type { CustomerRepository } from '../customers/customer.ts';
import type { DebugCaptureWriter } from '../debug-captures/debug-capture-store.ts';
import type { InboundQueue } from '../queue/inbound-queue.ts';
import { errorCode, ForbiddenInputError } from '../shared/errors.ts';
import { logger, MetricUnit, metrics } from '../shared/observability.ts';
import { SecretCandidates } from '../webhooks/secret-candidates.ts';
import { STRIPE_SIGNATURE_HEADER } from '../webhooks/stripe-signature.ts';
import { type AcceptDeps, acceptDelivery, type DeliveryOutcome } from './accept-delivery.ts';
import { DEFAULT_CONFIG, validHeaderName, type WebhookVerifierConfig } from './config.ts';
import { captureIfFlagged } from './debug-capture.ts';
import { headerValue, providerOf, readTransportRequest } from './http-request.ts';
import { recordedMetricsPublisher } from './publish-metrics.ts';

export interface WebhookVerifierDeps {
  readonly customers: CustomerRepository;
  readonly secrets: SecretStore;
  readonly queue: InboundQueue;
  readonly clock?: () => Date;
  readonly config?: Partial<WebhookVerifierConfig>;
  /** Where deliveries of a customer with an active debug-capture flag are copied; absent: capture is off here. */
  readonly debugCaptures?: DebugCaptureWriter;
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

export function createWebhookVerifierHandler(deps: WebhookVerifierDeps): WebhookVerifierHandler {
  const published = recordedMetricsPublisher(metrics);
  const countOutcome = (name: string, provider: string, metadata: Record<string, string> = {}): void => {
    published.recorded();
    metrics.addDimension('provider', provider);
    for (const [key, value] of Object.entries(metadata)) metrics.addMetadata(key, value);
    metrics.addMetric(name, MetricUnit.Count, 1);
  };
  const config: WebhookVerifierConfig = { ...DEFAULT_CONFIG, ...deps.config };
  if (!validHeaderName(config.virtuousSignatureHeader)) {
    throw new ForbiddenInputError('INVALID_SETTING', 'the Virtuous signature header must be a plain HTTP header name');
  }
  const clock = deps.clock ?? (() => new Date());
  const candidates = new SecretCandidates(deps.secrets, { clock, ttlMs: config.secretCacheTtlMs });
  // The verifier's own logger: the Lambda context it attaches must not ride on the lines of the shared logger, which
  // every other handler in the process writes with (all of them, in the one-machine runtime). It copies the shared
  // logger's level and keys now, like the line below.
  const verifierLogger = logger.createChild();
  // The log level is fixed per container (POWERTOOLS_LOG_LEVEL at cold start): read it once, not per request.
  const debugAccepted = verifierLogger.level <= LogLevelThreshold.DEBUG;
  const signatureHeaderFor = {
    virtuous: config.virtuousSignatureHeader.toLowerCase(),
    stripe: STRIPE_SIGNATURE_HEADER.toLowerCase(),
  } as const;

  const acceptDeps: AcceptDeps = {
    customers: deps.customers,
    candidates,
    queue: deps.queue,
    clock,
    stripeToleranceSeconds: config.stripeToleranceSeconds,
  };

  const handle = async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
    const requestId = event.requestContext?.requestId || context.awsRequestId;
    const log = withLambdaContext(verifierLogger, context);
    const transport = readTransportRequest(event, config.maxBodyBytes);
    if ('rejection' in transport) {
      const { status, error } = transport.rejection;
      const provider = status === 404 ? 'none' : (providerOf(event) ?? 'none');
      countOutcome('DeliveriesRejected', provider, { reason: error });
      log().info('webhook rejected', { requestId, provider, status, reason: error });
      return answer(status, { error, requestId }, status === 405 ? { allow: 'POST' } : {});
    }
    const { provider, customerIdParameter, rawBody, rawBodyBase64 } = transport.request;
    const signatureHeader = headerValue(event, signatureHeaderFor[provider]);
    const outcome: DeliveryOutcome = await acceptDelivery(
      { provider, customerIdParameter, rawBody, rawBodyBase64, signatureHeader, requestId },
      acceptDeps,
    );
    // Only a customer with a flag set pays for the check; the write never changes the answer.
    if (outcome.kind !== 'unavailable' && outcome.debugCaptureUntil !== undefined) {
      // The capture counts its own metrics (written or failed).
      published.recorded();
      await captureIfFlagged(outcome, {
        writer: deps.debugCaptures,
        event,
        provider,
        rawBody,
        requestId,
        signatureHeader: signatureHeaderFor[provider],
        now: clock(),
        timeoutMs: config.debugCaptureTimeoutMs,
        log,
      });
    }
    switch (outcome.kind) {
      case 'accepted':
        // Debug, not info: a log line costs about as much as the signature check, and accepted deliveries are
        // traced by their message on the queue (delivery id) and by API Gateway's access log (request id).
        // POWERTOOLS_LOG_LEVEL=DEBUG turns them on (POWERTOOLS_LOGGER_SAMPLE_RATE: for a share of containers).
        if (debugAccepted)
          log().debug('webhook accepted', {
            requestId,
            provider,
            customerId: outcome.customerId,
            deliveryId: outcome.deliveryId,
            bodyBytes: rawBody.length,
          });
        return {
          statusCode: 202,
          // A literal, not a spread of RESPONSE_HEADERS: the same three headers, built without copying an object.
          headers: {
            'content-type': RESPONSE_HEADERS['content-type'],
            'cache-control': RESPONSE_HEADERS['cache-control'],
            'x-content-type-options': RESPONSE_HEADERS['x-content-type-options'],
          },
          body: `{"status":"accepted","requestId":${JSON.stringify(requestId)}}`,
        };
      case 'unauthorized': {
        const metadata: Record<string, string> = { reason: outcome.reason };
        if (outcome.customerId !== undefined) metadata.customerId = outcome.customerId;
        countOutcome('SignatureFailures', provider, metadata);
        log().warn('webhook refused', { requestId, provider, ...metadata });
        return answer(401, { error: 'unauthorized', requestId });
      }
      case 'unavailable':
        countOutcome('DependencyFailures', provider, { stage: outcome.stage });
        log().error('webhook not accepted: dependency unavailable', {
          requestId,
          provider,
          stage: outcome.stage,
          errorCode: errorCode(outcome.cause),
          errorName: outcome.cause instanceof Error ? outcome.cause.name : typeof outcome.cause,
        });
        return answer(503, { error: 'temporarily_unavailable', requestId }, { 'retry-after': RETRY_AFTER_SECONDS });
    }
  };

  // The whole wrapper: cold-start metric, the request, the metrics it recorded. No middleware engine: the only
  // middleware this handler had was this, and Middy's request set-up (a request object, an AbortController, an
  // extra async step) cost about a tenth of the handler's per-request time. No early-timeout timer either: every
  // dependency call has its own timeout well inside the function's.
  return async (event, context) => {
    published.atStart(context.functionName);
    try {
      return await handle(event, context);
    } catch (error) {
      // Never the error's message: it could quote input. Its class is enough to find the fault.
      withLambdaContext(verifierLogger, context)().error('webhook verifier failed', {
        errorName: error instanceof Error ? error.name : typeof error,
      });
      return answer(500, {
        error: 'internal_error',
        requestId: event?.requestContext?.requestId || context.awsRequestId,
      });
    } finally {
      published.atEnd();
    }
  };
}

/**
 * The verifier's logger with this invocation's Lambda context (request id, function, cold start), attached only when
 * a line is about to be written. Powertools' injectLambdaContext middleware does this on every request, which costs
 * about a quarter of the verifier's own per-request work; an accepted delivery writes no line at the default level.
 * Every line of the verifier's own goes through here, so none carries the context of an earlier request.
 */
function withLambdaContext(target: Logger, context: Context): () => Logger {
  let attached = false;
  return () => {
    if (!attached) {
      target.addContext(context);
      attached = true;
    }
    return target;
  };
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

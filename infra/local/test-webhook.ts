/**
 * A signed test delivery for one customer, local runtime only (`npm run cli -- send-test-webhook`): the runtime
 * signs the body with the customer's stored secret, exactly as the sender would (Virtuous: HMAC-SHA256 over the raw
 * bytes, Base64, in `X-Virtuous-Signature`; Stripe: `t=…,v1=…` in `Stripe-Signature`), and posts it to its own
 * webhook endpoint. The secret never leaves the runtime: the answer is the endpoint's status and request id. An
 * accepted delivery is answered once the queue is drained (bounded), so what the operator looks at next (`sim gifts`,
 * `status`, `dead-letters list`) already reflects it.
 */
import { createHmac } from 'node:crypto';
import type { SecretStore } from '../../functions/credentials/secret-store.ts';
import { ForbiddenInputError, PermanentError } from '../../functions/shared/errors.ts';
import { DEFAULT_VIRTUOUS_SIGNATURE_HEADER } from '../../functions/webhooks/virtuous-signature.ts';
import { stripeSignature } from './stripe-events.ts';

export type TestWebhookProvider = 'virtuous' | 'stripe';

/**
 * The body sent when none is given: a Virtuous `GiftCreate` for a gift the integration did not make, which the
 * processor acknowledges and counts without writing anything.
 */
export const DEFAULT_TEST_EVENT =
  '{"event":"GiftCreate","gift":{"id":1,"transactionSource":null,"transactionId":null}}';

/** How long an accepted test delivery waits for the queue to drain before it is answered. */
export const PROCESSING_WAIT_MS = 10_000;

/** A test event is small; a larger file is refused before anything is signed. */
export const MAX_TEST_BODY_BYTES = 256 * 1024;

export interface TestWebhookResult {
  readonly provider: TestWebhookProvider;
  /** HTTP status the webhook endpoint answered (202 accepted, 401 refused, ...). */
  readonly status: number;
  readonly requestId?: string;
  /** Accepted and the inbound queue drained within PROCESSING_WAIT_MS (false: still queued then). */
  readonly processed?: boolean;
}

export interface TestWebhookDeps {
  readonly secrets: SecretStore;
  /** The runtime's own webhook endpoint, e.g. `http://127.0.0.1:4510`. */
  readonly webhooksUrl: () => string;
  readonly waitForQueueIdle?: (timeoutMs: number) => Promise<boolean>;
  readonly now?: () => number;
}

export function parseProvider(value: string | undefined): TestWebhookProvider {
  if (value === undefined || value === 'virtuous') return 'virtuous';
  if (value === 'stripe') return 'stripe';
  throw new ForbiddenInputError('INVALID_PROVIDER', 'provider must be virtuous or stripe');
}

export async function sendTestWebhook(
  deps: TestWebhookDeps,
  input: { readonly customerId: string; readonly provider: TestWebhookProvider; readonly body?: string },
): Promise<TestWebhookResult> {
  if (input.provider === 'stripe' && input.body === undefined) {
    throw new ForbiddenInputError('BODY_REQUIRED', 'a Stripe test delivery needs a body (--file event.json)');
  }
  const body = input.body ?? DEFAULT_TEST_EVENT;
  if (Buffer.byteLength(body) > MAX_TEST_BODY_BYTES) {
    throw new ForbiddenInputError('BODY_TOO_LARGE', `the body must be at most ${MAX_TEST_BODY_BYTES} bytes`);
  }
  const ref =
    input.provider === 'virtuous'
      ? ({ customerId: input.customerId, kind: 'webhook_secret' } as const)
      : ({ customerId: input.customerId, kind: 'source_webhook_secret', source: 'stripe' } as const);
  const secret = await deps.secrets.read(ref, 'current', { reason: 'local:send-test-webhook' });
  if (secret === undefined) {
    throw new PermanentError(
      'NO_WEBHOOK_SECRET',
      input.provider === 'virtuous'
        ? `customer ${input.customerId} has no webhook secret (is it onboarded?)`
        : `customer ${input.customerId} has no Stripe endpoint secret configured`,
    );
  }
  const nowSeconds = Math.floor((deps.now?.() ?? Date.now()) / 1000);
  const signature =
    input.provider === 'virtuous'
      ? {
          [DEFAULT_VIRTUOUS_SIGNATURE_HEADER]: createHmac('sha256', Buffer.from(secret.value, 'utf8'))
            .update(body)
            .digest('base64'),
        }
      : { 'Stripe-Signature': stripeSignature(secret.value, body, nowSeconds) };
  const response = await fetch(
    `${deps.webhooksUrl()}/webhooks/${input.provider}/${encodeURIComponent(input.customerId)}`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signature },
      body,
      signal: AbortSignal.timeout(30_000),
    },
  );
  const answer = (await response.json().catch(() => ({}))) as { requestId?: unknown };
  const processed =
    response.status === 202 && deps.waitForQueueIdle !== undefined
      ? await deps.waitForQueueIdle(PROCESSING_WAIT_MS)
      : undefined;
  return {
    provider: input.provider,
    status: response.status,
    ...(typeof answer.requestId === 'string' ? { requestId: answer.requestId } : {}),
    ...(processed === undefined ? {} : { processed }),
  };
}

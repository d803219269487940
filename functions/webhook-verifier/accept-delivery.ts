/**
 * After the transport checks: is the customer one whose webhooks we take, is the signature valid, and then one
 * message on the queue. Unknown, offboarded and malformed customers are refused exactly like a bad signature (same
 * outcome, and a signature check still runs) so the endpoint cannot be used to enumerate customers.
 */
import { randomBytes } from 'node:crypto';
import { ACCEPTS_WEBHOOKS, type CustomerRecord, type CustomerRepository } from '../customers/customer.ts';
import { createInboundMessage, type WebhookProvider } from '../queue/inbound-message.ts';
import type { InboundQueue } from '../queue/inbound-queue.ts';
import { isCustomerId } from '../shared/identifiers.ts';
import { deliveryId as computeDeliveryId } from '../webhooks/delivery-id.ts';
import type { SecretCandidates } from '../webhooks/secret-candidates.ts';
import type { SecretCandidate } from '../webhooks/secret-set.ts';
import { hmacKey } from '../webhooks/signature-match.ts';
import type { VerificationFailure, VerificationResult } from '../webhooks/verification-result.ts';
import { verifyDelivery } from '../webhooks/verify-delivery.ts';

export type UnauthorizedReason = VerificationFailure | 'invalid_customer_id' | 'unknown_customer' | 'customer_inactive';

export type DeliveryOutcome =
  | {
      readonly kind: 'accepted';
      readonly deliveryId: string;
      readonly customerId: string;
      /** The customer's debug-capture flag as read for this delivery (the handler decides if it is active). */
      readonly debugCaptureUntil?: string;
    }
  | {
      readonly kind: 'unauthorized';
      readonly reason: UnauthorizedReason;
      readonly customerId?: string;
      /** Set only when the customer is known and accepting webhooks (a refused signature, not an unknown id). */
      readonly debugCaptureUntil?: string;
    }
  /** A dependency failed (customer table, secret store, queue): the sender must retry. */
  | {
      readonly kind: 'unavailable';
      readonly stage: 'customer_lookup' | 'secret_read' | 'enqueue';
      readonly cause: unknown;
    };

export interface DeliveryToAccept {
  readonly provider: WebhookProvider;
  readonly customerIdParameter: string | undefined;
  readonly signatureHeader: string | undefined;
  readonly rawBody: Buffer;
  /** The raw body in canonical Base64, when already computed. */
  readonly rawBodyBase64?: string;
  readonly requestId?: string;
}

export interface AcceptDeps {
  readonly customers: CustomerRepository;
  readonly candidates: SecretCandidates;
  readonly queue: InboundQueue;
  readonly clock: () => Date;
  readonly stripeToleranceSeconds: number;
}

/** Stands in for a real secret when the customer is refused early, so the refusal costs the same HMAC work. */
const DECOY_CANDIDATES: readonly SecretCandidate[] = [{ key: hmacKey(randomBytes(32)), stage: 'current' }];

export async function acceptDelivery(delivery: DeliveryToAccept, deps: AcceptDeps): Promise<DeliveryOutcome> {
  const { provider, rawBody, signatureHeader } = delivery;
  if (signatureHeader === undefined || signatureHeader === '') {
    return { kind: 'unauthorized', reason: 'missing_signature' };
  }
  const customerId = delivery.customerIdParameter;
  if (!isCustomerId(customerId)) return refuseCustomer(delivery, signatureHeader, deps, 'invalid_customer_id');

  let customer: CustomerRecord | undefined;
  try {
    customer = await deps.customers.get(customerId);
  } catch (cause) {
    return { kind: 'unavailable', stage: 'customer_lookup', cause };
  }
  if (customer === undefined) return refuseCustomer(delivery, signatureHeader, deps, 'unknown_customer', customerId);
  if (!ACCEPTS_WEBHOOKS.has(customer.status)) {
    return refuseCustomer(delivery, signatureHeader, deps, 'customer_inactive', customerId);
  }

  let result: VerificationResult;
  try {
    const candidates =
      deps.candidates.fromCache(provider, customer) ??
      (await deps.candidates.forDelivery(provider, customer, delivery.requestId));
    result = verifyWith(delivery, signatureHeader, deps, candidates);
    if (!result.valid && (result.reason === 'signature_mismatch' || result.reason === 'no_accepted_secret')) {
      const refreshed = await deps.candidates.refreshedAfterMismatch(provider, customer, delivery.requestId);
      if (refreshed !== undefined) result = verifyWith(delivery, signatureHeader, deps, refreshed);
    }
  } catch (cause) {
    return { kind: 'unavailable', stage: 'secret_read', cause };
  }
  const capture = customer.debugCaptureUntil === undefined ? {} : { debugCaptureUntil: customer.debugCaptureUntil };
  if (!result.valid) return { kind: 'unauthorized', reason: result.reason, customerId, ...capture };

  const id = computeDeliveryId(provider, customerId, rawBody);
  try {
    await deps.queue.send(
      createInboundMessage({
        deliveryId: id,
        customerId,
        provider,
        receivedAt: deps.clock(),
        rawBody,
        ...(delivery.rawBodyBase64 === undefined ? {} : { rawBodyBase64: delivery.rawBodyBase64 }),
      }),
    );
  } catch (cause) {
    return { kind: 'unavailable', stage: 'enqueue', cause };
  }
  return { kind: 'accepted', deliveryId: id, customerId, ...capture };
}

function verifyWith(
  delivery: DeliveryToAccept,
  signatureHeader: string,
  deps: AcceptDeps,
  candidates: readonly SecretCandidate[],
): VerificationResult {
  return verifyDelivery({
    provider: delivery.provider,
    rawBody: delivery.rawBody,
    signatureHeader,
    candidates,
    now: deps.clock(),
    stripeToleranceSeconds: deps.stripeToleranceSeconds,
  });
}

/** Refuses like a bad signature, after the same HMAC work against a decoy secret (no timing tell). */
function refuseCustomer(
  delivery: DeliveryToAccept,
  signatureHeader: string,
  deps: AcceptDeps,
  reason: UnauthorizedReason,
  customerId?: string,
): DeliveryOutcome {
  verifyWith(delivery, signatureHeader, deps, DECOY_CANDIDATES);
  return customerId === undefined ? { kind: 'unauthorized', reason } : { kind: 'unauthorized', reason, customerId };
}

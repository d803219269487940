/**
 * Verifies one webhook delivery of either provider over its raw bytes. Pure: no I/O, no Lambda or AWS types; the
 * caller supplies the accepted secrets and the clock.
 */
import type { WebhookProvider } from '../queue/inbound-message.ts';
import { acceptedKeys, type SecretCandidate } from './secret-set.ts';
import { DEFAULT_STRIPE_TOLERANCE_SECONDS, verifyStripeSignature } from './stripe-signature.ts';
import type { VerificationResult } from './verification-result.ts';
import { verifyVirtuousSignature } from './virtuous-signature.ts';

export interface DeliveryToVerify {
  readonly provider: WebhookProvider;
  readonly rawBody: Buffer;
  readonly signatureHeader: string;
  readonly candidates: readonly SecretCandidate[];
  readonly now: Date;
  readonly stripeToleranceSeconds?: number;
}

export function verifyDelivery(delivery: DeliveryToVerify): VerificationResult {
  const keys = acceptedKeys(delivery.candidates, delivery.now);
  if (delivery.provider === 'stripe') {
    return verifyStripeSignature(
      delivery.rawBody,
      delivery.signatureHeader,
      keys,
      delivery.now,
      delivery.stripeToleranceSeconds ?? DEFAULT_STRIPE_TOLERANCE_SECONDS,
    );
  }
  return verifyVirtuousSignature(delivery.rawBody, delivery.signatureHeader, keys);
}

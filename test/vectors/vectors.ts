/** Loads the OpenSSL-computed known-answer vectors (see generate.sh) and registers their secrets as canaries. */
import { readFileSync } from 'node:fs';
import { registerSecret } from '../support/canaries.ts';

export interface VirtuousVector {
  readonly secret: string;
  readonly bodyFile: string;
  readonly hex: string;
  readonly base64: string;
}

export interface StripeVector {
  readonly secret: string;
  readonly timestamp: number;
  readonly bodyFile: string;
  readonly v1: string;
}

const vectors = JSON.parse(readFileSync(new URL('./webhook-signatures.json', import.meta.url), 'utf8')) as {
  virtuous: VirtuousVector[];
  stripe: StripeVector[];
};

for (const vector of [...vectors.virtuous, ...vectors.stripe]) registerSecret(vector.secret);

export const VIRTUOUS_VECTORS: readonly VirtuousVector[] = vectors.virtuous;
export const STRIPE_VECTORS: readonly StripeVector[] = vectors.stripe;

export function vectorBody(bodyFile: string): Buffer {
  return readFileSync(new URL(`./${bodyFile}`, import.meta.url));
}

export interface DeliveryIdVector {
  readonly provider: 'virtuous' | 'stripe';
  readonly customerId: string;
  readonly bodyFile: string;
  readonly sha256: string;
}

export const DELIVERY_ID_VECTORS: readonly DeliveryIdVector[] = (
  JSON.parse(readFileSync(new URL('./webhook-signatures.json', import.meta.url), 'utf8')) as {
    deliveryIds: DeliveryIdVector[];
  }
).deliveryIds;

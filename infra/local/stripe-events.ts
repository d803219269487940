/**
 * Stripe webhook deliveries as Stripe sends them, for the demo and the end-to-end tests: the event JSON and its
 * `Stripe-Signature` header (`t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">`) under the customer's endpoint secret.
 */
import { createHmac } from 'node:crypto';

export interface Donor {
  readonly firstName: string;
  readonly lastName: string;
  readonly email: string;
  readonly phone: string;
  readonly address1: string;
  readonly city: string;
  readonly postal: string;
}

export function stripeSignature(secret: string, payload: string, timestamp: number): string {
  const digest = createHmac('sha256', secret).update(`${timestamp}.${payload}`).digest('hex');
  return `t=${timestamp},v1=${digest}`;
}

/** Stripe's address object for a donor; the demo's donors all live in California. */
function stripeAddress(donor: Donor) {
  return { line1: donor.address1, city: donor.city, state: 'CA', postal_code: donor.postal, country: 'US' };
}

export function customerCreatedEvent(input: { eventId: string; customerId: string; donor: Donor; created: number }) {
  return {
    id: input.eventId,
    object: 'event',
    type: 'customer.created',
    created: input.created,
    data: {
      object: {
        id: input.customerId,
        object: 'customer',
        name: `${input.donor.firstName} ${input.donor.lastName}`,
        email: input.donor.email,
        phone: input.donor.phone,
        address: stripeAddress(input.donor),
      },
    },
  };
}

export function paymentSucceededEvent(input: {
  eventId: string;
  paymentIntentId: string;
  customerId: string;
  donor: Donor;
  amountCents: number;
  created: number;
}) {
  return {
    id: input.eventId,
    object: 'event',
    type: 'payment_intent.succeeded',
    created: input.created,
    data: {
      object: {
        id: input.paymentIntentId,
        object: 'payment_intent',
        amount: input.amountCents,
        amount_received: input.amountCents,
        currency: 'usd',
        created: input.created,
        customer: input.customerId,
        receipt_email: input.donor.email,
        shipping: {
          name: `${input.donor.firstName} ${input.donor.lastName}`,
          phone: input.donor.phone,
          address: stripeAddress(input.donor),
        },
      },
    },
  };
}

/** POSTs a signed Stripe event to the webhook endpoint; resolves with the HTTP status and the answer text. */
export async function sendStripeEvent(input: {
  webhooksUrl: string;
  customerId: string;
  secret: string;
  event: unknown;
  now?: () => number;
}): Promise<{ status: number; body: string }> {
  const payload = JSON.stringify(input.event);
  const timestamp = Math.floor((input.now ?? Date.now)() / 1000);
  const response = await fetch(`${input.webhooksUrl}/webhooks/stripe/${input.customerId}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'stripe-signature': stripeSignature(input.secret, payload, timestamp),
    },
    body: payload,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: await response.text() };
}

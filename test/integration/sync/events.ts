/** Source events for the sync tests, carrying the DONOR canaries as their personal data. */
import { DONOR } from '../../support/canaries.ts';

export const T0 = 1_767_225_600;

export function paymentSucceeded(
  id: string,
  amountCents: number,
  options: { currency?: string; customer?: string } = {},
) {
  return {
    id: `evt_${id}`,
    type: 'payment_intent.succeeded',
    created: T0,
    data: {
      object: {
        id,
        amount: amountCents,
        amount_received: amountCents,
        currency: options.currency ?? 'usd',
        created: T0,
        customer: options.customer ?? 'cus_1',
        receipt_email: DONOR.email,
        shipping: {
          name: `${DONOR.firstName} ${DONOR.lastName}`,
          phone: DONOR.phone,
          address: { line1: DONOR.address1, city: DONOR.city, postal_code: DONOR.postal, country: 'US' },
        },
      },
    },
  };
}

export function customerEvent(id: string, type: 'customer.created' | 'customer.updated', created: number) {
  return {
    id: `evt_${id}_${created}`,
    type,
    created,
    data: { object: { id, name: `${DONOR.firstName} ${DONOR.lastName}`, email: DONOR.email, phone: DONOR.phone } },
  };
}

export function chargeRefunded(chargeId: string, paymentIntentId: string, amountCents: number) {
  return {
    id: `evt_${chargeId}`,
    type: 'charge.refunded',
    created: T0 + 86_400,
    data: {
      object: {
        id: chargeId,
        payment_intent: paymentIntentId,
        amount_refunded: amountCents,
        refunded: true,
        currency: 'usd',
      },
    },
  };
}

export function giftCreated(giftId: number, transactionId: string, source = 'Stripe') {
  return { event: 'GiftCreate', gift: { id: giftId, transactionSource: source, transactionId, amount: '25.00' } };
}

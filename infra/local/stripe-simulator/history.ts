/**
 * The payments a connected account of the Stripe stand-in holds: a deterministic set derived from the account's
 * number (the same account number always has the same customers, PaymentIntents, amounts and times), shaped like
 * Stripe's objects as far as the history load and the processor read them. Donors are synthetic
 * (`…@donors.stripe-simulator.example`); one PaymentIntent is a returning donor's guest checkout (no Stripe customer)
 * and one never succeeded, so a load shows both the guest path and the filter on `status`.
 */
import { seededRandom } from '../virtuous-simulator/prng.ts';

export interface StripeCustomerObject {
  readonly id: string;
  readonly object: 'customer';
  readonly created: number;
  readonly name: string;
  readonly email: string;
  readonly phone: string;
  readonly address: {
    readonly line1: string;
    readonly city: string;
    readonly state: string;
    readonly postal_code: string;
    readonly country: string;
  };
}

export interface StripePaymentIntentObject {
  readonly id: string;
  readonly object: 'payment_intent';
  readonly created: number;
  readonly amount: number;
  readonly amount_received: number;
  readonly currency: 'usd';
  readonly status: 'succeeded' | 'requires_payment_method';
  readonly customer: string | null;
  readonly receipt_email: string;
  readonly shipping: {
    readonly name: string;
    readonly phone: string;
    readonly address: StripeCustomerObject['address'];
  };
}

export interface AccountHistory {
  readonly customers: readonly StripeCustomerObject[];
  readonly paymentIntents: readonly StripePaymentIntentObject[];
}

export interface HistorySize {
  /** Customers with their own PaymentIntent each (default 3). */
  readonly customers: number;
}

const NAMES = [
  ['Avery', 'Fields'],
  ['Jordan', 'Reyes'],
  ['Casey', 'Morgan'],
  ['Riley', 'Brooks'],
  ['Quinn', 'Hayes'],
  ['Morgan', 'Ellis'],
] as const;

/** 2026-01-01T00:00:00Z: the seeded history lies in January 2026, an hour apart per object. */
const FIRST_CREATED = 1_767_225_600;

export function seededHistory(accountNumber: number, size: HistorySize): AccountHistory {
  const random = seededRandom(accountNumber);
  const amount = () => (5 + Math.floor(random() * 196)) * 100; // $5-$200 in whole dollars
  let clock = FIRST_CREATED + accountNumber * 86_400;
  const next = () => {
    clock += 3_600;
    return clock;
  };
  const customers: StripeCustomerObject[] = [];
  const paymentIntents: StripePaymentIntentObject[] = [];
  const paymentIntent = (
    id: string,
    cents: number,
    status: StripePaymentIntentObject['status'],
    payer: Pick<StripePaymentIntentObject, 'customer' | 'receipt_email' | 'shipping'>,
  ): StripePaymentIntentObject => ({
    id,
    object: 'payment_intent',
    created: next(),
    amount: cents,
    amount_received: status === 'succeeded' ? cents : 0,
    currency: 'usd',
    status,
    ...payer,
  });
  for (let index = 0; index < size.customers; index++) {
    const [first, last] = NAMES[index % NAMES.length] as (typeof NAMES)[number];
    const email = `${first}.${last}.${accountNumber}-${index}@donors.stripe-simulator.example`.toLowerCase();
    const address = {
      line1: `${100 + index} Sample Street`,
      city: 'Springfield',
      state: 'CA',
      postal_code: '90000',
      country: 'US',
    };
    const phone = `+1 555 01${String(index % 100).padStart(2, '0')}`;
    const customer: StripeCustomerObject = {
      id: `cus_sim${accountNumber}_${index}`,
      object: 'customer',
      created: next(),
      name: `${first} ${last}`,
      email,
      phone,
      address,
    };
    customers.push(customer);
    paymentIntents.push(
      paymentIntent(`pi_sim${accountNumber}_${index}`, amount(), 'succeeded', {
        customer: customer.id,
        receipt_email: email,
        shipping: { name: customer.name, phone, address },
      }),
    );
  }
  const guest = paymentIntents[0]?.shipping;
  const guestEmail = customers[0]?.email;
  if (guest !== undefined && guestEmail !== undefined) {
    const asGuest = { customer: null, receipt_email: guestEmail, shipping: guest };
    const cents = amount();
    paymentIntents.push(
      // A returning donor checking out as a guest: Virtuous matches the gift to the contact by email.
      paymentIntent(`pi_sim${accountNumber}_guest`, cents, 'succeeded', asGuest),
      // A payment that never succeeded: the history load must not turn it into a gift.
      paymentIntent(`pi_sim${accountNumber}_declined`, cents, 'requires_payment_method', asGuest),
    );
  }
  return { customers, paymentIntents };
}

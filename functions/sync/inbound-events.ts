/**
 * Turns one verified delivery body into what the sync engine must do. Stripe and Virtuous events are parsed with zod;
 * unknown event types become `unknown` (acknowledged and counted); a body that is not JSON, or a known event whose
 * shape is wrong, is a PermanentError (the delivery was signed, so retrying cannot fix it: dead letter). Error
 * messages name the event type and the failing field paths, never values.
 */
import { z } from 'zod';
import { PermanentError } from '../shared/errors.ts';
import type { ContactTransaction, GiftTransaction } from '../virtuous/api.ts';
import { toMajorUnits } from './currency-amounts.ts';

export const STRIPE_SOURCE = 'Stripe';

export type SyncCommand =
  | {
      readonly type: 'gift';
      readonly gift: GiftTransaction;
    }
  | {
      readonly type: 'contact';
      readonly contact: ContactTransaction;
      /** Source update time (epoch seconds): a newer version may be submitted again. */
      readonly version: number;
    }
  | {
      readonly type: 'refund';
      readonly source: string;
      readonly chargeId: string;
      readonly paymentIntentId: string;
      readonly refundDate: string;
      readonly amount: number;
      readonly currencyCode: string;
    }
  | {
      readonly type: 'gift_confirmation';
      readonly transactionSource: string;
      readonly transactionId: string;
      readonly giftId: number;
    }
  | {
      readonly type: 'contact_confirmation';
      readonly referenceSource: string;
      readonly referenceId: string;
      readonly contactId: number;
    }
  /** Virtuous reverses whole gifts only, so a partial refund is counted and left to the customer's admin. */
  | { readonly type: 'partial_refund'; readonly chargeId: string }
  /** A recognised event that concerns nothing we sync (e.g. a gift created in Virtuous by someone else). */
  | { readonly type: 'ignored'; readonly eventType: string }
  | { readonly type: 'unknown'; readonly eventType: string };

const nullableString = z.string().nullish();

const stripeAddress = z
  .object({
    line1: nullableString,
    city: nullableString,
    state: nullableString,
    postal_code: nullableString,
    country: nullableString,
  })
  .nullish();

const stripeEvent = z.object({
  id: z.string().min(1),
  type: z.string().min(1),
  created: z.number().int().nonnegative(),
  data: z.object({ object: z.unknown() }),
});

const paymentIntent = z.object({
  id: z.string().regex(/^pi_[A-Za-z0-9_]+$/),
  amount: z.number().int().nonnegative(),
  amount_received: z.number().int().nonnegative().nullish(),
  currency: z.string().regex(/^[A-Za-z]{3}$/),
  created: z.number().int().nonnegative(),
  customer: z.union([z.string(), z.object({ id: z.string() })]).nullish(),
  receipt_email: nullableString,
  shipping: z.object({ name: nullableString, phone: nullableString, address: stripeAddress }).nullish(),
});

const charge = z.object({
  id: z.string().regex(/^ch_[A-Za-z0-9_]+$/),
  payment_intent: z.union([z.string(), z.object({ id: z.string() })]).nullish(),
  amount_refunded: z.number().int().nonnegative(),
  /** true once the whole charge is refunded; Stripe also sends charge.refunded for partial refunds. */
  refunded: z.boolean().optional(),
  currency: z.string().regex(/^[A-Za-z]{3}$/),
});

const stripeCustomer = z.object({
  id: z.string().regex(/^cus_[A-Za-z0-9_]+$/),
  name: nullableString,
  email: nullableString,
  phone: nullableString,
  address: stripeAddress,
});

const numericId = z.union([z.number().int().positive(), z.string().regex(/^\d+$/).transform(Number)]);

const virtuousEnvelope = z.object({ event: z.string().min(1) }).loose();

const virtuousGift = z
  .object({
    id: numericId,
    transactionSource: nullableString,
    transactionId: z.union([z.string(), z.number().transform(String)]).nullish(),
  })
  .loose();

const virtuousContact = z
  .object({
    id: numericId,
    referenceSource: nullableString,
    referenceId: z.union([z.string(), z.number().transform(String)]).nullish(),
  })
  .loose();

function parseWith<T>(schema: z.ZodType<T>, value: unknown, eventType: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const fields = [...new Set(result.error.issues.map((issue) => issue.path.join('.') || '(root)'))].join(',');
    throw new PermanentError('MALFORMED_EVENT', `${eventType} has invalid fields: ${fields}`);
  }
  return result.data;
}

function parseJson(rawBody: Buffer): unknown {
  try {
    return JSON.parse(rawBody.toString('utf8'));
  } catch {
    throw new PermanentError('MALFORMED_EVENT', 'event body is not JSON');
  }
}

function isoDate(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().slice(0, 10);
}

function idOf(value: string | { id: string } | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === 'string' ? value : value.id;
}

function present(value: string | null | undefined): string | undefined {
  return value === null || value === undefined || value.trim() === '' ? undefined : value;
}

/** "Ada Lovelace" → first "Ada", last "Lovelace"; a single word is a last name (Virtuous needs one). */
function splitName(name: string | undefined): { firstName?: string; lastName?: string } {
  if (!name) return {};
  const parts = name.trim().split(/\s+/);
  if (parts.length === 1) return { lastName: parts[0] };
  return { firstName: parts.slice(0, -1).join(' '), lastName: parts[parts.length - 1] };
}

function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as T;
}

function address(value: z.infer<typeof stripeAddress>) {
  if (!value) return undefined;
  const mapped = compact({
    address1: present(value.line1),
    city: present(value.city),
    state: present(value.state),
    postal: present(value.postal_code),
    country: present(value.country),
  });
  return Object.keys(mapped).length === 0 ? undefined : mapped;
}

export function commandFromStripeEvent(body: unknown): SyncCommand {
  const event = parseWith(stripeEvent, body, 'stripe event');
  switch (event.type) {
    case 'payment_intent.succeeded': {
      const intent = parseWith(paymentIntent, event.data.object, event.type);
      const currencyCode = intent.currency.toUpperCase();
      // A guest checkout has no Stripe customer: the gift gets its own reference so Virtuous matches it by email.
      const referenceId = idOf(intent.customer) ?? `guest-${intent.id}`;
      const gift: GiftTransaction = {
        transactionSource: STRIPE_SOURCE,
        transactionId: intent.id,
        contact: compact({
          referenceId,
          email: present(intent.receipt_email),
          phone: present(intent.shipping?.phone),
          address: address(intent.shipping?.address),
          ...splitName(present(intent.shipping?.name)),
        }),
        giftDate: isoDate(intent.created),
        giftType: 'Credit',
        amount: toMajorUnits(intent.amount_received ?? intent.amount, currencyCode),
        currencyCode,
      };
      return { type: 'gift', gift };
    }
    case 'charge.refunded': {
      const refunded = parseWith(charge, event.data.object, event.type);
      const paymentIntentId = idOf(refunded.payment_intent);
      if (!paymentIntentId) {
        // A charge without a PaymentIntent was never synced as a gift: nothing to reverse.
        return { type: 'ignored', eventType: event.type };
      }
      if (refunded.refunded === false) return { type: 'partial_refund', chargeId: refunded.id };
      const currencyCode = refunded.currency.toUpperCase();
      return {
        type: 'refund',
        source: STRIPE_SOURCE,
        chargeId: refunded.id,
        paymentIntentId,
        refundDate: isoDate(event.created),
        amount: toMajorUnits(refunded.amount_refunded, currencyCode),
        currencyCode,
      };
    }
    case 'customer.created':
    case 'customer.updated': {
      const customer = parseWith(stripeCustomer, event.data.object, event.type);
      const contact: ContactTransaction = compact({
        referenceSource: STRIPE_SOURCE,
        referenceId: customer.id,
        contactType: 'Household',
        email: present(customer.email),
        phone: present(customer.phone),
        address: address(customer.address),
        ...splitName(present(customer.name)),
      });
      return { type: 'contact', contact, version: event.created };
    }
    default:
      return { type: 'unknown', eventType: event.type };
  }
}

/** `GiftCreate`, `giftCreate`, `gift.create`, `gift_create` → `giftcreate`. */
export function normalizeVirtuousEventName(name: string): string {
  return name.toLowerCase().replace(/[^a-z]/g, '');
}

export function commandFromVirtuousEvent(body: unknown): SyncCommand {
  const envelope = parseWith(virtuousEnvelope, body, 'virtuous event');
  const eventType = normalizeVirtuousEventName(envelope.event);
  switch (eventType) {
    case 'giftcreate':
    case 'giftupdate': {
      const gift = parseWith(virtuousGift, envelope.gift, envelope.event);
      const source = present(gift.transactionSource ?? undefined);
      const id = present(gift.transactionId ?? undefined);
      if (!source || !id) return { type: 'ignored', eventType };
      return { type: 'gift_confirmation', transactionSource: source, transactionId: id, giftId: gift.id };
    }
    case 'contactcreate':
    case 'contactupdate': {
      const contact = parseWith(virtuousContact, envelope.contact, envelope.event);
      const source = present(contact.referenceSource ?? undefined);
      const id = present(contact.referenceId ?? undefined);
      if (!source || !id) return { type: 'ignored', eventType };
      return { type: 'contact_confirmation', referenceSource: source, referenceId: id, contactId: contact.id };
    }
    default:
      return { type: 'unknown', eventType };
  }
}

export function commandFromDelivery(provider: 'stripe' | 'virtuous', rawBody: Buffer): SyncCommand {
  const body = parseJson(rawBody);
  return provider === 'stripe' ? commandFromStripeEvent(body) : commandFromVirtuousEvent(body);
}

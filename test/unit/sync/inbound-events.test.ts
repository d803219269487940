import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PermanentError } from '../../../functions/shared/errors.ts';
import { currencyExponent, toMajorUnits } from '../../../functions/sync/currency-amounts.ts';
import {
  commandFromDelivery,
  commandFromStripeEvent,
  commandFromVirtuousEvent,
  normalizeVirtuousEventName,
} from '../../../functions/sync/inbound-events.ts';
import { DONOR } from '../../support/canaries.ts';

function paymentIntentEvent(overrides: Record<string, unknown> = {}) {
  return {
    id: 'evt_1',
    type: 'payment_intent.succeeded',
    created: 1_767_225_600,
    data: {
      object: {
        id: 'pi_123',
        amount: 2500,
        amount_received: 2500,
        currency: 'usd',
        created: 1_767_225_600,
        customer: 'cus_1',
        receipt_email: DONOR.email,
        shipping: {
          name: `${DONOR.firstName} ${DONOR.lastName}`,
          phone: DONOR.phone,
          address: { line1: DONOR.address1, city: DONOR.city, postal_code: DONOR.postal, country: 'US' },
        },
        ...overrides,
      },
    },
  };
}

describe('amounts', () => {
  it('converts minor units exactly for two-, zero- and three-decimal currencies', () => {
    expect(toMajorUnits(1999, 'USD')).toBe(19.99);
    expect(toMajorUnits(1, 'eur')).toBe(0.01);
    expect(toMajorUnits(5, 'USD')).toBe(0.05);
    expect(toMajorUnits(1999, 'JPY')).toBe(1999);
    expect(toMajorUnits(500, 'krw')).toBe(500);
    expect(toMajorUnits(1_234_500, 'KWD')).toBe(1234.5);
    expect(toMajorUnits(0, 'USD')).toBe(0);
    expect(currencyExponent('jpy')).toBe(0);
  });

  it('matches decimal arithmetic for every cent value up to 100,000.00', () => {
    for (let cents = 0; cents <= 10_000_000; cents += 7_919) {
      const expected = Number(`${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`);
      expect(toMajorUnits(cents, 'USD')).toBe(expected);
    }
  });

  it('refuses fractional or negative minor units', () => {
    expect(() => toMajorUnits(19.5, 'USD')).toThrow(PermanentError);
    expect(() => toMajorUnits(-1, 'USD')).toThrow(PermanentError);
  });
});

describe('Stripe events', () => {
  it('maps payment_intent.succeeded to a gift transaction in major units', () => {
    const command = commandFromStripeEvent(paymentIntentEvent());
    expect(command).toEqual({
      type: 'gift',
      gift: {
        transactionSource: 'Stripe',
        transactionId: 'pi_123',
        contact: {
          referenceId: 'cus_1',
          email: DONOR.email,
          phone: DONOR.phone,
          firstName: DONOR.firstName,
          lastName: DONOR.lastName,
          address: { address1: DONOR.address1, city: DONOR.city, postal: DONOR.postal, country: 'US' },
        },
        giftDate: '2026-01-01',
        giftType: 'Credit',
        amount: 25,
        currencyCode: 'USD',
      },
    });
  });

  it('keeps zero-decimal currencies as they are and upper-cases the code', () => {
    const command = commandFromStripeEvent(
      paymentIntentEvent({ amount: 5000, amount_received: 5000, currency: 'jpy' }),
    );
    expect(command.type === 'gift' && command.gift.amount).toBe(5000);
    expect(command.type === 'gift' && command.gift.currencyCode).toBe('JPY');
  });

  it('uses amount_received, falling back to amount', () => {
    const received = commandFromStripeEvent(paymentIntentEvent({ amount: 3000, amount_received: 2999 }));
    expect(received.type === 'gift' && received.gift.amount).toBe(29.99);
    const fallback = commandFromStripeEvent(paymentIntentEvent({ amount: 3000, amount_received: null }));
    expect(fallback.type === 'gift' && fallback.gift.amount).toBe(30);
  });

  it('gives a guest checkout its own contact reference', () => {
    const command = commandFromStripeEvent(paymentIntentEvent({ customer: null }));
    expect(command.type === 'gift' && command.gift.contact.referenceId).toBe('guest-pi_123');
  });

  it('maps customer.created and customer.updated to a contact transaction versioned by the event time', () => {
    const command = commandFromStripeEvent({
      id: 'evt_2',
      type: 'customer.updated',
      created: 1_767_225_700,
      data: { object: { id: 'cus_1', name: DONOR.lastName, email: DONOR.email, phone: null, address: null } },
    });
    expect(command).toEqual({
      type: 'contact',
      version: 1_767_225_700,
      contact: {
        referenceSource: 'Stripe',
        referenceId: 'cus_1',
        contactType: 'Household',
        email: DONOR.email,
        lastName: DONOR.lastName,
      },
    });
  });

  it('maps a full charge.refunded to a refund of its PaymentIntent and skips partial ones', () => {
    const event = (refunded: boolean) => ({
      id: 'evt_3',
      type: 'charge.refunded',
      created: 1_767_312_000,
      data: { object: { id: 'ch_9', payment_intent: 'pi_123', amount_refunded: 2500, refunded, currency: 'usd' } },
    });
    expect(commandFromStripeEvent(event(true))).toEqual({
      type: 'refund',
      source: 'Stripe',
      chargeId: 'ch_9',
      paymentIntentId: 'pi_123',
      refundDate: '2026-01-02',
      amount: 25,
      currencyCode: 'USD',
    });
    expect(commandFromStripeEvent(event(false))).toEqual({ type: 'partial_refund', chargeId: 'ch_9' });
  });

  it('acknowledges unknown event types', () => {
    expect(commandFromStripeEvent({ id: 'evt', type: 'invoice.paid', created: 1, data: { object: {} } })).toEqual({
      type: 'unknown',
      eventType: 'invoice.paid',
    });
  });

  it('refuses a malformed known event naming fields, never values', () => {
    const attempt = () => commandFromStripeEvent(paymentIntentEvent({ amount: 'lots', receipt_email: 42 }));
    expect(attempt).toThrow(PermanentError);
    try {
      attempt();
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toContain('amount');
      expect(message).not.toContain(DONOR.email);
      expect(message).not.toContain('lots');
    }
  });

  it('refuses a body that is not JSON as permanent', () => {
    expect(() => commandFromDelivery('stripe', Buffer.from('{not json'))).toThrow(PermanentError);
  });
});

describe('Virtuous events', () => {
  it('accepts PascalCase, camelCase and dotted event names', () => {
    for (const name of ['GiftCreate', 'giftCreate', 'gift.create', 'gift_create']) {
      expect(normalizeVirtuousEventName(name)).toBe('giftcreate');
      expect(
        commandFromVirtuousEvent({
          event: name,
          gift: { id: '77', transactionSource: 'Stripe', transactionId: 'pi_1' },
        }),
      ).toEqual({ type: 'gift_confirmation', transactionSource: 'Stripe', transactionId: 'pi_1', giftId: 77 });
    }
  });

  it('maps contact events to contact confirmations and ignores records without our references', () => {
    expect(
      commandFromVirtuousEvent({
        event: 'ContactUpdate',
        contact: { id: 5, referenceSource: 'Stripe', referenceId: 'cus_1' },
      }),
    ).toEqual({ type: 'contact_confirmation', referenceSource: 'Stripe', referenceId: 'cus_1', contactId: 5 });
    expect(commandFromVirtuousEvent({ event: 'GiftCreate', gift: { id: 5 } })).toEqual({
      type: 'ignored',
      eventType: 'giftcreate',
    });
  });

  it('acknowledges unknown events and refuses malformed known ones', () => {
    expect(commandFromVirtuousEvent({ event: 'ProjectCreate', project: {} }).type).toBe('unknown');
    expect(() => commandFromVirtuousEvent({ event: 'GiftCreate', gift: { id: 'x' } })).toThrow(PermanentError);
    expect(() => commandFromVirtuousEvent({ gift: {} })).toThrow(PermanentError);
  });
});

describe('properties', () => {
  it('major units scale back to exactly the minor units, with no more decimals than the currency has', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000_000_000 }),
        fc.constantFrom('USD', 'JPY', 'KWD', 'EUR', 'CLP'),
        (minor, currency) => {
          const exponent = currencyExponent(currency);
          const major = toMajorUnits(minor, currency);
          expect(Math.round(major * 10 ** exponent)).toBe(minor);
          expect((String(major).split('.')[1] ?? '').length).toBeLessThanOrEqual(exponent);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('any body, known type or not, either maps or fails as PermanentError: never another exception', () => {
    const eventTypes = fc.constantFrom(
      'payment_intent.succeeded',
      'charge.refunded',
      'customer.created',
      'invoice.paid',
    );
    const stripeLike = fc.record({
      id: fc.string(),
      type: eventTypes,
      created: fc.oneof(fc.integer(), fc.string()),
      data: fc.record({ object: fc.anything() }),
    });
    const virtuousLike = fc.record({
      event: fc.constantFrom('GiftCreate', 'contact.update', 'giftCreate', 'Other'),
      gift: fc.anything(),
      contact: fc.anything(),
    });
    fc.assert(
      fc.property(
        fc.oneof(stripeLike, virtuousLike, fc.anything()),
        fc.constantFrom('stripe', 'virtuous'),
        (body, provider) => {
          let raw: Buffer;
          try {
            raw = Buffer.from(JSON.stringify(body) ?? 'undefined');
          } catch {
            return;
          }
          try {
            commandFromDelivery(provider as 'stripe' | 'virtuous', raw);
          } catch (error) {
            expect(error).toBeInstanceOf(PermanentError);
            expect((error as Error).message).not.toContain(DONOR.email);
          }
        },
      ),
      { numRuns: 3_000 },
    );
  });
});

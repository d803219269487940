import { describe, expect, it } from 'vitest';
import type { GiftTransaction } from '../../../functions/virtuous/api.ts';
import {
  contactTransactionBody,
  giftTransactionBody,
  reversalBody,
} from '../../../functions/virtuous/request-bodies.ts';
import { DONOR } from '../../support/canaries.ts';

const gift: GiftTransaction = {
  transactionSource: 'Stripe',
  transactionId: 'pi_123',
  contact: {
    referenceId: 'cus_123',
    firstName: DONOR.firstName,
    email: DONOR.email,
    address: { address1: DONOR.address1, city: DONOR.city, postal: DONOR.postal },
  },
  giftDate: '2026-11-28',
  giftType: 'Credit',
  amount: 19.99,
  designations: [
    { code: 'GENERAL', amountDesignated: 9.99 },
    { code: 'BUILDING', amountDesignated: 10 },
  ],
};

describe('giftTransactionBody', () => {
  it('sends native numbers and the configured designation field', () => {
    const body = giftTransactionBody(gift, 'designations');
    const wire = JSON.parse(JSON.stringify(body));
    expect(wire).toEqual({
      transactionSource: 'Stripe',
      transactionId: 'pi_123',
      contact: {
        referenceId: 'cus_123',
        firstName: DONOR.firstName,
        email: DONOR.email,
        address: { address1: DONOR.address1, city: DONOR.city, postal: DONOR.postal },
      },
      giftDate: '2026-11-28',
      giftType: 'Credit',
      amount: 19.99,
      designations: [
        { code: 'GENERAL', amountDesignated: 9.99 },
        { code: 'BUILDING', amountDesignated: 10 },
      ],
    });
    const legacy = JSON.parse(JSON.stringify(giftTransactionBody(gift, 'giftDesignations')));
    expect(legacy.designations).toBeUndefined();
    expect(legacy.giftDesignations).toEqual([
      { projectCode: 'GENERAL', amountDesignated: 9.99 },
      { projectCode: 'BUILDING', amountDesignated: 10 },
    ]);
  });

  it.each([
    ['cents instead of major units (too many decimals)', { amount: 19.999 }],
    ['zero amount', { amount: 0 }],
    ['amount as a string', { amount: '19.99' as unknown as number }],
    ['missing transaction id', { transactionId: '' }],
    ['bad date', { giftDate: 'yesterday' }],
    ['designations not summing', { designations: [{ code: 'GENERAL', amountDesignated: 19.98 }] }],
  ])('refuses %s without echoing values', (_case, change) => {
    let message = '';
    try {
      giftTransactionBody({ ...gift, ...change }, 'designations');
    } catch (error) {
      expect(error).toMatchObject({ name: 'ForbiddenInputError', code: 'INVALID_TRANSACTION' });
      message = (error as Error).message;
    }
    expect(message).not.toBe('');
    for (const value of Object.values(DONOR)) expect(message).not.toContain(value);
    expect(message).not.toContain('19.9');
  });
});

describe('contactTransactionBody', () => {
  it('flattens the address and keeps tags as a list', () => {
    const body = JSON.parse(
      JSON.stringify(
        contactTransactionBody({
          referenceSource: 'Stripe',
          referenceId: 'cus_1',
          lastName: DONOR.lastName,
          address: { address1: DONOR.address1, city: DONOR.city },
          tags: ['stripe'],
        }),
      ),
    );
    expect(body).toEqual({
      referenceSource: 'Stripe',
      referenceId: 'cus_1',
      lastName: DONOR.lastName,
      address1: DONOR.address1,
      city: DONOR.city,
      tags: ['stripe'],
    });
  });
});

describe('reversalBody', () => {
  it('takes a positive integer gift id and a date', () => {
    expect(reversalBody({ reversedGiftId: 7, giftDate: '2026-11-29' })).toMatchObject({
      reversedGiftId: 7,
      giftDate: '2026-11-29',
    });
    expect(() => reversalBody({ reversedGiftId: 0, giftDate: '2026-11-29' })).toThrow(/reversedGiftId/);
  });
});

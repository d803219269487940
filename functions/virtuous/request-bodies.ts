/**
 * Request bodies as Virtuous takes them: native JSON types (numbers and booleans, not the strings of the published
 * spec), money in major units, only the fields we set. Shape problems are refused here, before a request is spent;
 * the messages name the field, never its value.
 */
import { ForbiddenInputError } from '../shared/errors.ts';
import type { ContactInput, ContactTransaction, GiftTransaction, ReversingTransaction } from './api.ts';

/** `designations: [{code, amountDesignated}]` or `giftDesignations: [{projectCode, amountDesignated}]`. */
export type DesignationField = 'designations' | 'giftDesignations';

function refuse(field: string, rule: string): never {
  throw new ForbiddenInputError('INVALID_TRANSACTION', `${field} ${rule}`);
}

function requireText(field: string, value: unknown, maxLength = 200): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > maxLength) {
    refuse(field, `must be a non-empty string of at most ${maxLength} characters`);
  }
  return value;
}

function optionalText(field: string, value: unknown, maxLength = 200): string | undefined {
  if (value === undefined) return undefined;
  return requireText(field, value, maxLength);
}

function requireDate(field: string, value: unknown): string {
  const text = requireText(field, value, 40);
  if (Number.isNaN(Date.parse(text))) refuse(field, 'must be an ISO-8601 date');
  return text;
}

/** Money in cents as an integer, so sums compare exactly. */
function cents(field: string, amount: unknown): number {
  if (typeof amount !== 'number' || !Number.isFinite(amount) || amount <= 0 || amount > 100_000_000) {
    refuse(field, 'must be a positive number of major currency units');
  }
  const value = Math.round(amount * 100);
  if (Math.abs(value - amount * 100) > 1e-6) refuse(field, 'must have at most two decimals (major units, not cents)');
  return value;
}

function contactFields(contact: ContactInput): Record<string, unknown> {
  return {
    firstName: optionalText('contact.firstName', contact.firstName),
    lastName: optionalText('contact.lastName', contact.lastName),
    email: optionalText('contact.email', contact.email, 254),
    phone: optionalText('contact.phone', contact.phone, 40),
  };
}

function addressFields(address: ContactInput['address']): Record<string, unknown> | undefined {
  if (address === undefined) return undefined;
  return {
    address1: optionalText('address.address1', address.address1),
    city: optionalText('address.city', address.city),
    state: optionalText('address.state', address.state),
    postal: optionalText('address.postal', address.postal, 20),
    country: optionalText('address.country', address.country, 60),
  };
}

export function giftTransactionBody(
  gift: GiftTransaction,
  designationField: DesignationField,
): Record<string, unknown> {
  requireText('transactionSource', gift.transactionSource);
  requireText('transactionId', gift.transactionId);
  requireText('contact.referenceId', gift.contact?.referenceId);
  requireDate('giftDate', gift.giftDate);
  requireText('giftType', gift.giftType, 40);
  const amountCents = cents('amount', gift.amount);
  let designations: unknown[] | undefined;
  if (gift.designations !== undefined && gift.designations.length > 0) {
    let sum = 0;
    designations = gift.designations.map((designation, index) => {
      const code = requireText(`designations[${index}].code`, designation.code, 100);
      sum += cents(`designations[${index}].amountDesignated`, designation.amountDesignated);
      return designationField === 'designations'
        ? { code, amountDesignated: designation.amountDesignated }
        : { projectCode: code, amountDesignated: designation.amountDesignated };
    });
    // Virtuous answers 400 when they differ; catching it here keeps the request and names the cause.
    if (sum !== amountCents) refuse('designations', 'must sum to the gift amount');
  }
  return {
    transactionSource: gift.transactionSource,
    transactionId: gift.transactionId,
    contact: {
      referenceId: gift.contact.referenceId,
      ...contactFields(gift.contact),
      address: addressFields(gift.contact.address),
    },
    giftDate: gift.giftDate,
    giftType: gift.giftType,
    amount: gift.amount,
    currencyCode: optionalText('currencyCode', gift.currencyCode, 3),
    recurringGiftTransactionId: optionalText('recurringGiftTransactionId', gift.recurringGiftTransactionId),
    ...(designations === undefined ? {} : { [designationField]: designations }),
  };
}

export function contactTransactionBody(contact: ContactTransaction): Record<string, unknown> {
  requireText('referenceSource', contact.referenceSource);
  requireText('referenceId', contact.referenceId);
  if (contact.tags !== undefined && (!Array.isArray(contact.tags) || contact.tags.some((t) => typeof t !== 'string'))) {
    refuse('tags', 'must be a list of strings');
  }
  return {
    referenceSource: contact.referenceSource,
    referenceId: contact.referenceId,
    contactType: optionalText('contactType', contact.contactType, 40),
    ...contactFields(contact),
    // The contact transaction takes the address flat, unlike the gift transaction's nested contact.
    ...addressFields(contact.address),
    tags: contact.tags,
  };
}

export function reversalBody(reversal: ReversingTransaction): Record<string, unknown> {
  if (!Number.isInteger(reversal.reversedGiftId) || reversal.reversedGiftId < 1) {
    refuse('reversedGiftId', 'must be a positive integer');
  }
  return {
    reversedGiftId: reversal.reversedGiftId,
    giftDate: requireDate('giftDate', reversal.giftDate),
    notes: optionalText('notes', reversal.notes, 500),
  };
}

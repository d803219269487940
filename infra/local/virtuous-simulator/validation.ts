/**
 * Checks the simulator applies to incoming transactions, the way Virtuous answers them: 400 with field details.
 * Numbers are accepted natively and as numeric strings (the published spec types money as strings).
 */
import type { HeldContact, HeldGift, HeldReversal, SimDesignation } from './model.ts';

export interface FieldProblem {
  readonly field: string;
  readonly code: string;
  readonly message: string;
}

export type Checked<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problems: FieldProblem[] };

type Body = Record<string, unknown>;

function isObject(value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

function money(value: unknown): number | undefined {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof number === 'number' && Number.isFinite(number) ? number : undefined;
}

function cents(amount: number): number {
  return Math.round(amount * 100);
}

function designationsOf(body: Body, problems: FieldProblem[], prefix: string): SimDesignation[] | undefined {
  const raw = body.designations ?? body.giftDesignations;
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) {
    problems.push({ field: `${prefix}designations`, code: 'INVALID', message: 'designations must be a list' });
    return undefined;
  }
  const designations: SimDesignation[] = [];
  raw.forEach((item, index) => {
    const code = isObject(item) ? (text(item.code) ?? text(item.projectCode) ?? text(item.name)) : undefined;
    const amount = isObject(item) ? money(item.amountDesignated) : undefined;
    if (code === undefined || amount === undefined) {
      problems.push({
        field: `${prefix}designations[${index}]`,
        code: 'INVALID',
        message: 'designation needs a code and an amount',
      });
      return;
    }
    designations.push({ code, amountDesignated: amount });
  });
  return designations;
}

export function checkGiftTransaction(
  raw: unknown,
  receivedAt: string,
  defaultSource?: string,
  prefix = '',
): Checked<HeldGift> {
  const problems: FieldProblem[] = [];
  if (!isObject(raw))
    return { ok: false, problems: [{ field: prefix || 'body', code: 'INVALID', message: 'expected an object' }] };
  const transactionSource = text(raw.transactionSource) ?? defaultSource;
  const transactionId = text(raw.transactionId);
  const amount = money(raw.amount);
  const giftDate = text(raw.giftDate);
  const giftType = text(raw.giftType) ?? 'Cash';
  if (transactionSource === undefined)
    problems.push({ field: `${prefix}transactionSource`, code: 'REQUIRED', message: 'required' });
  if (transactionId === undefined)
    problems.push({ field: `${prefix}transactionId`, code: 'REQUIRED', message: 'required' });
  if (amount === undefined || amount <= 0)
    problems.push({ field: `${prefix}amount`, code: 'INVALID', message: 'must be a positive number' });
  if (giftDate === undefined || Number.isNaN(Date.parse(giftDate))) {
    problems.push({ field: `${prefix}giftDate`, code: 'INVALID', message: 'must be a date' });
  }
  const contact = isObject(raw.contact) ? raw.contact : undefined;
  if (contact === undefined) problems.push({ field: `${prefix}contact`, code: 'REQUIRED', message: 'required' });
  const designations = designationsOf(raw, problems, prefix);
  if (designations !== undefined && amount !== undefined) {
    const sum = designations.reduce((total, d) => total + cents(d.amountDesignated), 0);
    if (sum !== cents(amount)) {
      problems.push({
        field: `${prefix}designations`,
        code: 'SUM_MISMATCH',
        message: 'designations must sum to the amount',
      });
    }
  }
  if (problems.length > 0 || transactionSource === undefined || transactionId === undefined)
    return { ok: false, problems };
  return {
    ok: true,
    value: {
      transactionSource,
      transactionId,
      contact: {
        referenceId: text(contact?.referenceId),
        firstName: text(contact?.firstName),
        lastName: text(contact?.lastName),
        email: text(contact?.email),
      },
      amount: amount as number,
      giftDate: giftDate as string,
      giftType,
      currencyCode: text(raw.currencyCode),
      designations,
      receivedAt,
    },
  };
}

export function checkContactTransaction(raw: unknown): Checked<HeldContact> {
  if (!isObject(raw))
    return { ok: false, problems: [{ field: 'body', code: 'INVALID', message: 'expected an object' }] };
  const problems: FieldProblem[] = [];
  const referenceSource = text(raw.referenceSource);
  const referenceId = text(raw.referenceId);
  if (referenceSource === undefined) problems.push({ field: 'referenceSource', code: 'REQUIRED', message: 'required' });
  if (referenceId === undefined) problems.push({ field: 'referenceId', code: 'REQUIRED', message: 'required' });
  const firstName = text(raw.firstName);
  const lastName = text(raw.lastName);
  const email = text(raw.email);
  if (firstName === undefined && lastName === undefined && email === undefined) {
    problems.push({ field: 'lastName', code: 'REQUIRED', message: 'a name or an email is required' });
  }
  if (raw.tags !== undefined && raw.tags !== null && !Array.isArray(raw.tags)) {
    problems.push({ field: 'tags', code: 'INVALID', message: 'must be a list' });
  }
  if (problems.length > 0 || referenceSource === undefined || referenceId === undefined) return { ok: false, problems };
  const tags = Array.isArray(raw.tags) ? raw.tags.filter((tag): tag is string => typeof tag === 'string') : undefined;
  return {
    ok: true,
    value: {
      referenceSource,
      referenceId,
      contactType: text(raw.contactType),
      firstName,
      lastName,
      email,
      phone: text(raw.phone),
      address1: text(raw.address1),
      city: text(raw.city),
      state: text(raw.state),
      postal: text(raw.postal),
      country: text(raw.country),
      tags,
    },
  };
}

export function checkReversal(raw: unknown): Checked<HeldReversal> {
  if (!isObject(raw))
    return { ok: false, problems: [{ field: 'body', code: 'INVALID', message: 'expected an object' }] };
  const reversedGiftId = money(raw.reversedGiftId);
  const giftDate = text(raw.giftDate);
  const problems: FieldProblem[] = [];
  if (reversedGiftId === undefined || !Number.isInteger(reversedGiftId)) {
    problems.push({ field: 'reversedGiftId', code: 'INVALID', message: 'must be a gift id' });
  }
  if (giftDate === undefined || Number.isNaN(Date.parse(giftDate))) {
    problems.push({ field: 'giftDate', code: 'INVALID', message: 'must be a date' });
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value: { reversedGiftId: reversedGiftId as number, giftDate: giftDate as string } };
}

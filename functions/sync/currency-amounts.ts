/**
 * Stripe amounts are integers in the currency's smallest unit; Virtuous wants major units. The exponent comes from
 * Stripe's published list (zero-decimal currencies such as JPY are already in major units; a few are three-decimal).
 * The conversion goes through the decimal string so no binary-float rounding is introduced.
 */
import { PermanentError } from '../shared/errors.ts';

const ZERO_DECIMAL = new Set([
  'BIF',
  'CLP',
  'DJF',
  'GNF',
  'JPY',
  'KMF',
  'KRW',
  'MGA',
  'PYG',
  'RWF',
  'UGX',
  'VND',
  'VUV',
  'XAF',
  'XOF',
  'XPF',
]);

const THREE_DECIMAL = new Set(['BHD', 'JOD', 'KWD', 'OMR', 'TND']);

export function currencyExponent(currencyCode: string): number {
  const code = currencyCode.toUpperCase();
  if (ZERO_DECIMAL.has(code)) return 0;
  if (THREE_DECIMAL.has(code)) return 3;
  return 2;
}

/** Minor units (integer) → major units, exactly: 1999 USD → 19.99, 1999 JPY → 1999, 1234500 KWD → 1234.5. */
export function toMajorUnits(minorUnits: number, currencyCode: string): number {
  if (!Number.isSafeInteger(minorUnits) || minorUnits < 0) {
    throw new PermanentError('INVALID_AMOUNT', 'amount must be a non-negative integer of minor units');
  }
  const exponent = currencyExponent(currencyCode);
  if (exponent === 0) return minorUnits;
  const digits = minorUnits.toString().padStart(exponent + 1, '0');
  return Number(`${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`);
}

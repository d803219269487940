import { ForbiddenInputError } from './errors.ts';

/**
 * Customer ids and source names become parts of secret names, table keys and IAM policy variables, so they are held
 * to a strict pattern: lowercase letters, digits, `_` and `-`, starting with a letter or digit, 1 to 64 characters.
 * No slashes, dots, wildcards or whitespace can reach a name built from them.
 */
const CUSTOMER_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const SOURCE_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const ENVIRONMENT_NAME = /^[a-z][a-z0-9-]{0,31}$/;

export function assertCustomerId(value: unknown): string {
  if (typeof value !== 'string' || !CUSTOMER_ID.test(value)) {
    throw new ForbiddenInputError(
      'INVALID_CUSTOMER_ID',
      'customer id must be 1-64 characters of lowercase letters, digits, "_" or "-", starting with a letter or digit',
    );
  }
  return value;
}

export function isCustomerId(value: unknown): value is string {
  return typeof value === 'string' && CUSTOMER_ID.test(value);
}

export function assertSourceName(value: unknown): string {
  if (typeof value !== 'string' || !SOURCE_NAME.test(value)) {
    throw new ForbiddenInputError(
      'INVALID_SOURCE_NAME',
      'source name must be 1-32 characters of lowercase letters, digits or "-", starting with a letter',
    );
  }
  return value;
}

export function assertEnvironmentName(value: unknown): string {
  if (typeof value !== 'string' || !ENVIRONMENT_NAME.test(value)) {
    throw new ForbiddenInputError(
      'INVALID_ENVIRONMENT_NAME',
      'environment name must be 1-32 characters of lowercase letters, digits or "-", starting with a letter',
    );
  }
  return value;
}

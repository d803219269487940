/**
 * The product's error vocabulary. Step Functions Retry/Catch and the queue's retry policy match on `error.name`,
 * so every failure a workflow or the queue must classify is one of these classes, never a bare Error.
 *
 * Messages name what went wrong in terms of shape and identifiers only: never a token, secret, request body or
 * any donor data.
 */

export type ErrorClass = 'Transient' | 'Recoverable' | 'Permanent' | 'ForbiddenInput' | 'CredentialRevoked';

abstract class IntegrationError extends Error {
  abstract readonly errorClass: ErrorClass;
  /** A short SCREAMING_SNAKE code, safe to log and to store (for example in a dead letter). */
  readonly code: string;
  /** HTTP status of the upstream answer that caused this error, when there was one. */
  readonly statusCode: number | undefined;

  constructor(code: string, message: string, options: { statusCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.statusCode = options.statusCode;
  }
}

/** Worth retrying as is, after a delay: 429, 5xx, network errors, timeouts, a lost race for a lock. */
export class TransientError extends IntegrationError {
  override readonly name = 'TransientError';
  readonly errorClass = 'Transient';
  /** Seconds the upstream asked us to wait (Retry-After), when it said. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: string,
    message: string,
    options: { statusCode?: number; cause?: unknown; retryAfterSeconds?: number } = {},
  ) {
    super(code, message, options);
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** Recoverable by a specific action, not by waiting: a 401 (re-read the token once, else pause and alert). */
export class RecoverableError extends IntegrationError {
  override readonly name = 'RecoverableError';
  readonly errorClass = 'Recoverable';
}

/** Will fail the same way every time: 400, 403, 409, 422, an organization mismatch. Goes to compensation or dead letter. */
export class PermanentError extends IntegrationError {
  override readonly name = 'PermanentError';
  readonly errorClass = 'Permanent';
}

/** Input we refuse before doing anything: a malformed customer id, a bad setting, a request of the wrong shape. */
export class ForbiddenInputError extends IntegrationError {
  override readonly name = 'ForbiddenInputError';
  readonly errorClass = 'ForbiddenInput';
}

/** A source platform (or Virtuous) no longer honours the customer's grant: pause the customer, alert once, no retry loop. */
export class CredentialRevokedError extends IntegrationError {
  override readonly name = 'CredentialRevokedError';
  readonly errorClass = 'CredentialRevoked';
  /** Which credential: 'virtuous' or a source platform name such as 'stripe' or 'mailchimp'. */
  readonly source: string;

  constructor(source: string, message: string, options: { statusCode?: number; cause?: unknown } = {}) {
    super('CREDENTIAL_REVOKED', message, options);
    this.source = source;
  }
}

/**
 * A non-idempotent write (a Virtuous transaction) that may or may not have been stored: the request was sent and the
 * answer was lost (timeout, reset) or was a 5xx/520 that may come after the origin handled it. A TransientError so
 * generic classification stays right, but it must never be retried as is: Virtuous has no idempotency key, so a
 * retry can store the transaction twice. The sync engine parks the record `in_doubt` and lets reconciliation decide.
 */
export const WRITE_OUTCOME_UNKNOWN = 'WRITE_OUTCOME_UNKNOWN';

export function isWriteOutcomeUnknown(error: unknown): error is TransientError {
  return error instanceof TransientError && error.code === WRITE_OUTCOME_UNKNOWN;
}

export type ClassifiedError =
  | TransientError
  | RecoverableError
  | PermanentError
  | ForbiddenInputError
  | CredentialRevokedError;

export function isClassified(error: unknown): error is ClassifiedError {
  return error instanceof IntegrationError;
}

/** The error's code when it is one of ours, else a generic code: safe to log and to store. */
export function errorCode(error: unknown): string {
  return isClassified(error) ? error.code : 'UNCLASSIFIED';
}

import { describe, expect, it } from 'vitest';
import {
  isWriteOutcomeUnknown,
  PermanentError,
  RecoverableError,
  TransientError,
} from '../../../functions/shared/errors.ts';
import {
  classifyHttpFailure,
  classifyNetworkFailure,
  httpStatusLeavesWriteOutcomeUnknown,
  networkFailureMayHaveReachedServer,
  parseErrorBody,
  writeOutcomeUnknown,
} from '../../../functions/virtuous/http-errors.ts';
import { DONOR } from '../../support/canaries.ts';

const envelope = (code: unknown, details: unknown[] = []) =>
  JSON.stringify({ error: { code, message: `Contact ${DONOR.email} is invalid`, details } });

describe('classifyHttpFailure', () => {
  it.each([
    [400, PermanentError, 'VIRTUOUS_BAD_REQUEST'],
    [403, PermanentError, 'VIRTUOUS_FORBIDDEN'],
    [404, PermanentError, 'VIRTUOUS_NOT_FOUND'],
    [409, PermanentError, 'VIRTUOUS_CONFLICT'],
    [422, PermanentError, 'VIRTUOUS_UNPROCESSABLE'],
    [405, PermanentError, 'VIRTUOUS_CLIENT_ERROR'],
    [302, PermanentError, 'VIRTUOUS_UNEXPECTED_STATUS'],
    [401, RecoverableError, 'VIRTUOUS_UNAUTHORIZED'],
    [429, TransientError, 'VIRTUOUS_RATE_LIMITED'],
    [408, TransientError, 'VIRTUOUS_UNAVAILABLE'],
    [500, TransientError, 'VIRTUOUS_UNAVAILABLE'],
    [502, TransientError, 'VIRTUOUS_UNAVAILABLE'],
    [503, TransientError, 'VIRTUOUS_UNAVAILABLE'],
    [504, TransientError, 'VIRTUOUS_UNAVAILABLE'],
    [520, TransientError, 'VIRTUOUS_CDN_ERROR'],
  ])('%i → %o %s', (status, type, code) => {
    const error = classifyHttpFailure({ operation: 'submitGift', status, bodyText: '' });
    expect(error).toBeInstanceOf(type);
    expect(error.code).toBe(code);
    expect(error.statusCode).toBe(status);
    expect(error.message).toBe(`submitGift: Virtuous answered ${status}`);
  });

  it('keeps the Virtuous code and field codes of the JSON envelope, never its messages', () => {
    const error = classifyHttpFailure({
      operation: 'submitContact',
      status: 422,
      bodyText: envelope('VALIDATION_ERROR', [
        { field: 'email', code: 'INVALID_FORMAT', message: `${DONOR.email} is not an email` },
        { field: DONOR.email, code: 'INVALID', message: 'x' },
        { field: 'phone', code: DONOR.phone, message: 'x' },
      ]),
    });
    expect(error.message).toBe('submitContact: Virtuous answered 422 (VALIDATION_ERROR) fields: email:INVALID_FORMAT');
    expect(error.message).not.toContain(DONOR.email);
  });

  it('ignores a code that is not SCREAMING_SNAKE (it could be anything, including our data)', () => {
    const error = classifyHttpFailure({ operation: 'op', status: 400, bodyText: envelope(DONOR.email) });
    expect(error.message).toBe('op: Virtuous answered 400');
  });

  it('carries Retry-After seconds on 429', () => {
    const error = classifyHttpFailure({
      operation: 'op',
      status: 429,
      bodyText: 'Too Many Requests',
      retryAfterSeconds: 17,
    });
    expect(error).toBeInstanceOf(TransientError);
    expect((error as TransientError).retryAfterSeconds).toBe(17);
  });

  it.each([
    ['plain text', 'Authorization has been denied for this request.'],
    ['empty', ''],
    ['CDN page', '<html><title>520: Web server is returning an unknown error</title></html>'],
    ['broken JSON', '{"error":{"code":"X"'],
    ['JSON without envelope', '{"message":"nope"}'],
    ['JSON array', '[1,2]'],
    ['JSON null error', '{"error":null}'],
  ])('classifies a %s body by its status alone', (_kind, bodyText) => {
    expect(parseErrorBody(bodyText)).toEqual({ fieldCodes: [] });
    expect(classifyHttpFailure({ operation: 'op', status: 401, bodyText }).code).toBe('VIRTUOUS_UNAUTHORIZED');
  });
});

describe('classifyNetworkFailure', () => {
  it('names our own timeout', () => {
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(classifyNetworkFailure('op', timeout)).toMatchObject({ name: 'TransientError', code: 'VIRTUOUS_TIMEOUT' });
  });

  it('keeps the socket error code but not the message (it may carry a URL)', () => {
    const failure = new TypeError('fetch failed', {
      cause: Object.assign(new Error(`connect ECONNREFUSED https://api.example/${DONOR.email}`), {
        code: 'ECONNREFUSED',
      }),
    });
    const error = classifyNetworkFailure('op', failure);
    expect(error.code).toBe('VIRTUOUS_NETWORK_ERROR');
    expect(error.message).toBe('op: could not reach Virtuous (ECONNREFUSED)');
    expect(error.cause).toBeUndefined();
  });
});

describe('write outcome: certainly not stored vs unknown', () => {
  it.each([
    [400, false],
    [401, false],
    [403, false],
    [404, false],
    [409, false],
    [422, false],
    [429, false],
    [408, true],
    [500, true],
    [502, true],
    [503, true],
    [504, true],
    [520, true],
  ])('HTTP %i leaves the outcome unknown: %s', (status, unknown) => {
    expect(httpStatusLeavesWriteOutcomeUnknown(status)).toBe(unknown);
  });

  const fetchFailed = (code?: string) =>
    new TypeError('fetch failed', { cause: Object.assign(new Error('x'), code === undefined ? {} : { code }) });

  it.each(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT'])(
    'a connection that failed before sending (%s) did not reach Virtuous',
    (code) => {
      expect(networkFailureMayHaveReachedServer(fetchFailed(code))).toBe(false);
    },
  );

  it.each(['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE', undefined])('a failure mid-exchange (%s) may have', (code) => {
    expect(networkFailureMayHaveReachedServer(fetchFailed(code))).toBe(true);
  });

  it('our timeout and an abort may have reached Virtuous', () => {
    expect(networkFailureMayHaveReachedServer(new DOMException('t', 'TimeoutError'))).toBe(true);
    expect(networkFailureMayHaveReachedServer(new DOMException('a', 'AbortError'))).toBe(true);
    expect(networkFailureMayHaveReachedServer('not an error')).toBe(true);
  });

  it('wraps the failure as TransientError WRITE_OUTCOME_UNKNOWN, keeping status and cause, naming no content', () => {
    const failure = classifyHttpFailure({ operation: 'submitGifts', status: 502, bodyText: envelope('BAD_GATEWAY') });
    const error = writeOutcomeUnknown('submitGifts', failure as TransientError);
    expect(error).toBeInstanceOf(TransientError);
    expect(isWriteOutcomeUnknown(error)).toBe(true);
    expect(isWriteOutcomeUnknown(failure)).toBe(false);
    expect(error).toMatchObject({ code: 'WRITE_OUTCOME_UNKNOWN', statusCode: 502, cause: failure });
    expect(error.message).toBe(
      'submitGifts: Virtuous may have stored the write, its outcome is unknown (VIRTUOUS_UNAVAILABLE); not retried',
    );
    expect(error.message).not.toContain(DONOR.email);
  });
});

/**
 * Every SecretStore call names why it touches a secret. The reason is a short code (`sync:submit`,
 * `onboarding:validate`), never free text, so it cannot carry a value, a name or an email into the audit table.
 */
import { ForbiddenInputError } from '../shared/errors.ts';
import type { AccessContext } from './secret-store.ts';

const REASON = /^[a-z][a-z0-9_-]*:[a-z0-9_-]+$/;
const MAX_REASON_LENGTH = 64;
/** Lambda request ids, Step Functions execution ARNs and local run ids; nothing that could hold a value. */
const REQUEST_ID = /^[A-Za-z0-9:/._-]{1,256}$/;

export function assertAccessContext(context: AccessContext): AccessContext {
  const reason: unknown = context?.reason;
  if (typeof reason !== 'string' || reason.length > MAX_REASON_LENGTH || !REASON.test(reason)) {
    throw new ForbiddenInputError(
      'INVALID_ACCESS_REASON',
      'access reason must look like "area:action" (lowercase letters, digits, "_" or "-"), at most 64 characters',
    );
  }
  const requestId: unknown = context.requestId;
  if (requestId !== undefined && (typeof requestId !== 'string' || !REQUEST_ID.test(requestId))) {
    throw new ForbiddenInputError('INVALID_REQUEST_ID', 'request id must be 1-256 characters of [A-Za-z0-9:/._-]');
  }
  return context;
}

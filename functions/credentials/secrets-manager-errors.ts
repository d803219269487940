/**
 * Maps Secrets Manager failures to the product's error classes. Only the SDK error's name is used: messages are
 * never copied (they may quote ARNs, and nothing here should carry more than a code).
 */
import { type ClassifiedError, PermanentError, TransientError } from '../shared/errors.ts';

export function sdkErrorName(error: unknown): string {
  return typeof error === 'object' && error !== null && 'name' in error ? String(error.name) : '';
}

export function isNotFound(error: unknown): boolean {
  return sdkErrorName(error) === 'ResourceNotFoundException';
}

/** Secrets Manager answers InvalidRequestException for any call on a secret scheduled for deletion. */
export function isScheduledForDeletion(error: unknown): boolean {
  return sdkErrorName(error) === 'InvalidRequestException';
}

export function classifySecretsManagerError(error: unknown): ClassifiedError {
  const name = sdkErrorName(error);
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  switch (name) {
    case 'AccessDeniedException':
      return new PermanentError('SECRET_ACCESS_DENIED', 'Secrets Manager denied the scoped session', { cause: error });
    case 'DecryptionFailure':
    case 'EncryptionFailure':
      return new PermanentError('SECRET_KMS_FAILURE', 'the secrets key refused to encrypt or decrypt', {
        cause: error,
      });
    case 'InvalidRequestException':
      return new PermanentError('SECRET_SCHEDULED_FOR_DELETION', 'the secret is scheduled for deletion', {
        cause: error,
      });
    case 'InvalidParameterException':
      // A staging label moved between our DescribeSecret and UpdateSecretVersionStage: re-reading resolves it.
      return new TransientError('SECRET_STAGE_CONFLICT', 'the secret changed during the operation', { cause: error });
    case 'LimitExceededException':
      return new PermanentError('SECRETS_MANAGER_LIMIT', 'a Secrets Manager quota was reached', { cause: error });
    case 'ResourceNotFoundException':
      return new PermanentError('SECRET_NOT_FOUND', 'the secret does not exist', { cause: error });
    default:
      if (
        name === 'ThrottlingException' ||
        name === 'InternalServiceError' ||
        name === 'TimeoutError' ||
        name === 'RequestTimeout' ||
        status === undefined ||
        status >= 500 ||
        status === 429
      ) {
        return new TransientError('SECRETS_MANAGER_UNAVAILABLE', 'Secrets Manager did not answer in time', {
          cause: error,
          ...(status === undefined ? {} : { statusCode: status }),
        });
      }
      return new PermanentError('SECRETS_MANAGER_ERROR', 'Secrets Manager refused the request', {
        cause: error,
        statusCode: status,
      });
  }
}

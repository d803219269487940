import { PermanentError, TransientError } from '../shared/errors.ts';

/** Upper bound for one DynamoDB call, SDK retries included. */
export const DYNAMO_TIMEOUT_MS = 5_000;

export function dynamoSignal(): AbortSignal {
  return AbortSignal.timeout(DYNAMO_TIMEOUT_MS);
}

/** A store failure is worth retrying from the workflow (throttling, timeouts, a node away); ours pass through. */
export async function dynamoCall<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof PermanentError || error instanceof TransientError) throw error;
    const name = error instanceof Error ? error.name : 'UnknownError';
    if (name === 'ValidationException' || name === 'ResourceNotFoundException') {
      throw new PermanentError('STORE_REJECTED', `${operation} was rejected by the store (${name})`);
    }
    throw new TransientError('STORE_UNAVAILABLE', `${operation} failed (${name})`);
  }
}

/**
 * Starts onboarding's initial loads on AWS: an asynchronous invoke (InvocationType `Event`) of the reconciler or the
 * bulk loader, so the onboarding task neither waits for nor times out with a load that may run for many minutes.
 * Lambda queues the event and retries the function on its own; the payload carries the customer id only.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { STRIPE_CONNECT } from '../bulk-loader/history-sources.ts';
import { isClassified, PermanentError, TransientError } from '../shared/errors.ts';
import { assertCustomerId } from '../shared/identifiers.ts';
import { INITIAL_LOAD_CHECKPOINT } from './dynamo-lifecycle-stores.ts';
import type { InitialLoad, InitialLoadStarter } from './ports.ts';

const INVOKE_TIMEOUT_MS = 5_000;

export interface InitialLoadFunctions {
  /** Name or ARN of the reconciler function. */
  readonly reconciler: string;
  /** Name or ARN of the bulk-loader function. */
  readonly bulkLoader: string;
}

/** The event each load's function takes (functions/reconciler/handler.ts, functions/bulk-loader/handler.ts). */
export function initialLoadEvent(customerId: string, load: InitialLoad): Record<string, string> {
  return load === 'reconciliation'
    ? { customerId }
    : { customerId, loadId: INITIAL_LOAD_CHECKPOINT, source: STRIPE_CONNECT };
}

export class LambdaInitialLoadStarter implements InitialLoadStarter {
  constructor(
    private readonly lambda: Pick<LambdaClient, 'send'>,
    private readonly functions: InitialLoadFunctions,
  ) {}

  async start(customerId: string, load: InitialLoad): Promise<void> {
    assertCustomerId(customerId);
    const functionName = load === 'reconciliation' ? this.functions.reconciler : this.functions.bulkLoader;
    let statusCode: number | undefined;
    try {
      const answer = await this.lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'Event',
          Payload: new TextEncoder().encode(JSON.stringify(initialLoadEvent(customerId, load))),
        }),
        { abortSignal: AbortSignal.timeout(INVOKE_TIMEOUT_MS) },
      );
      statusCode = answer.StatusCode;
    } catch (error) {
      throw classify(load, error);
    }
    // Lambda answers 202 once the event is queued; anything else means it may not run.
    if (statusCode !== 202) {
      throw new TransientError('INITIAL_LOAD_NOT_QUEUED', `the ${load} start was not accepted`, {
        ...(statusCode === undefined ? {} : { statusCode }),
      });
    }
  }
}

function classify(load: InitialLoad, error: unknown): Error {
  if (isClassified(error)) return error;
  const name = error instanceof Error ? error.name : 'UnknownError';
  const meta = error as { $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  const status = meta.$metadata?.httpStatusCode;
  const retryable =
    meta.$retryable !== undefined ||
    name === 'TooManyRequestsException' ||
    name === 'TimeoutError' ||
    name === 'AbortError' ||
    (status ?? 0) >= 500 ||
    status === 429;
  if (retryable) return new TransientError('LAMBDA_UNAVAILABLE', `starting the ${load} failed (${name})`);
  // Access denied, no such function: a deployment fault no retry mends.
  return new PermanentError(name, `starting the ${load} was refused (${name})`);
}

/** DynamoDB calls of the sync engine: each with a timeout, failures classified (a lost condition is reported apart). */
import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { TransientError } from '../shared/errors.ts';

export const DYNAMO_TIMEOUT_MS = 5000;

export class ConditionFailed {
  readonly conditionFailed = true;
}

/** Any lib-dynamodb command; the overloads of `send` do not accept a union of them. */
type Sendable = { readonly input: object };

function isConditionFailure(error: unknown): boolean {
  return (error as { name?: string }).name === 'ConditionalCheckFailedException';
}

/** Sends one command; a failed condition resolves to `ConditionFailed`, other failures become TransientError. */
export async function sendConditional<T>(
  client: DynamoDBDocumentClient,
  command: Sendable,
  operation: string,
): Promise<T | ConditionFailed> {
  try {
    return (await client.send(command as never, { abortSignal: AbortSignal.timeout(DYNAMO_TIMEOUT_MS) })) as T;
  } catch (error) {
    if (isConditionFailure(error)) return new ConditionFailed();
    throw new TransientError('STATE_STORE_UNAVAILABLE', `dynamodb ${operation} failed`, { cause: error });
  }
}

export async function send<T>(client: DynamoDBDocumentClient, command: Sendable, operation: string): Promise<T> {
  const result = await sendConditional<T>(client, command, operation);
  if (result instanceof ConditionFailed) {
    throw new TransientError('STATE_STORE_CONFLICT', `dynamodb ${operation} condition failed`);
  }
  return result;
}

/** Every page of one Query, following LastEvaluatedKey; each page is one `send` (timeout, failures classified). */
export async function* queryPages<T>(
  client: DynamoDBDocumentClient,
  input: Omit<QueryCommandInput, 'ExclusiveStartKey'>,
  operation: string,
): AsyncGenerator<T[]> {
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await send<{ Items?: T[]; LastEvaluatedKey?: Record<string, unknown> }>(
      client,
      new QueryCommand({ ...input, ExclusiveStartKey: startKey }),
      operation,
    );
    yield page.Items ?? [];
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}

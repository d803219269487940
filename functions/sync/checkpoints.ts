/**
 * Named positions per customer (TABLES.checkpoints): how far reconciliation has looked at Virtuous, how far a bulk
 * load has read its source. A checkpoint holds a position and a status, never data.
 */
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { send } from './dynamo-call.ts';

export interface Checkpoint {
  readonly customerId: string;
  readonly checkpointName: string;
  /** Opaque to the store: an ISO time, a source cursor, a JSON position. */
  readonly position?: string;
  readonly status?: string;
  readonly updatedAt?: string;
}

export interface CheckpointStore {
  get(customerId: string, name: string): Promise<Checkpoint | undefined>;
  put(customerId: string, name: string, changes: { position?: string; status: string }, now: Date): Promise<void>;
}

export function createDynamoCheckpointStore(client: DynamoDBDocumentClient, table: string): CheckpointStore {
  return {
    async get(customerId, name) {
      const result = await send<{ Item?: Checkpoint }>(
        client,
        new GetCommand({ TableName: table, Key: { customerId, checkpointName: name }, ConsistentRead: true }),
        'GetItem(checkpoint)',
      );
      return result.Item;
    },
    async put(customerId, name, changes, now) {
      // An update, not a put: fields others wrote (e.g. the lifecycle's `requestedAt`) stay.
      const values: Record<string, unknown> = { ':status': changes.status, ':now': now.toISOString() };
      const sets = ['#status = :status', 'updatedAt = :now'];
      if (changes.position !== undefined) {
        sets.push('#position = :position');
        values[':position'] = changes.position;
      }
      await send(
        client,
        new UpdateCommand({
          TableName: table,
          Key: { customerId, checkpointName: name },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ExpressionAttributeNames: {
            '#status': 'status',
            ...(changes.position === undefined ? {} : { '#position': 'position' }),
          },
          ExpressionAttributeValues: values,
        }),
        'UpdateItem(checkpoint)',
      );
    },
  };
}

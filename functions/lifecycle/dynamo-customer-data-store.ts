/**
 * The customer's items in every DynamoDB table that holds customer data, counted and deleted by partition
 * (Query by customerId, BatchWrite deletes, paginated). The customers table is reduced to an offboarded marker
 * instead, and deletion records are kept. Works unchanged against dynalite.
 */
import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { TransientError } from '../shared/errors.ts';
import { assertCustomerId } from '../shared/identifiers.ts';
import { TABLE_KEYS, TABLES, type TableKey, type TableSchema } from '../shared/tables.ts';
import { dynamoCall, dynamoSignal } from './dynamo-call.ts';
import type { CustomerDataStore, DeletionRecord } from './ports.ts';

/**
 * Tables whose items of the customer are deleted outright: every one that holds customer data, but the customer record
 * (reduced to a marker), the deletion records, the customer's data key (destroyed by crypto-shredding, with proof) and
 * the tables whose identifier-only items outlive offboarding until their TTL (`keptAfterOffboarding`).
 */
export const PURGED_TABLES: readonly TableKey[] = TABLE_KEYS.filter((key) => {
  const schema: TableSchema = TABLES[key];
  return (
    schema.holdsCustomerData &&
    schema.keptAfterOffboarding === undefined &&
    key !== 'customers' &&
    key !== 'deletionRecords' &&
    key !== 'customerKeys'
  );
});

const BATCH = 25;
const MAX_UNPROCESSED_ROUNDS = 6;

export class DynamoCustomerDataStore implements CustomerDataStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableNames: Readonly<Record<TableKey, string>>,
  ) {}

  async inventory(customerId: string): Promise<Partial<Record<TableKey, number>>> {
    assertCustomerId(customerId);
    const counts: Partial<Record<TableKey, number>> = {};
    for (const key of PURGED_TABLES) counts[key] = await this.count(key, customerId);
    return counts;
  }

  private async count(key: TableKey, customerId: string): Promise<number> {
    return dynamoCall(`count ${key}`, async () => {
      let total = 0;
      const pages = paginateQuery(
        { client: this.client },
        {
          TableName: this.tableNames[key],
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': TABLES[key].partitionKey.name },
          ExpressionAttributeValues: { ':pk': customerId },
          Select: 'COUNT',
          ConsistentRead: true,
        },
      );
      for await (const page of pages) total += page.Count ?? 0;
      return total;
    });
  }

  async purge(customerId: string, maxItems: number): Promise<{ deleted: number; done: boolean }> {
    assertCustomerId(customerId);
    let deleted = 0;
    for (const key of PURGED_TABLES) {
      while (deleted < maxItems) {
        const keys = await this.pageOfKeys(key, customerId, Math.min(BATCH * 4, maxItems - deleted));
        if (keys.length === 0) break;
        for (let start = 0; start < keys.length; start += BATCH) {
          await this.deleteBatch(key, keys.slice(start, start + BATCH));
        }
        deleted += keys.length;
      }
      if (deleted >= maxItems) return { deleted, done: false };
    }
    return { deleted, done: true };
  }

  private async pageOfKeys(key: TableKey, customerId: string, limit: number): Promise<Record<string, unknown>[]> {
    const schema = TABLES[key];
    const names: Record<string, string> = { '#pk': schema.partitionKey.name };
    if ('sortKey' in schema) names['#sk'] = schema.sortKey.name;
    const answer = await dynamoCall(`list ${key}`, () =>
      this.client.send(
        new QueryCommand({
          TableName: this.tableNames[key],
          KeyConditionExpression: '#pk = :pk',
          ProjectionExpression: Object.keys(names).join(', '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':pk': customerId },
          ConsistentRead: true,
          Limit: limit,
        }),
        { abortSignal: dynamoSignal() },
      ),
    );
    return answer.Items ?? [];
  }

  private async deleteBatch(key: TableKey, keys: Record<string, unknown>[]): Promise<void> {
    let requests = keys.map((item) => ({ DeleteRequest: { Key: item } }));
    for (let round = 0; round < MAX_UNPROCESSED_ROUNDS && requests.length > 0; round++) {
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** round));
      const answer = await dynamoCall(`delete ${key}`, () =>
        this.client.send(new BatchWriteCommand({ RequestItems: { [this.tableNames[key]]: requests } }), {
          abortSignal: dynamoSignal(),
        }),
      );
      requests = (answer.UnprocessedItems?.[this.tableNames[key]] ?? []) as typeof requests;
    }
    if (requests.length > 0) {
      throw new TransientError('PURGE_THROTTLED', `${requests.length} deletion(s) in ${key} were not processed`);
    }
  }

  async reduceToOffboardedMarker(customerId: string, at: string): Promise<void> {
    assertCustomerId(customerId);
    const table = this.tableNames.customers;
    const existing = await dynamoCall('read customer', () =>
      this.client.send(new GetCommand({ TableName: table, Key: { customerId }, ConsistentRead: true }), {
        abortSignal: dynamoSignal(),
      }),
    );
    const createdAt = typeof existing.Item?.createdAt === 'string' ? existing.Item.createdAt : at;
    const offboardedAt = typeof existing.Item?.offboardedAt === 'string' ? existing.Item.offboardedAt : at;
    await dynamoCall('write offboarded marker', () =>
      this.client.send(
        new PutCommand({
          TableName: table,
          Item: { customerId, status: 'offboarded', createdAt, updatedAt: at, offboardedAt },
        }),
        { abortSignal: dynamoSignal() },
      ),
    );
  }

  /** One record per execution: a retried write after success finds it and stops. */
  async putDeletionRecord(record: DeletionRecord): Promise<void> {
    assertCustomerId(record.customerId);
    const table = this.tableNames.deletionRecords;
    const existing = await dynamoCall('read deletion records', () =>
      this.client.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'customerId = :c',
          FilterExpression: 'executionId = :e',
          ExpressionAttributeValues: { ':c': record.customerId, ':e': record.executionId },
          ConsistentRead: true,
        }),
        { abortSignal: dynamoSignal() },
      ),
    );
    if ((existing.Items ?? []).length > 0) return;
    await dynamoCall('write deletion record', () =>
      this.client.send(new PutCommand({ TableName: table, Item: { ...record } }), { abortSignal: dynamoSignal() }),
    );
  }
}

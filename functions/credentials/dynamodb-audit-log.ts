/**
 * The audit log on DynamoDB (TABLES.secretAudit: partition `customerId`, sort `auditKey`, TTL `expiresAt`).
 * Works unchanged against dynalite on one machine by endpoint configuration.
 */
import { BatchWriteCommand, type DynamoDBDocumentClient, PutCommand, paginateQuery } from '@aws-sdk/lib-dynamodb';
import { ForbiddenInputError, TransientError } from '../shared/errors.ts';
import { assertCustomerId } from '../shared/identifiers.ts';
import { TABLES } from '../shared/tables.ts';
import { type AuditEntry, type AuditLog, type AuditRecord, auditKeyRange, toAuditRecord } from './audit-log.ts';

const { partitionKey, sortKey } = TABLES.secretAudit;
const BATCH_SIZE = 25;
const MAX_UNPROCESSED_ROUNDS = 5;

export class DynamoDbAuditLog implements AuditLog {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async record(entry: AuditEntry): Promise<void> {
    const item = withoutUndefined(toAuditRecord(entry));
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          // A key collision would silently replace another access record; the random suffix makes it a fluke.
          ConditionExpression: 'attribute_not_exists(#sk)',
          ExpressionAttributeNames: { '#sk': sortKey.name },
        }),
      );
    } catch (error) {
      throw new TransientError('AUDIT_WRITE_FAILED', 'the secret-access audit record could not be written', {
        cause: error,
      });
    }
  }

  async accessesBetween(customerId: string, from: string, to: string): Promise<AuditRecord[]> {
    assertCustomerId(customerId);
    const { low, high } = auditKeyRange(isoTime(from), isoTime(to));
    const records: AuditRecord[] = [];
    for await (const page of paginateQuery(
      { client: this.client },
      {
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :low AND :high',
        ExpressionAttributeNames: { '#pk': partitionKey.name, '#sk': sortKey.name },
        ExpressionAttributeValues: { ':pk': customerId, ':low': low, ':high': high },
      },
    )) {
      for (const item of page.Items ?? []) records.push(item as AuditRecord);
    }
    return records;
  }

  async deleteCustomerEntries(customerId: string, keepAfter?: string): Promise<{ deleted: number }> {
    assertCustomerId(customerId);
    const keep = keepAfter === undefined ? undefined : isoTime(keepAfter);
    const keys: Record<string, string>[] = [];
    for await (const page of paginateQuery(
      { client: this.client },
      {
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': partitionKey.name, '#sk': sortKey.name },
        ExpressionAttributeValues: { ':pk': customerId },
        ProjectionExpression: '#pk, #sk',
      },
    )) {
      for (const item of page.Items ?? []) {
        const key = item[sortKey.name] as string;
        if (keep !== undefined && key.slice(0, keep.length) > keep) continue;
        keys.push({ [partitionKey.name]: customerId, [sortKey.name]: key });
      }
    }
    for (let i = 0; i < keys.length; i += BATCH_SIZE) {
      await this.deleteBatch(keys.slice(i, i + BATCH_SIZE));
    }
    return { deleted: keys.length };
  }

  private async deleteBatch(keys: Record<string, string>[]): Promise<void> {
    let requests = keys.map((Key) => ({ DeleteRequest: { Key } }));
    for (let round = 0; round < MAX_UNPROCESSED_ROUNDS && requests.length > 0; round++) {
      const result = await this.client.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: requests } }));
      requests = (result.UnprocessedItems?.[this.tableName] ?? []) as typeof requests;
      if (requests.length > 0) await sleep(50 * 2 ** round);
    }
    if (requests.length > 0) {
      throw new TransientError('AUDIT_DELETE_INCOMPLETE', 'some audit records were not deleted; retry the deletion');
    }
  }
}

/** Normalises an ISO-8601 time so string comparison on sort keys equals time comparison. */
export function isoTime(value: string): string {
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw new ForbiddenInputError('INVALID_TIME', 'time must be an ISO-8601 timestamp');
  return new Date(ms).toISOString();
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * CustomerRepository on DynamoDB (the customers table of functions/shared/tables.ts), through the DocumentClient.
 * Works unchanged against dynalite by endpoint configuration. Reads are strongly consistent: a status change
 * (offboarded, paused) or a lock must be seen by the very next request.
 *
 * Failures: a lost conditional race is TransientError (retry after re-reading), a missing customer or an existing
 * one on create is PermanentError, anything the store itself fails with is TransientError. Messages carry the
 * customer id at most.
 */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateScan,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { PermanentError, TransientError } from '../shared/errors.ts';
import { TABLES } from '../shared/tables.ts';
import type { CustomerRecord, CustomerRepository, CustomerStatus, WorkflowLock } from './customer.ts';

export interface DynamoCustomerRepositoryOptions {
  readonly clock?: () => Date;
  /** Upper bound for one call, SDK retries included. */
  readonly timeoutMs?: number;
}

type CustomerChanges = Partial<Omit<CustomerRecord, 'customerId' | 'createdAt'>>;

const KEY = TABLES.customers.partitionKey.name;
const IMMUTABLE = new Set<string>([KEY, 'createdAt']);

export class DynamoCustomerRepository implements CustomerRepository {
  private readonly clock: () => Date;
  private readonly timeoutMs: number;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: DynamoCustomerRepositoryOptions = {},
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.timeoutMs = options.timeoutMs ?? 5_000;
  }

  async get(customerId: string): Promise<CustomerRecord | undefined> {
    const result = await this.call('get', () =>
      this.client.send(
        new GetCommand({ TableName: this.tableName, Key: { [KEY]: customerId }, ConsistentRead: true }),
        {
          abortSignal: this.signal(),
        },
      ),
    );
    return result.Item as CustomerRecord | undefined;
  }

  async create(record: CustomerRecord): Promise<void> {
    try {
      await this.call('create', () =>
        this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: record,
            ConditionExpression: 'attribute_not_exists(#key)',
            ExpressionAttributeNames: { '#key': KEY },
          }),
          { abortSignal: this.signal() },
        ),
      );
    } catch (error) {
      if (isConditionalCheckFailure(error)) {
        throw new PermanentError('CUSTOMER_EXISTS', `customer ${record.customerId} already exists`);
      }
      throw error;
    }
  }

  /**
   * Sets every key present in `changes`; a key present with the value `undefined` removes that attribute (how a
   * caller clears `statusReason`, `lock` or `previousWebhookSecretValidUntil`). `updatedAt` defaults to now.
   */
  async update(
    customerId: string,
    changes: CustomerChanges,
    options: { expectedStatus?: CustomerStatus | readonly CustomerStatus[] } = {},
  ): Promise<CustomerRecord> {
    const names: Record<string, string> = { '#key': KEY };
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    const removes: string[] = [];
    const withTimestamp: Record<string, unknown> = { updatedAt: this.clock().toISOString(), ...changes };
    let index = 0;
    for (const [field, value] of Object.entries(withTimestamp)) {
      if (IMMUTABLE.has(field)) continue;
      const name = `#f${index}`;
      names[name] = field;
      if (value === undefined) removes.push(name);
      else {
        values[`:v${index}`] = value;
        sets.push(`${name} = :v${index}`);
      }
      index += 1;
    }
    const conditions = ['attribute_exists(#key)'];
    const expected = options.expectedStatus === undefined ? [] : [options.expectedStatus].flat();
    if (expected.length > 0) {
      names['#status'] = 'status';
      const placeholders = expected.map((status, i) => {
        values[`:expected${i}`] = status;
        return `:expected${i}`;
      });
      conditions.push(`#status IN (${placeholders.join(', ')})`);
    }
    const input: UpdateCommandInput = {
      TableName: this.tableName,
      Key: { [KEY]: customerId },
      UpdateExpression: [
        sets.length > 0 ? `SET ${sets.join(', ')}` : '',
        removes.length > 0 ? `REMOVE ${removes.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join(' '),
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: Object.keys(values).length > 0 ? values : undefined,
      ReturnValues: 'ALL_NEW',
    };
    try {
      const result = await this.call('update', () =>
        this.client.send(new UpdateCommand(input), { abortSignal: this.signal() }),
      );
      return result.Attributes as CustomerRecord;
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw error;
      if ((await this.get(customerId)) === undefined) throw notFound(customerId);
      throw new TransientError('CUSTOMER_STATUS_CHANGED', `customer ${customerId} is no longer in the expected status`);
    }
  }

  async acquireLock(customerId: string, lock: WorkflowLock): Promise<void> {
    try {
      await this.call('acquireLock', () =>
        this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { [KEY]: customerId },
            UpdateExpression: 'SET #lock = :lock, #updatedAt = :now',
            ConditionExpression:
              'attribute_exists(#key) AND (attribute_not_exists(#lock) OR #lock.#executionId = :executionId)',
            ExpressionAttributeNames: {
              '#key': KEY,
              '#lock': 'lock',
              '#executionId': 'executionId',
              '#updatedAt': 'updatedAt',
            },
            ExpressionAttributeValues: {
              ':lock': lock,
              ':executionId': lock.executionId,
              ':now': this.clock().toISOString(),
            },
          }),
          { abortSignal: this.signal() },
        ),
      );
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw error;
      if ((await this.get(customerId)) === undefined) throw notFound(customerId);
      throw new PermanentError('WORKFLOW_IN_PROGRESS', `another workflow holds the lock of customer ${customerId}`);
    }
  }

  async releaseLock(customerId: string, executionId: string): Promise<void> {
    try {
      await this.call('releaseLock', () =>
        this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { [KEY]: customerId },
            UpdateExpression: 'REMOVE #lock SET #updatedAt = :now',
            ConditionExpression: '#lock.#executionId = :executionId',
            ExpressionAttributeNames: { '#lock': 'lock', '#executionId': 'executionId', '#updatedAt': 'updatedAt' },
            ExpressionAttributeValues: { ':executionId': executionId, ':now': this.clock().toISOString() },
          }),
          { abortSignal: this.signal() },
        ),
      );
    } catch (error) {
      // Not held by this execution (already released, never taken, or the customer is gone): nothing to release.
      if (isConditionalCheckFailure(error)) return;
      throw error;
    }
  }

  async list(): Promise<CustomerRecord[]> {
    return this.call('list', async () => {
      const records: CustomerRecord[] = [];
      const pages = paginateScan(
        { client: this.client, pageSize: 100 },
        { TableName: this.tableName, ConsistentRead: true },
      );
      for await (const page of pages) {
        for (const item of page.Items ?? []) records.push(item as CustomerRecord);
      }
      return records;
    });
  }

  private signal(): AbortSignal {
    return AbortSignal.timeout(this.timeoutMs);
  }

  /** Lets our own classified errors and the conditional-check failure through; wraps every other store failure. */
  private async call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (isConditionalCheckFailure(error) || error instanceof PermanentError || error instanceof TransientError) {
        throw error;
      }
      throw new TransientError('CUSTOMER_STORE_UNAVAILABLE', `customer store ${operation} failed`, { cause: error });
    }
  }
}

/** By name: the DocumentClient may surface the exception class of another copy of the SDK package. */
function isConditionalCheckFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

function notFound(customerId: string): PermanentError {
  return new PermanentError('CUSTOMER_NOT_FOUND', `customer ${customerId} does not exist`);
}

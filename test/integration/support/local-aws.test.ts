// The stand-ins every integration test relies on: tables created from the schema, queue redrive to the DLQ.
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLE_KEYS, TABLES, type TableSchema } from '../../../functions/shared/tables.ts';
import { type LocalAws, startLocalAws } from '../../support/local-aws.ts';

describe('local AWS stand-ins', () => {
  let aws: LocalAws;
  beforeAll(async () => {
    aws = await startLocalAws({ maxReceiveCount: 1 });
  });
  afterAll(() => aws.stop());

  it('creates every declared table with its declared keys', async () => {
    for (const key of TABLE_KEYS) {
      const { Table } = await aws.dynamodb.send(new DescribeTableCommand({ TableName: aws.tableNames[key] }));
      const schema: TableSchema = TABLES[key];
      const expected = [schema.partitionKey.name, ...(schema.sortKey ? [schema.sortKey.name] : [])];
      expect(Table?.KeySchema?.map((k) => k.AttributeName)).toEqual(expected);
    }
  });

  it('moves a message that was received too often to the dead-letter queue', async () => {
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: aws.queues.inboundUrl, MessageBody: 'redrive-me' }));
    const first = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: aws.queues.inboundUrl, VisibilityTimeout: 1 }),
    );
    expect(first.Messages?.[0]?.Body).toBe('redrive-me');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const second = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: aws.queues.inboundUrl }));
    expect(second.Messages ?? []).toHaveLength(0);
    const dead = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: aws.queues.deadLetterUrl, WaitTimeSeconds: 1 }),
    );
    expect(dead.Messages?.[0]?.Body).toBe('redrive-me');
  });
});

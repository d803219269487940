/**
 * Local AWS stand-ins for tests: dynalite (DynamoDB, in memory) with every table of functions/shared/tables.ts, and
 * local-aws-sqs with the inbound queue and its dead-letter queue. Real SDK v3 clients, real calls.
 *
 *   const aws = await startLocalAws();          // in beforeAll
 *   aws.documentClient / aws.dynamodb / aws.sqs / aws.tableNames.customers / aws.queues.inboundUrl / aws.env
 *   await aws.stop();                            // in afterAll
 */

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { createSqsServer } from 'local-aws-sqs';
import { ENV } from '../../functions/shared/environment.ts';
import { createTableInput, TABLE_KEYS, type TableKey, tableEnvVar, tableName } from '../../functions/shared/tables.ts';

export const TEST_ENVIRONMENT = 'test';
export const TEST_REGION = 'us-east-1';
export const TEST_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export interface LocalAws {
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  readonly dynamodb: DynamoDBClient;
  readonly documentClient: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly tableNames: Readonly<Record<TableKey, string>>;
  readonly queues: { readonly inboundUrl: string; readonly deadLetterUrl: string };
  /** Environment variables a handler's lazy AWS wiring reads (table names, queue URL, environment name). */
  readonly env: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

export interface LocalAwsOptions {
  /** Receives before a message moves to the DLQ. */
  readonly maxReceiveCount?: number;
  readonly visibilityTimeoutSeconds?: number;
  readonly environment?: string;
}

async function listen(server: Server): Promise<number> {
  if (!server.listening) {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  }
  return (server.address() as AddressInfo).port;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

export async function startLocalAws(options: LocalAwsOptions = {}): Promise<LocalAws> {
  const environment = options.environment ?? TEST_ENVIRONMENT;
  const dynamoServer = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 }) as Server;
  const dynamoPort = await listen(dynamoServer);
  const sqsServer = await createSqsServer({ port: 0, hostname: '127.0.0.1', emulateQueueCreationLifecycle: false });
  const sqsPort = (sqsServer.address() as AddressInfo).port;

  const dynamodbEndpoint = `http://127.0.0.1:${dynamoPort}`;
  const sqsEndpoint = `http://127.0.0.1:${sqsPort}`;
  const clientConfig = { region: TEST_REGION, credentials: TEST_CREDENTIALS, maxAttempts: 2 };
  const dynamodb = new DynamoDBClient({ ...clientConfig, endpoint: dynamodbEndpoint });
  const documentClient = DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } });
  const sqs = new SQSClient({ ...clientConfig, endpoint: sqsEndpoint });

  for (const key of TABLE_KEYS) {
    await dynamodb.send(new CreateTableCommand(createTableInput(environment, key)));
  }
  const tableNames = Object.fromEntries(TABLE_KEYS.map((key) => [key, tableName(environment, key)])) as Record<
    TableKey,
    string
  >;

  const deadLetter = await sqs.send(new CreateQueueCommand({ QueueName: `virtuous-${environment}-inbound-dlq` }));
  const deadLetterUrl = deadLetter.QueueUrl as string;
  const dlqAttributes = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: deadLetterUrl, AttributeNames: ['QueueArn'] }),
  );
  const inbound = await sqs.send(
    new CreateQueueCommand({
      QueueName: `virtuous-${environment}-inbound`,
      Attributes: {
        VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 30),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlqAttributes.Attributes?.QueueArn,
          maxReceiveCount: options.maxReceiveCount ?? 5,
        }),
      },
    }),
  );
  const inboundUrl = inbound.QueueUrl as string;

  const env: Record<string, string> = {
    [ENV.environmentName]: environment,
    [ENV.inboundQueueUrl]: inboundUrl,
    AWS_REGION: TEST_REGION,
    AWS_ENDPOINT_URL_DYNAMODB: dynamodbEndpoint,
    AWS_ENDPOINT_URL_SQS: sqsEndpoint,
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
  };
  for (const key of TABLE_KEYS) env[tableEnvVar(key)] = tableNames[key];

  return {
    dynamodbEndpoint,
    sqsEndpoint,
    dynamodb,
    documentClient,
    sqs,
    tableNames,
    queues: { inboundUrl, deadLetterUrl },
    env,
    async stop() {
      dynamodb.destroy();
      sqs.destroy();
      await Promise.all([close(dynamoServer), close(sqsServer)]);
    },
  };
}

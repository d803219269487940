/**
 * The verifier's AWS dependencies, built from the environment (names in functions/shared/environment.ts). Every
 * client has a connection and request timeout and a bounded number of attempts, so a slow dependency turns into a
 * 503 well inside the function's timeout instead of a hung delivery.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createSecretsManagerStore } from '../credentials/secrets-manager-store.ts';
import { DynamoCustomerRepository } from '../customers/dynamo-customer-repository.ts';
import { SqsInboundQueue } from '../queue/sqs-inbound-queue.ts';
import { ENV, requireSetting, tableNameFromEnv } from '../shared/environment.ts';
import { configFromEnv } from './config.ts';
import type { WebhookVerifierDeps } from './handler.ts';

const CLIENT_SETTINGS = {
  maxAttempts: 2,
  requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 },
} as const;

export function createAwsDependencies(env: NodeJS.ProcessEnv = process.env): WebhookVerifierDeps {
  const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient(CLIENT_SETTINGS), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return {
    customers: new DynamoCustomerRepository(documentClient, tableNameFromEnv('customers', env), { timeoutMs: 4_000 }),
    secrets: createSecretsManagerStore(env),
    queue: new SqsInboundQueue(new SQSClient(CLIENT_SETTINGS), requireSetting(ENV.inboundQueueUrl, env), {
      timeoutMs: 4_000,
    }),
    config: configFromEnv(env),
  };
}

import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createSecretsManagerStore } from '../credentials/secrets-manager-store.ts';
import { DynamoCustomerRepository } from '../customers/dynamo-customer-repository.ts';
import { S3CaptureStore } from '../debug-captures/s3-capture-store.ts';
import { SqsInboundQueue } from '../queue/sqs-inbound-queue.ts';
import { createDocumentClient } from '../shared/dynamo-document-client.ts';
import { ENV, requireSetting, tableNameFromEnv } from '../shared/environment.ts';
import { configFromEnv } from './config.ts';
import type { WebhookVerifierDeps } from './handler.ts';

const CLIENT_SETTINGS = {
  maxAttempts: 2,
  requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 },
} as const;

export function createAwsDependencies(env: NodeJS.ProcessEnv = process.env): WebhookVerifierDeps {
  const documentClient = createDocumentClient(CLIENT_SETTINGS);
  const debugBucket = env[ENV.debugCaptureBucket];
  return {
    customers: new DynamoCustomerRepository(documentClient, tableNameFromEnv('customers', env), { timeoutMs: 4_000 }),
    secrets: createSecretsManagerStore(env),
    queue: new SqsInboundQueue(new SQSClient(CLIENT_SETTINGS), requireSetting(ENV.inboundQueueUrl, env), {
      timeoutMs: 4_000,
    }),
    config: configFromEnv(env),
    // Built unconditionally when the bucket is named; it writes only for a customer whose flag is active.
    ...(debugBucket === undefined || debugBucket === ''
      ? {}
      : { debugCaptures: new S3CaptureStore(new S3Client({ ...CLIENT_SETTINGS, maxAttempts: 1 }), debugBucket) }),
  };
}

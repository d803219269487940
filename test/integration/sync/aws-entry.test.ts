/**
 * The AWS entries (`handler` exports) built lazily from environment variables, against dynalite and local-aws-sqs
 * by endpoint configuration; KMS is a stateful stand-in (aws-sdk-client-mock). Checks the wiring, not the engine.
 */
import { randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import type { Context, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as bulkLoaderHandler } from '../../../functions/bulk-loader/handler.ts';
import { DynamoCustomerRepository } from '../../../functions/customers/dynamo-customer-repository.ts';
import { handler as processorHandler } from '../../../functions/processor/handler.ts';
import { createInboundMessage, serializeInboundMessage } from '../../../functions/queue/inbound-message.ts';
import { handler as reconcilerHandler } from '../../../functions/reconciler/handler.ts';
import { ENV } from '../../../functions/shared/environment.ts';
import { tableEnvVar } from '../../../functions/shared/tables.ts';
import { deliveryId } from '../../../functions/webhooks/delivery-id.ts';
import { findLeaks } from '../../support/canaries.ts';
import { type LocalAws, startLocalAws } from '../../support/local-aws.ts';
import { sqsRecord } from '../../support/sqs-records.ts';
import { paymentSucceeded } from './events.ts';

let aws: LocalAws;
const saved = { ...process.env };
const kms = mockClient(KMSClient);
const dataKeys = new Map<string, { key: Buffer; context: string }>();

const context = {
  functionName: 'processor-test',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

beforeAll(async () => {
  aws = await startLocalAws();
  Object.assign(process.env, aws.env, {
    [ENV.dataKmsKeyArn]: 'arn:aws:kms:us-east-1:000000000000:key/data',
    [ENV.virtuousBaseUrl]: 'https://api.virtuoussoftware.com',
    [ENV.customerSecretsRoleArn]: 'arn:aws:iam::000000000000:role/customer-secrets',
    [ENV.customerSecretsPurpose]: 'virtuous-api',
    [ENV.secretAccessRoleArns]: 'arn:aws:iam::000000000000:role/customer-secrets',
    [ENV.secretsKmsKeyArn]: 'arn:aws:kms:us-east-1:000000000000:key/secrets',
    [ENV.customerNotificationsTopicArn]: 'arn:aws:sns:us-east-1:000000000000:customers',
    [ENV.operatorAlertsTopicArn]: 'arn:aws:sns:us-east-1:000000000000:operators',
  });
  kms.on(GenerateDataKeyCommand).callsFake((input) => {
    const key = randomBytes(32);
    const blob = randomBytes(32);
    dataKeys.set(blob.toString('hex'), { key: Buffer.from(key), context: JSON.stringify(input.EncryptionContext) });
    return { Plaintext: new Uint8Array(key), CiphertextBlob: new Uint8Array(blob), KeyId: input.KeyId };
  });
  kms.on(DecryptCommand).callsFake((input) => {
    const entry = dataKeys.get(Buffer.from(input.CiphertextBlob as Uint8Array).toString('hex'));
    if (!entry || entry.context !== JSON.stringify(input.EncryptionContext)) {
      throw Object.assign(new Error('invalid'), { name: 'InvalidCiphertextException' });
    }
    return { Plaintext: new Uint8Array(entry.key) };
  });
  const customers = new DynamoCustomerRepository(aws.documentClient, aws.tableNames.customers);
  const now = new Date().toISOString();
  await customers.create({
    customerId: 'paused-co',
    status: 'paused',
    sensitivity: 'standard',
    tokenRotationDays: 180,
    createdAt: now,
    updatedAt: now,
  });
});

afterAll(async () => {
  kms.restore();
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
  await aws.stop();
});

function sqsEvent(customerId: string, messageId: string): SQSEvent {
  const rawBody = Buffer.from(JSON.stringify(paymentSucceeded(`pi_${messageId}`, 1000)));
  const message = createInboundMessage({
    deliveryId: deliveryId('stripe', customerId, rawBody),
    customerId,
    provider: 'stripe',
    receivedAt: new Date(),
    rawBody,
  });
  return {
    Records: [sqsRecord({ messageId, body: serializeInboundMessage(message) })],
  };
}

describe('AWS entries', () => {
  it('processor: builds from the environment, holds a paused customer’s message sealed under its own data key', async () => {
    // The processor is granted only the tables it uses; settings of the others are absent, as on AWS.
    const unused = [tableEnvVar('checkpoints'), tableEnvVar('reconciliationLog')];
    const kept = unused.map((name) => process.env[name]);
    for (const name of unused) delete process.env[name];
    try {
      expect(await processorHandler(sqsEvent('paused-co', 'm1'), context)).toEqual({ batchItemFailures: [] });
    } finally {
      unused.forEach((name, index) => {
        process.env[name] = kept[index];
      });
    }
    expect(await processorHandler(sqsEvent('nobody', 'm2'), context)).toEqual({ batchItemFailures: [] });
    const call = kms.commandCalls(GenerateDataKeyCommand)[0]?.args[0].input;
    // The customer's data key: generated once under the data CMK, bound to the customer, stored only encrypted.
    expect(call).toMatchObject({
      KeyId: 'arn:aws:kms:us-east-1:000000000000:key/data',
      EncryptionContext: { customerId: 'paused-co', purpose: 'customer-data-key' },
    });
    const { ScanCommand } = await import('@aws-sdk/lib-dynamodb');
    const held = await aws.documentClient.send(new ScanCommand({ TableName: aws.tableNames.heldMessages }));
    expect(held.Items).toHaveLength(1);
    expect(findLeaks(JSON.stringify(held.Items))).toEqual([]);
    const keys = await aws.documentClient.send(new ScanCommand({ TableName: aws.tableNames.customerKeys }));
    expect(keys.Items).toEqual([
      expect.objectContaining({ customerId: 'paused-co', state: 'active', keyId: call?.EncryptionContext?.keyId }),
    ]);
    expect(held.Items?.[0]?.payload).toMatchObject({
      v: 2,
      wrap: 'customer-key',
      keyId: call?.EncryptionContext?.keyId,
    });
  });

  it('reconciler and bulk loader: build from the environment and refuse what they cannot do', async () => {
    expect(await reconcilerHandler({}, context)).toEqual({
      customers: 0,
      failed: 0,
      released: 0,
      needsUpdate: 0,
      recovered: 0,
    });
    await expect(bulkLoaderHandler({ customerId: 'paused-co' }, context)).rejects.toThrow(/not active/);
  });

  it('bulk loader with stripe-connect: plain http is refused on AWS, even to loopback', async () => {
    const customers = new DynamoCustomerRepository(aws.documentClient, aws.tableNames.customers);
    const now = new Date().toISOString();
    await customers.create({
      customerId: 'stripe-co',
      status: 'active',
      sensitivity: 'standard',
      tokenRotationDays: 180,
      createdAt: now,
      updatedAt: now,
    });
    process.env[ENV.environmentName] ??= 'test';
    process.env[ENV.stripeApiBaseUrl] = 'http://127.0.0.1:9';
    try {
      await expect(
        bulkLoaderHandler({ customerId: 'stripe-co', source: 'stripe-connect' }, context),
      ).rejects.toMatchObject({ code: 'INSECURE_ENDPOINT' });
      await expect(bulkLoaderHandler({ customerId: 'stripe-co', source: 'mailchimp' }, context)).rejects.toMatchObject({
        code: 'UNKNOWN_HISTORY_SOURCE',
      });
    } finally {
      delete process.env[ENV.stripeApiBaseUrl];
    }
  });
});

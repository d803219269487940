/**
 * The verifier with its production adapters (DynamoDB customer table, SQS inbound queue) against dynalite and
 * local-aws-sqs: real SDK calls end to end, secrets from the in-memory SecretStore.
 */
import { createServer } from 'node:net';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoCustomerRepository } from '../../../functions/customers/dynamo-customer-repository.ts';
import { createInboundMessage, inboundMessageRawBody } from '../../../functions/queue/inbound-message.ts';
import { parseInboundMessage } from '../../../functions/queue/parse-inbound-message.ts';
import { SqsInboundQueue } from '../../../functions/queue/sqs-inbound-queue.ts';
import { createWebhookVerifierHandler } from '../../../functions/webhook-verifier/handler.ts';
import { deliveryId } from '../../../functions/webhooks/delivery-id.ts';
import { webhookSecretRef } from '../../../functions/webhooks/secret-candidates.ts';
import { registerSecret } from '../../support/canaries.ts';
import { InMemorySecretStore } from '../../support/in-memory-secret-store.ts';
import { type LocalAws, startLocalAws, TEST_CREDENTIALS, TEST_REGION } from '../../support/local-aws.ts';
import {
  apiEvent,
  customerRecord,
  donorBody,
  lambdaContext,
  NOW,
  signHex,
} from '../../unit/webhook-verifier/fixtures.ts';

const JSON_TYPE = { 'Content-Type': 'application/json' };

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new TypeError('no port');
  return address.port;
}

describe('webhook verifier → SQS (local-aws-sqs) with the DynamoDB customer table (dynalite)', () => {
  let aws: LocalAws;
  const secret = registerSecret('sqs-integration-secret-41d7e2b9');
  const secrets = new InMemorySecretStore(() => NOW);
  let customers: DynamoCustomerRepository;

  beforeAll(async () => {
    aws = await startLocalAws();
    customers = new DynamoCustomerRepository(aws.documentClient, aws.tableNames.customers);
    await customers.create(customerRecord('acme'));
    await customers.create(customerRecord('gone', { status: 'offboarded' }));
    await secrets.seedCurrent(webhookSecretRef('virtuous', 'acme'), secret);
    await secrets.seedCurrent(webhookSecretRef('virtuous', 'gone'), secret);
  });
  afterAll(async () => {
    await aws?.stop();
  });

  async function drain(queueUrl: string) {
    const result = await aws.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
        WaitTimeSeconds: 0,
      }),
    );
    return result.Messages ?? [];
  }

  it('puts an accepted webhook on the queue, once, with its attributes and the exact raw body', async () => {
    const handler = createWebhookVerifierHandler({
      customers,
      secrets,
      queue: new SqsInboundQueue(aws.sqs, aws.queues.inboundUrl),
      clock: () => NOW,
    });
    const body = donorBody('integration');
    const response = await handler(
      apiEvent({
        body: body.toString('base64'),
        isBase64Encoded: true,
        headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signHex(secret, body) },
      }),
      lambdaContext,
    );
    expect(response.statusCode).toBe(202);

    const messages = await drain(aws.queues.inboundUrl);
    expect(messages).toHaveLength(1);
    const [sqsMessage] = messages;
    const message = parseInboundMessage(sqsMessage?.Body ?? '');
    const id = deliveryId('virtuous', 'acme', body);
    expect(message).toMatchObject({ version: 1, customerId: 'acme', provider: 'virtuous', deliveryId: id });
    expect(inboundMessageRawBody(message).equals(body)).toBe(true);
    expect(sqsMessage?.MessageAttributes).toEqual({
      version: { DataType: 'Number', StringValue: '1' },
      deliveryId: { DataType: 'String', StringValue: id },
      customerId: { DataType: 'String', StringValue: 'acme' },
      provider: { DataType: 'String', StringValue: 'virtuous' },
    });
  });

  it('carries a body of the default maximum size (256 KiB, 342 KiB as Base64) through the queue', async () => {
    const handler = createWebhookVerifierHandler({
      customers,
      secrets,
      queue: new SqsInboundQueue(aws.sqs, aws.queues.inboundUrl),
      clock: () => NOW,
    });
    const prefix = donorBody('largest');
    const body = Buffer.concat([prefix, Buffer.alloc(256 * 1024 - prefix.length, 0x20)]);
    const response = await handler(
      apiEvent({ body: body.toString(), headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signHex(secret, body) } }),
      lambdaContext,
    );
    expect(response.statusCode).toBe(202);
    const [sqsMessage] = await drain(aws.queues.inboundUrl);
    expect(inboundMessageRawBody(parseInboundMessage(sqsMessage?.Body ?? '')).equals(body)).toBe(true);
  });

  it('puts nothing on the queue for a refused delivery (offboarded customer, bad signature)', async () => {
    const handler = createWebhookVerifierHandler({
      customers,
      secrets,
      queue: new SqsInboundQueue(aws.sqs, aws.queues.inboundUrl),
      clock: () => NOW,
    });
    const body = donorBody('refused');
    for (const [customerId, signature] of [
      ['gone', signHex(secret, body)],
      ['acme', signHex('forged', body)],
    ] as const) {
      const response = await handler(
        apiEvent({ customerId, body: body.toString(), headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signature } }),
        lambdaContext,
      );
      expect(response.statusCode).toBe(401);
    }
    expect(await drain(aws.queues.inboundUrl)).toHaveLength(0);
  });

  it('answers 503 when the queue does not exist, so the sender retries; nothing is acknowledged', async () => {
    const handler = createWebhookVerifierHandler({
      customers,
      secrets,
      queue: new SqsInboundQueue(aws.sqs, `${aws.queues.inboundUrl}-missing`),
      clock: () => NOW,
    });
    const body = donorBody('missing-queue');
    const response = await handler(
      apiEvent({ body: body.toString(), headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signHex(secret, body) } }),
      lambdaContext,
    );
    expect(response.statusCode).toBe(503);
    expect(JSON.parse(response.body)).toEqual({ error: 'temporarily_unavailable', requestId: expect.any(String) });
    expect(await drain(aws.queues.inboundUrl)).toHaveLength(0);
  });

  it('answers 503 within its timeout when the queue endpoint is unreachable', async () => {
    const port = await freePort();
    const unreachable = new SQSClient({
      region: TEST_REGION,
      credentials: TEST_CREDENTIALS,
      endpoint: `http://127.0.0.1:${port}`,
      maxAttempts: 2,
      requestHandler: { connectionTimeout: 500, requestTimeout: 1_000 },
    });
    const handler = createWebhookVerifierHandler({
      customers,
      secrets,
      queue: new SqsInboundQueue(unreachable, `http://127.0.0.1:${port}/000000000000/inbound`, { timeoutMs: 3_000 }),
      clock: () => NOW,
    });
    const body = donorBody('unreachable');
    const started = Date.now();
    const response = await handler(
      apiEvent({ body: body.toString(), headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signHex(secret, body) } }),
      lambdaContext,
    );
    expect(response.statusCode).toBe(503);
    expect(Date.now() - started).toBeLessThan(3_500);
    unreachable.destroy();
  });

  it('gives up on a queue endpoint that accepts the connection and never answers, within its own timeout', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket); // read nothing, answer nothing
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    const address = silent.address();
    if (address === null || typeof address === 'string') throw new TypeError('no port');
    const client = new SQSClient({
      region: TEST_REGION,
      credentials: TEST_CREDENTIALS,
      endpoint: `http://127.0.0.1:${address.port}`,
      maxAttempts: 1,
    });
    const queue = new SqsInboundQueue(client, `http://127.0.0.1:${address.port}/000000000000/inbound`, {
      timeoutMs: 300,
    });
    const body = donorBody('silent');
    const message = createInboundMessage({
      deliveryId: deliveryId('virtuous', 'acme', body),
      customerId: 'acme',
      provider: 'virtuous',
      receivedAt: NOW,
      rawBody: body,
    });
    const started = Date.now();
    await expect(queue.send(message)).rejects.toMatchObject({ name: 'TransientError', code: 'QUEUE_UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(2_000);
    client.destroy();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('answers 503 when the customer table is unreachable', async () => {
    const handler = createWebhookVerifierHandler({
      customers: new DynamoCustomerRepository(aws.documentClient, 'virtuous-test-no-such-table'),
      secrets,
      queue: new SqsInboundQueue(aws.sqs, aws.queues.inboundUrl),
      clock: () => NOW,
    });
    const body = donorBody('no-table');
    const response = await handler(
      apiEvent({ body: body.toString(), headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signHex(secret, body) } }),
      lambdaContext,
    );
    expect(response.statusCode).toBe(503);
    expect(await drain(aws.queues.inboundUrl)).toHaveLength(0);
  });
});

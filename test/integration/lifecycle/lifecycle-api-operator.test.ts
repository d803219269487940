/**
 * The lifecycle API's operator routes against real dead letters (dynalite, sealed with the local sealer) and the
 * inbound queue (local-aws-sqs): customer status, list / replay / discard. Answers carry identifiers, codes, counts
 * and timestamps only: never the sealed payload, the donor data inside it, or a rotation's task token.
 */
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryKeyring } from '../../../functions/credentials/keyring.ts';
import { createLocalPayloadSealer } from '../../../functions/crypto/local-payload-sealer.ts';
import type { CustomerRecord } from '../../../functions/customers/customer.ts';
import { createLifecycleApiHandler } from '../../../functions/lifecycle-api/handler.ts';
import type { LifecycleApiDeps } from '../../../functions/lifecycle-api/lifecycle-api.ts';
import { createDeadLetters, type DeadLetters, type ReplayOptions } from '../../../functions/sync/dead-letters.ts';
import { createDynamoSyncStateRepository } from '../../../functions/sync/dynamo-sync-state-repository.ts';
import { createSqsMessageQueue } from '../../../functions/sync/message-queue.ts';
import { DONOR, findLeaks, PII_CANARIES, registerSecret } from '../../support/canaries.ts';
import { customerRecord, InMemoryCustomers } from '../../support/in-memory-customers.ts';
import { InMemorySecretStore } from '../../support/in-memory-secret-store.ts';
import { type LocalAws, startLocalAws } from '../../support/local-aws.ts';
import { VIRTUOUS_NOT_CALLED } from '../../support/virtuous-not-called.ts';

const NOW = new Date('2026-11-29T00:00:00.000Z');
const TASK_TOKEN = registerSecret('sfn-task-token-operator-routes-0123456789abcdef');
const VIEW_KEYS = [
  'attempts',
  'createdAt',
  'customerId',
  'deadLetterId',
  'errorCode',
  'operation',
  'resolution',
  'resolvedAt',
  'statusCode',
];

let aws: LocalAws;
let deadLetters: DeadLetters;
const replayOptions: ReplayOptions[] = [];

beforeAll(async () => {
  aws = await startLocalAws();
  const client = aws.documentClient;
  deadLetters = createDeadLetters({
    client,
    table: aws.tableNames.deadLetters,
    sealer: createLocalPayloadSealer(new MemoryKeyring()),
    queue: createSqsMessageQueue(aws.sqs, aws.queues.inboundUrl),
    syncState: createDynamoSyncStateRepository(client, aws.tableNames.syncRecords),
  });
});

afterAll(async () => {
  await aws.stop();
});

function setup(options: { withDeadLetters?: boolean } = {}) {
  const records: CustomerRecord[] = [
    customerRecord('zeta-org', 'paused', NOW.toISOString(), { statusReason: 'virtuous_unauthorized' }),
    customerRecord('acme', 'active', NOW.toISOString(), {
      organizationId: '42',
      awaitingTokenTaskToken: TASK_TOKEN,
      lock: { workflow: 'token-rotation', executionId: 'run-1', acquiredAt: NOW.toISOString() },
    }),
  ];
  const spy: Pick<DeadLetters, 'list' | 'replay' | 'discard'> = {
    list: (customerId, resolution) => deadLetters.list(customerId, resolution),
    replay: (customerId, id, now, options = {}) => {
      replayOptions.push(options);
      return deadLetters.replay(customerId, id, now, options);
    },
    discard: (customerId, id, now) => deadLetters.discard(customerId, id, now),
  };
  const deps: LifecycleApiDeps = {
    customers: new InMemoryCustomers(records),
    secrets: new InMemorySecretStore(),
    virtuous: VIRTUOUS_NOT_CALLED,
    starter: {
      start: async () => ({ executionId: 'x' }),
      describe: async () => undefined,
      sendTaskSuccess: async () => undefined,
    },
    clock: { now: () => NOW },
    settings: { tokenRotationDays: { high: 90, standard: 180 } },
    ...(options.withDeadLetters === false ? {} : { deadLetters: spy }),
  };
  return createLifecycleApiHandler(deps);
}

function event(method: string, proxy: string, body?: string, query?: Record<string, string>): APIGatewayProxyEvent {
  return {
    httpMethod: method,
    path: `/lifecycle/${proxy}`,
    pathParameters: { proxy },
    queryStringParameters: query ?? null,
    body: body ?? null,
    isBase64Encoded: false,
    headers: {},
  } as unknown as APIGatewayProxyEvent;
}

async function call(handler: ReturnType<typeof setup>, ...args: Parameters<typeof event>) {
  const result = await handler(event(...args));
  expect(findLeaks(result.body), 'answer leaks').toEqual([]);
  return { status: result.statusCode, body: JSON.parse(result.body) as Record<string, unknown> };
}

let seq = 0;
/** A dead letter whose sealed message holds the donor canaries. */
async function sealedDeadLetter(customerId: string): Promise<string> {
  seq += 1;
  const deadLetterId = `delivery:evt_${seq}#gift`;
  const added = await deadLetters.add(
    {
      customerId,
      deadLetterId,
      operation: 'gift',
      statusCode: 400,
      attempts: 3,
      errorCode: 'VIRTUOUS_REJECTED',
      messageBody: JSON.stringify({ customerId, donor: DONOR, marker: deadLetterId }),
    },
    NOW,
  );
  expect(added).toBe(true);
  return deadLetterId;
}

describe('customer status', () => {
  it('lists every customer in id order with status, reason, running workflow and awaiting-token as a yes/no', async () => {
    const { status, body } = await call(setup(), 'GET', 'customers');
    expect(status).toBe(200);
    const customers = body.customers as Record<string, unknown>[];
    expect(customers.map((c) => c.customerId)).toEqual(['acme', 'zeta-org']);
    expect(customers[0]).toMatchObject({ status: 'active', runningWorkflow: 'token-rotation', awaitingToken: true });
    expect(customers[1]).toMatchObject({
      status: 'paused',
      statusReason: 'virtuous_unauthorized',
      awaitingToken: false,
    });
    expect(JSON.stringify(body)).not.toContain(TASK_TOKEN);
  });

  it('shows one customer, 404 for an unknown one, 400 without echoing a malformed id, 405 for a write', async () => {
    const handler = setup();
    const one = await call(handler, 'GET', 'customers/acme');
    expect(one.status).toBe(200);
    expect((one.body.customer as Record<string, unknown>).customerId).toBe('acme');
    expect((await call(handler, 'GET', 'customers/nobody-here')).body).toMatchObject({ error: 'CUSTOMER_NOT_FOUND' });
    expect((await call(handler, 'GET', 'customers/nobody-here')).status).toBe(404);
    const malformed = await call(handler, 'GET', `customers/${encodeURIComponent(DONOR.email)}`);
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toBe('INVALID_CUSTOMER_ID');
    expect((await call(handler, 'POST', 'customers')).status).toBe(405);
  });
});

describe('dead letters', () => {
  it('lists them by identifiers and codes only: no payload, no donor data, no record key', async () => {
    const id = await sealedDeadLetter('acme');
    const stored = await aws.documentClient.send(
      new GetCommand({ TableName: aws.tableNames.deadLetters, Key: { customerId: 'acme', deadLetterId: id } }),
    );
    expect(stored.Item?.payload).toBeDefined();
    const { status, body } = await call(setup(), 'GET', 'customers/acme/dead-letters', undefined, {
      resolution: 'open',
    });
    expect(status).toBe(200);
    const letters = body.deadLetters as Record<string, unknown>[];
    const letter = letters.find((l) => l.deadLetterId === id);
    expect(letter).toMatchObject({ operation: 'gift', errorCode: 'VIRTUOUS_REJECTED', statusCode: 400, attempts: 3 });
    for (const l of letters) expect(VIEW_KEYS).toEqual(expect.arrayContaining(Object.keys(l)));
    const text = JSON.stringify(body);
    expect(text).not.toContain('payload');
    for (const canary of PII_CANARIES) expect(text).not.toContain(canary);
  });

  it('replays one: the opened message goes back on the inbound queue, the answer says replayed, twice is 409', async () => {
    const handler = setup();
    const id = await sealedDeadLetter('acme');
    const path = `customers/acme/dead-letters/${encodeURIComponent(id)}/replay`;
    const replayed = await call(handler, 'POST', path, '{"checked":true}');
    expect(replayed.status).toBe(200);
    expect(replayed.body.deadLetter).toMatchObject({
      deadLetterId: id,
      resolution: 'replayed',
      resolvedAt: NOW.toISOString(),
    });
    expect(replayOptions.at(-1)).toEqual({ checked: true });
    const received = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: aws.queues.inboundUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    const mine = (received.Messages ?? []).find((m) => m.Body?.includes(id));
    expect(mine?.Body).toContain(DONOR.email);
    for (const message of received.Messages ?? []) {
      await aws.sqs.send(
        new DeleteMessageCommand({ QueueUrl: aws.queues.inboundUrl, ReceiptHandle: message.ReceiptHandle }),
      );
    }
    const again = await call(handler, 'POST', path);
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('DEAD_LETTER_RESOLVED');
    expect(String(again.body.message)).not.toContain(id);
  });

  it('discards one, and answers 404 for a dead letter that does not exist', async () => {
    const handler = setup();
    const id = await sealedDeadLetter('zeta-org');
    const discarded = await call(handler, 'POST', `customers/zeta-org/dead-letters/${encodeURIComponent(id)}/discard`);
    expect(discarded.status).toBe(200);
    expect(discarded.body.deadLetter).toMatchObject({ deadLetterId: id, resolution: 'discarded' });
    const stored = await aws.documentClient.send(
      new GetCommand({ TableName: aws.tableNames.deadLetters, Key: { customerId: 'zeta-org', deadLetterId: id } }),
    );
    expect(stored.Item?.payload).toBeUndefined();
    const missing = await call(handler, 'POST', 'customers/zeta-org/dead-letters/no-such-letter/discard');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('DEAD_LETTER_NOT_FOUND');
  });

  it('refuses bad input by code without echoing it, and answers 501 where dead letters are not wired', async () => {
    const handler = setup();
    const badId = await call(
      handler,
      'POST',
      `customers/acme/dead-letters/${encodeURIComponent(DONOR.address1)}/replay`,
    );
    expect(badId.status).toBe(400);
    expect(badId.body.error).toBe('INVALID_DEAD_LETTER_ID');
    const badBody = await call(
      handler,
      'POST',
      'customers/acme/dead-letters/x1/replay',
      JSON.stringify({ checked: false }),
    );
    expect(badBody.status).toBe(400);
    expect(badBody.body.error).toBe('INVALID_BODY');
    const extra = await call(
      handler,
      'POST',
      'customers/acme/dead-letters/x1/discard',
      JSON.stringify({ note: DONOR.lastName }),
    );
    expect(extra.status).toBe(400);
    const badResolution = await call(handler, 'GET', 'customers/acme/dead-letters', undefined, {
      resolution: DONOR.city,
    });
    expect(badResolution.status).toBe(400);
    expect(badResolution.body.error).toBe('INVALID_RESOLUTION');
    expect((await call(handler, 'GET', 'customers/acme/dead-letters/x1/replay')).status).toBe(405);
    expect((await call(handler, 'POST', 'customers/acme/dead-letters/x1/retry')).status).toBe(404);
    const unwired = await call(setup({ withDeadLetters: false }), 'GET', 'customers/acme/dead-letters');
    expect(unwired.status).toBe(501);
  });
});

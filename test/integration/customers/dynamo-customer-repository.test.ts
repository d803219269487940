import { type AddressInfo, createServer, type Socket } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CustomerRecord, WorkflowLock } from '../../../functions/customers/customer.ts';
import { DynamoCustomerRepository } from '../../../functions/customers/dynamo-customer-repository.ts';
import { type LocalAws, startLocalAws, TEST_CREDENTIALS, TEST_REGION } from '../../support/local-aws.ts';

const CLOCK = new Date('2026-11-29T12:00:00.000Z');

function record(customerId: string, overrides: Partial<CustomerRecord> = {}): CustomerRecord {
  return {
    customerId,
    status: 'onboarding',
    sensitivity: 'high',
    tokenRotationDays: 90,
    createdAt: '2026-11-01T00:00:00.000Z',
    updatedAt: '2026-11-01T00:00:00.000Z',
    ...overrides,
  };
}

const lock = (executionId: string): WorkflowLock => ({
  workflow: 'webhook-secret-rotation',
  executionId,
  acquiredAt: '2026-11-29T11:59:00.000Z',
});

describe('DynamoCustomerRepository against dynalite', () => {
  let aws: LocalAws;
  let repo: DynamoCustomerRepository;
  let n = 0;
  let id: string;

  beforeAll(async () => {
    aws = await startLocalAws();
    repo = new DynamoCustomerRepository(aws.documentClient, aws.tableNames.customers, { clock: () => CLOCK });
  });
  afterAll(async () => {
    await aws?.stop();
  });
  beforeEach(() => {
    n += 1;
    id = `cust-${n}`;
  });

  it('creates and reads a record back unchanged; get of an unknown id is undefined', async () => {
    const created = record(id, { organizationId: 'org-77', webhookSubscriptionId: 4242 });
    await repo.create(created);
    expect(await repo.get(id)).toEqual(created);
    expect(await repo.get('never-created')).toBeUndefined();
  });

  it('refuses to create a customer twice (PermanentError CUSTOMER_EXISTS), keeping the first record', async () => {
    await repo.create(record(id));
    await expect(repo.create(record(id, { status: 'active' }))).rejects.toMatchObject({
      name: 'PermanentError',
      code: 'CUSTOMER_EXISTS',
    });
    expect((await repo.get(id))?.status).toBe('onboarding');
  });

  it('updates given fields, stamps updatedAt, removes fields set to undefined, never touches createdAt', async () => {
    await repo.create(record(id, { statusReason: 'credential_revoked:stripe' }));
    const updated = await repo.update(id, {
      status: 'active',
      statusReason: undefined,
      previousWebhookSecretValidUntil: '2026-11-29T12:10:00.000Z',
      ...({ createdAt: '1999-01-01T00:00:00.000Z', customerId: 'hijack' } as object),
    });
    expect(updated).toEqual({
      ...record(id),
      status: 'active',
      previousWebhookSecretValidUntil: '2026-11-29T12:10:00.000Z',
      updatedAt: CLOCK.toISOString(),
    });
    expect(await repo.get(id)).toEqual(updated);
    expect(await repo.get('hijack')).toBeUndefined();
  });

  it('applies a conditional update only from an expected status; a lost race is a TransientError', async () => {
    await repo.create(record(id));
    await expect(repo.update(id, { status: 'active' }, { expectedStatus: ['active', 'paused'] })).rejects.toMatchObject(
      {
        name: 'TransientError',
        code: 'CUSTOMER_STATUS_CHANGED',
      },
    );
    expect((await repo.get(id))?.status).toBe('onboarding');
    const done = await repo.update(id, { status: 'active' }, { expectedStatus: 'onboarding' });
    expect(done.status).toBe('active');
  });

  it('refuses to update a customer that does not exist (PermanentError CUSTOMER_NOT_FOUND), creating nothing', async () => {
    await expect(repo.update(id, { status: 'paused' })).rejects.toMatchObject({
      name: 'PermanentError',
      code: 'CUSTOMER_NOT_FOUND',
    });
    await expect(repo.update(id, { status: 'paused' }, { expectedStatus: 'active' })).rejects.toMatchObject({
      code: 'CUSTOMER_NOT_FOUND',
    });
    expect(await repo.get(id)).toBeUndefined();
  });

  it('gives the workflow lock to one execution at a time; the holder may re-acquire; release is idempotent', async () => {
    await repo.create(record(id, { status: 'active' }));
    await repo.acquireLock(id, lock('exec-a'));
    await repo.acquireLock(id, lock('exec-a'));
    await expect(repo.acquireLock(id, lock('exec-b'))).rejects.toMatchObject({
      name: 'PermanentError',
      code: 'WORKFLOW_IN_PROGRESS',
    });
    expect((await repo.get(id))?.lock).toEqual(lock('exec-a'));

    await repo.releaseLock(id, 'exec-b'); // not the holder: no effect
    expect((await repo.get(id))?.lock?.executionId).toBe('exec-a');
    await repo.releaseLock(id, 'exec-a');
    await repo.releaseLock(id, 'exec-a');
    expect((await repo.get(id))?.lock).toBeUndefined();
    await repo.acquireLock(id, lock('exec-b'));
    expect((await repo.get(id))?.lock?.executionId).toBe('exec-b');
  });

  it('lets exactly one of many concurrent executions take the lock', async () => {
    await repo.create(record(id, { status: 'active' }));
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => repo.acquireLock(id, lock(`exec-${i}`))),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(7);
  });

  it('refuses a lock on a missing customer (CUSTOMER_NOT_FOUND) and releasing one is a no-op', async () => {
    await expect(repo.acquireLock(id, lock('exec-a'))).rejects.toMatchObject({ code: 'CUSTOMER_NOT_FOUND' });
    await expect(repo.releaseLock(id, 'exec-a')).resolves.toBeUndefined();
    expect(await repo.get(id)).toBeUndefined();
  });

  it('lists every customer across scan pages', async () => {
    const ids = Array.from({ length: 230 }, (_, i) => `list-${i}`);
    for (const customerId of ids) await repo.create(record(customerId));
    const listed = await repo.list();
    const listedIds = new Set(listed.map((c) => c.customerId));
    for (const customerId of ids) expect(listedIds.has(customerId)).toBe(true);
    expect(listed.length).toBe(listedIds.size);
  });

  it('gives up on a store that accepts the connection and never answers, within its timeout', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    const address = silent.address() as AddressInfo;
    const client = new DynamoDBClient({
      region: TEST_REGION,
      credentials: TEST_CREDENTIALS,
      endpoint: `http://127.0.0.1:${address.port}`,
      maxAttempts: 1,
    });
    const hung = new DynamoCustomerRepository(DynamoDBDocumentClient.from(client), 'customers', { timeoutMs: 300 });
    const started = Date.now();
    await expect(hung.get('acme')).rejects.toMatchObject({
      name: 'TransientError',
      code: 'CUSTOMER_STORE_UNAVAILABLE',
    });
    expect(Date.now() - started).toBeLessThan(2_000);
    client.destroy();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('turns an unreachable table into a TransientError naming the operation, not the data', async () => {
    const broken = new DynamoCustomerRepository(aws.documentClient, 'virtuous-test-no-such-table', {
      timeoutMs: 2_000,
    });
    await expect(broken.get('acme')).rejects.toMatchObject({
      name: 'TransientError',
      code: 'CUSTOMER_STORE_UNAVAILABLE',
    });
    await expect(broken.list()).rejects.toMatchObject({ name: 'TransientError' });
  });
});

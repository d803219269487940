/**
 * Pause and resume by hand against the real pieces: customers, held messages and sync state in dynalite, the inbound
 * queue in local-aws-sqs, the Virtuous client against the simulator over HTTP. A customer paused by a revoked key
 * cannot be resumed until a new key works; then its held messages go back on the queue at once and each gift reaches
 * Virtuous exactly once, however often resume is called.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CustomerRecord } from '../../../functions/customers/customer.ts';
import type { VirtuousConnector } from '../../../functions/lifecycle/ports.ts';
import { pauseCustomerSync, resumeCustomerSync, type SyncPauseDeps } from '../../../functions/lifecycle/sync-pause.ts';
import { PermanentError } from '../../../functions/shared/errors.ts';
import { createHeldMessages, RELEASE_LEASE_MS } from '../../../functions/sync/held-messages.ts';
import type { VirtuousApi } from '../../../functions/virtuous/api.ts';
import { createVirtuousClient } from '../../../functions/virtuous/client.ts';
import { DynamoDbRateBudget } from '../../../functions/virtuous/rate-budget.ts';
import { findLeaks, registerSecret } from '../../support/canaries.ts';
import { type LocalAws, startLocalAws } from '../../support/local-aws.ts';
import { startTestSimulator, type TestSimulator } from '../../support/simulator.ts';
import { paymentSucceeded } from '../sync/events.ts';
import { createHarness, type Harness } from '../sync/harness.ts';

let aws: LocalAws;
let sim: TestSimulator;

beforeAll(async () => {
  aws = await startLocalAws({ maxReceiveCount: 10 });
  sim = await startTestSimulator();
});

afterAll(async () => {
  await sim.close();
  await aws.stop();
});

let seq = 0;

async function tenant() {
  seq += 1;
  const customerId = `pause-${seq}`;
  const org = sim.organization({ rateLimitPerHour: 5_000 });
  let key = org.apiKey;
  const api: VirtuousApi = createVirtuousClient({
    baseUrl: sim.baseUrl,
    customerId,
    tokens: { current: async () => key, invalidate: () => {} },
    budget: new DynamoDbRateBudget({
      client: aws.documentClient,
      tableName: aws.tableNames.rateBudgets,
      hourlyBudget: 5_000,
    }),
    allowLoopbackHttp: true,
    timeoutMs: 1_000,
    maxAttempts: 2,
    backoff: { baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 1_000 },
    sleep: async () => {},
  });
  const harness: Harness = createHarness(aws, () => api);
  await harness.addCustomer(customerId);
  const organization = await api.currentOrganization();
  await harness.customers.update(customerId, { organizationId: String(organization.organizationUserId) });
  const validations: string[] = [];
  const virtuous: Pick<VirtuousConnector, 'forCustomer'> = {
    forCustomer: (id, options) => {
      validations.push(`${id}:${options.stage}:${options.reason}`);
      return api;
    },
  };
  const deps: SyncPauseDeps = {
    customers: harness.customers,
    held: harness.held,
    virtuous,
    notifier: harness.notifier,
    clock: { now: () => new Date() },
  };
  return {
    customerId,
    organizationId: org.organizationId,
    harness,
    deps,
    validations,
    key: () => key,
    newKey: () => {
      key = registerSecret(sim.addKey(org.organizationId));
    },
    gifts: () => sim.control.inspect(org.organizationId).giftTransactions,
  };
}

async function refusal(run: Promise<unknown>): Promise<string> {
  const error = await run.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(PermanentError);
  return (error as PermanentError).code;
}

describe('resume after a revoked Virtuous key', () => {
  it('is refused while the key is refused, then releases every held message once and notifies once', async () => {
    const t = await tenant();
    sim.control.revokeApiKey(t.key());
    const ids = ['pi_pr_0', 'pi_pr_1', 'pi_pr_2', 'pi_pr_3'];
    for (const [index, id] of ids.entries()) {
      await t.harness.sendDelivery(t.customerId, 'stripe', paymentSucceeded(id, 1000 + index));
    }
    await t.harness.drain();
    expect((await t.harness.customers.get(t.customerId))?.status).toBe('paused');
    expect(await t.harness.held.count(t.customerId)).toBe(ids.length);

    // The stored key is still refused: nothing changes, nothing is released, nobody is told.
    expect(await refusal(resumeCustomerSync(t.deps, t.customerId))).toBe('VIRTUOUS_TOKEN_REJECTED');
    const stillPaused = (await t.harness.customers.get(t.customerId)) as CustomerRecord;
    expect(stillPaused.status).toBe('paused');
    expect(stillPaused.statusReason).toBe('credential_revoked:virtuous');
    expect(await t.harness.held.count(t.customerId)).toBe(ids.length);
    expect(t.harness.notifier.customer.filter((n) => n.type === 'sync_resumed')).toHaveLength(0);
    expect(t.validations).toEqual([`${t.customerId}:current:lifecycle:resume`]);

    // A new key (what a completed token rotation stores): resume goes through, concurrently twice.
    t.newKey();
    const [first, second] = await Promise.all([
      resumeCustomerSync(t.deps, t.customerId),
      resumeCustomerSync(t.deps, t.customerId),
    ]);
    expect(first.released + second.released).toBe(ids.length);
    expect([first.alreadyActive, second.alreadyActive].sort()).toEqual([false, true]);
    const resumed = (await t.harness.customers.get(t.customerId)) as CustomerRecord;
    expect(resumed.status).toBe('active');
    expect(resumed.statusReason).toBeUndefined();
    expect(t.harness.notifier.customer.filter((n) => n.type === 'sync_resumed')).toEqual([
      { customerId: t.customerId, type: 'sync_resumed', details: { reason: 'credential_revoked:virtuous' } },
    ]);
    expect(await t.harness.held.count(t.customerId)).toBe(0);

    // Released at once onto the queue: processing it sends every gift, and a repeated resume sends nothing more.
    await t.harness.drain();
    const again = await resumeCustomerSync(t.deps, t.customerId);
    expect(again).toMatchObject({ released: 0, alreadyActive: true });
    await t.harness.drain();
    const gifts = t.gifts();
    for (const id of ids) expect(gifts[`Stripe/${id}`]).toBe(1);
    expect(Object.keys(gifts)).toHaveLength(ids.length);
    for (const id of ids)
      expect((await t.harness.syncState.get(t.customerId, `gift#Stripe#${id}`))?.state).toBe('submitted');
    expect(t.harness.notifier.customer.filter((n) => n.type === 'sync_resumed')).toHaveLength(1);
  });

  it('refuses a key that now reaches another organization', async () => {
    const t = await tenant();
    await t.harness.customers.update(t.customerId, { status: 'paused', statusReason: 'credential_revoked:virtuous' });
    await t.harness.customers.update(t.customerId, { organizationId: '999999' });
    expect(await refusal(resumeCustomerSync(t.deps, t.customerId))).toBe('ORGANIZATION_MISMATCH');
    expect((await t.harness.customers.get(t.customerId))?.status).toBe('paused');
  });
});

describe('held-message release claims', () => {
  it('skips items another release holds a live lease on, and takes them once the lease lapsed', async () => {
    const t = await tenant();
    let clock = Date.parse('2026-11-29T00:00:00Z');
    const held = createHeldMessages({
      client: aws.documentClient,
      table: aws.tableNames.heldMessages,
      sealer: t.harness.sealer,
      queue: t.harness.queue,
      now: () => clock,
    });
    await held.hold(t.customerId, 'a', '{"n":1}', 'paused', new Date(clock));
    await held.hold(t.customerId, 'b', '{"n":2}', 'paused', new Date(clock));
    // A release that died after claiming `b`.
    await aws.documentClient.send(
      new UpdateCommand({
        TableName: aws.tableNames.heldMessages,
        Key: { customerId: t.customerId, heldId: 'b' },
        UpdateExpression: 'SET releaseLeaseUntil = :until',
        ExpressionAttributeValues: { ':until': clock + RELEASE_LEASE_MS },
      }),
    );
    expect(await held.release(t.customerId)).toBe(1);
    expect(await held.count(t.customerId)).toBe(1);
    clock += RELEASE_LEASE_MS + 1;
    expect(await held.release(t.customerId)).toBe(1);
    expect(await held.count(t.customerId)).toBe(0);
    const received = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: aws.queues.inboundUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    expect((received.Messages ?? []).map((message) => message.Body).sort()).toEqual(['{"n":1}', '{"n":2}']);
    await aws.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: aws.queues.inboundUrl,
        Entries: (received.Messages ?? []).map((message, index) => ({
          Id: `m${index}`,
          ReceiptHandle: message.ReceiptHandle as string,
        })),
      }),
    );
  });
});

describe('pause by hand', () => {
  it('holds new messages sealed until resume, then they are sent once', async () => {
    const t = await tenant();
    const paused = await pauseCustomerSync(t.deps, t.customerId, 'platform_request');
    expect(paused).toEqual({
      customerId: t.customerId,
      status: 'paused',
      statusReason: 'operator_paused:platform_request',
    });
    expect(t.harness.notifier.customer).toEqual([
      { customerId: t.customerId, type: 'sync_paused', details: { reason: 'operator_paused:platform_request' } },
    ]);
    expect(t.harness.notifier.operators.map((alert) => alert.code)).toEqual(['CUSTOMER_PAUSED_BY_HAND']);
    // A second pause is refused: the customer is no longer active.
    expect(await refusal(pauseCustomerSync(t.deps, t.customerId))).toBe('CUSTOMER_NOT_ACTIVE');

    await t.harness.sendDelivery(t.customerId, 'stripe', paymentSucceeded('pi_manual_0', 4200));
    await t.harness.drain();
    expect(await t.harness.held.count(t.customerId)).toBe(1);
    expect(t.gifts()).toEqual({});
    // Held sealed: the donor's data is not readable in the table.
    expect(findLeaks(JSON.stringify(await t.harness.scanTable('heldMessages'))).length).toBe(0);

    const resumed = await resumeCustomerSync(t.deps, t.customerId);
    expect(resumed).toMatchObject({
      released: 1,
      alreadyActive: false,
      resumedFrom: 'operator_paused:platform_request',
    });
    await t.harness.drain();
    expect(t.gifts()).toEqual({ 'Stripe/pi_manual_0': 1 });
  });

  it('refuses unknown customers, customers in other states and malformed reasons', async () => {
    const t = await tenant();
    expect(await refusal(resumeCustomerSync(t.deps, 'nobody-here'))).toBe('CUSTOMER_NOT_FOUND');
    expect(await refusal(pauseCustomerSync(t.deps, t.customerId, 'Has Spaces'))).toBe('INVALID_REASON');
    await t.harness.customers.update(t.customerId, { status: 'offboarding' });
    expect(await refusal(resumeCustomerSync(t.deps, t.customerId))).toBe('CUSTOMER_NOT_PAUSED');
    expect(await refusal(pauseCustomerSync(t.deps, t.customerId))).toBe('CUSTOMER_NOT_ACTIVE');
    await t.harness.customers.update(t.customerId, {
      status: 'paused',
      lock: { workflow: 'token-rotation', executionId: 'exec-1', acquiredAt: new Date().toISOString() },
    });
    expect(await refusal(resumeCustomerSync(t.deps, t.customerId))).toBe('WORKFLOW_IN_PROGRESS');
    expect(t.validations).toEqual([]);
  });
});

// Resume after re-authorization, through the lifecycle API and the real token-rotation workflow: a customer paused
// for a revoked Virtuous key is refused resume (409) until a rotation stores a new key; then resume sets it active
// and puts every held message back on the inbound queue at once, and the customer is told once.
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { MemoryKeyring } from '../../functions/credentials/keyring.ts';
import { createLocalPayloadSealer } from '../../functions/crypto/local-payload-sealer.ts';
import { createHeldMessages } from '../../functions/sync/held-messages.ts';
import { createSqsMessageQueue } from '../../functions/sync/message-queue.ts';
import { useWorkflowTestEnv } from '../support/workflow-runner.ts';
import {
  apiEvent,
  callApi,
  executionFrom,
  lifecycleApi,
  onboardedCustomer,
  rotationWaiting,
} from './lifecycle-fixtures.ts';

const env = useWorkflowTestEnv();

describe('resume after a token rotation (lifecycle API)', () => {
  it('409 while the stored key is revoked; after the rotation, active with every held message re-queued', async () => {
    const held = createHeldMessages({
      client: env().aws.documentClient,
      table: env().aws.tableNames.heldMessages,
      sealer: createLocalPayloadSealer(new MemoryKeyring()),
      queue: createSqsMessageQueue(env().aws.sqs, env().aws.queues.inboundUrl),
    });
    const api = lifecycleApi(env(), { held, notifier: env().notifier });
    const { customerId, org } = await onboardedCustomer(env(), 'resume');
    // What the processor does on a 401 after its re-read: pause, and hold the customer's messages.
    env().sim.control.revokeApiKey(org.apiKey);
    await env().deps.customers.update(customerId, { status: 'paused', statusReason: 'credential_revoked:virtuous' });
    const bodies = ['{"held":1}', '{"held":2}', '{"held":3}'];
    for (const [index, body] of bodies.entries()) {
      await held.hold(customerId, `held-${index}`, body, 'paused', new Date());
    }

    const refused = await api(apiEvent('POST', `/lifecycle/customers/${customerId}/resume`));
    expect(refused.statusCode).toBe(409);
    expect(JSON.parse(refused.body).error).toBe('VIRTUOUS_TOKEN_REJECTED');
    expect(await held.count(customerId)).toBe(bodies.length);

    const rotation = executionFrom(
      env(),
      await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/workflows/token-rotation`),
    );
    await rotationWaiting(env(), customerId);
    const newKey = env().sim.addKey(org.organizationId);
    const handedOver = await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/rotation-token`, {
      token: newKey,
    });
    expect(handedOver.statusCode).toBe(202);
    expect((await rotation.result).status).toBe('SUCCEEDED');
    expect((await env().deps.customers.get(customerId))?.status).toBe('paused');

    const resumed = await api(apiEvent('POST', `/lifecycle/customers/${customerId}/resume`));
    expect(resumed.statusCode).toBe(200);
    expect(JSON.parse(resumed.body)).toEqual({ customerId, status: 'active', released: 3, alreadyActive: false });
    const record = await env().deps.customers.get(customerId);
    expect(record?.status).toBe('active');
    expect(record?.statusReason).toBeUndefined();
    expect(await held.count(customerId)).toBe(0);
    const received = await env().aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: env().aws.queues.inboundUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    expect((received.Messages ?? []).map((message) => message.Body).sort()).toEqual(bodies);
    expect(
      env()
        .notifier.typesFor(customerId)
        .filter((type) => type === 'sync_resumed'),
    ).toHaveLength(1);
  });
});

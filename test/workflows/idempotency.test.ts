/**
 * Step Functions and Lambda deliver at least once: a task that succeeded may run again (a lost response, a retry
 * after a timeout). Here every Lambda task of a workflow runs twice in a row and the second answer is the one the
 * state machine keeps; the outcome must be the same as with single delivery.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import type { LocalTaskHandler } from '../../functions/lifecycle-tasks/local-runner.ts';
import { useWorkflowTestEnv } from '../support/workflow-runner.ts';
import {
  callApi,
  customerAwaitingOnboarding,
  INSPECT,
  onboardedCustomer,
  rotationWaiting,
  secretsExistFor,
  sha256,
} from './lifecycle-fixtures.ts';

const env = useWorkflowTestEnv();

const invokedTwice: Record<string, number> = {};

function twice(stateName: string, handler: LocalTaskHandler): LocalTaskHandler {
  return async (input) => {
    await handler(input);
    invokedTwice[stateName] = (invokedTwice[stateName] ?? 0) + 1;
    return handler(input);
  };
}

describe('every lifecycle task is safe to run twice', () => {
  it('onboarding: one subscription, one secret, active, initial load requested once', async () => {
    const customerId = 'idem-onboard';
    const org = await customerAwaitingOnboarding(env(), customerId);
    const execution = env().run('onboarding', { customerId }, { wrapTask: twice });
    expect((await execution.result).status).toBe('SUCCEEDED');
    expect(invokedTwice.CreateWebhookSubscription).toBe(1);
    const snapshot = env().sim.control.inspect(org.organizationId);
    expect(snapshot.webhooks).toHaveLength(1);
    const secret = await env().secrets.read({ customerId, kind: 'webhook_secret' }, 'current', INSPECT);
    expect(snapshot.webhooks[0]?.secretSha256).toBe(sha256(secret?.value ?? ''));
    expect(await env().secrets.read({ customerId, kind: 'webhook_secret' }, 'previous', INSPECT)).toBeUndefined();
    const record = await env().deps.customers.get(customerId);
    expect(record).toMatchObject({ status: 'active', webhookSubscriptionId: snapshot.webhooks[0]?.id });
    expect(record?.lock).toBeUndefined();
  });

  it('webhook-secret rotation: the subscription ends on the promoted secret, the old one deleted', async () => {
    const { customerId, org } = await onboardedCustomer(env(), 'idem');
    const before = await env().secrets.read({ customerId, kind: 'webhook_secret' }, 'current', INSPECT);
    const execution = env().run('webhook-secret-rotation', { customerId }, { wrapTask: twice });
    expect((await execution.result).status).toBe('SUCCEEDED');
    expect(invokedTwice.PromoteWebhookSecret).toBeGreaterThan(0);
    const after = await env().secrets.read({ customerId, kind: 'webhook_secret' }, 'current', INSPECT);
    expect(after?.value).not.toBe(before?.value);
    expect(env().sim.control.inspect(org.organizationId).webhooks[0]?.secretSha256).toBe(sha256(after?.value ?? ''));
    expect(await env().secrets.read({ customerId, kind: 'webhook_secret' }, 'previous', INSPECT)).toBeUndefined();
    expect((await env().deps.customers.get(customerId))?.previousWebhookSecretValidUntil).toBeUndefined();
  });

  it('token rotation: the submitted key ends current, the old one deleted, nothing pending', async () => {
    const { customerId, org } = await onboardedCustomer(env(), 'idem');
    // The waiting state is completed once by its token; every other task runs twice.
    const execution = env().run(
      'token-rotation',
      { customerId },
      { wrapTask: (name, handler) => (name === 'RequestNewToken' ? handler : twice(name, handler)) },
    );
    await rotationWaiting(env(), customerId);
    const newKey = env().sim.addKey(org.organizationId);
    await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/rotation-token`, { token: newKey });
    expect((await execution.result).status).toBe('SUCCEEDED');
    expect(invokedTwice.CutOver).toBeGreaterThan(0);
    expect((await env().secrets.read({ customerId, kind: 'api_token' }, 'current', INSPECT))?.value).toBe(newKey);
    expect(await env().secrets.read({ customerId, kind: 'api_token' }, 'previous', INSPECT)).toBeUndefined();
    expect(await env().secrets.read({ customerId, kind: 'api_token' }, 'pending', INSPECT)).toBeUndefined();
  });

  it('offboarding: one deletion record whose counts are those of the first deletion', async () => {
    const { customerId, org } = await onboardedCustomer(env(), 'idem');
    const execution = env().run('offboarding', { customerId }, { wrapTask: twice });
    expect((await execution.result).status).toBe('SUCCEEDED');
    expect(invokedTwice.DeleteSecrets).toBeGreaterThan(0);
    const records = await env().aws.documentClient.send(
      new QueryCommand({
        TableName: env().aws.tableNames.deletionRecords,
        KeyConditionExpression: 'customerId = :c',
        ExpressionAttributeValues: { ':c': customerId },
      }),
    );
    expect(records.Items).toHaveLength(1);
    expect(records.Items?.[0]).toMatchObject({ secretsDeleted: 2, webhookSubscription: 'deleted' });
    expect(records.Items?.[0]?.tables).toMatchObject({ checkpoints: 1 });
    expect(secretsExistFor(env(), customerId)).toBe(false);
    expect(env().sim.control.inspect(org.organizationId).webhooks).toHaveLength(0);
  });
});

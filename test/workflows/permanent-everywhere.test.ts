/**
 * A permanent failure injected into each forward step of a workflow, one run per step: the workflow must end in its
 * failure state, compensated, with the customer's lock released, both sides told, and nothing half-created. The
 * invariants checked are the ones that matter to the customer: after onboarding fails nothing of it remains; after a
 * rotation fails Virtuous signs with (and calls use) a secret or key the integration holds as current.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { failingPermanently, leaksInEvents, useWorkflowTestEnv } from '../support/workflow-runner.ts';
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

let sequence = 0;

describe('onboarding: a permanent failure at any step leaves nothing behind', () => {
  it.each([
    'PromoteToken',
    'RecordOrganization',
    'CreateWebhookSecret',
    'CreateWebhookSubscription',
    'ActivateCustomer',
    'RequestInitialLoad',
    'NotifySyncActive',
  ])('%s', async (state) => {
    const customerId = `perm-onb-${++sequence}`;
    const org = await customerAwaitingOnboarding(env(), customerId);
    const execution = env().run('onboarding', { customerId }, { wrapTask: failingPermanently(state) });
    expect(await execution.result).toMatchObject({ status: 'FAILED', error: 'OnboardingFailed' });
    expect(env().sim.control.inspect(org.organizationId).webhooks).toHaveLength(0);
    expect(secretsExistFor(env(), customerId)).toBe(false);
    const record = await env().deps.customers.get(customerId);
    expect(record).toMatchObject({ status: 'failed', statusReason: 'onboarding_failed:PermanentError' });
    expect(record?.lock).toBeUndefined();
    expect(env().notifier.typesFor(customerId)).toContain('onboarding_failed');
    expect(env().notifier.alertCodesFor(customerId)).toContain('WORKFLOW_FAILED:onboarding');
    expect(leaksInEvents(execution)).toBe(0);
  });
});

describe('webhook-secret rotation: after a permanent failure Virtuous signs with the current secret', () => {
  it.each([
    'GenerateWebhookSecret',
    'ReplaceSubscriptionSecret',
    'PromoteWebhookSecret',
    'RetirePreviousWebhookSecret',
    'NotifyWebhookSecretRotated',
  ])('%s', async (state) => {
    const { customerId, org } = await onboardedCustomer(env(), 'perm-whr');
    const execution = env().run('webhook-secret-rotation', { customerId }, { wrapTask: failingPermanently(state) });
    expect(await execution.result).toMatchObject({ status: 'FAILED', error: 'WebhookSecretRotationFailed' });
    const current = await env().secrets.read({ customerId, kind: 'webhook_secret' }, 'current', INSPECT);
    expect(env().sim.control.inspect(org.organizationId).webhooks[0]?.secretSha256).toBe(sha256(current?.value ?? ''));
    expect(await env().secrets.read({ customerId, kind: 'webhook_secret' }, 'pending', INSPECT)).toBeUndefined();
    expect((await env().deps.customers.get(customerId))?.lock).toBeUndefined();
    expect(env().notifier.typesFor(customerId)).toContain('webhook_secret_rotation_failed');
    expect(leaksInEvents(execution)).toBe(0);
  });
});

describe('offboarding: after a permanent failure at any step the customer stays paused and a second run completes', () => {
  it.each([
    'PauseSync',
    'DeleteWebhookSubscription',
    'RequestTokenRevocation',
    'DeleteSecrets',
    'InventoryCustomerData',
    'PurgeCustomerData',
    'FinishOffboarding',
  ])('%s', async (state) => {
    const { customerId, org } = await onboardedCustomer(env(), 'perm-off');
    const execution = env().run('offboarding', { customerId }, { wrapTask: failingPermanently(state) });
    expect(await execution.result).toMatchObject({ status: 'FAILED', error: 'OffboardingFailed' });
    const record = await env().deps.customers.get(customerId);
    expect(record?.lock).toBeUndefined();
    // Nothing syncs after a failed offboarding, wherever it stopped.
    expect(['offboarding', 'offboarded']).toContain(record?.status);
    expect(env().notifier.alerts).toContainEqual(
      expect.objectContaining({ customerId, code: 'WORKFLOW_FAILED:offboarding', severity: 'critical' }),
    );
    expect(env().notifier.typesFor(customerId)).toContain('offboarding_failed');
    expect(leaksInEvents(execution)).toBe(0);

    const again = env().run('offboarding', { customerId });
    expect((await again.result).status).toBe('SUCCEEDED');
    expect((await env().deps.customers.get(customerId))?.status).toBe('offboarded');
    expect(secretsExistFor(env(), customerId)).toBe(false);
    expect(env().sim.control.inspect(org.organizationId).webhooks).toHaveLength(0);
    expect(await env().deps.customerData.inventory(customerId)).toSatisfy((counts: Record<string, number>) =>
      Object.values(counts).every((count) => count === 0),
    );
  });
});

describe('offboarding: when only the final notice fails, the deletion stands and operators send the record', () => {
  it('NotifyOffboarded', async () => {
    const { customerId } = await onboardedCustomer(env(), 'perm-off');
    const execution = env().run('offboarding', { customerId }, { wrapTask: failingPermanently('NotifyOffboarded') });
    expect((await execution.result).status).toBe('SUCCEEDED');
    const record = await env().deps.customers.get(customerId);
    expect(record?.status).toBe('offboarded');
    expect(record?.lock).toBeUndefined();
    expect(secretsExistFor(env(), customerId)).toBe(false);
    const stored = await env().aws.documentClient.send(
      new QueryCommand({
        TableName: env().aws.tableNames.deletionRecords,
        KeyConditionExpression: 'customerId = :id',
        ExpressionAttributeValues: { ':id': customerId },
      }),
    );
    expect(stored.Items).toHaveLength(1);
    // The alert names the stored deletion record, so operators can send that very record.
    expect(env().notifier.alerts.find((entry) => entry.code === 'OFFBOARDING_NOTICE_NOT_SENT')).toMatchObject({
      customerId,
      severity: 'critical',
      details: { error: 'PermanentError', deletionRecordId: stored.Items?.[0]?.deletedAt },
    });
    // No "offboarding failed" notice for a customer whose data is already gone.
    expect(env().notifier.typesFor(customerId)).not.toContain('offboarding_failed');
    expect(env().notifier.alertCodesFor(customerId)).not.toContain('WORKFLOW_FAILED:offboarding');
    expect(leaksInEvents(execution)).toBe(0);
  });
});

describe('incident response: a permanent failure of its own steps alerts operators and frees the customer', () => {
  it.each(['OpenIncident', 'CollectRecentWrites', 'CollectSecretAccess', 'CompileIncidentReport'])(
    '%s',
    async (state) => {
      const { customerId, org } = await onboardedCustomer(env(), 'perm-inc');
      const execution = env().run('incident-response', { customerId }, { wrapTask: failingPermanently(state) });
      if (state !== 'OpenIncident') {
        // The expedited rotation runs beside the investigation: give it its key so it can end either way.
        await rotationWaiting(env(), customerId);
        await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/rotation-token`, {
          token: env().sim.addKey(org.organizationId),
        });
      }
      expect(await execution.result).toMatchObject({ status: 'FAILED', error: 'IncidentResponseFailed' });
      expect((await env().deps.customers.get(customerId))?.lock).toBeUndefined();
      expect(env().notifier.alerts).toContainEqual(
        expect.objectContaining({ customerId, code: 'WORKFLOW_FAILED:incident-response', severity: 'critical' }),
      );
      expect(leaksInEvents(execution)).toBe(0);
    },
  );
});

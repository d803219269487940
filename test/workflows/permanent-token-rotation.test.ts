/**
 * Token rotation with a permanent failure injected into each step after the key arrived, one run per step: the
 * rotation ends compensated and the key the integration holds as current still works in Virtuous (the companion of
 * permanent-everywhere.test.ts, split to keep each file short).
 */
import { describe, expect, it } from 'vitest';
import { failingPermanently, leaksInEvents, useWorkflowTestEnv } from '../support/workflow-runner.ts';
import { callApi, INSPECT, onboardedCustomer, rotationWaiting } from './lifecycle-fixtures.ts';

const env = useWorkflowTestEnv();

describe('token rotation: after a permanent failure the current key still works and nothing is pending', () => {
  it.each(['ValidateNewToken', 'CutOver', 'ConfirmNewToken', 'RetireOldToken', 'NotifyTokenRotated'])(
    '%s',
    async (state) => {
      const { customerId, org } = await onboardedCustomer(env(), 'perm-rot');
      const execution = env().run('token-rotation', { customerId }, { wrapTask: failingPermanently(state) });
      await rotationWaiting(env(), customerId);
      await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/rotation-token`, {
        token: env().sim.addKey(org.organizationId),
      });
      expect(await execution.result).toMatchObject({ status: 'FAILED', error: 'TokenRotationFailed' });
      const organization = await env()
        .deps.virtuous.forCustomer(customerId, { stage: 'current', reason: 'test:check' })
        .currentOrganization();
      expect(String(organization.organizationUserId)).toBe(
        (await env().deps.customers.get(customerId))?.organizationId,
      );
      expect(await env().secrets.read({ customerId, kind: 'api_token' }, 'pending', INSPECT)).toBeUndefined();
      const record = await env().deps.customers.get(customerId);
      expect(record?.lock).toBeUndefined();
      expect(record?.awaitingTokenTaskToken).toBeUndefined();
      expect(env().notifier.typesFor(customerId)).toContain('token_rotation_failed');
      expect(leaksInEvents(execution)).toBe(0);
    },
  );
});

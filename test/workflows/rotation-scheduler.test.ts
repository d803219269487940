import { describe, expect, it } from 'vitest';
import { createRotationSchedulerHandler } from '../../functions/rotation-scheduler/handler.ts';
import { useWorkflowTestEnv } from '../support/workflow-runner.ts';
import { callApi, onboardedCustomer, rotationWaiting } from './lifecycle-fixtures.ts';

const env = useWorkflowTestEnv();

describe('daily rotation sweep over the customers table', () => {
  it('starts token rotation for the overdue customer only; the rotation asks for a key and completes', async () => {
    const overdue = await onboardedCustomer(env(), 'sched');
    const fresh = await onboardedCustomer(env(), 'sched');
    await env().deps.customers.update(overdue.customerId, {
      sensitivity: 'high',
      tokenRotationDays: 90,
      tokenPromotedAt: new Date(Date.now() - 91 * 86_400_000).toISOString(),
    });
    const metrics: Array<[string, number]> = [];
    const sweep = await createRotationSchedulerHandler({
      customers: env().deps.customers,
      starter: env().starter,
      clock: env().deps.clock,
      settings: env().settings,
      emitMetric: (name, value) => metrics.push([name, value]),
    })();
    expect(sweep).toMatchObject({ due: 1, started: 1, failed: 0 });
    expect(metrics).toEqual([['TokenRotationOverdue', 1]]);

    await rotationWaiting(env(), overdue.customerId);
    expect(env().notifier.typesFor(overdue.customerId)).toContain('token_rotation_requested');
    expect(env().notifier.typesFor(fresh.customerId)).not.toContain('token_rotation_requested');
    const running = [...env().starter.executions.values()].filter((e) => e.workflow === 'token-rotation');
    expect(running).toHaveLength(1);

    const response = await callApi(env(), 'POST', `/lifecycle/customers/${overdue.customerId}/rotation-token`, {
      token: env().sim.addKey(overdue.org.organizationId),
    });
    expect(response.statusCode).toBe(202);
    expect((await running[0]?.result)?.status).toBe('SUCCEEDED');
    const record = await env().deps.customers.get(overdue.customerId);
    expect(Date.parse(record?.tokenPromotedAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
  });
});

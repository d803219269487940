/**
 * What an execution that ended outside its Catch paths leaves behind, against the real customers table (dynalite):
 * its lock is released only if that exact execution still holds it, a waiting token rotation is compensated (task
 * token forgotten, pending key discarded) and the operators are told — with ids and the status, never state data.
 * Then the one-machine workflow engine: an execution that fails or is aborted hands itself to the same function.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { WorkflowName } from '../../../functions/customers/customer.ts';
import type { DynamoCustomerRepository } from '../../../functions/customers/dynamo-customer-repository.ts';
import {
  type AbnormalEndDeps,
  cleanUpAfterAbnormalEnd,
  type EndedExecution,
  WORKFLOW_ENDED_ABNORMALLY,
} from '../../../functions/lifecycle/abnormal-end.ts';
import { acquireWorkflowLock } from '../../../functions/lifecycle/lock.ts';
import { systemClock } from '../../../functions/lifecycle/ports.ts';
import { PermanentError } from '../../../functions/shared/errors.ts';
import { bindWorkflowTasks } from '../../../infra/local/task-binding.ts';
import { LocalWorkflowEngine } from '../../../infra/local/workflow-engine.ts';
import { registerSecret } from '../../support/canaries.ts';
import { InMemorySecretStore } from '../../support/in-memory-secret-store.ts';
import { testExecutionArn as executionArn, useLocalCustomers } from '../../support/local-customers.ts';
import { RecordingNotifier } from '../../support/workflow-runner.ts';

const local = useLocalCustomers('abnormal');

const customerWithLock = (workflow: WorkflowName, holder: string) =>
  local.lockedCustomer(workflow, holder, {
    status: 'active',
    sensitivity: 'standard',
    tokenRotationDays: 180,
    organizationId: '1001',
  });

function deps(): AbnormalEndDeps & { notifier: RecordingNotifier; secrets: InMemorySecretStore } {
  return { customers: local.customers, secrets: new InMemorySecretStore(), notifier: new RecordingNotifier() };
}

/** A customer whose lock a fresh execution of `workflow` holds, and the dependencies its clean-up runs with. */
async function lockedBy(workflow: WorkflowName) {
  const d = deps();
  const holder = executionArn(workflow);
  return { d, holder, customerId: await customerWithLock(workflow, holder) };
}

const apiToken = (customerId: string) => ({ customerId, kind: 'api_token' }) as const;

/** A token rotation parked on the customer's new key: task token stored, the key already submitted as pending. */
async function waitingRotation(d: ReturnType<typeof deps>, customerId: string): Promise<void> {
  await d.secrets.seedCurrent(apiToken(customerId), registerSecret(`current-${randomUUID()}`));
  await d.secrets.putPending(apiToken(customerId), registerSecret(`pending-${randomUUID()}`), {
    reason: 'test:submit',
  });
  await local.customers.update(customerId, { awaitingTokenTaskToken: registerSecret(`task-token-${randomUUID()}`) });
}

describe('cleanUpAfterAbnormalEnd', () => {
  it('releases the lock of the execution that still holds it and alerts the operators with ids only', async () => {
    const { d, holder: x, customerId } = await lockedBy('webhook-secret-rotation');

    const outcome = await cleanUpAfterAbnormalEnd(d, {
      workflow: 'webhook-secret-rotation',
      executionId: x,
      status: 'ABORTED',
      customerId,
    });

    expect(outcome).toEqual({ lockReleased: true, rotationCompensated: false, alerted: true });
    expect((await local.customers.get(customerId))?.lock).toBeUndefined();
    expect(d.notifier.alerts).toEqual([
      {
        customerId,
        code: WORKFLOW_ENDED_ABNORMALLY,
        severity: 'warning',
        details: {
          workflow: 'webhook-secret-rotation',
          executionId: x,
          status: 'ABORTED',
          lockReleased: true,
          rotationCompensated: false,
        },
      },
    ]);
    // The customer can run a workflow again.
    await expect(
      acquireWorkflowLock(local.customers, systemClock, { customerId, workflow: 'offboarding', executionId: 'next' }),
    ).resolves.toEqual({ lockHolder: 'next' });
  });

  it('leaves a lock held by another execution alone, and a FAILED end that left nothing behind is not news', async () => {
    const d = deps();
    const x = executionArn('offboarding');
    const y = executionArn('offboarding');
    const customerId = await customerWithLock('offboarding', x);

    const failed = await cleanUpAfterAbnormalEnd(d, {
      workflow: 'offboarding',
      executionId: y,
      status: 'FAILED',
      customerId,
    });
    expect(failed).toEqual({ lockReleased: false, rotationCompensated: false, alerted: false });
    expect(d.notifier.alerts).toEqual([]);

    const aborted = await cleanUpAfterAbnormalEnd(d, {
      workflow: 'offboarding',
      executionId: y,
      status: 'ABORTED',
      customerId,
    });
    expect(aborted).toEqual({ lockReleased: false, rotationCompensated: false, alerted: true });
    expect((await local.customers.get(customerId))?.lock?.executionId).toBe(x);
    expect(d.notifier.alerts).toHaveLength(1);
    expect(d.notifier.alerts[0]).toMatchObject({
      code: WORKFLOW_ENDED_ABNORMALLY,
      severity: 'critical',
      details: { executionId: y, status: 'ABORTED', lockReleased: false },
    });
  });

  it('compensates a token rotation that was waiting for a key: task token cleared, pending key discarded', async () => {
    const { d, holder: x, customerId } = await lockedBy('token-rotation');
    await waitingRotation(d, customerId);
    const current = await d.secrets.read(apiToken(customerId), 'current', { reason: 'test:check' });

    const outcome = await cleanUpAfterAbnormalEnd(d, {
      workflow: 'token-rotation',
      executionId: x,
      status: 'TIMED_OUT',
      customerId,
    });

    expect(outcome).toEqual({ lockReleased: true, rotationCompensated: true, alerted: true });
    const record = await local.customers.get(customerId);
    expect(record?.lock).toBeUndefined();
    expect(record?.awaitingTokenTaskToken).toBeUndefined();
    expect(await d.secrets.read(apiToken(customerId), 'pending', { reason: 'test:check' })).toBeUndefined();
    const after = await d.secrets.read(apiToken(customerId), 'current', { reason: 'test:check' });
    expect(after?.versionId).toBe(current?.versionId);
    expect(d.notifier.alerts[0]?.details).toMatchObject({ status: 'TIMED_OUT', rotationCompensated: true });
  });

  it("never undoes a rotation that is not the ended execution's: another execution's wait and key stay", async () => {
    const { d, holder: x, customerId } = await lockedBy('token-rotation');
    await waitingRotation(d, customerId);
    const { awaitingTokenTaskToken } = (await local.customers.get(customerId)) ?? {};

    await cleanUpAfterAbnormalEnd(d, {
      workflow: 'token-rotation',
      executionId: executionArn('token-rotation'),
      status: 'ABORTED',
      customerId,
    });

    const record = await local.customers.get(customerId);
    expect(record?.lock?.executionId).toBe(x);
    expect(record?.awaitingTokenTaskToken).toBe(awaitingTokenTaskToken);
    expect(await d.secrets.read(apiToken(customerId), 'pending', { reason: 'test:check' })).toBeDefined();
    expect(d.secrets.accesses.filter((a) => a.operation === 'discardPending')).toEqual([]);
  });

  it("compensates a nested rotation under its parent's lock and leaves the parent's lock to the parent", async () => {
    const { d, holder: parent, customerId } = await lockedBy('incident-response');
    await waitingRotation(d, customerId);

    const outcome = await cleanUpAfterAbnormalEnd(d, {
      workflow: 'token-rotation',
      executionId: executionArn('token-rotation'),
      status: 'ABORTED',
      customerId,
      parentExecutionId: parent,
    });

    expect(outcome).toEqual({ lockReleased: false, rotationCompensated: true, alerted: true });
    const record = await local.customers.get(customerId);
    expect(record?.lock?.executionId).toBe(parent);
    expect(record?.awaitingTokenTaskToken).toBeUndefined();
    expect(await d.secrets.read(apiToken(customerId), 'pending', { reason: 'test:check' })).toBeUndefined();
  });

  it('an incident response ended while its nested rotation waits undoes that rotation and frees its own lock', async () => {
    const { d, holder: parent, customerId } = await lockedBy('incident-response');
    await waitingRotation(d, customerId);

    const outcome = await cleanUpAfterAbnormalEnd(d, {
      workflow: 'incident-response',
      executionId: parent,
      status: 'ABORTED',
      customerId,
    });

    expect(outcome).toEqual({ lockReleased: true, rotationCompensated: true, alerted: true });
    const record = await local.customers.get(customerId);
    expect(record?.lock).toBeUndefined();
    expect(record?.awaitingTokenTaskToken).toBeUndefined();
    expect(await d.secrets.read(apiToken(customerId), 'pending', { reason: 'test:check' })).toBeUndefined();
    expect(d.notifier.alerts[0]).toMatchObject({ severity: 'critical', details: { workflow: 'incident-response' } });
  });

  it('a nested rotation that failed through its own Catch path (nothing parked) is left alone and quiet', async () => {
    const { d, holder: parent, customerId } = await lockedBy('incident-response');

    const outcome = await cleanUpAfterAbnormalEnd(d, {
      workflow: 'token-rotation',
      executionId: executionArn('token-rotation'),
      status: 'FAILED',
      customerId,
      parentExecutionId: parent,
    });

    expect(outcome).toEqual({ lockReleased: false, rotationCompensated: false, alerted: false });
    expect((await local.customers.get(customerId))?.lock?.executionId).toBe(parent);
    expect(d.secrets.accesses).toEqual([]);
    expect(d.notifier.alerts).toEqual([]);
  });

  it('a rotation stopped before it asked for a key only frees the lock: no secret is touched', async () => {
    const { d, holder: x, customerId } = await lockedBy('token-rotation');

    const outcome = await cleanUpAfterAbnormalEnd(d, {
      workflow: 'token-rotation',
      executionId: x,
      status: 'ABORTED',
      customerId,
    });

    expect(outcome).toEqual({ lockReleased: true, rotationCompensated: false, alerted: true });
    expect(d.secrets.accesses).toEqual([]);
  });

  it('an end without a known customer (input not in the event) is a critical alert, not a guess', async () => {
    const d = deps();
    const x = executionArn('onboarding');
    const outcome = await cleanUpAfterAbnormalEnd(d, {
      workflow: 'onboarding',
      executionId: x,
      status: 'FAILED',
      customerId: undefined,
    });
    expect(outcome).toEqual({ lockReleased: false, rotationCompensated: false, alerted: true });
    expect(d.notifier.alerts).toEqual([
      {
        code: WORKFLOW_ENDED_ABNORMALLY,
        severity: 'critical',
        details: {
          workflow: 'onboarding',
          executionId: x,
          status: 'FAILED',
          lockReleased: false,
          rotationCompensated: false,
          customerUnknown: true,
        },
      },
    ]);
  });

  it('a transient storage failure propagates (the event is retried, then dead-lettered), nothing half-done', async () => {
    const { d, holder: x, customerId } = await lockedBy('offboarding');
    const failing: AbnormalEndDeps = {
      ...d,
      customers: Object.assign(Object.create(local.customers) as DynamoCustomerRepository, {
        releaseLock: async () => {
          throw new PermanentError('TEST_STORAGE_DOWN', 'storage refused the update');
        },
      }),
    };
    await expect(
      cleanUpAfterAbnormalEnd(failing, { workflow: 'offboarding', executionId: x, status: 'ABORTED', customerId }),
    ).rejects.toThrow(PermanentError);
    expect(d.notifier.alerts).toEqual([]);
    expect((await local.customers.get(customerId))?.lock?.executionId).toBe(x);
  });
});

describe('local workflow engine: every abnormal end goes through the same function', () => {
  /** Onboarding with its lock taken for real, `PromoteToken` and the lock release (`ReleaseLock` task) as given. */
  function engineFor(
    d: AbnormalEndDeps,
    tasks: {
      promote: (customerId: string) => Promise<unknown>;
      releaseAfterFailure: (customerId: string, executionId: string) => Promise<unknown>;
    },
    ended: EndedExecution[],
  ) {
    return new LocalWorkflowEngine({
      retryIntervalMs: 1,
      bindTasks: (workflow) =>
        bindWorkflowTasks(workflow, async (payload) => {
          const { task, executionId, input } = payload as {
            task: string;
            executionId: string;
            input: { customerId: string };
          };
          if (task === 'AcquireLock') {
            return acquireWorkflowLock(local.customers, systemClock, {
              customerId: input.customerId,
              workflow,
              executionId,
            });
          }
          if (task === 'PromoteToken') return tasks.promote(input.customerId);
          if (task === 'ReleaseLock') return tasks.releaseAfterFailure(input.customerId, executionId);
          return {};
        }),
      onAbnormalEnd: async (execution) => {
        ended.push(execution);
        return cleanUpAfterAbnormalEnd(d, execution);
      },
    });
  }

  const onboardingCustomer = () =>
    local.createCustomer({ status: 'onboarding', sensitivity: 'standard', tokenRotationDays: 180 });

  it('an execution failing outside its Catch paths (its lock release failed) still frees the customer', async () => {
    const customerId = await onboardingCustomer();
    const d = deps();
    const ended: EndedExecution[] = [];
    const engine = engineFor(
      d,
      {
        promote: async () => {
          throw new PermanentError('TEST_PROMOTE_REFUSED', 'promotion refused');
        },
        releaseAfterFailure: async () => {
          throw new PermanentError('TEST_STORAGE_DOWN', 'release refused');
        },
      },
      ended,
    );
    const { executionId } = await engine.start('onboarding', { customerId });
    const finished = await engine.waitFor(executionId, 10_000);

    expect(finished?.status).toBe('FAILED');
    expect(ended).toEqual([{ workflow: 'onboarding', executionId, status: 'FAILED', customerId }]);
    expect((await local.customers.get(customerId))?.lock).toBeUndefined();
    expect(d.notifier.alerts.map((a) => [a.code, a.details?.status, a.details?.lockReleased])).toEqual([
      [WORKFLOW_ENDED_ABNORMALLY, 'FAILED', true],
    ]);
    await engine.stop(0);
  });

  it('an execution aborted at stop releases its lock through the domain; one that failed in its Catch path is quiet', async () => {
    const aborted = await onboardingCustomer();
    const caught = await onboardingCustomer();
    const d = deps();
    const ended: EndedExecution[] = [];
    let hang = true;
    const engine = engineFor(
      d,
      {
        promote: async (customerId) => {
          if (customerId === aborted && hang) return new Promise(() => undefined);
          throw new PermanentError('TEST_PROMOTE_REFUSED', 'promotion refused');
        },
        releaseAfterFailure: async (customerId, executionId) => {
          await local.customers.releaseLock(customerId, executionId);
          return {};
        },
      },
      ended,
    );
    const first = await engine.start('onboarding', { customerId: caught });
    expect((await engine.waitFor(first.executionId, 10_000))?.status).toBe('FAILED');
    const second = await engine.start('onboarding', { customerId: aborted });
    for (let i = 0; i < 100 && (await local.customers.get(aborted))?.lock === undefined; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect((await local.customers.get(aborted))?.lock?.executionId).toBe(second.executionId);

    await engine.stop(0);
    hang = false;

    expect((await engine.describe(second.executionId))?.status).toBe('ABORTED');
    expect(ended.map((e) => [e.customerId, e.status])).toEqual([
      [caught, 'FAILED'],
      [aborted, 'ABORTED'],
    ]);
    expect((await local.customers.get(aborted))?.lock).toBeUndefined();
    expect(d.notifier.alerts.map((a) => [a.customerId, a.details?.status])).toEqual([[aborted, 'ABORTED']]);
  });
});

/** Lambda entry for the offboarding workflow's Task states. */
import {
  alertOffboardedNoticeNotSent,
  deleteCustomerSecrets,
  deleteWebhookSubscription,
  finishOffboarding,
  inventoryCustomerData,
  markOffboardingFailed,
  notifyOffboarded,
  pauseForOffboarding,
  purgeCustomerData,
  requestTokenRevocation,
  type SubscriptionOutcome,
} from '../lifecycle/offboarding.ts';
import { PermanentError } from '../shared/errors.ts';
import type { TableKey } from '../shared/tables.ts';
import { awsTaskHandler } from './aws-entry.ts';
import { createCommonTasks } from './common-tasks.ts';
import type { LifecycleDeps } from './deps.ts';
import { customerIdOf, failureOf, field, requireString, type TaskEvent, type TaskTable } from './task-event.ts';

/** Bounds the PurgeCustomerData loop: 10,000 rounds of 2,000 items is far beyond any customer's data. */
export const MAX_PURGE_ROUNDS = 10_000;

const step = (event: TaskEvent) => ({ customerId: customerIdOf(event), executionId: event.executionId });

function numberAt(event: TaskEvent, path: string): number {
  const value = field(event, path);
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 0;
}

function tableCounts(event: TaskEvent): Partial<Record<TableKey, number>> {
  const value = field(event, 'inventory.tables');
  if (value === null || typeof value !== 'object') return {};
  const counts: Partial<Record<string, number>> = {};
  for (const [key, count] of Object.entries(value)) {
    if (typeof count === 'number' && Number.isInteger(count) && count >= 0) counts[key] = count;
  }
  return counts as Partial<Record<TableKey, number>>;
}

function subscriptionOutcome(event: TaskEvent): SubscriptionOutcome {
  const value = field(event, 'subscription.webhookSubscription');
  return value === 'deleted' || value === 'not_deleted_credential_rejected' ? value : 'none';
}

export function createOffboardingTasks(deps: LifecycleDeps): TaskTable {
  return {
    ...createCommonTasks('offboarding', deps),
    PauseSync: async (event) => pauseForOffboarding(deps, step(event)),
    DeleteWebhookSubscription: async (event) => deleteWebhookSubscription(deps, step(event)),
    RequestTokenRevocation: async (event) => {
      await requestTokenRevocation(deps, step(event));
      return {};
    },
    DeleteSecrets: async (event) =>
      deleteCustomerSecrets(deps, { ...step(event), startedAt: requireString(event, 'pause.startedAt') }),
    InventoryCustomerData: async (event) => inventoryCustomerData(deps, step(event)),
    PurgeCustomerData: async (event) => {
      const round = numberAt(event, 'purge.round') + 1;
      if (round > MAX_PURGE_ROUNDS) {
        throw new PermanentError('PURGE_DID_NOT_CONVERGE', `purging ${customerIdOf(event)} did not finish`);
      }
      const { done } = await purgeCustomerData(deps, step(event));
      return { done, round };
    },
    FinishOffboarding: async (event) =>
      finishOffboarding(deps, {
        ...step(event),
        startedAt: requireString(event, 'pause.startedAt'),
        tables: tableCounts(event),
        debugCaptures: numberAt(event, 'inventory.debugCaptures'),
        secretsDeleted: numberAt(event, 'secrets.secretsDeleted'),
        webhookSubscription: subscriptionOutcome(event),
      }),
    NotifyOffboarded: async (event) => {
      await notifyOffboarded(deps, { ...step(event), deletedAt: requireString(event, 'finished.deletedAt') });
      return {};
    },
    // The deletion is complete and recorded; only the notice failed. Operators send the record by hand (runbook).
    AlertOffboardedNoticeNotSent: async (event) => {
      await alertOffboardedNoticeNotSent(deps, {
        ...step(event),
        deletedAt: requireString(event, 'finished.deletedAt'),
        failedWith: failureOf(event),
      });
      return {};
    },
    MarkOffboardingFailed: async (event) => {
      await markOffboardingFailed(deps, { ...step(event), failedWith: failureOf(event) });
      return {};
    },
  };
}

export const handler = awsTaskHandler(createOffboardingTasks);

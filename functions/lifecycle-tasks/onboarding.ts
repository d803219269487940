/** Lambda entry for the onboarding workflow's Task states. */
import {
  activateCustomer,
  compensateOnboarding,
  createWebhookSecret,
  createWebhookSubscription,
  notifySyncActive,
  promoteOnboardingToken,
  recordOrganization,
  requestInitialLoad,
} from '../lifecycle/onboarding.ts';
import { awsTaskHandler } from './aws-entry.ts';
import { createCommonTasks } from './common-tasks.ts';
import type { LifecycleDeps } from './deps.ts';
import { customerIdOf, failureOf, type TaskEvent, type TaskTable } from './task-event.ts';

const step = (event: TaskEvent) => ({ customerId: customerIdOf(event), executionId: event.executionId });

export function createOnboardingTasks(deps: LifecycleDeps): TaskTable {
  return {
    ...createCommonTasks('onboarding', deps),
    PromoteToken: async (event) => {
      await promoteOnboardingToken(deps, step(event));
      return {};
    },
    RecordOrganization: async (event) => recordOrganization(deps, step(event)),
    CreateWebhookSecret: async (event) => {
      await createWebhookSecret(deps, step(event));
      return {};
    },
    CreateWebhookSubscription: async (event) => createWebhookSubscription(deps, step(event)),
    ActivateCustomer: async (event) => {
      await activateCustomer(deps, step(event));
      return {};
    },
    RequestInitialLoad: async (event) => {
      await requestInitialLoad(deps, step(event));
      return {};
    },
    NotifySyncActive: async (event) => {
      await notifySyncActive(deps, step(event));
      return {};
    },
    CompensateOnboarding: async (event) => compensateOnboarding(deps, { ...step(event), failedWith: failureOf(event) }),
  };
}

export const handler = awsTaskHandler(createOnboardingTasks);

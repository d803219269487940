/** Lambda entry for the webhook-secret rotation workflow's Task states. */
import {
  compensateWebhookSecretRotation,
  generatePendingWebhookSecret,
  notifyWebhookSecretRotated,
  promoteWebhookSecret,
  replaceSubscriptionSecret,
  retirePreviousWebhookSecret,
} from '../lifecycle/webhook-secret-rotation.ts';
import { awsTaskHandler } from './aws-entry.ts';
import { createCommonTasks } from './common-tasks.ts';
import type { LifecycleDeps } from './deps.ts';
import { customerIdOf, type TaskEvent, type TaskTable } from './task-event.ts';

const step = (event: TaskEvent) => ({ customerId: customerIdOf(event), executionId: event.executionId });

export function createWebhookSecretRotationTasks(deps: LifecycleDeps): TaskTable {
  return {
    ...createCommonTasks('webhook-secret-rotation', deps),
    GenerateWebhookSecret: async (event) => {
      await generatePendingWebhookSecret(deps, step(event));
      return {};
    },
    ReplaceSubscriptionSecret: async (event) => {
      await replaceSubscriptionSecret(deps, step(event));
      return {};
    },
    PromoteWebhookSecret: async (event) => promoteWebhookSecret(deps, step(event)),
    RetirePreviousWebhookSecret: async (event) => {
      await retirePreviousWebhookSecret(deps, step(event));
      return {};
    },
    NotifyWebhookSecretRotated: async (event) => {
      await notifyWebhookSecretRotated(deps, step(event));
      return {};
    },
    CompensateWebhookSecretRotation: async (event) => compensateWebhookSecretRotation(deps, step(event)),
  };
}

export const handler = awsTaskHandler(createWebhookSecretRotationTasks);

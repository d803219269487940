/** The task table of each workflow: what its Lambda serves on AWS and what the local runner binds its states to. */
import type { WorkflowName } from '../customers/customer.ts';
import type { LifecycleDeps } from './deps.ts';
import { createIncidentResponseTasks } from './incident-response.ts';
import { createOffboardingTasks } from './offboarding.ts';
import { createOnboardingTasks } from './onboarding.ts';
import type { TaskTable } from './task-event.ts';
import { createTokenRotationTasks } from './token-rotation.ts';
import { createWebhookSecretRotationTasks } from './webhook-secret-rotation.ts';

export const TASK_TABLES: Readonly<Record<WorkflowName, (deps: LifecycleDeps) => TaskTable>> = {
  onboarding: createOnboardingTasks,
  'token-rotation': createTokenRotationTasks,
  'webhook-secret-rotation': createWebhookSecretRotationTasks,
  offboarding: createOffboardingTasks,
  'incident-response': createIncidentResponseTasks,
};

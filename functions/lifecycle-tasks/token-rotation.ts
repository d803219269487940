/** Lambda entry for the API-token rotation workflow's Task states. */
import {
  compensateTokenRotation,
  confirmNewToken,
  cutOverToken,
  notifyTokenRotated,
  requestNewToken,
  retireOldToken,
  stopOnOrganizationMismatch,
  validateNewToken,
} from '../lifecycle/token-rotation.ts';
import { awsTaskHandler } from './aws-entry.ts';
import { createCommonTasks } from './common-tasks.ts';
import type { LifecycleDeps } from './deps.ts';
import { customerIdOf, field, requireString, requireTaskToken, type TaskEvent, type TaskTable } from './task-event.ts';

const step = (event: TaskEvent) => ({ customerId: customerIdOf(event), executionId: event.executionId });

export function createTokenRotationTasks(deps: LifecycleDeps): TaskTable {
  return {
    ...createCommonTasks('token-rotation', deps),
    RequestNewToken: async (event) => {
      await requestNewToken(deps, {
        ...step(event),
        taskToken: requireTaskToken(event),
        expedited: field(event, 'expedited') === true,
      });
      return {};
    },
    ValidateNewToken: async (event) => validateNewToken(deps, step(event)),
    StopOnOrganizationMismatch: async (event) => {
      await stopOnOrganizationMismatch(deps, step(event));
      return {};
    },
    CutOver: async (event) => {
      await cutOverToken(deps, { ...step(event), tokenVersionId: requireString(event, 'submission.tokenVersionId') });
      return {};
    },
    ConfirmNewToken: async (event) => {
      await confirmNewToken(deps, step(event));
      return {};
    },
    RetireOldToken: async (event) => {
      await retireOldToken(deps, step(event));
      return {};
    },
    NotifyTokenRotated: async (event) => {
      await notifyTokenRotated(deps, step(event));
      return {};
    },
    CompensateTokenRotation: async (event) => {
      await compensateTokenRotation(deps, step(event));
      return {};
    },
  };
}

export const handler = awsTaskHandler(createTokenRotationTasks);

/** Lambda entry for the incident-response workflow's Task states. */
import {
  checkSecretsManagerTrail,
  collectRecentWrites,
  collectSecretAccess,
  compileIncidentReport,
  openIncident,
  recordRotationOutcome,
  secretsManagerTrailUnavailable,
} from '../lifecycle/incident-response.ts';
import type { RecentWritesSummary, SecretAccessFindings } from '../lifecycle/ports.ts';
import type { SecretsManagerTrailFindings } from '../lifecycle/secret-access-trail.ts';
import { awsTaskHandler } from './aws-entry.ts';
import { createCommonTasks } from './common-tasks.ts';
import type { LifecycleDeps } from './deps.ts';
import { customerIdOf, field, requireString, type TaskEvent, type TaskTable } from './task-event.ts';

const step = (event: TaskEvent) => ({ customerId: customerIdOf(event), executionId: event.executionId });

const window = (event: TaskEvent) => ({
  investigatedFrom: requireString(event, 'incident.investigatedFrom'),
  investigatedTo: requireString(event, 'incident.investigatedTo'),
});

export function createIncidentResponseTasks(deps: LifecycleDeps): TaskTable {
  return {
    ...createCommonTasks('incident-response', deps),
    OpenIncident: async (event) => ({ ...(await openIncident(deps, step(event))) }),
    CollectRecentWrites: async (event) => ({
      ...(await collectRecentWrites(deps, {
        ...step(event),
        investigatedFrom: requireString(event, 'incident.investigatedFrom'),
      })),
    }),
    CollectSecretAccess: async (event) => ({
      ...(await collectSecretAccess(deps, { ...step(event), ...window(event) })),
    }),
    CheckSecretsManagerTrail: async (event) => ({
      ...(await checkSecretsManagerTrail(deps, { ...step(event), ...window(event) })),
    }),
    CompileIncidentReport: async (event) => {
      // Absent when the trail could not be read: its Catch put the error under `trailFailure` instead.
      const trail = field(event, 'secretsManagerTrail') as SecretsManagerTrailFindings | undefined;
      return compileIncidentReport(deps, {
        ...step(event),
        ...window(event),
        reportId: requireString(event, 'incident.reportId'),
        openedAt: requireString(event, 'incident.openedAt'),
        recentWrites: field(event, 'recentWrites') as RecentWritesSummary,
        secretAccess: field(event, 'secretAccess') as SecretAccessFindings,
        secretsManagerTrail: trail ?? secretsManagerTrailUnavailable(deps, field(event, 'trailFailure.Error')),
      });
    },
    RecordRotationOutcome: async (event) => {
      const rotationError = field(event, 'findings.rotation.error');
      return recordRotationOutcome(deps, {
        ...step(event),
        reportId: requireString(event, 'incident.reportId'),
        rotationStatus: requireString(event, 'findings.rotation.status'),
        rotationError: typeof rotationError === 'string' ? rotationError : undefined,
      });
    },
  };
}

export const handler = awsTaskHandler(createIncidentResponseTasks);

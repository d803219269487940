/** Lambda entry for the incident-response workflow's Task states. */
import {
  collectRecentWrites,
  collectSecretAccess,
  compileIncidentReport,
  openIncident,
} from '../lifecycle/incident-response.ts';
import type { RecentWritesSummary, SecretAccessFindings } from '../lifecycle/ports.ts';
import { awsTaskHandler } from './aws-entry.ts';
import { createCommonTasks } from './common-tasks.ts';
import type { LifecycleDeps } from './deps.ts';
import { customerIdOf, field, requireString, type TaskEvent, type TaskTable } from './task-event.ts';

const step = (event: TaskEvent) => ({ customerId: customerIdOf(event), executionId: event.executionId });

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
      ...(await collectSecretAccess(deps, {
        ...step(event),
        investigatedFrom: requireString(event, 'incident.investigatedFrom'),
        investigatedTo: requireString(event, 'incident.investigatedTo'),
      })),
    }),
    CompileIncidentReport: async (event) => {
      const rotationError = field(event, 'findings.rotation.error');
      return compileIncidentReport(deps, {
        ...step(event),
        reportId: requireString(event, 'incident.reportId'),
        openedAt: requireString(event, 'incident.openedAt'),
        investigatedFrom: requireString(event, 'incident.investigatedFrom'),
        investigatedTo: requireString(event, 'incident.investigatedTo'),
        rotationStatus: requireString(event, 'findings.rotation.status'),
        rotationError: typeof rotationError === 'string' ? rotationError : undefined,
        recentWrites: field(event, 'findings.recentWrites') as RecentWritesSummary,
        secretAccess: field(event, 'findings.secretAccess') as SecretAccessFindings,
      });
    },
  };
}

export const handler = awsTaskHandler(createIncidentResponseTasks);

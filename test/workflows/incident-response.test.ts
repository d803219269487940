import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import type { AuditLog } from '../../functions/credentials/audit-log.ts';
import { DynamoDbAuditLog } from '../../functions/credentials/dynamodb-audit-log.ts';
import type { IncidentReport, IncidentReportSummary } from '../../functions/lifecycle/ports.ts';
import type { SecretAccessTrail } from '../../functions/lifecycle/secret-access-trail.ts';
import type { LocalExecution } from '../../functions/lifecycle-tasks/local-runner.ts';
import { PermanentError, TransientError } from '../../functions/shared/errors.ts';
import { enteredStates, leaksInEvents, retriesOf, useWorkflowTestEnv } from '../support/workflow-runner.ts';
import {
  apiEvent,
  callApi,
  executionFrom,
  lifecycleApi,
  onboardedCustomer,
  rotationWaiting,
  waitFor,
} from './lifecycle-fixtures.ts';

const env = useWorkflowTestEnv({ incidentLookbackHours: 24 });
const INTRUDER = 'arn:aws:sts::123456789012:assumed-role/UnexpectedRole/session-1';

async function seedWrites(customerId: string): Promise<void> {
  const now = Date.now();
  const items = [
    ...Array.from({ length: 4 }, (_, i) => ({ kind: 'gift', key: `gift#Stripe#pi_recent${i}`, ageH: 1 + i })),
    ...Array.from({ length: 2 }, (_, i) => ({ kind: 'contact', key: `contact#Stripe#cus_recent${i}`, ageH: 2 })),
    ...Array.from({ length: 3 }, (_, i) => ({ kind: 'gift', key: `gift#Stripe#pi_old${i}`, ageH: 72 })),
  ].map((entry) => ({
    PutRequest: {
      Item: {
        customerId,
        recordKey: entry.key,
        kind: entry.kind,
        state: 'submitted',
        submittedAt: new Date(now - entry.ageH * 3_600_000).toISOString(),
      },
    },
  }));
  await env().aws.documentClient.send(
    new BatchWriteCommand({ RequestItems: { [env().aws.tableNames.syncRecords]: items } }),
  );
  for (let i = 0; i < 3; i++) await recordIntruderRead(customerId, now - 30 * 60_000, { outcome: 'ok' });
}

/** A read of the customer's token by a principal that is not ours, as the secret audit log records it. */
async function recordIntruderRead(
  customerId: string,
  atMs: number,
  result: { outcome: 'ok' } | { outcome: 'error'; errorCode: string },
): Promise<void> {
  const audit = new DynamoDbAuditLog(env().aws.documentClient, env().aws.tableNames.secretAudit);
  await audit.record({
    customerId,
    kind: 'api_token',
    action: 'read',
    stage: 'current',
    accessor: INTRUDER,
    reason: 'sync:submit',
    ...result,
    at: new Date(atMs).toISOString(),
  });
}

/** The token rotation started after `before` was taken (the incident's nested execution). */
function nestedRotation(before: ReadonlySet<string>): LocalExecution | undefined {
  return [...env().starter.executions.values()].find(
    (execution) => execution.workflow === 'token-rotation' && !before.has(execution.executionId),
  );
}

async function startIncident(customerId: string) {
  return executionFrom(
    env(),
    await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/workflows/incident-response`),
  );
}

/**
 * An incident for the customer, with a new key of its own organization handed over when the rotation asks for it;
 * the incident must succeed. Its execution and the report it stored.
 */
async function incidentWithNewKey(
  customerId: string,
  organizationId: number,
): Promise<{ execution: LocalExecution; report: IncidentReport | undefined }> {
  const execution = await startIncident(customerId);
  await rotationWaiting(env(), customerId);
  await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/rotation-token`, {
    token: env().sim.addKey(organizationId),
  });
  const outcome = await execution.result;
  expect(outcome.status).toBe('SUCCEEDED');
  const output = outcome.output as { findings: { report: { reportId: string } } };
  return { execution, report: await env().deps.incidentReports.get(customerId, output.findings.report.reportId) };
}

/** The lifecycle API's incident routes over the test environment's report store. */
async function getJson(path: string): Promise<{ statusCode: number; body: Record<string, unknown> }> {
  const response = await lifecycleApi(env(), { incidentReports: env().deps.incidentReports })(apiEvent('GET', path));
  return { statusCode: response.statusCode, body: JSON.parse(response.body) as Record<string, unknown> };
}

/** A read of the customer's token the local store refused, by a principal that is not ours. */
async function seedDeniedRead(customerId: string): Promise<void> {
  await recordIntruderRead(customerId, Date.now() - 20 * 60_000, {
    outcome: 'error',
    errorCode: 'SECRET_ACCESS_DENIED',
  });
}

describe('incident-response workflow (statemachines/incident-response.asl.json)', () => {
  it('sends the report while the rotation still waits for the new key, serves it, then records the rotation', async () => {
    const { customerId, org } = await onboardedCustomer(env(), 'inc');
    await seedWrites(customerId);
    await seedDeniedRead(customerId);
    const execution = await startIncident(customerId);
    await rotationWaiting(env(), customerId);
    const ready = () =>
      env().notifier.customer.find(
        (notice) => notice.customerId === customerId && notice.type === 'incident_report_ready',
      );
    await waitFor(() => ready() !== undefined);

    // Still waiting for the key: the execution runs and the rotation has no outcome yet.
    expect((await env().starter.describe(execution.executionId))?.status).toBe('RUNNING');
    expect((await env().deps.customers.get(customerId))?.awaitingTokenTaskToken).toBeDefined();
    const reportId = ready()?.details?.reportId as string;
    expect(ready()?.details).toEqual({ reportId, indicators: 3, tokenRotation: 'in_progress' });

    const listed = await getJson(`/lifecycle/customers/${customerId}/incidents`);
    expect(listed.statusCode).toBe(200);
    expect(listed.body.incidents as IncidentReportSummary[]).toEqual([
      expect.objectContaining({
        reportId,
        executionId: execution.executionId,
        tokenRotation: { status: 'in_progress' },
      }),
    ]);
    const served = await getJson(`/lifecycle/customers/${customerId}/incidents/${encodeURIComponent(reportId)}`);
    expect(served.statusCode).toBe(200);
    const report = served.body.report as IncidentReport;
    expect(report.tokenRotation).toEqual({ status: 'in_progress' });
    expect(report.recentWrites.byKind).toEqual({ gift: 4, contact: 2 });
    // No CloudTrail on one machine: the report names the local store's access records as its source.
    expect(report.secretsManagerTrail).toMatchObject({
      source: 'local-secret-store',
      status: 'checked',
      coveredFrom: report.investigatedFrom,
      coveredTo: report.investigatedTo,
      deliveryLagMinutes: 0,
      completeUntil: report.investigatedTo,
      deniedCalls: 1,
      foreignCalls: 4,
      foreignPrincipals: [INTRUDER],
    });
    expect(report.secretsManagerTrail.findings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'foreign_accessor', principal: INTRUDER, calls: 3 }),
        expect.objectContaining({ kind: 'access_denied', principal: INTRUDER, calls: 1, errorCode: 'AccessDenied' }),
      ]),
    );
    expect(report.compromiseIndicators).toEqual([
      'unexpected_secret_accessors',
      'secrets_manager_foreign_accessor',
      'secrets_manager_access_denied',
    ]);

    await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/rotation-token`, {
      token: env().sim.addKey(org.organizationId),
    });
    expect((await execution.result).status).toBe('SUCCEEDED');
    const updated = await env().deps.incidentReports.get(customerId, reportId);
    expect(updated?.tokenRotation).toEqual({ status: 'rotated', recordedAt: expect.any(String) });
    expect(updated?.compromiseIndicators).toEqual(report.compromiseIndicators);
    expect(env().notifier.customer).toContainEqual(
      expect.objectContaining({
        customerId,
        type: 'incident_report_updated',
        details: { reportId, tokenRotation: 'rotated', indicators: 3 },
      }),
    );
    expect(leaksInEvents(execution)).toBe(0);
  });

  it('refuses a malformed report id and answers 404 for an unknown one', async () => {
    const { customerId } = await onboardedCustomer(env(), 'inc');
    expect((await getJson(`/lifecycle/customers/${customerId}/incidents/..%2Fother`)).statusCode).toBe(400);
    const unknown = encodeURIComponent('incident-2026-01-01T00:00:00.000Z-0123abcd');
    expect((await getJson(`/lifecycle/customers/${customerId}/incidents/${unknown}`)).body).toMatchObject({
      error: 'INCIDENT_REPORT_NOT_FOUND',
    });
    expect((await getJson(`/lifecycle/customers/${customerId}/incidents`)).body).toEqual({ incidents: [] });
  });

  it('rotates the key at once, reviews writes and secret access, stores and sends a report', async () => {
    const { customerId, org } = await onboardedCustomer(env(), 'inc');
    await seedWrites(customerId);
    const before = new Set(env().starter.executions.keys());
    const execution = await startIncident(customerId);
    await rotationWaiting(env(), customerId);
    // The nested rotation runs under the incident's lock.
    expect((await env().deps.customers.get(customerId))?.lock?.executionId).toBe(execution.executionId);
    const newKey = env().sim.addKey(org.organizationId);
    expect(
      (await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/rotation-token`, { token: newKey })).statusCode,
    ).toBe(202);

    const outcome = await execution.result;
    expect(outcome.status).toBe('SUCCEEDED');
    const nested = nestedRotation(before);
    expect(nested).toBeDefined();
    expect((await nested?.result)?.status).toBe('SUCCEEDED');
    expect(env().notifier.customer).toContainEqual(
      expect.objectContaining({ customerId, type: 'token_rotation_requested', details: { expedited: true } }),
    );
    expect(
      (await env().secrets.read({ customerId, kind: 'api_token' }, 'current', { reason: 'test:inspect' }))?.value,
    ).toBe(newKey);

    const output = outcome.output as { findings: { report: { reportId: string; indicators: number } } };
    const report = await env().deps.incidentReports.get(customerId, output.findings.report.reportId);
    expect(report?.tokenRotation).toEqual({ status: 'rotated', recordedAt: expect.any(String) });
    expect(report?.recentWrites.total).toBe(6);
    expect(report?.recentWrites.byKind).toEqual({ gift: 4, contact: 2 });
    expect(report?.secretAccess.unexpectedPrincipals).toEqual([INTRUDER]);
    expect(report?.secretAccess.unexpectedAccesses).toBe(3);
    expect(report?.secretAccess.totalAccesses).toBeGreaterThan(3);
    expect(report?.secretsManagerTrail.foreignPrincipals).toEqual([INTRUDER]);
    expect(report?.compromiseIndicators).toEqual(['unexpected_secret_accessors', 'secrets_manager_foreign_accessor']);
    expect(env().notifier.customer).toContainEqual(
      expect.objectContaining({
        customerId,
        type: 'incident_report_ready',
        details: { reportId: report?.reportId, indicators: 2, tokenRotation: 'in_progress' },
      }),
    );
    expect(env().notifier.alerts).toContainEqual(
      expect.objectContaining({ customerId, code: 'INCIDENT_REPORT_READY', severity: 'critical' }),
    );
    expect((await env().deps.customers.get(customerId))?.lock).toBeUndefined();
    expect(leaksInEvents(execution)).toBe(0);
    expect(nested === undefined ? -1 : leaksInEvents(nested)).toBe(0);
  });

  it('reports even when the rotation fails, naming the key as not rotated', async () => {
    const { customerId } = await onboardedCustomer(env(), 'inc');
    const before = new Set(env().starter.executions.keys());
    const execution = await startIncident(customerId);
    await rotationWaiting(env(), customerId);
    const foreign = env().sim.organization();
    await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/rotation-token`, { token: foreign.apiKey });

    const outcome = await execution.result;
    expect(outcome.status).toBe('SUCCEEDED');
    expect(enteredStates(execution)).toContain('RotationNotCompleted');
    expect((await nestedRotation(before)?.result)?.status).toBe('FAILED');
    const output = outcome.output as { findings: { report: { reportId: string } } };
    const report = await env().deps.incidentReports.get(customerId, output.findings.report.reportId);
    expect(report?.tokenRotation).toEqual({
      status: 'not_rotated',
      errorCode: 'States.TaskFailed',
      recordedAt: expect.any(String),
    });
    expect(report?.compromiseIndicators).toContain('token_not_rotated');
    expect(env().notifier.alertCodesFor(customerId)).toContain('ORGANIZATION_MISMATCH');
    expect((await env().deps.customers.get(customerId))?.lock).toBeUndefined();
    expect(leaksInEvents(execution)).toBe(0);
  });

  it('sends the report when the trail cannot be read, saying so, and warns the operators', async () => {
    const { customerId, org } = await onboardedCustomer(env(), 'inc');
    const original = env().deps;
    const refusing: SecretAccessTrail = {
      source: 'cloudtrail',
      deliveryLagMinutes: 15,
      readAccesses: async () => {
        throw new PermanentError('CLOUDTRAIL_LOOKUP_REFUSED', 'x');
      },
    };
    env().deps = { ...original, secretAccessTrail: refusing };
    try {
      const { report } = await incidentWithNewKey(customerId, org.organizationId);
      expect(report?.secretsManagerTrail).toMatchObject({
        source: 'cloudtrail',
        status: 'unavailable',
        errorCode: 'PermanentError',
        totalCalls: 0,
      });
      expect(report?.compromiseIndicators).toEqual([]);
      expect(env().notifier.alerts).toContainEqual(
        expect.objectContaining({
          customerId,
          code: 'INCIDENT_REPORT_READY',
          severity: 'warning',
          details: expect.objectContaining({ secretsManagerTrail: 'unavailable' }),
        }),
      );
    } finally {
      env().deps = original;
    }
  });

  it('retries a transient failure of the audit query', async () => {
    const { customerId, org } = await onboardedCustomer(env(), 'inc');
    const original = env().deps;
    let failures = 2;
    const audit: Pick<AuditLog, 'accessesBetween'> = {
      accessesBetween: async (...args) => {
        if (failures-- > 0) throw new TransientError('AUDIT_UNAVAILABLE', 'x');
        return original.audit.accessesBetween(...args);
      },
    };
    env().deps = { ...original, audit };
    try {
      const { execution, report } = await incidentWithNewKey(customerId, org.organizationId);
      expect(retriesOf(execution)).toMatchObject({ CollectSecretAccess: 2 });
      expect(report?.compromiseIndicators).toEqual([]);
      expect(report?.secretAccess.unexpectedAccesses).toBe(0);
    } finally {
      env().deps = original;
    }
  });
});

import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { IncidentReport, IncidentReportStore } from '../../../functions/lifecycle/ports.ts';
import { trailUnavailable } from '../../../functions/lifecycle/secret-access-trail.ts';
import { createLifecycleApiHandler } from '../../../functions/lifecycle-api/handler.ts';
import type { LifecycleApiDeps } from '../../../functions/lifecycle-api/lifecycle-api.ts';
import { TransientError } from '../../../functions/shared/errors.ts';

const REPORT_ID = 'incident-20261129T101500Z-0a1b2c3d';

const REPORT: IncidentReport = {
  customerId: 'acme',
  reportId: REPORT_ID,
  executionId: 'arn:aws:states:us-east-1:123456789012:execution:incident-response:x',
  openedAt: '2026-11-29T10:15:00.000Z',
  compiledAt: '2026-11-29T10:15:09.000Z',
  investigatedFrom: '2026-11-22T10:15:00.000Z',
  investigatedTo: '2026-11-29T10:15:00.000Z',
  tokenRotation: { status: 'in_progress' },
  recentWrites: { total: 2, byKind: { gift: 2 }, sampleRecordKeys: ['gift#Stripe#pi_1'] },
  secretAccess: {
    totalAccesses: 1,
    unexpectedPrincipals: [],
    unexpectedAccesses: 0,
    peakHourlyAccesses: 1,
    volumeAnomaly: false,
  },
  secretsManagerTrail: trailUnavailable({ source: 'cloudtrail', deliveryLagMinutes: 15 }, 'CLOUDTRAIL_UNAVAILABLE'),
  compromiseIndicators: [],
};

function store(reports: IncidentReport[]): Pick<IncidentReportStore, 'get' | 'list'> & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    get: async (customerId, reportId) => {
      asked.push(`get ${customerId} ${reportId}`);
      return reports.find((report) => report.customerId === customerId && report.reportId === reportId);
    },
    list: async (customerId, limit) => {
      asked.push(`list ${customerId} ${limit}`);
      return reports.filter((report) => report.customerId === customerId);
    },
  };
}

function api(incidentReports?: Pick<IncidentReportStore, 'get' | 'list'>) {
  const unused = () => {
    throw new Error('not used');
  };
  return createLifecycleApiHandler({
    customers: { get: unused },
    secrets: {},
    virtuous: {},
    starter: {},
    clock: { now: () => new Date('2026-11-29T12:00:00Z') },
    settings: { tokenRotationDays: { high: 90, standard: 180 } },
    ...(incidentReports === undefined ? {} : { incidentReports }),
  } as unknown as LifecycleApiDeps);
}

async function call(handler: ReturnType<typeof api>, method: string, path: string) {
  const response = await handler({
    httpMethod: method,
    path,
    pathParameters: { proxy: path.replace(/^\/lifecycle\//, '') },
    body: null,
    isBase64Encoded: false,
    headers: {},
  } as unknown as APIGatewayProxyEvent);
  return { statusCode: response.statusCode, body: JSON.parse(response.body) as Record<string, unknown> };
}

describe('lifecycle API incident routes', () => {
  it("lists the customer's incident reports and serves one as stored", async () => {
    const reports = store([REPORT, { ...REPORT, customerId: 'globex' }]);
    const handler = api(reports);
    const listed = await call(handler, 'GET', '/lifecycle/customers/acme/incidents');
    expect(listed).toEqual({ statusCode: 200, body: { incidents: [REPORT] } });
    const served = await call(handler, 'GET', `/lifecycle/customers/acme/incidents/${REPORT_ID}`);
    expect(served).toEqual({ statusCode: 200, body: { report: REPORT } });
    expect(reports.asked).toEqual(['list acme 20', `get acme ${REPORT_ID}`]);
  });

  it('refuses malformed ids before reading and answers 404 for an unknown report', async () => {
    const reports = store([REPORT]);
    const handler = api(reports);
    for (const id of ['..%2F..%2Fsecret', 'incident-x', `${REPORT_ID}%00`, '%E0%A4%A']) {
      expect(await call(handler, 'GET', `/lifecycle/customers/acme/incidents/${id}`), id).toMatchObject({
        statusCode: 400,
        body: { error: 'INVALID_REPORT_ID' },
      });
    }
    expect(await call(handler, 'GET', '/lifecycle/customers/ACME!/incidents')).toMatchObject({ statusCode: 400 });
    expect(reports.asked).toEqual([]);
    // A report id of another customer is not found under this one.
    expect(await call(handler, 'GET', `/lifecycle/customers/globex/incidents/${REPORT_ID}`)).toMatchObject({
      statusCode: 404,
      body: { error: 'INCIDENT_REPORT_NOT_FOUND' },
    });
    // Reports stored before the compact id form are still served.
    const older = encodeURIComponent('incident-2026-11-29T10:15:00.000Z-0a1b2c3d');
    expect(await call(handler, 'GET', `/lifecycle/customers/acme/incidents/${older}`)).toMatchObject({
      statusCode: 404,
    });
  });

  it('answers GET only, 501 without a report store and 503 when the store is unavailable', async () => {
    expect(await call(api(store([REPORT])), 'POST', '/lifecycle/customers/acme/incidents')).toMatchObject({
      statusCode: 405,
    });
    expect(await call(api(), 'GET', '/lifecycle/customers/acme/incidents')).toMatchObject({
      statusCode: 501,
      body: { error: 'NOT_CONFIGURED' },
    });
    const failing = api({
      get: async () => undefined,
      list: async () => {
        throw new TransientError('STORE_UNAVAILABLE', 'x');
      },
    });
    expect(await call(failing, 'GET', '/lifecycle/customers/acme/incidents')).toMatchObject({
      statusCode: 503,
      body: { error: 'TRY_AGAIN' },
    });
  });
});

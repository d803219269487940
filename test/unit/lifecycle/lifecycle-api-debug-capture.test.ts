// The lifecycle API's debug-capture routes: a bounded, per-customer window, announced to the operators before it opens.
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { CustomerRecord } from '../../../functions/customers/customer.ts';
import { isDebugCaptureActive } from '../../../functions/customers/debug-capture-flag.ts';
import { createLifecycleApiHandler } from '../../../functions/lifecycle-api/handler.ts';
import type { LifecycleApiDeps } from '../../../functions/lifecycle-api/lifecycle-api.ts';
import { operatorMessage } from '../../../functions/notifications/notification-message.ts';
import type { OperatorAlert } from '../../../functions/notifications/notifier.ts';
import { TransientError } from '../../../functions/shared/errors.ts';
import { customerRecord, InMemoryCustomers } from '../../support/in-memory-customers.ts';
import { InMemorySecretStore } from '../../support/in-memory-secret-store.ts';

const NOW = new Date('2026-11-29T10:00:00.000Z');
const CALLER = 'arn:aws:sts::111111111111:assumed-role/PartnerBackend/ops.person@example.org';

const record = (customerId: string, status: CustomerRecord['status'], extra: Partial<CustomerRecord> = {}) =>
  customerRecord(customerId, status, NOW.toISOString(), extra);

function setup(records: CustomerRecord[], options: { notifier?: boolean; alertFails?: boolean } = {}) {
  const customers = new InMemoryCustomers(records);
  const alerts: OperatorAlert[] = [];
  const deps: LifecycleApiDeps = {
    customers,
    secrets: new InMemorySecretStore(),
    virtuous: {} as LifecycleApiDeps['virtuous'],
    starter: {} as LifecycleApiDeps['starter'],
    clock: { now: () => NOW },
    settings: { tokenRotationDays: { high: 90, standard: 180 } },
    ...(options.notifier === false
      ? {}
      : {
          notifier: {
            notifyCustomer: async () => undefined,
            alertOperators: async (alert: OperatorAlert) => {
              if (options.alertFails) throw new TransientError('SNS_UNAVAILABLE', 'down');
              alerts.push(alert);
            },
          },
        }),
  };
  return { handler: createLifecycleApiHandler(deps), map: customers.records, alerts };
}

function call(method: 'POST' | 'DELETE' | 'GET', customerId: string, body?: unknown): APIGatewayProxyEvent {
  const path = `/lifecycle/customers/${customerId}/debug-capture`;
  return {
    httpMethod: method,
    path,
    pathParameters: { proxy: path.replace(/^\/lifecycle\//, '') },
    body: body === undefined ? null : JSON.stringify(body),
    isBase64Encoded: false,
    headers: {},
    requestContext: { identity: { userArn: CALLER } },
  } as unknown as APIGatewayProxyEvent;
}

describe('POST /lifecycle/customers/{id}/debug-capture', () => {
  it('sets the window on the record and alerts the operators with who, when and until when', async () => {
    const t = setup([record('acme', 'active'), record('beta', 'active')]);
    const response = await t.handler(call('POST', 'acme', { minutes: 90 }));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ customerId: 'acme', debugCaptureUntil: '2026-11-29T11:30:00.000Z' });
    expect(t.map.get('acme')?.debugCaptureUntil).toBe('2026-11-29T11:30:00.000Z');
    expect(t.map.get('beta')?.debugCaptureUntil).toBeUndefined();
    expect(t.alerts).toEqual([
      {
        customerId: 'acme',
        code: 'debug_capture_enabled',
        severity: 'warning',
        details: {
          until: '2026-11-29T11:30:00.000Z',
          minutes: 90,
          requestedBy: 'arn:aws:sts::111111111111:assumed-role/PartnerBackend/ops.person_example.org',
          requestedAt: NOW.toISOString(),
        },
      },
    ]);
    // The alert passes the wire check every notification goes through (identifiers only).
    expect(() => operatorMessage(t.alerts[0] as OperatorAlert, NOW.getTime())).not.toThrow();
  });

  it('accepts at most 24 h and at least a minute; a window is active only until its end', async () => {
    const t = setup([record('acme', 'paused')]);
    for (const minutes of [0, 1441, 1.5, -5, '60']) {
      const response = await t.handler(call('POST', 'acme', { minutes }));
      expect(response.statusCode, String(minutes)).toBe(400);
    }
    expect((await t.handler(call('POST', 'acme', {}))).statusCode).toBe(400);
    expect(t.alerts).toEqual([]);
    expect((await t.handler(call('POST', 'acme', { minutes: 1440 }))).statusCode).toBe(200);
    const until = t.map.get('acme')?.debugCaptureUntil;
    expect(isDebugCaptureActive(until, new Date(NOW.getTime() + 1439 * 60_000))).toBe(true);
    expect(isDebugCaptureActive(until, new Date(NOW.getTime() + 1440 * 60_000))).toBe(false);
  });

  it('refuses unknown, offboarded and non-receiving customers without alerting', async () => {
    const t = setup([record('gone', 'offboarded'), record('leaving', 'offboarding'), record('broken', 'failed')]);
    expect((await t.handler(call('POST', 'nobody', { minutes: 10 }))).statusCode).toBe(404);
    expect((await t.handler(call('POST', 'gone', { minutes: 10 }))).statusCode).toBe(404);
    const leaving = await t.handler(call('POST', 'leaving', { minutes: 10 }));
    expect(leaving.statusCode).toBe(409);
    expect(JSON.parse(leaving.body).error).toBe('CUSTOMER_NOT_RECEIVING');
    expect((await t.handler(call('POST', 'broken', { minutes: 10 }))).statusCode).toBe(409);
    expect(t.alerts).toEqual([]);
    expect([...t.map.values()].every((r) => r.debugCaptureUntil === undefined)).toBe(true);
  });

  it('opens no window when the operators cannot be told (alert first, then the flag)', async () => {
    const failing = setup([record('acme', 'active')], { alertFails: true });
    expect((await failing.handler(call('POST', 'acme', { minutes: 10 }))).statusCode).toBe(503);
    expect(failing.map.get('acme')?.debugCaptureUntil).toBeUndefined();
    const unconfigured = setup([record('acme', 'active')], { notifier: false });
    expect((await unconfigured.handler(call('POST', 'acme', { minutes: 10 }))).statusCode).toBe(501);
    expect(unconfigured.map.get('acme')?.debugCaptureUntil).toBeUndefined();
  });
});

describe('DELETE /lifecycle/customers/{id}/debug-capture', () => {
  it('clears the window and tells the operators it closed early; idempotent', async () => {
    const t = setup([record('acme', 'active', { debugCaptureUntil: '2026-11-29T10:30:00.000Z' })]);
    const response = await t.handler(call('DELETE', 'acme'));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ customerId: 'acme', debugCaptureUntil: null, wasActive: true });
    expect(t.map.get('acme')?.debugCaptureUntil).toBeUndefined();
    expect(t.alerts.map((a) => a.code)).toEqual(['debug_capture_disabled']);
    const again = await t.handler(call('DELETE', 'acme'));
    expect(JSON.parse(again.body)).toMatchObject({ wasActive: false });
    expect(t.alerts).toHaveLength(1);
  });

  it('answers 405 for other methods on the route', async () => {
    const t = setup([record('acme', 'active')]);
    expect((await t.handler(call('GET', 'acme'))).statusCode).toBe(405);
  });
});

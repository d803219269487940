// The lifecycle API's pause and resume routes: shape checks, status codes, refusal codes, and no input echoed back.
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { CustomerRecord } from '../../../functions/customers/customer.ts';
import type { VirtuousConnector } from '../../../functions/lifecycle/ports.ts';
import { createLifecycleApiHandler } from '../../../functions/lifecycle-api/handler.ts';
import type { LifecycleApiDeps } from '../../../functions/lifecycle-api/lifecycle-api.ts';
import type { CustomerNotification, OperatorAlert } from '../../../functions/notifications/notifier.ts';
import { RecoverableError, TransientError } from '../../../functions/shared/errors.ts';
import { registerSecret } from '../../support/canaries.ts';
import { customerRecord, InMemoryCustomers } from '../../support/in-memory-customers.ts';
import { InMemorySecretStore } from '../../support/in-memory-secret-store.ts';

const NOW = '2026-11-29T00:00:00.000Z';

const record = (customerId: string, status: CustomerRecord['status'], extra: Partial<CustomerRecord> = {}) =>
  customerRecord(customerId, status, NOW, { organizationId: '42', ...extra });

function setup(options: { records?: CustomerRecord[]; tokenAccepted?: boolean; releaseFails?: boolean } = {}) {
  const customers = new InMemoryCustomers(options.records ?? []);
  const released: string[] = [];
  const notifications: CustomerNotification[] = [];
  const alerts: OperatorAlert[] = [];
  const virtuous: VirtuousConnector = {
    forCustomer: () =>
      ({
        currentOrganization: async () => {
          if (options.tokenAccepted === false) throw new RecoverableError('VIRTUOUS_UNAUTHORIZED', 'refused');
          return { organizationName: 'Org', organizationUserId: 42, isEnabled: true };
        },
      }) as unknown as ReturnType<VirtuousConnector['forCustomer']>,
    forToken: () => {
      throw new Error('not used');
    },
  };
  const deps: LifecycleApiDeps = {
    customers,
    secrets: new InMemorySecretStore(),
    virtuous,
    starter: {
      start: async () => ({ executionId: 'x' }),
      describe: async () => undefined,
      sendTaskSuccess: async () => undefined,
    },
    clock: { now: () => new Date(NOW) },
    settings: { tokenRotationDays: { high: 90, standard: 180 } },
    held: {
      release: async (customerId) => {
        if (options.releaseFails) throw new TransientError('STATE_STORE_UNAVAILABLE', 'down');
        released.push(customerId);
        return 3;
      },
    },
    notifier: {
      notifyCustomer: async (n) => {
        notifications.push(n);
      },
      alertOperators: async (a) => {
        alerts.push(a);
      },
    },
  };
  return { handler: createLifecycleApiHandler(deps), customers, released, notifications, alerts, deps };
}

function post(path: string, body?: string): APIGatewayProxyEvent {
  return {
    httpMethod: 'POST',
    path,
    pathParameters: { proxy: path.replace(/^\/lifecycle\//, '') },
    body: body ?? null,
    isBase64Encoded: false,
    headers: {},
  } as unknown as APIGatewayProxyEvent;
}

describe('POST /lifecycle/customers/{id}/resume', () => {
  it('checks the key, sets the customer active, releases held messages and notifies once', async () => {
    const t = setup({ records: [record('acme', 'paused', { statusReason: 'credential_revoked:virtuous' })] });
    const response = await t.handler(post('/lifecycle/customers/acme/resume'));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({
      customerId: 'acme',
      status: 'active',
      released: 3,
      alreadyActive: false,
    });
    expect(t.customers.records.get('acme')).toMatchObject({ status: 'active', updatedAt: NOW });
    expect(t.customers.records.get('acme')?.statusReason).toBeUndefined();
    expect(t.released).toEqual(['acme']);
    expect(t.notifications).toEqual([
      { customerId: 'acme', type: 'sync_resumed', details: { reason: 'credential_revoked:virtuous' } },
    ]);

    const again = await t.handler(post('/lifecycle/customers/acme/resume', '{}'));
    expect(again.statusCode).toBe(200);
    expect(JSON.parse(again.body)).toMatchObject({ status: 'active', alreadyActive: true });
    expect(t.notifications).toHaveLength(1);
  });

  it('409 VIRTUOUS_TOKEN_REJECTED while the stored key is refused: still paused, nothing released', async () => {
    const t = setup({ records: [record('acme', 'paused')], tokenAccepted: false });
    const response = await t.handler(post('/lifecycle/customers/acme/resume'));
    expect(response.statusCode).toBe(409);
    expect(JSON.parse(response.body).error).toBe('VIRTUOUS_TOKEN_REJECTED');
    expect(t.customers.records.get('acme')?.status).toBe('paused');
    expect(t.released).toEqual([]);
    expect(t.notifications).toEqual([]);
  });

  it('404 for an unknown or offboarded customer, 409 for one not paused or under a workflow', async () => {
    const t = setup({
      records: [
        record('gone', 'offboarded'),
        record('leaving', 'offboarding'),
        record('busy', 'paused', { lock: { workflow: 'token-rotation', executionId: 'e', acquiredAt: NOW } }),
      ],
    });
    const codes = async (id: string) => {
      const response = await t.handler(post(`/lifecycle/customers/${id}/resume`));
      return [response.statusCode, JSON.parse(response.body).error];
    };
    expect(await codes('nobody')).toEqual([404, 'CUSTOMER_NOT_FOUND']);
    expect(await codes('gone')).toEqual([404, 'CUSTOMER_NOT_FOUND']);
    expect(await codes('leaving')).toEqual([409, 'CUSTOMER_NOT_PAUSED']);
    expect(await codes('busy')).toEqual([409, 'WORKFLOW_IN_PROGRESS']);
    expect(t.released).toEqual([]);
  });

  it('503 TRY_AGAIN when the release fails part-way; the customer is active and notified once', async () => {
    const t = setup({ records: [record('acme', 'paused')], releaseFails: true });
    const response = await t.handler(post('/lifecycle/customers/acme/resume'));
    expect(response.statusCode).toBe(503);
    expect(JSON.parse(response.body)).toEqual({ error: 'TRY_AGAIN' });
    expect(t.customers.records.get('acme')?.status).toBe('active');
    expect(t.notifications.map((n) => n.type)).toEqual(['sync_resumed']);
  });

  it('refuses a body with fields, without echoing them', async () => {
    const secret = registerSecret('vkey_should_never_echo_0123456789');
    const t = setup({ records: [record('acme', 'paused')] });
    const response = await t.handler(post('/lifecycle/customers/acme/resume', JSON.stringify({ token: secret })));
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).error).toBe('INVALID_BODY');
    expect(response.body).not.toContain(secret);
    expect(t.customers.records.get('acme')?.status).toBe('paused');
  });

  it('501 where pause and resume are not wired', async () => {
    const t = setup({ records: [record('acme', 'paused')] });
    const { held: _held, notifier: _notifier, ...rest } = t.deps;
    const response = await createLifecycleApiHandler(rest)(post('/lifecycle/customers/acme/resume'));
    expect(response.statusCode).toBe(501);
  });
});

describe('POST /lifecycle/customers/{id}/pause', () => {
  it('pauses an active customer with an optional reason code and tells the customer and the operators', async () => {
    const t = setup({ records: [record('acme', 'active')] });
    const response = await t.handler(
      post('/lifecycle/customers/acme/pause', JSON.stringify({ reason: 'maintenance' })),
    );
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({
      customerId: 'acme',
      status: 'paused',
      statusReason: 'operator_paused:maintenance',
    });
    expect(t.customers.records.get('acme')).toMatchObject({
      status: 'paused',
      statusReason: 'operator_paused:maintenance',
    });
    expect(t.notifications).toEqual([
      { customerId: 'acme', type: 'sync_paused', details: { reason: 'operator_paused:maintenance' } },
    ]);
    expect(t.alerts.map((a) => [a.code, a.severity])).toEqual([['CUSTOMER_PAUSED_BY_HAND', 'info']]);

    const twice = await t.handler(post('/lifecycle/customers/acme/pause'));
    expect([twice.statusCode, JSON.parse(twice.body).error]).toEqual([409, 'CUSTOMER_NOT_ACTIVE']);
    expect(t.notifications).toHaveLength(1);
  });

  it('400 for a malformed reason or customer id, naming the field but not the value', async () => {
    const t = setup({ records: [record('acme', 'active')] });
    const secret = registerSecret('Secret-Should-Never-Echo-0123456789');
    const bad = await t.handler(post('/lifecycle/customers/acme/pause', JSON.stringify({ reason: secret })));
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body).message).toContain('reason');
    expect(bad.body).not.toContain(secret);
    const badId = await t.handler(post('/lifecycle/customers/Not_Valid!/pause'));
    expect([badId.statusCode, JSON.parse(badId.body).error]).toEqual([400, 'INVALID_CUSTOMER_ID']);
    expect(t.customers.records.get('acme')?.status).toBe('active');
  });
});

import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { CustomerRecord, CustomerRepository } from '../../../functions/customers/customer.ts';
import type { VirtuousConnector, WorkflowStarter } from '../../../functions/lifecycle/ports.ts';
import { createLifecycleApiHandler } from '../../../functions/lifecycle-api/handler.ts';
import type { LifecycleApiDeps } from '../../../functions/lifecycle-api/lifecycle-api.ts';
import { PermanentError, RecoverableError, TransientError } from '../../../functions/shared/errors.ts';
import { registerSecret } from '../../support/canaries.ts';
import { InMemorySecretStore } from '../../support/in-memory-secret-store.ts';

const TOKEN = registerSecret('vkey_unit_0123456789abcdefghijklmnop');

function repository(records: CustomerRecord[] = []): CustomerRepository {
  const map = new Map(records.map((record) => [record.customerId, record]));
  return {
    get: async (id) => map.get(id),
    create: async (record) => {
      map.set(record.customerId, record);
    },
    update: async (id, changes) => {
      const next = { ...(map.get(id) as CustomerRecord), ...changes };
      map.set(id, next);
      return next;
    },
    acquireLock: async () => undefined,
    releaseLock: async () => undefined,
    list: async () => [...map.values()],
  };
}

function deps(
  overrides: Partial<LifecycleApiDeps> = {},
): LifecycleApiDeps & { started: unknown[]; completed: unknown[] } {
  const started: unknown[] = [];
  const completed: unknown[] = [];
  const starter: WorkflowStarter = {
    start: async (workflow, input) => {
      started.push({ workflow, input });
      return { executionId: `exec-${started.length}` };
    },
    describe: async (id) => (id === 'exec-1' ? { executionId: id, status: 'RUNNING' } : undefined),
    sendTaskSuccess: async (taskToken, output) => {
      completed.push({ taskToken, output });
    },
  };
  const virtuous: VirtuousConnector = {
    forCustomer: () => {
      throw new Error('not used');
    },
    forToken: () => ({
      currentOrganization: async () => ({ organizationName: 'Org', organizationUserId: 42, isEnabled: true }),
    }),
  };
  return {
    customers: repository(),
    secrets: new InMemorySecretStore(),
    virtuous,
    starter,
    clock: { now: () => new Date('2026-11-29T00:00:00Z') },
    settings: { tokenRotationDays: { high: 90, standard: 180 } },
    ...overrides,
    started,
    completed,
  };
}

function event(method: string, path: string, body?: string, base64 = false): APIGatewayProxyEvent {
  return {
    httpMethod: method,
    path,
    pathParameters: { proxy: path.replace(/^\/lifecycle\//, '') },
    body: body === undefined ? null : base64 ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: base64,
    headers: {},
  } as unknown as APIGatewayProxyEvent;
}

describe('lifecycle API', () => {
  it('accepts a key, stores it as pending, records the customer and starts onboarding with the id only', async () => {
    const d = deps();
    const response = await createLifecycleApiHandler(d)(
      event('POST', '/lifecycle/customers/acme/api-token', JSON.stringify({ token: TOKEN, sensitivity: 'high' }), true),
    );
    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body)).toEqual({ customerId: 'acme', workflow: 'onboarding', executionId: 'exec-1' });
    expect(d.started).toEqual([{ workflow: 'onboarding', input: { customerId: 'acme' } }]);
    expect(await d.customers.get('acme')).toMatchObject({
      status: 'onboarding',
      sensitivity: 'high',
      tokenRotationDays: 90,
      organizationId: '42',
    });
    const pending = await d.secrets.read({ customerId: 'acme', kind: 'api_token' }, 'pending', { reason: 'test:read' });
    expect(pending?.value).toBe(TOKEN);
  });

  it('answers 422 for a key Virtuous refuses and 503 with Retry-After when Virtuous is unavailable', async () => {
    const refusing = deps({
      virtuous: {
        forCustomer: () => {
          throw new Error('not used');
        },
        forToken: () => ({
          currentOrganization: async () => {
            throw new RecoverableError('UNAUTHORIZED', 'denied', { statusCode: 401 });
          },
        }),
      },
    });
    const body = JSON.stringify({ token: TOKEN });
    const refused = await createLifecycleApiHandler(refusing)(
      event('POST', '/lifecycle/customers/acme/api-token', body),
    );
    expect(refused.statusCode).toBe(422);
    expect(refused.body).not.toContain(TOKEN);
    expect(refusing.started).toEqual([]);

    const down = deps({
      virtuous: {
        forCustomer: () => {
          throw new Error('not used');
        },
        forToken: () => ({
          currentOrganization: async () => {
            throw new TransientError('VIRTUOUS_UNAVAILABLE', 'down', { retryAfterSeconds: 30 });
          },
        }),
      },
    });
    const unavailable = await createLifecycleApiHandler(down)(
      event('POST', '/lifecycle/customers/acme/api-token', body),
    );
    expect(unavailable.statusCode).toBe(503);
    expect(unavailable.headers?.['retry-after']).toBe('30');
  });

  it('hands a rotation key to the waiting task through its stored task token, never through the response', async () => {
    const record: CustomerRecord = {
      customerId: 'acme',
      status: 'active',
      sensitivity: 'standard',
      tokenRotationDays: 180,
      awaitingTokenTaskToken: 'task-token-1',
      createdAt: '2026-01-01T00:00:00Z',
      updatedAt: '2026-01-01T00:00:00Z',
    };
    const d = deps({ customers: repository([record]) });
    const handler = createLifecycleApiHandler(d);
    const response = await handler(
      event('POST', '/lifecycle/customers/acme/rotation-token', JSON.stringify({ token: TOKEN })),
    );
    expect(response.statusCode).toBe(202);
    expect(response.body).not.toContain('task-token-1');
    expect(d.completed).toEqual([{ taskToken: 'task-token-1', output: { tokenVersionId: expect.any(String) } }]);
    expect((await d.customers.get('acme'))?.awaitingTokenTaskToken).toBeUndefined();
    const again = await handler(
      event('POST', '/lifecycle/customers/acme/rotation-token', JSON.stringify({ token: TOKEN })),
    );
    expect(again.statusCode).toBe(409);
  });

  it('discards the submitted key when the rotation stopped waiting (task timed out)', async () => {
    const record: CustomerRecord = {
      customerId: 'acme',
      status: 'active',
      sensitivity: 'standard',
      tokenRotationDays: 180,
      awaitingTokenTaskToken: 'expired-token',
      createdAt: '2026-01-01T00:00:00Z',
      updatedAt: '2026-01-01T00:00:00Z',
    };
    const base = deps({ customers: repository([record]) });
    const d = {
      ...base,
      starter: {
        ...base.starter,
        sendTaskSuccess: async () => {
          throw new PermanentError('TaskTimedOut', 'timed out');
        },
      },
    };
    const response = await createLifecycleApiHandler(d)(
      event('POST', '/lifecycle/customers/acme/rotation-token', JSON.stringify({ token: TOKEN })),
    );
    expect(response.statusCode).toBe(409);
    expect(
      await d.secrets.read({ customerId: 'acme', kind: 'api_token' }, 'pending', { reason: 'test:read' }),
    ).toBeUndefined();
    expect((await d.customers.get('acme'))?.awaitingTokenTaskToken).toBeUndefined();
  });

  it('refuses unknown routes, bad ids, unknown customers and executions without echoing input', async () => {
    const handler = createLifecycleApiHandler(deps());
    expect((await handler(event('GET', '/lifecycle/customers/acme/api-token'))).statusCode).toBe(404);
    expect((await handler(event('POST', '/lifecycle/customers/ACME!/api-token', '{}'))).statusCode).toBe(400);
    expect((await handler(event('POST', '/lifecycle/customers/ghost/workflows/offboarding'))).statusCode).toBe(404);
    expect((await handler(event('GET', '/lifecycle/executions/exec-1'))).statusCode).toBe(200);
    expect((await handler(event('GET', '/lifecycle/executions/nope'))).statusCode).toBe(404);
    const notJson = await handler(event('POST', '/lifecycle/customers/acme/api-token', `{"token":"${TOKEN}"`));
    expect(notJson.statusCode).toBe(400);
    expect(notJson.body).not.toContain(TOKEN);
    const extra = await handler(
      event(
        'POST',
        '/lifecycle/customers/acme/api-token',
        JSON.stringify({ token: TOKEN, note: 'canary.donor@pii-canary.example' }),
      ),
    );
    expect(extra.statusCode).toBe(400);
    expect(extra.body).toContain('unknown field');
    expect(extra.body).not.toContain('canary');
  });
});

// The deletion drill's set-up through the lifecycle API: the sandbox key is validated live and stored as the current
// API token of the reserved customer id, where the drill reads it; never echoed.
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { CustomerRecord } from '../../../functions/customers/customer.ts';
import { DRILL_SANDBOX_CUSTOMER_ID } from '../../../functions/deletion-drill/drill.ts';
import type { VirtuousConnector } from '../../../functions/lifecycle/ports.ts';
import { createLifecycleApiHandler } from '../../../functions/lifecycle-api/handler.ts';
import type { LifecycleApiDeps } from '../../../functions/lifecycle-api/lifecycle-api.ts';
import { RecoverableError } from '../../../functions/shared/errors.ts';
import { registerSecret } from '../../support/canaries.ts';
import { InMemoryCustomers } from '../../support/in-memory-customers.ts';
import { InMemorySecretStore } from '../../support/in-memory-secret-store.ts';

const SANDBOX_KEY = registerSecret('vkey_sandbox_0123456789abcdefghij');
const NEWER_KEY = registerSecret('vkey_sandbox_newer_0123456789abcdef');
const REF = { customerId: DRILL_SANDBOX_CUSTOMER_ID, kind: 'api_token' } as const;

function virtuousAnswering(answer: () => Promise<{ isEnabled: boolean }>): VirtuousConnector {
  return {
    forCustomer: () => {
      throw new Error('not used');
    },
    forToken: () => ({
      currentOrganization: async () => ({ organizationName: 'Sandbox', organizationUserId: 7, ...(await answer()) }),
    }),
  };
}

function deps(overrides: Partial<LifecycleApiDeps> = {}): LifecycleApiDeps {
  return {
    customers: new InMemoryCustomers(),
    secrets: new InMemorySecretStore(),
    virtuous: virtuousAnswering(async () => ({ isEnabled: true })),
    starter: {
      start: async () => ({ executionId: 'unused' }),
      describe: async () => undefined,
      sendTaskSuccess: async () => undefined,
    },
    clock: { now: () => new Date('2026-11-29T00:00:00Z') },
    settings: { tokenRotationDays: { high: 90, standard: 180 } },
    ...overrides,
  };
}

function post(body: unknown, method = 'POST'): APIGatewayProxyEvent {
  return {
    httpMethod: method,
    path: '/lifecycle/deletion-drill/sandbox-key',
    pathParameters: { proxy: 'deletion-drill/sandbox-key' },
    body: body === undefined ? null : JSON.stringify(body),
    isBase64Encoded: false,
    headers: {},
  } as unknown as APIGatewayProxyEvent;
}

const current = (d: LifecycleApiDeps) => d.secrets.read(REF, 'current', { reason: 'test:read' });

describe('POST /lifecycle/deletion-drill/sandbox-key', () => {
  it('stores the validated key as the current API token of the reserved drill customer, and replaces it later', async () => {
    const d = deps();
    const response = await createLifecycleApiHandler(d)(post({ token: SANDBOX_KEY }));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ customerId: DRILL_SANDBOX_CUSTOMER_ID, stored: true });
    expect(response.body).not.toContain(SANDBOX_KEY);
    expect((await current(d))?.value).toBe(SANDBOX_KEY);
    // No pending key is left behind, and no customer record is created for the reserved id.
    expect(await d.secrets.read(REF, 'pending', { reason: 'test:read' })).toBeUndefined();
    expect(await d.customers.get(DRILL_SANDBOX_CUSTOMER_ID)).toBeUndefined();

    expect((await createLifecycleApiHandler(d)(post({ token: NEWER_KEY }))).statusCode).toBe(200);
    expect((await current(d))?.value).toBe(NEWER_KEY);
  });

  it('refuses a key Virtuous rejects or one of a disabled organization, storing nothing', async () => {
    const rejecting = deps({
      virtuous: virtuousAnswering(async () => {
        throw new RecoverableError('UNAUTHORIZED', 'denied', { statusCode: 401 });
      }),
    });
    const refused = await createLifecycleApiHandler(rejecting)(post({ token: SANDBOX_KEY }));
    expect(refused.statusCode).toBe(422);
    expect(JSON.parse(refused.body).error).toBe('TOKEN_REJECTED');
    expect(refused.body).not.toContain(SANDBOX_KEY);
    expect(await current(rejecting)).toBeUndefined();

    const disabled = deps({ virtuous: virtuousAnswering(async () => ({ isEnabled: false })) });
    expect((await createLifecycleApiHandler(disabled)(post({ token: SANDBOX_KEY }))).statusCode).toBe(422);
    expect(await current(disabled)).toBeUndefined();
  });

  it('refuses another method, a malformed body, and a reserved id that is in use as a customer', async () => {
    const d = deps();
    expect((await createLifecycleApiHandler(d)(post(undefined, 'GET'))).statusCode).toBe(405);
    const malformed = await createLifecycleApiHandler(d)(post({ token: SANDBOX_KEY, extra: 1 }));
    expect(malformed.statusCode).toBe(400);
    expect(malformed.body).not.toContain(SANDBOX_KEY);
    expect((await createLifecycleApiHandler(d)(post({ token: 'short' }))).statusCode).toBe(400);

    const taken = deps();
    await taken.customers.create({
      customerId: DRILL_SANDBOX_CUSTOMER_ID,
      status: 'active',
      createdAt: '2026-11-01T00:00:00Z',
      updatedAt: '2026-11-01T00:00:00Z',
    } as CustomerRecord);
    const conflict = await createLifecycleApiHandler(taken)(post({ token: SANDBOX_KEY }));
    expect(conflict.statusCode).toBe(409);
    expect(JSON.parse(conflict.body).error).toBe('RESERVED_CUSTOMER_ID');
    expect(await current(taken)).toBeUndefined();
  });

  it('refuses to onboard the reserved drill id as a customer, so its key never becomes a customer key', async () => {
    const d = deps();
    const onboarding = await createLifecycleApiHandler(d)({
      ...post({ token: SANDBOX_KEY }),
      path: `/lifecycle/customers/${DRILL_SANDBOX_CUSTOMER_ID}/api-token`,
      pathParameters: { proxy: `customers/${DRILL_SANDBOX_CUSTOMER_ID}/api-token` },
    });
    expect(onboarding.statusCode).toBe(409);
    expect(JSON.parse(onboarding.body).error).toBe('RESERVED_CUSTOMER_ID');
    expect(await d.customers.get(DRILL_SANDBOX_CUSTOMER_ID)).toBeUndefined();
    expect(await d.secrets.read(REF, 'pending', { reason: 'test:read' })).toBeUndefined();
  });
});

/**
 * The simulator's control API over HTTP (`/_control/...`), for the one-machine runtime and tools that do not share
 * its process. Tests in the same process use the typed handle (VirtuousSimulatorState) instead.
 *
 *   GET  /_control/organizations                → {organizations: [{organizationId, organizationUserId, name, isEnabled}]}
 *   POST /_control/organizations                {name?, rateLimitPerHour?, isEnabled?, rateLimitHeaderStyle?, faults?}
 *                                               → {organizationId, apiKey}
 *   PATCH /_control/organizations/{id}          {name?, isEnabled?, rateLimitPerHour?, rateLimitHeaderStyle?}
 *   POST /_control/organizations/{id}/keys      → {apiKey}
 *   POST /_control/keys/revoke                  {apiKey} → {revoked}
 *   PUT  /_control/organizations/{id}/faults    FaultSettings
 *   GET  /_control/organizations/{id}/state     → OrganizationSnapshot (holds donor data: tests only)
 *   GET  /_control/organizations/{id}/gifts     → GiftLedger (transactions, states, amounts, deliveries; no donor data)
 *   POST /_control/nightly-batch                {organizationId?, deliverWebhooks?}
 *   POST /_control/clock                        {advanceSeconds} → {now}
 *   POST /_control/reset
 */
import type { SimResponse } from './api-routes.ts';
import type { FaultSettings } from './model.ts';
import type { CreateOrganizationInput, OrganizationUpdate, VirtuousSimulatorState } from './simulator.ts';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const bad = (message: string): SimResponse => ({
  status: 400,
  json: { error: { code: 'BAD_CONTROL_REQUEST', message } },
});

function organizationId(segment: string | undefined): number | undefined {
  return segment !== undefined && /^\d+$/.test(segment) ? Number(segment) : undefined;
}

export async function handleControl(
  state: VirtuousSimulatorState,
  method: string,
  segments: readonly string[],
  body: unknown,
): Promise<SimResponse> {
  const input = isObject(body) ? body : {};
  const [, resource, id, action] = segments;
  try {
    if (method === 'GET' && resource === 'organizations' && id === undefined) {
      return { status: 200, json: { organizations: state.organizationList() } };
    }
    if (method === 'POST' && resource === 'organizations' && id === undefined) {
      return { status: 201, json: state.createOrganization(input as CreateOrganizationInput) };
    }
    const orgId = organizationId(id);
    if (resource === 'organizations' && orgId !== undefined) {
      if (method === 'PATCH' && action === undefined) {
        state.updateOrganization(orgId, input as OrganizationUpdate);
        return { status: 200, json: {} };
      }
      if (method === 'POST' && action === 'keys') return { status: 201, json: { apiKey: state.addApiKey(orgId) } };
      if (method === 'PUT' && action === 'faults') {
        state.setFaults(orgId, input as FaultSettings);
        return { status: 200, json: {} };
      }
      if (method === 'GET' && action === 'state') return { status: 200, json: state.inspect(orgId) };
      if (method === 'GET' && action === 'gifts') return { status: 200, json: state.giftLedger(orgId) };
    }
    if (method === 'POST' && resource === 'keys' && id === 'revoke') {
      if (typeof input.apiKey !== 'string') return bad('apiKey is required');
      return { status: 200, json: { revoked: state.revokeApiKey(input.apiKey) } };
    }
    if (method === 'POST' && resource === 'nightly-batch') {
      const options = {
        ...(typeof input.organizationId === 'number' ? { organizationId: input.organizationId } : {}),
        ...(input.deliverWebhooks === false ? { deliverWebhooks: false } : {}),
      };
      return { status: 200, json: await state.nightlyBatch(options) };
    }
    if (method === 'POST' && resource === 'clock') {
      const seconds = input.advanceSeconds;
      if (typeof seconds !== 'number') return bad('advanceSeconds must be a number');
      return { status: 200, json: { now: state.advanceClock(seconds * 1000) } };
    }
    if (method === 'POST' && resource === 'reset') {
      state.reset();
      return { status: 200, json: {} };
    }
  } catch (error) {
    if (error instanceof RangeError) return bad(error.message);
    throw error;
  }
  return { status: 404, json: { error: { code: 'NOT_FOUND', message: 'unknown control route' } } };
}

/**
 * The Virtuous simulator through the runtime's operator routes (`/local/simulator/...`), so the CLI reaches it at
 * the one address it already knows (the lifecycle API's), whatever port the simulator got:
 *
 *   GET  /local/simulator/organizations                 → {organizations: [{organizationId, name, ...}]}
 *   POST /local/simulator/organizations       {name?}   → {organizationId, organizationUserId, name}
 *   POST /local/simulator/organizations/{id}/keys       → {apiKey}  (a new key, answered once, for `onboard`)
 *   GET  /local/simulator/customers/{customerId}/gifts  → GiftLedger of the customer's organization
 *   POST /local/simulator/nightly-batch                 → per organization: records created, deliveries sent
 *
 * A new organization's first key is not handed out: keys come one at a time from `.../keys`, straight into the
 * pipe to `onboard`. The ledger holds identifiers, amounts and counts only. With a real Virtuous every route
 * answers 409 `no_simulator`.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { CustomerRepository } from '../../functions/customers/customer.ts';
import { ForbiddenInputError } from '../../functions/shared/errors.ts';
import { assertCustomerId } from '../../functions/shared/identifiers.ts';
import { json } from './http-json.ts';
import type { VirtuousSimulatorState } from './virtuous-simulator/simulator.ts';

const MAX_NAME_LENGTH = 100;

function organizationIdOf(segment: string | undefined): number {
  if (segment === undefined || !/^\d{1,9}$/.test(segment)) {
    throw new ForbiddenInputError('INVALID_ORGANIZATION_ID', 'organization id must be a whole number');
  }
  return Number(segment);
}

function nameOf(body: Record<string, unknown>): string | undefined {
  const name = body.name;
  if (name === undefined) return undefined;
  if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_NAME_LENGTH) {
    throw new ForbiddenInputError('INVALID_NAME', `name must be 1-${MAX_NAME_LENGTH} characters`);
  }
  return name.trim();
}

export async function routeSimulator(
  simulator: VirtuousSimulatorState | undefined,
  customers: CustomerRepository,
  request: { readonly method: string; readonly parts: readonly string[]; readonly body: () => Record<string, unknown> },
): Promise<APIGatewayProxyResult> {
  if (simulator === undefined) {
    return json(409, {
      error: 'no_simulator',
      message: 'this runtime uses a real Virtuous (--virtuous-base-url): create organizations and keys in Virtuous',
    });
  }
  const { method, parts } = request;
  const [resource, id, action] = parts;
  if (resource === 'organizations' && id === undefined && method === 'GET') {
    return json(200, { organizations: simulator.organizationList() });
  }
  if (resource === 'organizations' && id === undefined && method === 'POST') {
    const name = nameOf(request.body());
    const { organizationId } = simulator.createOrganization(name === undefined ? {} : { name });
    const created = simulator.organizationList().find((org) => org.organizationId === organizationId);
    return json(201, created);
  }
  if (resource === 'organizations' && action === 'keys' && parts.length === 3 && method === 'POST') {
    const organizationId = organizationIdOf(id);
    if (!simulator.organizationList().some((org) => org.organizationId === organizationId)) {
      return json(404, { error: 'organization_not_found' });
    }
    return json(201, { apiKey: simulator.addApiKey(organizationId) });
  }
  if (resource === 'customers' && action === 'gifts' && parts.length === 3 && method === 'GET') {
    const record = await customers.get(assertCustomerId(id));
    if (!record) return json(404, { error: 'customer_not_found' });
    const organizationId =
      record.organizationId === undefined || !/^\d+$/.test(record.organizationId)
        ? undefined
        : simulator.organizationForUser(Number(record.organizationId));
    if (organizationId === undefined) {
      return json(409, {
        error: 'organization_not_in_simulator',
        message: `customer ${record.customerId} has no organization in this simulator (not onboarded, or onboarded against another Virtuous)`,
      });
    }
    return json(200, { customerId: record.customerId, ledger: simulator.giftLedger(organizationId) });
  }
  if (resource === 'nightly-batch' && parts.length === 1 && method === 'POST') {
    return json(200, await simulator.nightlyBatch());
  }
  return json(404, { error: 'route_not_found' });
}

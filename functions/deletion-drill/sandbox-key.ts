/**
 * Setting up the deletion drill: the operator hands the Virtuous sandbox organization's key to the lifecycle API
 * (POST /lifecycle/deletion-drill/sandbox-key), which validates it live and stores it as the current API token of
 * the reserved customer id `deletion-drill`, through the SecretStore like any customer's key (customer-scoped role
 * session, the secrets key via Secrets Manager, the customer resource policy, audited). An operator cannot store it
 * by hand: the secrets key policy lets only the customer-secrets roles encrypt with that key.
 */
import { ApiRefusal, type LifecycleApiDeps, validateToken } from '../lifecycle-api/lifecycle-api.ts';
import { logger } from '../shared/observability.ts';
import { DRILL_SANDBOX_CUSTOMER_ID } from './drill.ts';

const REASON = 'deletion-drill:sandbox-key';

export async function storeDrillSandboxKey(
  deps: Pick<LifecycleApiDeps, 'secrets' | 'virtuous' | 'customers'>,
  token: string,
): Promise<{ customerId: string; versionId: string }> {
  // The reserved id is never a customer: a record under it would mean the drill key doubles as a customer's.
  if ((await deps.customers.get(DRILL_SANDBOX_CUSTOMER_ID)) !== undefined) {
    throw new ApiRefusal(409, 'RESERVED_CUSTOMER_ID', `${DRILL_SANDBOX_CUSTOMER_ID} is in use as a customer id`);
  }
  await validateToken(deps, DRILL_SANDBOX_CUSTOMER_ID, token);
  const ref = { customerId: DRILL_SANDBOX_CUSTOMER_ID, kind: 'api_token' } as const;
  const { versionId } = await deps.secrets.putPending(ref, token, { reason: REASON });
  await deps.secrets.promotePending(ref, { reason: REASON });
  logger.info('deletion drill sandbox key stored', { customerId: DRILL_SANDBOX_CUSTOMER_ID });
  return { customerId: DRILL_SANDBOX_CUSTOMER_ID, versionId };
}

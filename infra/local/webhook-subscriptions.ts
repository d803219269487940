/**
 * Keeps Virtuous delivering to this runtime when its webhook endpoint moved (a restart with `--free-ports` or another
 * `--webhooks-port`, or a new `--webhook-public-base-url`): at start, each active or paused customer's subscription
 * is read back, and one that points elsewhere is re-pointed to this runtime's payload URL with the customer's current
 * webhook secret (GET, then a full PUT, as a webhook-secret rotation does). A subscription that cannot be checked or
 * re-pointed is reported by customer and error code, so the operator is told instead of deliveries failing quietly.
 */
import type { SecretStore } from '../../functions/credentials/secret-store.ts';
import type { CustomerRepository } from '../../functions/customers/customer.ts';
import type { VirtuousConnector } from '../../functions/lifecycle/ports.ts';
import { errorCode } from '../../functions/shared/errors.ts';

export interface SubscriptionCheckReport {
  /** Customers whose subscription was read back. */
  readonly checked: number;
  /** Customers whose subscription pointed elsewhere and now points at this runtime. */
  readonly repointed: readonly string[];
  /** Customers whose subscription could not be checked or re-pointed, with the error code. */
  readonly failed: ReadonlyArray<{ readonly customerId: string; readonly code: string }>;
}

export interface SubscriptionCheckDeps {
  readonly customers: CustomerRepository;
  readonly secrets: SecretStore;
  readonly virtuous: VirtuousConnector;
  /** This runtime's payload URL for a customer (`<webhook base>/webhooks/virtuous/<customerId>`). */
  readonly payloadUrl: (customerId: string) => string;
}

const REASON = 'local:repoint-webhook-subscription';

export async function repointWebhookSubscriptions(deps: SubscriptionCheckDeps): Promise<SubscriptionCheckReport> {
  const repointed: string[] = [];
  const failed: Array<{ customerId: string; code: string }> = [];
  let checked = 0;
  for (const customer of await deps.customers.list()) {
    const subscriptionId = customer.webhookSubscriptionId;
    if ((customer.status !== 'active' && customer.status !== 'paused') || subscriptionId === undefined) continue;
    const { customerId } = customer;
    try {
      const api = deps.virtuous.forCustomer(customerId, { stage: 'current', reason: REASON });
      const existing = await api.getWebhook(subscriptionId);
      checked += 1;
      const payloadUrl = deps.payloadUrl(customerId);
      if (existing.payloadUrl === payloadUrl) continue;
      const secret = await deps.secrets.read({ customerId, kind: 'webhook_secret' }, 'current', { reason: REASON });
      if (secret === undefined) {
        failed.push({ customerId, code: 'NO_WEBHOOK_SECRET' });
        continue;
      }
      const { id: _id, ...fields } = existing;
      await api.replaceWebhook(subscriptionId, { ...fields, payloadUrl, secret: secret.value });
      repointed.push(customerId);
    } catch (error) {
      failed.push({ customerId, code: errorCode(error) });
    }
  }
  return { checked, repointed, failed };
}

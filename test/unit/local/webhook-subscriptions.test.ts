// The start-up check of the local runtime's Virtuous subscriptions: one that points at another address (the webhook
// port changed) is re-pointed with the customer's current secret, every other field kept; one already pointing here
// is left alone; customers not receiving webhooks are not touched; a failure is reported by customer and code.
import { describe, expect, it } from 'vitest';
import type { VirtuousConnector } from '../../../functions/lifecycle/ports.ts';
import { TransientError } from '../../../functions/shared/errors.ts';
import type { VirtuousApi, WebhookRecord, WebhookSubscription } from '../../../functions/virtuous/api.ts';
import { repointWebhookSubscriptions } from '../../../infra/local/webhook-subscriptions.ts';
import { registerSecret } from '../../support/canaries.ts';
import { customerRecord, InMemoryCustomers } from '../../support/in-memory-customers.ts';
import { InMemorySecretStore } from '../../support/in-memory-secret-store.ts';

const AT = '2026-01-01T00:00:00.000Z';
const OURS = 'http://127.0.0.1:5000';
const payloadUrl = (customerId: string) => `${OURS}/webhooks/virtuous/${customerId}`;

function fakeVirtuous(subscriptions: Map<string, WebhookRecord>, failing = new Set<string>()) {
  const replaced: Array<{ customerId: string; id: number; subscription: WebhookSubscription }> = [];
  const connector: VirtuousConnector = {
    forCustomer: (customerId) =>
      ({
        getWebhook: async (id: number) => {
          if (failing.has(customerId)) throw new TransientError('VIRTUOUS_UNAVAILABLE', 'Virtuous answered 503');
          const record = subscriptions.get(customerId);
          if (record?.id !== id) throw new Error('unexpected subscription id');
          return record;
        },
        replaceWebhook: async (id: number, subscription: WebhookSubscription) => {
          replaced.push({ customerId, id, subscription });
          return { ...subscription, id };
        },
      }) as unknown as VirtuousApi,
    forToken: () => {
      throw new Error('not used');
    },
  };
  return { connector, replaced };
}

describe('repointWebhookSubscriptions', () => {
  it('re-points a subscription that delivers elsewhere, with the current secret and its other fields kept', async () => {
    const customers = new InMemoryCustomers([
      customerRecord('moved', 'active', AT, { webhookSubscriptionId: 7 }),
      customerRecord('paused-moved', 'paused', AT, { webhookSubscriptionId: 8 }),
      customerRecord('in-place', 'active', AT, { webhookSubscriptionId: 9 }),
      customerRecord('gone', 'offboarded', AT, { webhookSubscriptionId: 10 }),
      customerRecord('no-subscription', 'active', AT),
    ]);
    const secrets = new InMemorySecretStore();
    const movedSecret = registerSecret('whsec-moved-current-0123456789');
    await secrets.seedCurrent({ customerId: 'moved', kind: 'webhook_secret' }, movedSecret);
    await secrets.seedCurrent(
      { customerId: 'paused-moved', kind: 'webhook_secret' },
      registerSecret('whsec-paused-0123'),
    );
    const old = 'http://127.0.0.1:4999/webhooks/virtuous';
    const subscriptions = new Map<string, WebhookRecord>([
      ['moved', { id: 7, payloadUrl: `${old}/moved`, secret: '', active: true, giftCreate: true, contactCreate: true }],
      ['paused-moved', { id: 8, payloadUrl: `${old}/paused-moved`, secret: '', active: true, giftCreate: true }],
      ['in-place', { id: 9, payloadUrl: payloadUrl('in-place'), secret: '', active: true, giftCreate: true }],
      ['gone', { id: 10, payloadUrl: `${old}/gone`, secret: '', active: true }],
    ]);
    const virtuous = fakeVirtuous(subscriptions);

    const report = await repointWebhookSubscriptions({ customers, secrets, virtuous: virtuous.connector, payloadUrl });

    expect(report).toEqual({ checked: 3, repointed: ['moved', 'paused-moved'], failed: [] });
    expect(virtuous.replaced.map(({ customerId, id }) => [customerId, id])).toEqual([
      ['moved', 7],
      ['paused-moved', 8],
    ]);
    expect(virtuous.replaced[0]?.subscription).toEqual({
      payloadUrl: payloadUrl('moved'),
      secret: movedSecret,
      active: true,
      giftCreate: true,
      contactCreate: true,
    });
    // The secret is read only where a subscription is re-pointed.
    expect(secrets.readsOf('in-place')).toEqual([]);
  });

  it('reports a subscription it cannot read or re-point, by customer and error code, and carries on', async () => {
    const customers = new InMemoryCustomers([
      customerRecord('unreachable', 'active', AT, { webhookSubscriptionId: 1 }),
      customerRecord('no-secret', 'active', AT, { webhookSubscriptionId: 2 }),
      customerRecord('fine', 'active', AT, { webhookSubscriptionId: 3 }),
    ]);
    const secrets = new InMemorySecretStore();
    await secrets.seedCurrent({ customerId: 'fine', kind: 'webhook_secret' }, registerSecret('whsec-fine-0123456789'));
    const elsewhere = (id: number): WebhookRecord => ({
      id,
      payloadUrl: 'http://127.0.0.1:1/x',
      secret: '',
      active: true,
    });
    const virtuous = fakeVirtuous(
      new Map([
        ['no-secret', elsewhere(2)],
        ['fine', elsewhere(3)],
      ]),
      new Set(['unreachable']),
    );

    const report = await repointWebhookSubscriptions({ customers, secrets, virtuous: virtuous.connector, payloadUrl });

    expect(report.failed).toEqual([
      { customerId: 'unreachable', code: 'VIRTUOUS_UNAVAILABLE' },
      { customerId: 'no-secret', code: 'NO_WEBHOOK_SECRET' },
    ]);
    expect(report.repointed).toEqual(['fine']);
    expect(virtuous.replaced.map((entry) => entry.customerId)).toEqual(['fine']);
  });
});

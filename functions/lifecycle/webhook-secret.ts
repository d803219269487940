import { randomBytes } from 'node:crypto';
import { WEBHOOK_EVENT_FLAGS, type WebhookEventFlag, type WebhookSubscription } from '../virtuous/api.ts';

/** 32 bytes from the CSPRNG, one per customer and subscription, never reused. */
export function generateWebhookSecret(): string {
  return randomBytes(32).toString('base64');
}

/** The events this integration consumes; every other flag is sent explicitly off (PUT is a full replace). */
const SUBSCRIBED: ReadonlySet<WebhookEventFlag> = new Set([
  'contactCreate',
  'contactUpdate',
  'giftCreate',
  'giftUpdate',
  'giftDelete',
]);

export function subscriptionFor(payloadUrl: string, secret: string): WebhookSubscription {
  const flags = Object.fromEntries(WEBHOOK_EVENT_FLAGS.map((flag) => [flag, SUBSCRIBED.has(flag)]));
  return { payloadUrl, secret, active: true, ...flags };
}

/**
 * Webhook deliveries after a nightly batch: one POST per event and matching active subscription, signed with that
 * subscription's secret, retried a bounded number of times with growing pauses, then dropped (as Virtuous does).
 * Only loopback payload URLs are contacted: the simulator never sends donor data off the machine.
 */
import type { WebhookEventFlag } from '../../../functions/virtuous/api.ts';
import type { DeliveryRecord, OrganizationState, SimWebhook } from './model.ts';
import type { SimEvent, SimEventName } from './nightly-batch.ts';
import { contactJson, giftJson } from './representations.ts';
import { type SignatureEncoding, signPayload } from './signing.ts';

export interface DeliverySettings {
  readonly signatureHeader: string;
  readonly signatureEncoding: SignatureEncoding;
  /** Tries per delivery, including the first. */
  readonly maxAttempts: number;
  /** Pause before retry n (the last value repeats). */
  readonly retryDelaysMs: readonly number[];
  readonly timeoutMs: number;
  readonly concurrency: number;
}

export const DEFAULT_DELIVERY_SETTINGS: DeliverySettings = {
  signatureHeader: 'X-Virtuous-Signature',
  signatureEncoding: 'base64',
  maxAttempts: 3,
  retryDelaysMs: [50, 200],
  timeoutMs: 5_000,
  concurrency: 8,
};

export interface DeliverySummary {
  delivered: number;
  failed: number;
  skipped: number;
}

const EVENT_FLAGS: Readonly<Record<SimEventName, WebhookEventFlag>> = {
  ContactCreate: 'contactCreate',
  ContactUpdate: 'contactUpdate',
  GiftCreate: 'giftCreate',
};

export function isLoopbackUrl(value: string): boolean {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    return url.hostname === 'localhost' || url.hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(url.hostname);
  } catch {
    return false;
  }
}

function payloadFor(org: OrganizationState, event: SimEvent): Buffer | undefined {
  if (event.event === 'GiftCreate') {
    const gift = org.gifts.get(event.recordId);
    return gift === undefined
      ? undefined
      : Buffer.from(JSON.stringify({ event: event.event, gift: giftJson(gift, false) }));
  }
  const contact = org.contacts.get(event.recordId);
  return contact === undefined
    ? undefined
    : Buffer.from(JSON.stringify({ event: event.event, contact: contactJson(contact) }));
}

interface Task {
  readonly webhook: SimWebhook;
  readonly body: Buffer;
  readonly record: DeliveryRecord;
}

async function attempt(task: Task, settings: DeliverySettings): Promise<number> {
  try {
    const response = await fetch(task.webhook.payloadUrl, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': 'virtuous-simulator',
        [settings.signatureHeader]: signPayload(task.webhook.secret, task.body, settings.signatureEncoding),
      },
      body: task.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(settings.timeoutMs),
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

async function deliver(task: Task, settings: DeliverySettings, sleep: (ms: number) => Promise<void>): Promise<void> {
  for (let n = 1; n <= settings.maxAttempts; n += 1) {
    if (n > 1) {
      const delays = settings.retryDelaysMs;
      await sleep(delays[Math.min(n - 2, delays.length - 1)] ?? 0);
    }
    const status = await attempt(task, settings);
    task.record.attempts = n;
    task.record.statuses.push(status);
    if (status >= 200 && status < 300) {
      task.record.outcome = 'delivered';
      return;
    }
  }
  task.record.outcome = 'failed';
}

export async function deliverEvents(
  org: OrganizationState,
  events: readonly SimEvent[],
  settings: DeliverySettings,
  nextDeliveryId: () => number,
  sleep: (ms: number) => Promise<void>,
): Promise<DeliverySummary> {
  const summary: DeliverySummary = { delivered: 0, failed: 0, skipped: 0 };
  const tasks: Task[] = [];
  for (const event of events) {
    // Deactivated or deleted subscriptions drop the event: nothing is queued for them.
    const subscribers = [...org.webhooks.values()].filter((w) => w.active && w[EVENT_FLAGS[event.event]]);
    if (subscribers.length === 0) continue;
    const body = payloadFor(org, event);
    if (body === undefined) continue;
    for (const webhook of subscribers) {
      const record: DeliveryRecord = {
        id: nextDeliveryId(),
        subscriptionId: webhook.id,
        event: event.event,
        recordId: event.recordId,
        attempts: 0,
        statuses: [],
        outcome: 'failed',
      };
      org.deliveries.push(record);
      if (!isLoopbackUrl(webhook.payloadUrl)) {
        record.outcome = 'skipped_not_loopback';
        summary.skipped += 1;
        continue;
      }
      tasks.push({ webhook, body, record });
    }
  }
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(settings.concurrency, tasks.length)) }, async () => {
    while (next < tasks.length) {
      const task = tasks[next] as Task;
      next += 1;
      await deliver(task, settings, sleep);
    }
  });
  await Promise.all(workers);
  for (const task of tasks) {
    if (task.record.outcome === 'delivered') summary.delivered += 1;
    else summary.failed += 1;
  }
  return summary;
}

/** Builders and in-memory dependencies for the webhook verifier tests. */
import { createHmac } from 'node:crypto';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { CustomerRecord, CustomerRepository, WorkflowLock } from '../../../functions/customers/customer.ts';
import type { InboundMessage } from '../../../functions/queue/inbound-message.ts';
import type { InboundQueue } from '../../../functions/queue/inbound-queue.ts';
import { PermanentError, TransientError } from '../../../functions/shared/errors.ts';
import type { WebhookVerifierConfig } from '../../../functions/webhook-verifier/config.ts';
import {
  createWebhookVerifierHandler,
  type WebhookVerifierHandler,
} from '../../../functions/webhook-verifier/handler.ts';
import { webhookSecretRef } from '../../../functions/webhooks/secret-candidates.ts';
import { DONOR, registerSecret } from '../../support/canaries.ts';
import { InMemorySecretStore } from '../../support/in-memory-secret-store.ts';

export const NOW = new Date('2026-11-29T12:00:00.000Z');

/** A body full of donor canaries plus a unique marker, so any echo or log of it is detectable. */
export const BODY_MARKER = 'body-marker-3f9e1c77';
export function donorBody(extra = ''): Buffer {
  return Buffer.from(
    JSON.stringify({
      event: 'GiftCreate',
      marker: BODY_MARKER,
      gift: { id: 90210, amount: 25, contact: { ...DONOR } },
      extra,
    }),
    'utf8',
  );
}

export function customerRecord(customerId: string, overrides: Partial<CustomerRecord> = {}): CustomerRecord {
  return {
    customerId,
    status: 'active',
    sensitivity: 'standard',
    tokenRotationDays: 180,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

export class InMemoryCustomers implements CustomerRepository {
  readonly records = new Map<string, CustomerRecord>();
  failure: Error | undefined;

  async get(customerId: string): Promise<CustomerRecord | undefined> {
    if (this.failure !== undefined) throw this.failure;
    return this.records.get(customerId);
  }
  async create(record: CustomerRecord): Promise<void> {
    if (this.records.has(record.customerId)) throw new PermanentError('CUSTOMER_EXISTS', 'exists');
    this.records.set(record.customerId, record);
  }
  async update(customerId: string, changes: Partial<CustomerRecord>): Promise<CustomerRecord> {
    const existing = this.records.get(customerId);
    if (existing === undefined) throw new PermanentError('CUSTOMER_NOT_FOUND', 'missing');
    const updated = { ...existing, ...changes } as CustomerRecord;
    this.records.set(customerId, updated);
    return updated;
  }
  async acquireLock(customerId: string, lock: WorkflowLock): Promise<void> {
    await this.update(customerId, { lock });
  }
  async releaseLock(customerId: string): Promise<void> {
    await this.update(customerId, { lock: undefined });
  }
  async list(): Promise<CustomerRecord[]> {
    return [...this.records.values()];
  }
}

export class RecordingQueue implements InboundQueue {
  readonly messages: InboundMessage[] = [];
  failure: Error | undefined;

  async send(message: InboundMessage): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    this.messages.push(message);
  }
}

export interface EventInput {
  readonly provider?: string;
  readonly customerId?: string;
  readonly method?: string;
  readonly body?: string | null;
  readonly isBase64Encoded?: boolean;
  readonly headers?: Record<string, string>;
  readonly requestId?: string;
}

let requestCounter = 0;

export function apiEvent(input: EventInput = {}): APIGatewayProxyEvent {
  const provider = input.provider ?? 'virtuous';
  const customerId = input.customerId ?? 'acme';
  requestCounter += 1;
  return {
    resource: `/webhooks/${provider}/{customerId}`,
    path: `/webhooks/${provider}/${encodeURIComponent(customerId)}`,
    httpMethod: input.method ?? 'POST',
    headers: input.headers ?? { 'Content-Type': 'application/json' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { customerId },
    stageVariables: null,
    requestContext: { requestId: input.requestId ?? `req-${requestCounter}` } as APIGatewayProxyEvent['requestContext'],
    body: input.body === undefined ? null : input.body,
    isBase64Encoded: input.isBase64Encoded ?? false,
  };
}

export const lambdaContext = {
  awsRequestId: 'lambda-req-1',
  functionName: 'webhook-verifier',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:webhook-verifier',
  memoryLimitInMB: '512',
  logGroupName: '/aws/lambda/webhook-verifier',
  logStreamName: 'stream',
  callbackWaitsForEmptyEventLoop: false,
  getRemainingTimeInMillis: () => 10_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
} as Context;

export function signHex(secret: string, body: Buffer): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

export function signBase64(secret: string, body: Buffer): string {
  return createHmac('sha256', secret).update(body).digest('base64');
}

export function stripeHeader(secret: string, body: Buffer, timestamp: number): string {
  const v1 = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
  return `t=${timestamp},v1=${v1}`;
}

export interface Harness {
  readonly handler: WebhookVerifierHandler;
  readonly customers: InMemoryCustomers;
  readonly secrets: InMemorySecretStore;
  readonly queue: RecordingQueue;
  readonly clock: { now: Date };
  readonly virtuousSecret: string;
  readonly stripeSecret: string;
  invoke(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult>;
}

/** A handler over in-memory dependencies with customer `acme` (active) and its Virtuous and Stripe secrets. */
export async function createHarness(config: Partial<WebhookVerifierConfig> = {}): Promise<Harness> {
  const clock = { now: NOW };
  const customers = new InMemoryCustomers();
  const secrets = new InMemorySecretStore(() => clock.now);
  const queue = new RecordingQueue();
  const virtuousSecret = registerSecret(`virtuous-harness-secret-${Math.random().toString(36).slice(2)}`);
  const stripeSecret = registerSecret(`whsec_harness${Math.random().toString(36).slice(2)}`);
  await customers.create(customerRecord('acme'));
  await secrets.seedCurrent(webhookSecretRef('virtuous', 'acme'), virtuousSecret);
  await secrets.seedCurrent(webhookSecretRef('stripe', 'acme'), stripeSecret);
  const handler = createWebhookVerifierHandler({ customers, secrets, queue, clock: () => clock.now, config });
  return {
    handler,
    customers,
    secrets,
    queue,
    clock,
    virtuousSecret,
    stripeSecret,
    invoke: (event) => handler(event, lambdaContext),
  };
}

export const queueDown = () => new TransientError('QUEUE_UNAVAILABLE', 'the inbound queue did not accept the message');

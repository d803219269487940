import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DebugCapture, DebugCaptureWriter } from '../../../functions/debug-captures/debug-capture-store.ts';
import { LocalFolderCaptureStore } from '../../../functions/debug-captures/local-folder-capture-store.ts';
import { createWebhookVerifierHandler } from '../../../functions/webhook-verifier/handler.ts';
import { deliveryId } from '../../../functions/webhooks/delivery-id.ts';
import { webhookSecretRef } from '../../../functions/webhooks/secret-candidates.ts';
import { registerSecret } from '../../support/canaries.ts';
import { InMemorySecretStore } from '../../support/in-memory-secret-store.ts';
import { capturedOutput } from '../../support/setup.ts';
import {
  apiEvent,
  BODY_MARKER,
  customerRecord,
  donorBody,
  InMemoryCustomers,
  lambdaContext,
  NOW,
  RecordingQueue,
  signHex,
  stripeHeader,
} from './fixtures.ts';

const inMinutes = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000).toISOString();

interface Setup {
  readonly customers: InMemoryCustomers;
  readonly queue: RecordingQueue;
  readonly store: LocalFolderCaptureStore;
  readonly secrets: Record<'acme' | 'beta', string>;
  readonly handler: ReturnType<typeof createWebhookVerifierHandler>;
  invoke(
    customerId: string,
    body: Buffer,
    signature: string,
    extraHeaders?: Record<string, string>,
  ): Promise<APIGatewayProxyResult>;
}

let root: string;

async function setup(writer?: DebugCaptureWriter, timeoutMs = 2_500): Promise<Setup> {
  const customers = new InMemoryCustomers();
  const secretStore = new InMemorySecretStore(() => NOW);
  const queue = new RecordingQueue();
  const store = new LocalFolderCaptureStore(root);
  const secrets = {
    acme: registerSecret(`capture-acme-${Math.random().toString(36).slice(2)}`),
    beta: registerSecret(`capture-beta-${Math.random().toString(36).slice(2)}`),
  };
  for (const id of ['acme', 'beta'] as const) {
    await customers.create(customerRecord(id));
    await secretStore.seedCurrent(webhookSecretRef('virtuous', id), secrets[id]);
    await secretStore.seedCurrent(webhookSecretRef('stripe', id), secrets[id]);
  }
  const handler = createWebhookVerifierHandler({
    customers,
    secrets: secretStore,
    queue,
    clock: () => NOW,
    debugCaptures: writer ?? store,
    config: { debugCaptureTimeoutMs: timeoutMs },
  });
  return {
    customers,
    queue,
    store,
    secrets,
    handler,
    invoke: (customerId, body, signature, extraHeaders = {}) =>
      handler(
        apiEvent({
          customerId,
          body: body.toString('utf8'),
          headers: {
            'Content-Type': 'application/json',
            'User-Agent': 'Virtuous-Webhooks/1.0',
            'X-Virtuous-Signature': signature,
            ...extraHeaders,
          },
          requestId: `req-${customerId}-${Math.random().toString(36).slice(2)}`,
        }),
        lambdaContext,
      ),
  };
}

async function readCapture(customerId: string, key: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(root, 'captures', customerId, key), 'utf8')) as Record<string, unknown>;
}

function emfLines(since: number, metric: string): Record<string, unknown>[] {
  return capturedOutput()
    .slice(since)
    .split('\n')
    .filter((line) => line.includes(`"${metric}"`))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'verifier-captures-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('webhook verifier: debug captures behind the per-customer flag', () => {
  it('captures an accepted delivery while the flag is active: exact body, allowlisted headers, no signature', async () => {
    const s = await setup();
    await s.customers.update('acme', { debugCaptureUntil: inMinutes(30) });
    const body = donorBody();
    const signature = signHex(s.secrets.acme, body);
    const before = capturedOutput().length;
    const response = await s.invoke('acme', body, signature, { Authorization: 'Bearer not-captured' });
    expect(response.statusCode).toBe(202);
    expect(s.queue.messages).toHaveLength(1);

    const id = deliveryId('virtuous', 'acme', body);
    expect(await s.store.list('acme')).toEqual([`2026-11-29/${id}.accepted.json`]);
    const capture = await readCapture('acme', `2026-11-29/${id}.accepted.json`);
    expect(Buffer.from(String(capture.rawBodyBase64), 'base64').equals(body)).toBe(true);
    expect(capture).toMatchObject({ customerId: 'acme', deliveryId: id, provider: 'virtuous', outcome: 'accepted' });
    expect(capture.headers).toEqual({ 'content-type': 'application/json', 'user-agent': 'Virtuous-Webhooks/1.0' });
    expect(JSON.stringify(capture)).not.toContain(signature);
    expect(JSON.stringify(capture)).not.toContain('not-captured');

    // Counted, and nothing about the content in any output line.
    const output = capturedOutput().slice(before);
    expect(emfLines(before, 'DebugCapturesWritten').map((line) => line.DebugCapturesWritten)).toEqual([1]);
    expect(output).not.toContain(BODY_MARKER);
    expect(output).not.toContain(body.toString('base64').slice(0, 40));
  });

  it('captures a delivery refused for a signature mismatch (the investigation case), still answering 401', async () => {
    const s = await setup();
    await s.customers.update('acme', { debugCaptureUntil: inMinutes(5) });
    const body = donorBody('mismatch');
    const response = await s.invoke('acme', body, signHex('some-other-secret', body));
    expect(response.statusCode).toBe(401);
    expect(s.queue.messages).toHaveLength(0);
    const id = deliveryId('virtuous', 'acme', body);
    expect(await s.store.list('acme')).toEqual([`2026-11-29/${id}.refused.json`]);
    expect(await readCapture('acme', `2026-11-29/${id}.refused.json`)).toMatchObject({
      outcome: 'refused',
      reason: 'signature_mismatch',
    });
  });

  it('captures nothing without a flag, with an expired flag, or with a window beyond the 24 h maximum', async () => {
    const s = await setup();
    const body = donorBody();
    const signature = signHex(s.secrets.acme, body);
    for (const until of [undefined, inMinutes(-1), NOW.toISOString(), inMinutes(24 * 60 + 1), 'not-a-date']) {
      await s.customers.update('acme', { debugCaptureUntil: until });
      expect((await s.invoke('acme', body, signature)).statusCode).toBe(202);
    }
    expect(s.queue.messages).toHaveLength(5);
    expect(await s.store.list('acme')).toEqual([]);
  });

  it("never captures another customer's deliveries while one customer's flag is on", async () => {
    const s = await setup();
    await s.customers.update('acme', { debugCaptureUntil: inMinutes(60) });
    const body = donorBody('beta');
    expect((await s.invoke('beta', body, signHex(s.secrets.beta, body))).statusCode).toBe(202);
    expect((await s.invoke('beta', body, signHex('wrong', body))).statusCode).toBe(401);
    // An unknown customer and a refusal that is not a mismatch are not captured either.
    expect((await s.invoke('gamma', body, signHex('wrong', body))).statusCode).toBe(401);
    expect((await s.invoke('acme', body, '')).statusCode).toBe(401);
    expect(await s.store.list('beta')).toEqual([]);
    expect(await s.store.list('gamma')).toEqual([]);
    expect(await s.store.list('acme')).toEqual([]);
  });

  it('a failing capture never fails the delivery: 202, counted as DebugCaptureFailures, logged by class only', async () => {
    const failing: DebugCaptureWriter = {
      write: async () => {
        throw new Error(`disk full while writing ${BODY_MARKER}`);
      },
    };
    const s = await setup(failing);
    await s.customers.update('acme', { debugCaptureUntil: inMinutes(30) });
    const body = donorBody();
    const before = capturedOutput().length;
    expect((await s.invoke('acme', body, signHex(s.secrets.acme, body))).statusCode).toBe(202);
    expect(s.queue.messages).toHaveLength(1);
    expect(emfLines(before, 'DebugCaptureFailures')).toHaveLength(1);
    const output = capturedOutput().slice(before);
    expect(output).toContain('debug capture not written');
    expect(output).not.toContain(BODY_MARKER);
  });

  it('the capture-failure line carries its own request id, never that of an earlier request', async () => {
    const failing: DebugCaptureWriter = {
      write: async () => {
        throw new Error('disk full');
      },
    };
    const s = await setup(failing);
    await s.customers.update('acme', { debugCaptureUntil: inMinutes(30) });
    const body = donorBody();
    const event = (signature: string) =>
      apiEvent({
        customerId: 'acme',
        body: body.toString('utf8'),
        headers: { 'Content-Type': 'application/json', 'X-Virtuous-Signature': signature },
      });
    const before = capturedOutput().length;
    // Both captures fail (a signature mismatch is captured too); only the first request also writes a refusal line.
    expect(
      (await s.handler(event(signHex('x', body)), { ...lambdaContext, awsRequestId: 'lambda-1' })).statusCode,
    ).toBe(401);
    const accepted = await s.handler(event(signHex(s.secrets.acme, body)), {
      ...lambdaContext,
      awsRequestId: 'lambda-2',
    });
    expect(accepted.statusCode).toBe(202);
    const failures = capturedOutput()
      .slice(before)
      .split('\n')
      .filter((line) => line.includes('debug capture not written'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(failures.map((line) => line.function_request_id)).toEqual(['lambda-1', 'lambda-2']);
  });

  it('a hanging capture is abandoned after its timeout and the delivery is still accepted', async () => {
    const captures: DebugCapture[] = [];
    const hanging: DebugCaptureWriter = {
      write: (capture) => {
        captures.push(capture);
        return new Promise(() => undefined);
      },
    };
    const s = await setup(hanging, 50);
    await s.customers.update('acme', { debugCaptureUntil: inMinutes(30) });
    const body = donorBody();
    const started = Date.now();
    expect((await s.invoke('acme', body, signHex(s.secrets.acme, body))).statusCode).toBe(202);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(captures).toHaveLength(1);
  });

  it('captures a Stripe delivery without its Stripe-Signature header', async () => {
    const s = await setup();
    await s.customers.update('acme', { debugCaptureUntil: inMinutes(30) });
    const body = donorBody('stripe');
    const signature = stripeHeader(s.secrets.acme, body, Math.floor(NOW.getTime() / 1000));
    const response = await s.handler(
      apiEvent({
        provider: 'stripe',
        customerId: 'acme',
        body: body.toString('utf8'),
        headers: { 'Content-Type': 'application/json', 'Stripe-Signature': signature },
      }),
      lambdaContext,
    );
    expect(response.statusCode).toBe(202);
    const [key] = await s.store.list('acme');
    if (key === undefined) throw new TypeError('no capture');
    const capture = await readCapture('acme', key);
    expect(capture.provider).toBe('stripe');
    expect(JSON.stringify(capture)).not.toContain(signature);
  });
});

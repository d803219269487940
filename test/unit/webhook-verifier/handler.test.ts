import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { inboundMessageRawBody } from '../../../functions/queue/inbound-message.ts';
import { parseInboundMessage } from '../../../functions/queue/parse-inbound-message.ts';
import { TransientError } from '../../../functions/shared/errors.ts';
import { logger } from '../../../functions/shared/observability.ts';
import { deliveryId } from '../../../functions/webhooks/delivery-id.ts';
import { capturedOutput } from '../../support/setup.ts';
import {
  apiEvent,
  BODY_MARKER,
  createHarness,
  customerRecord,
  donorBody,
  type Harness,
  lambdaContext,
  NOW,
  queueDown,
  signBase64,
  signHex,
  stripeHeader,
} from './fixtures.ts';

const JSON_TYPE = { 'Content-Type': 'application/json' };
const nowSeconds = Math.floor(NOW.getTime() / 1000);

function bodyOf(response: APIGatewayProxyResult): Record<string, unknown> {
  return JSON.parse(response.body) as Record<string, unknown>;
}

/** A refusal names a generic code and the request id, and nothing else: no part of what was sent. */
function expectRefusal(response: APIGatewayProxyResult, status: number, error: string, requestId: string): void {
  expect(response.statusCode).toBe(status);
  expect(bodyOf(response)).toEqual({ error, requestId });
  expect(response.headers?.['content-type']).toBe('application/json');
  expect(response.body).not.toContain(BODY_MARKER);
}

describe('webhook verifier: accepted deliveries', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
  });

  it('accepts a Virtuous delivery signed in hex: 202, one message with the exact raw body and a content id', async () => {
    const body = donorBody();
    const response = await h.invoke(
      apiEvent({
        body: body.toString('utf8'),
        headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signHex(h.virtuousSecret, body) },
        requestId: 'req-accept-1',
      }),
    );
    expect(response.statusCode).toBe(202);
    expect(bodyOf(response)).toEqual({ status: 'accepted', requestId: 'req-accept-1' });
    expect(h.queue.messages).toHaveLength(1);
    const message = h.queue.messages[0];
    if (message === undefined) throw new TypeError('no message');
    expect(parseInboundMessage(JSON.stringify(message))).toEqual(message);
    expect(message).toMatchObject({
      version: 1,
      customerId: 'acme',
      provider: 'virtuous',
      receivedAt: NOW.toISOString(),
      bodyEncoding: 'base64',
      deliveryId: deliveryId('virtuous', 'acme', body),
    });
    expect(inboundMessageRawBody(message).equals(body)).toBe(true);
  });

  it('accepts a Base64 digest over an isBase64Encoded body and keeps the exact bytes (invalid UTF-8 included)', async () => {
    const body = Buffer.concat([donorBody(), Buffer.from([0xff, 0xfe, 0x00, 0x0d, 0x0a])]);
    const response = await h.invoke(
      apiEvent({
        body: body.toString('base64'),
        isBase64Encoded: true,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'x-virtuous-signature': signBase64(h.virtuousSecret, body),
        },
      }),
    );
    expect(response.statusCode).toBe(202);
    const message = h.queue.messages[0];
    if (message === undefined) throw new TypeError('no message');
    expect(inboundMessageRawBody(message).equals(body)).toBe(true);
  });

  it('accepts a Stripe delivery, headers in odd case, and a re-delivery gets the same delivery id', async () => {
    const body = donorBody('stripe');
    const event = () =>
      apiEvent({
        provider: 'stripe',
        body: body.toString('utf8'),
        headers: {
          'CONTENT-TYPE': 'Application/JSON',
          'sTrIpE-sIgNaTuRe': stripeHeader(h.stripeSecret, body, nowSeconds - 10),
        },
      });
    expect((await h.invoke(event())).statusCode).toBe(202);
    expect((await h.invoke(event())).statusCode).toBe(202);
    expect(h.queue.messages.map((m) => [m.provider, m.deliveryId])).toEqual([
      ['stripe', deliveryId('stripe', 'acme', body)],
      ['stripe', deliveryId('stripe', 'acme', body)],
    ]);
  });

  it('reads the Virtuous signature from a configured header name', async () => {
    const custom = await createHarness({ virtuousSignatureHeader: 'X-Hook-Signature' });
    const body = donorBody();
    const signature = signHex(custom.virtuousSecret, body);
    const withDefault = await custom.invoke(
      apiEvent({ body: body.toString(), headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signature } }),
    );
    expect(withDefault.statusCode).toBe(401);
    const withCustom = await custom.invoke(
      apiEvent({ body: body.toString(), headers: { ...JSON_TYPE, 'x-hook-signature': signature } }),
    );
    expect(withCustom.statusCode).toBe(202);
  });

  it('accepts paused and onboarding customers (their events wait on the queue)', async () => {
    for (const status of ['paused', 'onboarding'] as const) {
      await h.customers.update('acme', { status });
      const body = donorBody(status);
      const response = await h.invoke(
        apiEvent({
          body: body.toString(),
          headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signHex(h.virtuousSecret, body) },
        }),
      );
      expect(response.statusCode).toBe(202);
    }
    expect(h.queue.messages).toHaveLength(2);
  });

  it('accepts a body of exactly the maximum size', async () => {
    const small = await createHarness({ maxBodyBytes: 64 });
    const body = Buffer.from(`{"pad":"${'x'.repeat(64 - 10)}"}`);
    expect(body.length).toBe(64);
    const response = await small.invoke(
      apiEvent({
        body: body.toString(),
        headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signHex(small.virtuousSecret, body) },
      }),
    );
    expect(response.statusCode).toBe(202);
  });
});

describe('webhook verifier: every refusal, in the fixed check order', () => {
  let h: Harness;
  let body: Buffer;
  let goodHeaders: Record<string, string>;
  beforeEach(async () => {
    h = await createHarness({ maxBodyBytes: 4096 });
    body = donorBody();
    goodHeaders = { ...JSON_TYPE, 'X-Virtuous-Signature': signHex(h.virtuousSecret, body) };
  });

  const cases: [string, () => Parameters<typeof apiEvent>[0], number, string][] = [
    [
      'an unknown provider route',
      () => ({ provider: 'mailchimp', body: body.toString(), headers: goodHeaders }),
      404,
      'not_found',
    ],
    ['GET', () => ({ method: 'GET', body: body.toString(), headers: goodHeaders }), 405, 'method_not_allowed'],
    [
      'GET with a wrong Content-Type (method first)',
      () => ({ method: 'GET', headers: { 'content-type': 'text/plain' } }),
      405,
      'method_not_allowed',
    ],
    [
      'text/plain',
      () => ({ body: body.toString(), headers: { ...goodHeaders, 'Content-Type': 'text/plain' } }),
      415,
      'unsupported_media_type',
    ],
    [
      'no Content-Type',
      () => ({ body: body.toString(), headers: { 'X-Virtuous-Signature': 'x' } }),
      415,
      'unsupported_media_type',
    ],
    [
      'application/jsonp',
      () => ({ body: body.toString(), headers: { ...goodHeaders, 'Content-Type': 'application/jsonp' } }),
      415,
      'unsupported_media_type',
    ],
    [
      'form-urlencoded',
      () => ({ body: 'a=1', headers: { ...goodHeaders, 'Content-Type': 'application/x-www-form-urlencoded' } }),
      415,
      'unsupported_media_type',
    ],
    [
      'conflicting Content-Type headers',
      () => ({ body: body.toString(), headers: { ...goodHeaders, 'content-type': 'text/plain' } }),
      415,
      'unsupported_media_type',
    ],
    [
      'an oversized body and a wrong Content-Type (type first)',
      () => ({ body: 'x'.repeat(5000), headers: { 'Content-Type': 'text/html' } }),
      415,
      'unsupported_media_type',
    ],
    [
      'a body over the maximum',
      () => ({ body: `${body.toString()}${' '.repeat(4097)}`, headers: goodHeaders }),
      413,
      'payload_too_large',
    ],
    [
      'a Base64 body decoding over the maximum',
      () => ({ body: Buffer.alloc(4097, 0x20).toString('base64'), isBase64Encoded: true, headers: goodHeaders }),
      413,
      'payload_too_large',
    ],
    [
      'an oversized body without a signature (size first)',
      () => ({ body: 'x'.repeat(5000), headers: JSON_TYPE }),
      413,
      'payload_too_large',
    ],
    [
      'a Base64 body that is not Base64',
      () => ({ body: 'not*base64!', isBase64Encoded: true, headers: goodHeaders }),
      400,
      'invalid_body_encoding',
    ],
    ['a missing signature header', () => ({ body: body.toString(), headers: JSON_TYPE }), 401, 'unauthorized'],
    [
      'an empty signature header',
      () => ({ body: body.toString(), headers: { ...JSON_TYPE, 'X-Virtuous-Signature': '' } }),
      401,
      'unauthorized',
    ],
    [
      'a wrong signature',
      () => ({
        body: body.toString(),
        headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signHex('not-the-secret', body) },
      }),
      401,
      'unauthorized',
    ],
    [
      'a signature over another body',
      () => ({ body: `${body.toString()} `, headers: goodHeaders }),
      401,
      'unauthorized',
    ],
    [
      'a malformed signature',
      () => ({ body: body.toString(), headers: { ...JSON_TYPE, 'X-Virtuous-Signature': 'sha1=abc' } }),
      401,
      'unauthorized',
    ],
    [
      'the Stripe header on the Virtuous route',
      () => ({
        body: body.toString(),
        headers: { ...JSON_TYPE, 'Stripe-Signature': stripeHeader(h.virtuousSecret, body, nowSeconds) },
      }),
      401,
      'unauthorized',
    ],
    [
      'an unknown customer with a valid-looking signature',
      () => ({ customerId: 'nobody', body: body.toString(), headers: goodHeaders }),
      401,
      'unauthorized',
    ],
    [
      'a malformed customer id',
      () => ({ customerId: '../Acme Foundation', body: body.toString(), headers: goodHeaders }),
      401,
      'unauthorized',
    ],
    [
      'a customer id that is an email address',
      () => ({ customerId: 'canary.donor@pii-canary.example', body: body.toString(), headers: goodHeaders }),
      401,
      'unauthorized',
    ],
    [
      'a Stripe delivery older than 300 s',
      () => ({
        provider: 'stripe',
        body: body.toString(),
        headers: { ...JSON_TYPE, 'Stripe-Signature': stripeHeader(h.stripeSecret, body, nowSeconds - 301) },
      }),
      401,
      'unauthorized',
    ],
    [
      'a Stripe delivery from 301 s in the future',
      () => ({
        provider: 'stripe',
        body: body.toString(),
        headers: { ...JSON_TYPE, 'Stripe-Signature': stripeHeader(h.stripeSecret, body, nowSeconds + 301) },
      }),
      401,
      'unauthorized',
    ],
    [
      'a Stripe delivery signed with the Virtuous secret',
      () => ({
        provider: 'stripe',
        body: body.toString(),
        headers: { ...JSON_TYPE, 'Stripe-Signature': stripeHeader(h.virtuousSecret, body, nowSeconds) },
      }),
      401,
      'unauthorized',
    ],
  ];

  it.each(cases)(
    'refuses %s (status, generic body, nothing enqueued, nothing of it logged)',
    async (_name, input, status, error) => {
      const before = capturedOutput().length;
      const response = await h.invoke(apiEvent({ ...input(), requestId: 'req-refusal' }));
      const logged = capturedOutput().slice(before);
      expect(logged).toContain('"requestId":"req-refusal"');
      expect(logged).not.toContain(BODY_MARKER);
      expect(logged).not.toContain(goodHeaders['X-Virtuous-Signature']);
      expectRefusal(response, status, error, 'req-refusal');
      if (status === 405) expect(response.headers?.allow).toBe('POST');
      expect(h.queue.messages).toHaveLength(0);
    },
  );

  it('refuses an offboarded or failed customer with the same answer as a bad signature', async () => {
    const bad = await h.invoke(
      apiEvent({
        body: body.toString(),
        headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signHex('wrong', body) },
        requestId: 'r',
      }),
    );
    for (const status of ['offboarded', 'offboarding', 'failed'] as const) {
      await h.customers.update('acme', { status });
      const refused = await h.invoke(apiEvent({ body: body.toString(), headers: goodHeaders, requestId: 'r' }));
      expect(refused).toEqual(bad);
    }
    await h.customers.create(customerRecord('ghost', { status: 'offboarded' }));
    expect(
      await h.invoke(apiEvent({ customerId: 'ghost', body: body.toString(), headers: goodHeaders, requestId: 'r' })),
    ).toEqual(bad);
    expect(
      await h.invoke(
        apiEvent({ customerId: 'never-existed', body: body.toString(), headers: goodHeaders, requestId: 'r' }),
      ),
    ).toEqual(bad);
    expect(h.queue.messages).toHaveLength(0);
  });

  it('does not read secrets for an unknown, malformed or inactive customer', async () => {
    h.secrets.accesses.length = 0;
    await h.customers.update('acme', { status: 'offboarded' });
    await h.invoke(apiEvent({ body: body.toString(), headers: goodHeaders }));
    await h.invoke(apiEvent({ customerId: 'nobody', body: body.toString(), headers: goodHeaders }));
    await h.invoke(apiEvent({ customerId: 'UPPER', body: body.toString(), headers: goodHeaders }));
    expect(h.secrets.accesses).toHaveLength(0);
  });
});

describe('webhook verifier: dependency failures answer 503 so the sender retries', () => {
  let h: Harness;
  let body: Buffer;
  beforeEach(async () => {
    h = await createHarness();
    body = donorBody();
  });
  const send = () =>
    h.invoke(
      apiEvent({
        body: body.toString(),
        headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signHex(h.virtuousSecret, body) },
        requestId: 'req-503',
      }),
    );

  it('queue down: 503 with Retry-After, nothing recorded as accepted; the retry after recovery is accepted', async () => {
    h.queue.failure = queueDown();
    const response = await send();
    expectRefusal(response, 503, 'temporarily_unavailable', 'req-503');
    expect(response.headers?.['retry-after']).toBe('5');
    h.queue.failure = undefined;
    expect((await send()).statusCode).toBe(202);
    expect(h.queue.messages).toHaveLength(1);
  });

  it('secret store down: 503, nothing enqueued', async () => {
    h.secrets.failReads();
    expectRefusal(await send(), 503, 'temporarily_unavailable', 'req-503');
    expect(h.queue.messages).toHaveLength(0);
  });

  it('customer table down: 503, nothing enqueued', async () => {
    h.customers.failure = new TransientError('CUSTOMER_STORE_UNAVAILABLE', 'customer store get failed');
    expectRefusal(await send(), 503, 'temporarily_unavailable', 'req-503');
    expect(h.queue.messages).toHaveLength(0);
  });

  it('an unclassified queue failure is still a 503 (retry), and its message is neither answered nor logged', async () => {
    const before = capturedOutput().length;
    h.queue.failure = new RangeError(`boom ${BODY_MARKER}`);
    const response = await send();
    expectRefusal(response, 503, 'temporarily_unavailable', 'req-503');
    expect(capturedOutput().slice(before)).not.toContain('boom');
  });

  it('a fault in the handler itself answers a generic 500 and logs only the error class', async () => {
    const before = capturedOutput().length;
    const broken = { ...apiEvent({ body: body.toString(), requestId: 'req-500' }), resource: 42 as unknown as string };
    const response = await h.invoke(broken);
    expectRefusal(response, 500, 'internal_error', 'req-500');
    expect(capturedOutput().slice(before)).toContain('"errorName":"TypeError"');
  });
});

describe('webhook verifier: secrets are read through the cache', () => {
  it('reads the customer secrets once for many deliveries, with reason webhook:verify', async () => {
    const h = await createHarness();
    h.secrets.accesses.length = 0;
    for (let i = 0; i < 5; i += 1) {
      const body = donorBody(String(i));
      const response = await h.invoke(
        apiEvent({
          body: body.toString(),
          headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signHex(h.virtuousSecret, body) },
        }),
      );
      expect(response.statusCode).toBe(202);
    }
    expect(h.secrets.readsOf('acme').map((a) => [a.stage, a.reason])).toEqual([
      ['current', 'webhook:verify'],
      ['pending', 'webhook:verify'],
    ]);
  });
});

describe('webhook verifier: logs and metrics', () => {
  it('logs identifiers and codes only, at debug level too: never the body, a signature or a secret', async () => {
    // The accepted-delivery line is debug level (off by default, read when the handler is built): build it at debug
    // level and capture what the handler hands the logger.
    logger.setLogLevel('DEBUG');
    const h = await createHarness();
    logger.setLogLevel('INFO');
    const body = donorBody();
    const signature = signHex(h.virtuousSecret, body);
    // On the prototype: the verifier writes through its own child of the shared logger.
    const debug = vi.spyOn(Logger.prototype, 'debug');
    let calls: unknown[][] = [];
    try {
      await h.invoke(apiEvent({ body: body.toString(), headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signature } }));
    } finally {
      calls = [...debug.mock.calls];
      debug.mockRestore();
    }
    await h.invoke(
      apiEvent({ body: body.toString(), headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signHex('x', body) } }),
    );
    await h.invoke(apiEvent({ body: body.toString(), headers: { 'Content-Type': 'text/plain' } }));
    const debugLines = JSON.stringify(calls);
    expect(calls.map((call) => call[0])).toContain('webhook accepted');
    expect(debugLines).toContain(deliveryId('virtuous', 'acme', body));
    const output = `${capturedOutput()}${debugLines}`;
    expect(output).toContain('webhook refused');
    expect(output).not.toContain(BODY_MARKER);
    expect(output).not.toContain(signature);
    expect(output).not.toContain(body.toString('base64').slice(0, 40));
  });

  it('logs nothing for an accepted delivery at the default level, and emits no metric line for it', async () => {
    const h = await createHarness();
    const body = donorBody();
    await h.invoke(
      apiEvent({ body: body.toString(), headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signHex('x', body) } }),
    );
    const before = capturedOutput().length;
    const response = await h.invoke(
      apiEvent({
        body: body.toString(),
        headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signHex(h.virtuousSecret, body) },
      }),
    );
    expect(response.statusCode).toBe(202);
    expect(capturedOutput().slice(before)).toBe('');
  });

  it('reads no environment setting while it accepts a delivery: those are read once per container', async () => {
    const h = await createHarness();
    const body = donorBody();
    const accepted = () =>
      h.invoke(
        apiEvent({
          body: body.toString(),
          headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signHex(h.virtuousSecret, body) },
        }),
      );
    expect((await accepted()).statusCode).toBe(202);
    const environment = process.env;
    const read: string[] = [];
    process.env = new Proxy(environment, {
      get(target, name, receiver) {
        if (typeof name === 'string') read.push(name);
        return Reflect.get(target, name, receiver);
      },
    });
    try {
      expect((await accepted()).statusCode).toBe(202);
    } finally {
      process.env = environment;
    }
    expect(read).toEqual([]);
    // A refusal still publishes its metric at the end of its own request.
    const before = capturedOutput().length;
    await h.invoke(
      apiEvent({ body: body.toString(), headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signHex('x', body) } }),
    );
    expect(capturedOutput().slice(before)).toContain('"SignatureFailures"');
  });

  it('emits SignatureFailures with provider as a dimension and the customer id as a property only', async () => {
    const h = await createHarness();
    const body = donorBody();
    const before = capturedOutput().length;
    await h.invoke(
      apiEvent({
        provider: 'stripe',
        body: body.toString(),
        headers: { ...JSON_TYPE, 'Stripe-Signature': 't=1,v1=00' },
      }),
    );
    const emf = capturedOutput()
      .slice(before)
      .split('\n')
      .filter((line) => line.includes('"SignatureFailures"'))
      .map(
        (line) =>
          JSON.parse(line) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Dimensions: string[][] }[] } },
      );
    expect(emf).toHaveLength(1);
    const [record] = emf;
    if (record === undefined) throw new TypeError('no metric');
    expect(record.SignatureFailures).toBe(1);
    expect(record.provider).toBe('stripe');
    expect(record.customerId).toBe('acme');
    expect(record.reason).toBe('malformed_signature');
    const dimensions = record._aws.CloudWatchMetrics.flatMap((m) => m.Dimensions.flat());
    expect(dimensions).toContain('provider');
    expect(dimensions).not.toContain('customerId');
  });
});

describe('webhook verifier: Lambda context stays with its own lines', () => {
  /** The JSON log lines written since `before` whose message is `message`. */
  function linesSince(before: number, message: string): Record<string, unknown>[] {
    return capturedOutput()
      .slice(before)
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.message === message);
  }

  it('a line of another handler in the same process carries none of the verifier request context', async () => {
    const h = await createHarness();
    const body = donorBody();
    const before = capturedOutput().length;
    const response = await h.handler(
      apiEvent({ body: body.toString(), headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signHex('x', body) } }),
      { ...lambdaContext, awsRequestId: 'verifier-lambda-req-7' } as Context,
    );
    expect(response.statusCode).toBe(401);
    // What the processor, the lifecycle tasks and the domain modules write with: the shared logger.
    logger.info('line of another handler');
    const [refused] = linesSince(before, 'webhook refused');
    expect(refused).toMatchObject({
      function_name: 'webhook-verifier',
      function_request_id: 'verifier-lambda-req-7',
      function_arn: lambdaContext.invokedFunctionArn,
    });
    const [other] = linesSince(before, 'line of another handler');
    expect(other).toBeDefined();
    expect(Object.keys(other ?? {}).filter((key) => key.startsWith('function_') || key === 'cold_start')).toEqual([]);
    expect(JSON.stringify(other)).not.toContain('verifier-lambda-req-7');
  });

  it('each verifier line carries the request id of its own request, not of an earlier one', async () => {
    const h = await createHarness();
    const body = donorBody();
    const refusedEvent = () =>
      apiEvent({ body: body.toString(), headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signHex('x', body) } });
    const before = capturedOutput().length;
    await h.handler(refusedEvent(), { ...lambdaContext, awsRequestId: 'verifier-lambda-req-a' } as Context);
    // An accepted delivery writes no line at the default level, so it attaches nothing.
    const accepted = await h.handler(
      apiEvent({
        body: body.toString(),
        headers: { ...JSON_TYPE, 'X-Virtuous-Signature': signHex(h.virtuousSecret, body) },
      }),
      { ...lambdaContext, awsRequestId: 'verifier-lambda-req-b' } as Context,
    );
    expect(accepted.statusCode).toBe(202);
    await h.handler(refusedEvent(), { ...lambdaContext, awsRequestId: 'verifier-lambda-req-c' } as Context);
    expect(linesSince(before, 'webhook refused').map((line) => line.function_request_id)).toEqual([
      'verifier-lambda-req-a',
      'verifier-lambda-req-c',
    ]);
    expect(capturedOutput().slice(before)).not.toContain('verifier-lambda-req-b');
  });
});

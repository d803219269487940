import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { configFromEnv, DEFAULT_CONFIG } from '../../../functions/webhook-verifier/config.ts';
import { createWebhookVerifierHandler, handler } from '../../../functions/webhook-verifier/handler.ts';
import { InMemorySecretStore } from '../../support/in-memory-secret-store.ts';
import { apiEvent, InMemoryCustomers, RecordingQueue } from './fixtures.ts';

describe('webhook verifier settings', () => {
  it('defaults: X-Virtuous-Signature, 256 KiB, 300 s Stripe tolerance, 60 s secret cache, 2.5 s capture bound', () => {
    expect(configFromEnv({})).toEqual({
      virtuousSignatureHeader: 'X-Virtuous-Signature',
      maxBodyBytes: 262_144,
      stripeToleranceSeconds: 300,
      secretCacheTtlMs: 60_000,
      debugCaptureTimeoutMs: 2_500,
    });
    expect(DEFAULT_CONFIG.maxBodyBytes).toBe(262_144);
  });

  it('reads the header name and the body limit from the environment', () => {
    expect(
      configFromEnv({ VIRTUOUS_SIGNATURE_HEADER: 'X-Hook-Signature', MAX_WEBHOOK_BODY_BYTES: '65536' }),
    ).toMatchObject({
      virtuousSignatureHeader: 'X-Hook-Signature',
      maxBodyBytes: 65_536,
    });
  });

  it.each(['0', '-1', 'lots', '1.5', String(512 * 1024 + 1)])('refuses MAX_WEBHOOK_BODY_BYTES=%s by name', (value) => {
    expect(() => configFromEnv({ MAX_WEBHOOK_BODY_BYTES: value })).toThrow(
      expect.objectContaining({ name: 'ForbiddenInputError', code: 'INVALID_SETTING' }),
    );
  });

  it('refuses a signature header name that is not a plain HTTP header name', () => {
    for (const name of ['', 'X Virtuous', 'X-Sig\r\nInjected', 'x'.repeat(65)]) {
      expect(() =>
        createWebhookVerifierHandler({
          customers: new InMemoryCustomers(),
          secrets: new InMemorySecretStore(),
          queue: new RecordingQueue(),
          config: { virtuousSignatureHeader: name },
        }),
      ).toThrow(expect.objectContaining({ name: 'ForbiddenInputError' }));
    }
  });
});

describe('webhook verifier AWS entry', () => {
  it('answers a generic 500 (never throws) when its settings are missing, and tries again on the next call', async () => {
    const context = { awsRequestId: 'lambda-1', functionName: 'webhook-verifier' } as Context;
    const saved = { ...process.env };
    for (const name of ['INBOUND_QUEUE_URL', 'TABLE_CUSTOMERS', 'ENVIRONMENT_NAME']) delete process.env[name];
    try {
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const response = await handler(apiEvent({ requestId: `req-${attempt}` }), context);
        expect(response.statusCode).toBe(500);
        expect(JSON.parse(response.body)).toEqual({ error: 'internal_error', requestId: `req-${attempt}` });
      }
    } finally {
      process.env = saved;
    }
  });
});

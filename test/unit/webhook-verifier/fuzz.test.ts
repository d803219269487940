/**
 * Property-based fuzz of the whole handler: random and mutated requests against an oracle that knows, from how each
 * request was built, the one status it must get. Counts are printed; the hard requirements are 0 accepted
 * forgeries, 0 × 5xx and 0 uncaught errors, and no refusal of a genuine delivery.
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookSecretRef } from '../../../functions/webhooks/secret-candidates.ts';
import { DONOR, findLeaks, registerSecret } from '../../support/canaries.ts';
import { apiEvent, BODY_MARKER, createHarness, customerRecord, donorBody, type Harness, NOW } from './fixtures.ts';

const RUNS = 10_000;
const MAX_BODY = 8 * 1024;
const nowSeconds = Math.floor(NOW.getTime() / 1000);

type Customer = 'acme' | 'other' | 'gone' | 'nobody' | 'malformed';
type Signer = 'genuine' | 'wrong-secret' | 'cross-customer' | 'other-body' | 'none' | 'garbage';
type BodyMutation =
  | { kind: 'none' }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; by: number }
  | { kind: 'append'; byte: number }
  | { kind: 'corrupt-base64'; at: number };
type SignatureMutation =
  | 'none'
  | 'reencode'
  | 'uppercase'
  | 'whitespace'
  | 'prefix'
  | 'junk-v1'
  | 'flip-char'
  | 'truncate'
  | 'extend'
  | 'wrong-length'
  | 'move-timestamp'
  | 'drop-timestamp'
  | 'conflicting-duplicate';

/** Mutations that must make a genuine signature fail (the others re-spell it or do not apply to the provider). */
const DESTROYING: Record<'virtuous' | 'stripe', ReadonlySet<SignatureMutation>> = {
  virtuous: new Set(['flip-char', 'truncate', 'extend', 'wrong-length', 'conflicting-duplicate']),
  stripe: new Set([
    'flip-char',
    'truncate',
    'extend',
    'wrong-length',
    'move-timestamp',
    'drop-timestamp',
    'conflicting-duplicate',
  ]),
};

interface Plan {
  provider: 'virtuous' | 'stripe';
  customer: Customer;
  malformedId: string;
  body:
    | { kind: 'bytes'; bytes: Uint8Array }
    | { kind: 'donor'; extra: string }
    | { kind: 'empty' }
    | { kind: 'huge'; size: number };
  signer: Signer;
  garbage: string;
  encoding: 'hex' | 'base64';
  timestampOffset: number;
  bodyMutation: BodyMutation;
  signatureMutation: SignatureMutation;
  flipAt: number;
  wrongLength: number;
  base64Transport: boolean;
  contentType: string;
  headerCase: 'lower' | 'upper' | 'mixed';
  method: string;
}

const JSON_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  ' application/json ;charset=UTF-8',
];
const OTHER_TYPES = [
  'text/plain',
  '',
  'application/xml',
  'application/json-patch+json',
  'multipart/form-data; boundary=x',
];

const planArbitrary: fc.Arbitrary<Plan> = fc.record({
  provider: fc.constantFrom('virtuous' as const, 'stripe' as const),
  customer: fc.constantFrom<Customer>('acme', 'acme', 'acme', 'acme', 'other', 'other', 'gone', 'nobody', 'malformed'),
  malformedId: fc.oneof(fc.string({ maxLength: 80 }), fc.constant(''), fc.constant(DONOR.email), fc.constant('ACME')),
  body: fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 2048 }) }),
    },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('donor' as const), extra: fc.string({ maxLength: 200 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('empty' as const) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('huge' as const),
        size: fc.integer({ min: MAX_BODY + 1, max: MAX_BODY * 3 }),
      }),
    },
  ),
  signer: fc.constantFrom<Signer>(
    'genuine',
    'genuine',
    'genuine',
    'wrong-secret',
    'cross-customer',
    'other-body',
    'none',
    'garbage',
  ),
  garbage: fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.stringMatching(/^[0-9a-f]{0,130}$/),
    fc.base64String({ maxLength: 100 }),
  ),
  encoding: fc.constantFrom('hex' as const, 'base64' as const),
  timestampOffset: fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: -300, max: 300 }) },
    { weight: 1, arbitrary: fc.integer({ min: 301, max: 10_000_000 }) },
    { weight: 1, arbitrary: fc.integer({ min: -10_000_000, max: -301 }) },
  ),
  bodyMutation: fc.oneof(
    { weight: 10, arbitrary: fc.constant({ kind: 'none' as const }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('truncate' as const), by: fc.integer({ min: 1, max: 64 }) }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('append' as const), byte: fc.integer({ min: 0, max: 255 }) }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('corrupt-base64' as const), at: fc.nat() }) },
  ),
  signatureMutation: fc.oneof(
    { weight: 6, arbitrary: fc.constant<SignatureMutation>('none') },
    {
      weight: 12,
      arbitrary: fc.constantFrom<SignatureMutation>(
        'reencode',
        'uppercase',
        'whitespace',
        'prefix',
        'junk-v1',
        'flip-char',
        'truncate',
        'extend',
        'wrong-length',
        'move-timestamp',
        'drop-timestamp',
        'conflicting-duplicate',
      ),
    },
  ),

  flipAt: fc.integer({ min: 0, max: 39 }),
  wrongLength: fc.integer({ min: 0, max: 200 }).filter((n) => n !== 64),
  base64Transport: fc.boolean(),
  contentType: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...JSON_TYPES) },
    { weight: 1, arbitrary: fc.constantFrom(...OTHER_TYPES) },
  ),
  headerCase: fc.constantFrom('lower' as const, 'upper' as const, 'mixed' as const),
  method: fc.oneof(
    { weight: 12, arbitrary: fc.constant('POST') },
    { weight: 1, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'post', 'OPTIONS') },
  ),
});

function recase(name: string, style: Plan['headerCase']): string {
  if (style === 'lower') return name.toLowerCase();
  if (style === 'upper') return name.toUpperCase();
  return [...name].map((c, i) => (i % 2 === 0 ? c.toLowerCase() : c.toUpperCase())).join('');
}

function hmac(secret: string, parts: (string | Buffer)[]): Buffer {
  const h = createHmac('sha256', secret);
  for (const part of parts) h.update(part);
  return h.digest();
}

function flipChar(text: string, at: number): string {
  const c = text[at] ?? '0';
  const replacement = c === 'a' ? 'b' : c === 'A' ? 'B' : 'a';
  return text.slice(0, at) + replacement + text.slice(at + 1);
}

describe('webhook verifier fuzz', () => {
  let h: Harness;
  let otherSecret: string;
  let goneSecret: string;
  const output: string[] = [];
  let restoreStdout: (() => void) | undefined;

  beforeAll(async () => {
    h = await createHarness({ maxBodyBytes: MAX_BODY });
    otherSecret = registerSecret('fuzz-other-customer-secret-c0ffee01');
    goneSecret = registerSecret('fuzz-offboarded-customer-secret-dead02');
    await h.customers.create(customerRecord('other'));
    await h.customers.create(customerRecord('gone', { status: 'offboarded' }));
    for (const provider of ['virtuous', 'stripe'] as const) {
      await h.secrets.seedCurrent(webhookSecretRef(provider, 'other'), otherSecret);
      await h.secrets.seedCurrent(webhookSecretRef(provider, 'gone'), goneSecret);
    }
    // Keep the run's 20,000 log and metric lines off the terminal, but scan every one of them below.
    const original = process.stdout.write;
    process.stdout.write = ((chunk: unknown) => {
      output.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return true;
    }) as typeof process.stdout.write;
    restoreStdout = () => {
      process.stdout.write = original;
    };
  });

  afterAll(() => restoreStdout?.());

  it(`${RUNS} random and mutated requests: 0 forgeries accepted, 0 × 5xx, 0 uncaught, 0 genuine refused`, async () => {
    const counts = {
      requests: 0,
      accepted: 0,
      acceptedForgeries: 0,
      genuineRefused: 0,
      wrongStatus: 0,
      serverErrors: 0,
      uncaught: 0,
      echoedBody: 0,
      byStatus: {} as Record<number, number>,
    };
    const secretOf = (customer: Customer): string =>
      customer === 'acme'
        ? h.virtuousSecret
        : customer === 'other'
          ? otherSecret
          : customer === 'gone'
            ? goneSecret
            : 'unknown-customer-guess';
    const stripeSecretOf = (customer: Customer): string => (customer === 'acme' ? h.stripeSecret : secretOf(customer));

    await fc.assert(
      fc.asyncProperty(planArbitrary, async (plan) => {
        counts.requests += 1;
        const customerId = plan.customer === 'malformed' ? plan.malformedId : plan.customer;
        const signed =
          plan.body.kind === 'bytes'
            ? Buffer.from(plan.body.bytes)
            : plan.body.kind === 'donor'
              ? donorBody(plan.body.extra)
              : plan.body.kind === 'huge'
                ? Buffer.alloc(plan.body.size, 0x20)
                : Buffer.alloc(0);

        let sent = Buffer.from(signed);
        const m = plan.bodyMutation;
        if (m.kind === 'flip' && sent.length > 0)
          sent[m.at % sent.length] = (sent[m.at % sent.length] ?? 0) ^ (1 << m.bit);
        if (m.kind === 'truncate') sent = sent.subarray(0, Math.max(0, sent.length - m.by));
        if (m.kind === 'append') sent = Buffer.concat([sent, Buffer.from([m.byte])]);

        let transportBody = plan.base64Transport ? sent.toString('base64') : sent.toString('utf8');
        const corrupt = m.kind === 'corrupt-base64' && plan.base64Transport;
        if (corrupt)
          transportBody = `${transportBody.slice(0, m.at % (transportBody.length + 1))}*${transportBody.slice(m.at % (transportBody.length + 1))}`;
        const effective = plan.base64Transport ? sent : Buffer.from(transportBody, 'utf8');

        // The signature, as the sender (or the forger) computes it.
        const provider = plan.provider;
        const key = (): string => {
          switch (plan.signer) {
            case 'genuine':
            case 'other-body':
              return provider === 'stripe' ? stripeSecretOf(plan.customer) : secretOf(plan.customer);
            case 'cross-customer':
              return plan.customer === 'acme' ? otherSecret : provider === 'stripe' ? h.stripeSecret : h.virtuousSecret;
            default:
              return 'forger-guess-secret';
          }
        };
        const signedBody = plan.signer === 'other-body' ? Buffer.concat([signed, Buffer.from('x')]) : signed;
        const t = nowSeconds + plan.timestampOffset;
        let header: string | undefined;
        let digestText: string;
        if (plan.signer === 'none') header = undefined;
        else if (plan.signer === 'garbage') header = plan.garbage;
        else if (provider === 'virtuous') {
          const digest = hmac(key(), [signedBody]);
          digestText = digest.toString(plan.encoding);
          const s = plan.signatureMutation;
          if (s === 'reencode') digestText = digest.toString(plan.encoding === 'hex' ? 'base64' : 'hex');
          if (s === 'uppercase' && plan.encoding === 'hex') digestText = digestText.toUpperCase();
          if (s === 'flip-char') digestText = flipChar(digestText, plan.flipAt);
          if (s === 'truncate') digestText = digestText.slice(0, Math.floor(digestText.length / 2));
          if (s === 'extend') digestText = `${digestText}${plan.encoding === 'hex' ? '00' : 'AA'}`;
          if (s === 'wrong-length') digestText = 'a'.repeat(plan.wrongLength);
          header = s === 'whitespace' ? ` ${digestText}  ` : s === 'prefix' ? `sha256=${digestText}` : digestText;
        } else {
          const v1 = hmac(key(), [`${t}.`, signedBody]).toString('hex');
          const s = plan.signatureMutation;
          let v1Text = s === 'uppercase' ? v1.toUpperCase() : v1;
          if (s === 'flip-char') v1Text = flipChar(v1, plan.flipAt);
          if (s === 'truncate') v1Text = v1.slice(0, 32);
          if (s === 'extend') v1Text = `${v1}00`;
          if (s === 'wrong-length') v1Text = 'a'.repeat(plan.wrongLength);
          const tText = s === 'move-timestamp' ? String(t + 1) : String(t);
          const parts = s === 'drop-timestamp' ? [`v1=${v1Text}`] : [`t=${tText}`, `v1=${v1Text}`];
          if (s === 'junk-v1') parts.splice(1, 0, `v1=${'0'.repeat(64)}`);
          header = parts.join(s === 'whitespace' ? ', ' : ',');
        }

        const signatureName = provider === 'stripe' ? 'Stripe-Signature' : 'X-Virtuous-Signature';
        const headers: Record<string, string> = { [recase('Content-Type', plan.headerCase)]: plan.contentType };
        if (header !== undefined) headers[recase(signatureName, plan.headerCase)] = header;
        const event = apiEvent({
          provider,
          customerId,
          method: plan.method,
          body: transportBody,
          isBase64Encoded: plan.base64Transport,
          headers,
        });
        if (plan.signatureMutation === 'conflicting-duplicate' && header !== undefined) {
          event.multiValueHeaders = { [signatureName.toLowerCase()]: [header, `${header}x`] };
        }

        // The oracle: the one status this request must get, from how it was built.
        const jsonType = JSON_TYPES.includes(plan.contentType);
        // A corrupted Base64 string is sized by its decoded-length estimate (the bytes cannot be decoded to count them).
        const padding = transportBody.endsWith('==') ? 2 : transportBody.endsWith('=') ? 1 : 0;
        const size = corrupt ? Math.floor((transportBody.length * 3) / 4) - padding : effective.length;
        const sizeOk = size <= MAX_BODY;
        const stripeTimely = provider === 'virtuous' || Math.abs(plan.timestampOffset) <= 300;
        const signatureKept = !DESTROYING[provider].has(plan.signatureMutation);
        const genuine =
          (plan.customer === 'acme' || plan.customer === 'other') &&
          plan.signer === 'genuine' &&
          effective.equals(signed) &&
          signatureKept &&
          stripeTimely;
        const expected =
          plan.method !== 'POST' ? 405 : !jsonType ? 415 : !sizeOk ? 413 : corrupt ? 400 : genuine ? 202 : 401;

        let status: number;
        let responseBody: string;
        try {
          const response = await h.invoke(event);
          status = response.statusCode;
          responseBody = response.body;
        } catch {
          counts.uncaught += 1;
          return false;
        }
        counts.byStatus[status] = (counts.byStatus[status] ?? 0) + 1;
        if (status === 202) counts.accepted += 1;
        if (status === 202 && !genuine) counts.acceptedForgeries += 1;
        if (status !== 202 && genuine && expected === 202) counts.genuineRefused += 1;
        if (status >= 500) counts.serverErrors += 1;
        if (status !== expected) counts.wrongStatus += 1;
        const keys = Object.keys(JSON.parse(responseBody) as object).sort();
        if (keys.join() !== (status === 202 ? 'requestId,status' : 'error,requestId')) counts.echoedBody += 1;
        return status === expected;
      }),
      { numRuns: RUNS, seed: 20261129, endOnFailure: true },
    );

    restoreStdout?.();
    const logs = output.join('');
    const leaks = findLeaks(logs).length + (logs.includes(BODY_MARKER) ? 1 : 0);
    console.log(
      `webhook verifier fuzz: ${JSON.stringify({ ...counts, outputWrites: output.length, leaksInLogs: leaks })}`,
    );
    expect(counts.requests).toBeGreaterThanOrEqual(RUNS);
    expect(counts.acceptedForgeries).toBe(0);
    expect(counts.serverErrors).toBe(0);
    expect(counts.uncaught).toBe(0);
    expect(counts.genuineRefused).toBe(0);
    expect(counts.wrongStatus).toBe(0);
    expect(counts.echoedBody).toBe(0);
    expect(leaks).toBe(0);
    // The mix must exercise both outcomes substantially, or the run proves little.
    expect(counts.accepted).toBeGreaterThan(RUNS / 20);
    expect(counts.byStatus[401] ?? 0).toBeGreaterThan(RUNS / 5);
    expect(h.queue.messages).toHaveLength(counts.accepted);
  });
});

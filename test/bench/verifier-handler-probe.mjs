/**
 * Measures the bundled webhook verifier handler's per-request CPU in a plain Node process, as Lambda runs it (no tsx
 * loader): the customer lookup, secret store and SQS send are stubbed with in-memory answers, so what is timed is
 * the handler's own work (checks, HMAC, delivery id, message, response). Paired with the floor (bare HMAC of the
 * same 2 KB payload) sample by sample, so load from other processes affects both sides of each ratio alike.
 *
 *   node test/bench/verifier-handler-probe.mjs <bundle.mjs>   → one JSON line on stdout
 * Run by verifier.bench.ts; not a test.
 */
import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';

const [bundlePath] = process.argv.slice(2);
const { createWebhookVerifierHandler } = await import(bundlePath);

const NOW = new Date('2026-11-29T12:00:00.000Z');
const secret = 'bench-webhook-secret-0123456789abcdef0123456789abcdef';
const note = (n) =>
  JSON.stringify({ event: 'GiftCreate', gift: { id: 90210, transactionSource: 'Stripe', note: 'x'.repeat(n) } });
const payload = Buffer.from(note(2048 - note(0).length));
const key = createSecretKey(Buffer.from(secret));
const digest = createHmac('sha256', key).update(payload).digest();

const customer = {
  customerId: 'acme',
  status: 'active',
  sensitivity: 'standard',
  tokenRotationDays: 180,
  createdAt: NOW.toISOString(),
  updatedAt: NOW.toISOString(),
};
let enqueued = 0;
const handler = createWebhookVerifierHandler({
  customers: { get: async () => customer },
  secrets: {
    read: async (_ref, stage) =>
      stage === 'current' ? { value: secret, versionId: 'v1', stage, createdAt: NOW.toISOString() } : undefined,
  },
  queue: {
    send: async () => {
      enqueued += 1;
    },
  },
  clock: () => NOW,
});
const event = {
  resource: '/webhooks/virtuous/{customerId}',
  path: '/webhooks/virtuous/acme',
  httpMethod: 'POST',
  headers: { 'Content-Type': 'application/json', 'X-Virtuous-Signature': digest.toString('hex') },
  multiValueHeaders: {},
  pathParameters: { customerId: 'acme' },
  requestContext: { requestId: 'bench-request' },
  // API Gateway hands every body over Base64-encoded (binaryMediaTypes */*), so the exact bytes survive.
  body: payload.toString('base64'),
  isBase64Encoded: true,
};
const context = { awsRequestId: 'bench', functionName: 'webhook-verifier', getRemainingTimeInMillis: () => 10_000 };

const first = await handler(event, context);
if (first.statusCode !== 202) throw new Error(`handler answered ${first.statusCode}`);

const floorOnce = () => timingSafeEqual(createHmac('sha256', key).update(payload).digest(), digest);
const OPS = 400;
const PAIRS = 60;
async function sample(fn) {
  const started = performance.now();
  for (let i = 0; i < OPS; i += 1) await fn();
  return ((performance.now() - started) * 1000) / OPS;
}
// Warm both paths before measuring.
for (let i = 0; i < 5; i += 1) {
  await sample(floorOnce);
  await sample(() => handler(event, context));
}
const ratios = [];
let bestHandler = Number.POSITIVE_INFINITY;
let bestFloor = Number.POSITIVE_INFINITY;
for (let pair = 0; pair < PAIRS; pair += 1) {
  // Alternate which side runs first: the first sample after a switch runs measurably slower on V8.
  const floorFirst = pair % 2 === 0;
  const floorBefore = floorFirst ? await sample(floorOnce) : 0;
  const handled = await sample(() => handler(event, context));
  const floor = floorFirst ? floorBefore : await sample(floorOnce);
  bestFloor = Math.min(bestFloor, floor);
  bestHandler = Math.min(bestHandler, handled);
  ratios.push(handled / floor);
}
ratios.sort((a, b) => a - b);
process.stdout.write(
  `${JSON.stringify({
    node: process.version,
    handlerMicros: bestHandler,
    floorMicros: bestFloor,
    medianRatio: ratios[Math.floor(ratios.length / 2)],
    accepted: enqueued,
  })}\n`,
);

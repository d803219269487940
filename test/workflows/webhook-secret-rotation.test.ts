import { describe, expect, it } from 'vitest';
import type { VirtuousConnector } from '../../functions/lifecycle/ports.ts';
import { PermanentError } from '../../functions/shared/errors.ts';
import { acceptDelivery } from '../../functions/webhook-verifier/accept-delivery.ts';
import { SecretCandidates } from '../../functions/webhooks/secret-candidates.ts';
import { signPayload } from '../../infra/local/virtuous-simulator/signing.ts';
import {
  enteredStates,
  failingFirst,
  leaksInEvents,
  retriesOf,
  useWorkflowTestEnv,
  withDeps,
} from '../support/workflow-runner.ts';
import { callApi, INSPECT, onboardedCustomer, sha256, waitFor, withTransientFailures } from './lifecycle-fixtures.ts';

const env = useWorkflowTestEnv();

async function currentSecret(customerId: string): Promise<string> {
  const version = await env().secrets.read({ customerId, kind: 'webhook_secret' }, 'current', INSPECT);
  if (version === undefined) throw new Error('no current webhook secret');
  return version.value;
}

/** Observes what Virtuous was told to sign with: the secret of the last subscription write that succeeded. */
function observingVirtuous(connector: VirtuousConnector, onSecret: (secret: string) => void): VirtuousConnector {
  return {
    ...connector,
    forCustomer: (customerId, options) => {
      const client = connector.forCustomer(customerId, options);
      return {
        ...client,
        getWebhook: (id) => client.getWebhook(id),
        replaceWebhook: async (id, subscription) => {
          const answer = await client.replaceWebhook(id, subscription);
          onSecret(subscription.secret);
          return answer;
        },
      };
    },
  };
}

describe('webhook-secret rotation workflow (statemachines/webhook-secret-rotation.asl.json)', () => {
  it('rotates under a stream of deliveries signed with the old and the new secret: none rejected', async () => {
    const { customerId, org } = await onboardedCustomer(env(), 'whr');
    const oldSecret = await currentSecret(customerId);
    let virtuousSigningSecret = oldSecret;
    let switchedAt: number | undefined;
    const original = env().deps;
    env().deps = {
      ...original,
      virtuous: observingVirtuous(original.virtuous, (secret) => {
        virtuousSigningSecret = secret;
        switchedAt ??= Date.now();
      }),
    };
    // The verifier with its production logic and a miniature of its timing: a 40 ms cache against a 120 ms wait,
    // as 60 s against the state machine's 90 s.
    const candidates = new SecretCandidates(env().secrets, { ttlMs: 40, refreshFloorMs: 20 });
    const verify = (rawBody: Buffer, secret: string) =>
      acceptDelivery(
        {
          provider: 'virtuous',
          customerIdParameter: customerId,
          signatureHeader: signPayload(secret, rawBody, 'base64'),
          rawBody,
        },
        {
          customers: env().deps.customers,
          candidates,
          queue: { send: async () => undefined },
          clock: () => new Date(),
          stripeToleranceSeconds: 300,
        },
      );
    const tally = { accepted: 0, rejected: 0, oldAcceptedAfterSwitch: 0, newAccepted: 0 };
    let oldSendsUntil = Number.POSITIVE_INFINITY;
    let running = true;
    let sequence = 0;
    const load = Array.from({ length: 3 }, async (_, lane) => {
      while (running) {
        const rawBody = Buffer.from(JSON.stringify({ event: 'GiftCreate', gift: { id: ++sequence, lane } }));
        const useOld = sequence % 2 === 0 && Date.now() < oldSendsUntil;
        const secret = useOld ? oldSecret : virtuousSigningSecret;
        const outcome = await verify(rawBody, secret);
        if (outcome.kind === 'accepted') {
          tally.accepted += 1;
          if (useOld && switchedAt !== undefined) tally.oldAcceptedAfterSwitch += 1;
          if (secret !== oldSecret) tally.newAccepted += 1;
        } else {
          tally.rejected += 1;
        }
        await new Promise((resolve) => setTimeout(resolve, 3));
      }
    });
    try {
      const execution = env().run(
        'webhook-secret-rotation',
        { customerId },
        { waitOverridesMs: { WaitForVerifierCaches: 120, WaitOverlapWindow: 1_000 } },
      );
      // Virtuous' retries of old-signed deliveries stop well inside the window (the window itself is 24 h).
      void waitFor(() => enteredStates(execution).includes('WaitOverlapWindow')).then(() => {
        oldSendsUntil = Date.now() + 300;
      });
      const outcome = await execution.result;
      running = false;
      await Promise.all(load);

      expect(outcome.status).toBe('SUCCEEDED');
      console.log(
        `webhook-secret rotation under load: ${tally.accepted} deliveries accepted, ${tally.rejected} rejected ` +
          `(${tally.oldAcceptedAfterSwitch} signed with the old secret after the switch, ${tally.newAccepted} with the new)`,
      );
      expect(tally.rejected).toBe(0);
      expect(tally.oldAcceptedAfterSwitch).toBeGreaterThan(0);
      expect(tally.newAccepted).toBeGreaterThan(0);

      const newSecret = await currentSecret(customerId);
      expect(newSecret).not.toBe(oldSecret);
      expect(Buffer.from(newSecret, 'base64')).toHaveLength(32);
      const [webhook] = env().sim.control.inspect(org.organizationId).webhooks;
      expect(webhook?.secretSha256).toBe(sha256(newSecret));
      expect(webhook?.payloadUrl).toBe(`https://hooks.partner.example/webhooks/virtuous/${customerId}`);
      expect(webhook?.flags.giftCreate).toBe(true);
      expect(await env().secrets.read({ customerId, kind: 'webhook_secret' }, 'previous', INSPECT)).toBeUndefined();
      const record = await env().deps.customers.get(customerId);
      expect(record?.previousWebhookSecretValidUntil).toBeUndefined();
      expect(record?.lock).toBeUndefined();
      // The window is closed: the old secret no longer passes (so the zero above could have failed).
      const late = await verify(Buffer.from('{"event":"GiftCreate","gift":{"id":0}}'), oldSecret);
      expect(late.kind).toBe('unauthorized');
      expect(env().notifier.typesFor(customerId)).toContain('webhook_secret_rotated');
      expect(env().notifier.alertCodesFor(customerId)).not.toContain('WEBHOOK_PAYLOAD_URL_MISMATCH');
      expect(leaksInEvents(execution)).toBe(0);
    } finally {
      running = false;
      env().deps = original;
    }
  });

  it('puts back our payload URL when the subscription was redirected in Virtuous, and alerts the operators', async () => {
    const { customerId, org } = await onboardedCustomer(env(), 'whr');
    const ours = `https://hooks.partner.example/webhooks/virtuous/${customerId}`;
    const oldSecret = await currentSecret(customerId);
    const subscriptionId = (await env().deps.customers.get(customerId))?.webhookSubscriptionId;
    if (subscriptionId === undefined) throw new Error('onboarding left no subscription');
    // Someone holding the customer's key redirects the subscription through the Virtuous API, keeping the secret.
    const virtuous = env().deps.virtuous.forCustomer(customerId, { stage: 'current', reason: 'test:tamper' });
    const { id, ...fields } = await virtuous.getWebhook(subscriptionId);
    const redirected = 'https://collector.attacker.example/in?k=whr-redirect-marker';
    await virtuous.replaceWebhook(id, { ...fields, payloadUrl: redirected, secret: oldSecret });
    expect(env().sim.control.inspect(org.organizationId).webhooks[0]?.payloadUrl).toBe(redirected);

    const execution = env().run('webhook-secret-rotation', { customerId });
    expect((await execution.result).status).toBe('SUCCEEDED');

    const [webhook] = env().sim.control.inspect(org.organizationId).webhooks;
    expect(webhook?.payloadUrl).toBe(ours);
    expect(webhook?.secretSha256).toBe(sha256(await currentSecret(customerId)));
    expect(webhook?.flags.giftCreate).toBe(true);
    const mismatches = env().notifier.alerts.filter(
      (alert) => alert.customerId === customerId && alert.code === 'WEBHOOK_PAYLOAD_URL_MISMATCH',
    );
    expect(mismatches).toHaveLength(1);
    expect(mismatches[0]).toMatchObject({
      severity: 'critical',
      details: { webhookSubscriptionId: id, hostMatched: false },
    });
    expect(JSON.stringify(env().notifier.alerts)).not.toMatch(/attacker|redirect-marker/);
    expect(leaksInEvents(execution)).toBe(0);
  });

  it('retries transient failures of the subscription read and of the promotion', async () => {
    const { customerId } = await onboardedCustomer(env(), 'whr');
    await withTransientFailures(
      env(),
      { promotePending: 2, virtuous: { method: 'getWebhook', times: 1, statusCode: 429 } },
      async () => {
        const execution = env().run('webhook-secret-rotation', { customerId });
        expect((await execution.result).status).toBe('SUCCEEDED');
        expect(retriesOf(execution)).toMatchObject({ ReplaceSubscriptionSecret: 1, PromoteWebhookSecret: 2 });
      },
    );
  });

  it('compensates a permanent failure after the subscription switched: subscription back on the current secret', async () => {
    const { customerId, org } = await onboardedCustomer(env(), 'whr');
    const oldSecret = await currentSecret(customerId);
    await withDeps(
      env(),
      (original) => ({
        secrets: failingFirst(original.secrets, 'promotePending', 1, () => new PermanentError('DENIED', 'x')),
      }),
      async () => {
        const execution = env().run('webhook-secret-rotation', { customerId });
        const outcome = await execution.result;
        expect(outcome).toMatchObject({ status: 'FAILED', error: 'WebhookSecretRotationFailed' });
        expect(enteredStates(execution)).toEqual(
          expect.arrayContaining(['ReplaceSubscriptionSecret', 'CompensateWebhookSecretRotation']),
        );
        expect(env().sim.control.inspect(org.organizationId).webhooks[0]?.secretSha256).toBe(sha256(oldSecret));
        expect(await currentSecret(customerId)).toBe(oldSecret);
        expect(await env().secrets.read({ customerId, kind: 'webhook_secret' }, 'pending', INSPECT)).toBeUndefined();
        const record = await env().deps.customers.get(customerId);
        expect(record?.previousWebhookSecretValidUntil).toBeUndefined();
        expect(record?.lock).toBeUndefined();
        expect(env().notifier.typesFor(customerId)).toContain('webhook_secret_rotation_failed');
        expect(leaksInEvents(execution)).toBe(0);
      },
    );
  });

  it('starts through the lifecycle API and refuses an unknown workflow name', async () => {
    const { customerId } = await onboardedCustomer(env(), 'whr');
    const unknown = await callApi(env(), 'POST', `/lifecycle/customers/${customerId}/workflows/onboarding`);
    expect(unknown.statusCode).toBe(404);
    const response = await callApi(
      env(),
      'POST',
      `/lifecycle/customers/${customerId}/workflows/webhook-secret-rotation`,
    );
    expect(response.statusCode).toBe(202);
    const { executionId } = JSON.parse(response.body) as { executionId: string };
    expect((await env().starter.executions.get(executionId)?.result)?.status).toBe('SUCCEEDED');
  });
});

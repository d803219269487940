// Pause and resume through the CLI against the one-machine runtime: a paused customer's Stripe webhook is accepted
// and held (nothing reaches Virtuous), `resume` puts it back on the queue at once, and the gift reaches the simulator
// exactly once. The customer is told `sync_paused` and `sync_resumed` once each.
import { randomBytes } from 'node:crypto';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { tableName } from '../../functions/shared/tables.ts';
import { transactionKey } from '../../infra/local/virtuous-simulator/model.ts';
import { findLeaks, registerSecret } from '../support/canaries.ts';
import { configureStripeSecret, sendStripeGift, useSimulatedRuntime } from './support.ts';

const CUSTOMER = 'pause-co';

describe('pause → webhook held → resume → transaction at the simulator', () => {
  const local = useSimulatedRuntime();
  const { cli } = local;
  let organizationId: number;
  const stripeSecret = registerSecret(`whsec_${randomBytes(24).toString('base64url')}`);
  const heldCount = async () => {
    const answer = await local.runtime.components.documentClient.send(
      new QueryCommand({
        TableName: tableName(local.runtime.settings.environment, 'heldMessages'),
        KeyConditionExpression: 'customerId = :c',
        ExpressionAttributeValues: { ':c': CUSTOMER },
      }),
    );
    return answer.Items?.length ?? 0;
  };
  const gifts = () => local.simulator.control.inspect(organizationId).giftTransactions;
  const deliver = (paymentIntentId: string) =>
    sendStripeGift(local.runtime, {
      customerId: CUSTOMER,
      secret: stripeSecret,
      paymentIntentId,
      stripeCustomerId: 'cus_pause_0',
      amountCents: 2500,
    });

  beforeAll(async () => {
    const org = local.simulator.control.createOrganization({ name: 'Pause Org' });
    organizationId = org.organizationId;
    registerSecret(org.apiKey);
    expect((await cli(['onboard', CUSTOMER, '--timeout', '30'], org.apiKey)).code).toBe(0);
    await configureStripeSecret(local.runtime.components.secrets, CUSTOMER, stripeSecret);
  }, 30_000);

  it('pauses by hand: the webhook is accepted and held, nothing reaches Virtuous', async () => {
    const paused = await cli(['pause', CUSTOMER, '--reason', 'maintenance']);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toContain('paused (operator_paused:maintenance)');
    expect((await local.runtime.components.customers.get(CUSTOMER))?.status).toBe('paused');

    expect((await deliver('pi_pause_0')).status).toBe(202);
    expect(await local.runtime.waitForQueueIdle(10_000)).toBe(true);
    expect(await heldCount()).toBe(1);
    expect(gifts()[transactionKey('Stripe', 'pi_pause_0')]).toBeUndefined();

    const again = await cli(['pause', CUSTOMER]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('CUSTOMER_NOT_ACTIVE');
  });

  it('resumes: the held message is released at once and the gift is created exactly once', async () => {
    const resumed = await cli(['resume', CUSTOMER]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(`${CUSTOMER} active; 1 held message(s) released`);
    expect(await local.runtime.waitForQueueIdle(10_000)).toBe(true);
    expect(gifts()[transactionKey('Stripe', 'pi_pause_0')]).toBe(1);
    expect(await heldCount()).toBe(0);

    // A repeated resume is harmless: nothing more to release, nothing sent twice, no second notification.
    const again = await cli(['resume', CUSTOMER]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('(was already active); 0 held message(s) released');
    expect(await local.runtime.waitForQueueIdle(10_000)).toBe(true);
    expect(gifts()[transactionKey('Stripe', 'pi_pause_0')]).toBe(1);
    const types = local.runtime.components.notifier.customerNotifications
      .filter((notification) => notification.customerId === CUSTOMER)
      .map((notification) => notification.type);
    expect(types.filter((type) => type === 'sync_paused')).toHaveLength(1);
    expect(types.filter((type) => type === 'sync_resumed')).toHaveLength(1);
  });

  it('prints no donor data or key', () => {
    expect(findLeaks(local.cliOutput()).length).toBe(0);
  });
});

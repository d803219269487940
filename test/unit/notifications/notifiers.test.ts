import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { LocalNotifier } from '../../../functions/notifications/local-notifier.ts';
import { createSnsNotifierFromEnv, SnsNotifier } from '../../../functions/notifications/sns-notifier.ts';
import { ForbiddenInputError, TransientError } from '../../../functions/shared/errors.ts';
import { DONOR } from '../../support/canaries.ts';

const sns = mockClient(SNSClient);
const CUSTOMER_TOPIC = 'arn:aws:sns:us-east-1:123456789012:customer-notifications';
const OPERATOR_TOPIC = 'arn:aws:sns:us-east-1:123456789012:operator-alerts';
const now = () => Date.parse('2026-11-29T03:00:00Z');

beforeEach(() => sns.reset());

describe('SnsNotifier', () => {
  it('publishes customer notifications and operator alerts to their own topics as JSON with filterable attributes', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const notifier = new SnsNotifier({
      sns: new SNSClient({}),
      customerTopicArn: CUSTOMER_TOPIC,
      operatorTopicArn: OPERATOR_TOPIC,
      now,
    });
    await notifier.notifyCustomer({
      customerId: 'acme',
      type: 'sync_paused',
      details: { reason: 'credential_revoked:stripe' },
    });
    await notifier.alertOperators({
      customerId: 'acme',
      code: 'CREDENTIAL_REVOKED',
      severity: 'warning',
      details: { source: 'stripe' },
    });
    const [customer, operator] = sns.commandCalls(PublishCommand).map((c) => c.args[0].input);
    expect(customer?.TopicArn).toBe(CUSTOMER_TOPIC);
    expect(JSON.parse(customer?.Message ?? '')).toEqual({
      kind: 'customer_notification',
      at: '2026-11-29T03:00:00.000Z',
      customerId: 'acme',
      type: 'sync_paused',
      details: { reason: 'credential_revoked:stripe' },
    });
    expect(customer?.MessageAttributes?.type).toEqual({ DataType: 'String', StringValue: 'sync_paused' });
    expect(operator?.TopicArn).toBe(OPERATOR_TOPIC);
    expect(JSON.parse(operator?.Message ?? '')).toMatchObject({
      kind: 'operator_alert',
      code: 'CREDENTIAL_REVOKED',
      severity: 'warning',
    });
    expect(operator?.MessageAttributes?.severity?.StringValue).toBe('warning');
  });

  it('refuses details that look like free text or PII before publishing', async () => {
    const notifier = new SnsNotifier({
      sns: new SNSClient({}),
      customerTopicArn: CUSTOMER_TOPIC,
      operatorTopicArn: OPERATOR_TOPIC,
    });
    for (const value of [DONOR.email, `${DONOR.firstName} ${DONOR.lastName}`, 'x'.repeat(201)]) {
      const error = await notifier
        .notifyCustomer({ customerId: 'acme', type: 'sync_paused', details: { reason: value } })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ForbiddenInputError);
      expect(String(error)).not.toContain(value);
    }
    await expect(notifier.notifyCustomer({ customerId: 'ACME/x', type: 'sync_active' })).rejects.toBeInstanceOf(
      ForbiddenInputError,
    );
    expect(sns.calls()).toHaveLength(0);
  });

  it('turns a publish failure into a TransientError', async () => {
    sns.on(PublishCommand).rejects(new Error('throttled'));
    const notifier = new SnsNotifier({
      sns: new SNSClient({}),
      customerTopicArn: CUSTOMER_TOPIC,
      operatorTopicArn: OPERATOR_TOPIC,
    });
    await expect(notifier.alertOperators({ code: 'X', severity: 'critical' })).rejects.toBeInstanceOf(TransientError);
  });

  it('reads both topics from the environment and names a missing one', () => {
    expect(
      createSnsNotifierFromEnv({
        CUSTOMER_NOTIFICATIONS_TOPIC_ARN: CUSTOMER_TOPIC,
        OPERATOR_ALERTS_TOPIC_ARN: OPERATOR_TOPIC,
      }),
    ).toBeInstanceOf(SnsNotifier);
    expect(() => createSnsNotifierFromEnv({ CUSTOMER_NOTIFICATIONS_TOPIC_ARN: CUSTOMER_TOPIC })).toThrow(
      /OPERATOR_ALERTS_TOPIC_ARN/,
    );
  });
});

describe('LocalNotifier', () => {
  const directories: string[] = [];
  afterAll(async () => {
    await Promise.all(directories.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('appends one JSON line per event, in order, and keeps them in memory', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'notifier-'));
    directories.push(directory);
    const path = join(directory, 'out', 'notifications.jsonl');
    const notifier = new LocalNotifier(path, now);
    await Promise.all([
      notifier.notifyCustomer({ customerId: 'acme', type: 'sync_active' }),
      notifier.alertOperators({ code: 'DLQ_DEPTH', severity: 'critical', details: { depth: 3 } }),
      notifier.notifyCustomer({ customerId: 'globex', type: 'token_rotated' }),
    ]);
    const lines = (await readFile(path, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type ?? l.code)).toEqual(['sync_active', 'DLQ_DEPTH', 'token_rotated']);
    expect(notifier.customerNotifications.map((n) => n.customerId)).toEqual(['acme', 'globex']);
    expect(notifier.operatorAlerts).toEqual([expect.objectContaining({ code: 'DLQ_DEPTH', details: { depth: 3 } })]);
  });
});

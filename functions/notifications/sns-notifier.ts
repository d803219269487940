/**
 * Notifier on SNS: customer notifications to the topic the partner platform's UI subscribes to, operator alerts
 * to the operators' topic. Message = JSON of the event (identifiers and codes only); message attributes carry the
 * type/code and customer id so subscribers can filter without parsing.
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { ENV, requireSetting } from '../shared/environment.ts';
import { TransientError } from '../shared/errors.ts';
import { assertCustomerId } from '../shared/identifiers.ts';
import { customerMessage, type NotificationMessage, operatorMessage } from './notification-message.ts';
import type { CustomerNotification, Notifier, OperatorAlert } from './notifier.ts';

export interface SnsNotifierOptions {
  readonly sns: SNSClient;
  readonly customerTopicArn: string;
  readonly operatorTopicArn: string;
  readonly now?: () => number;
}

export class SnsNotifier implements Notifier {
  private readonly now: () => number;

  constructor(private readonly options: SnsNotifierOptions) {
    this.now = options.now ?? Date.now;
  }

  async notifyCustomer(notification: CustomerNotification): Promise<void> {
    assertCustomerId(notification.customerId);
    await this.publish(this.options.customerTopicArn, customerMessage(notification, this.now()), {
      type: notification.type,
      customer_id: notification.customerId,
    });
  }

  async alertOperators(alert: OperatorAlert): Promise<void> {
    if (alert.customerId !== undefined) assertCustomerId(alert.customerId);
    await this.publish(this.options.operatorTopicArn, operatorMessage(alert, this.now()), {
      code: alert.code,
      severity: alert.severity,
      ...(alert.customerId === undefined ? {} : { customer_id: alert.customerId }),
    });
  }

  private async publish(
    topicArn: string,
    message: NotificationMessage,
    attributes: Record<string, string>,
  ): Promise<void> {
    try {
      await this.options.sns.send(
        new PublishCommand({
          TopicArn: topicArn,
          Message: JSON.stringify(message),
          MessageAttributes: Object.fromEntries(
            Object.entries(attributes).map(([key, value]) => [key, { DataType: 'String', StringValue: value }]),
          ),
        }),
      );
    } catch (error) {
      throw new TransientError('NOTIFICATION_PUBLISH_FAILED', 'the notification could not be published', {
        cause: error,
      });
    }
  }
}

/** From CUSTOMER_NOTIFICATIONS_TOPIC_ARN and OPERATOR_ALERTS_TOPIC_ARN, with timeouts and bounded retries. */
export function createSnsNotifierFromEnv(env: NodeJS.ProcessEnv = process.env): SnsNotifier {
  return new SnsNotifier({
    sns: new SNSClient({ maxAttempts: 3, requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000 } }),
    customerTopicArn: requireSetting(ENV.customerNotificationsTopicArn, env),
    operatorTopicArn: requireSetting(ENV.operatorAlertsTopicArn, env),
  });
}

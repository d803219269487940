/**
 * De-duplication of re-delivered webhooks by delivery id (TABLES.deliveries, kept 30 days). A delivery is recorded
 * only after it was processed, so a delivery that failed is retried rather than mistaken for a duplicate; two
 * copies processed at the same moment are stopped by the sync-state claim, not by this log.
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConditionFailed, send, sendConditional } from './dynamo-call.ts';

export const DELIVERY_RETENTION_DAYS = 30;

export interface DeliveryLog {
  wasProcessed(customerId: string, deliveryId: string): Promise<boolean>;
  /** Records the delivery; false when it was already recorded. */
  recordProcessed(customerId: string, deliveryId: string, now: Date): Promise<boolean>;
}

export function createDynamoDeliveryLog(client: DynamoDBDocumentClient, table: string): DeliveryLog {
  return {
    async wasProcessed(customerId, deliveryId) {
      const result = await send<{ Item?: unknown }>(
        client,
        new GetCommand({ TableName: table, Key: { customerId, deliveryId }, ConsistentRead: true }),
        'GetItem(delivery)',
      );
      return result.Item !== undefined;
    },
    async recordProcessed(customerId, deliveryId, now) {
      const result = await sendConditional(
        client,
        new PutCommand({
          TableName: table,
          Item: {
            customerId,
            deliveryId,
            processedAt: now.toISOString(),
            expiresAt: Math.floor(now.getTime() / 1000) + DELIVERY_RETENTION_DAYS * 86_400,
          },
          ConditionExpression: 'attribute_not_exists(deliveryId)',
        }),
        'PutItem(delivery)',
      );
      return !(result instanceof ConditionFailed);
    },
  };
}

/**
 * The DynamoDB document client every AWS entry builds its adapters on. Optional members of a record are left out
 * of the item (`removeUndefinedValues`) rather than rejected; each caller passes the timeouts and SDK retries that
 * fit its own latency budget. AWS_ENDPOINT_URL_DYNAMODB points the same client at dynalite on one machine.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export function createDocumentClient(config: DynamoDBClientConfig): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(config), { marshallOptions: { removeUndefinedValues: true } });
}

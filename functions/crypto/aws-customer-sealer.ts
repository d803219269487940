/**
 * The AWS payload sealer of customer data: version 2 under the customer's KMS data key (kms-customer-keys.ts), with
 * the version-1 KMS sealer kept for opening payloads written before per-customer keys.
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createCustomerKeySealer } from './customer-key-sealer.ts';
import type { CustomerKeyStore } from './customer-keys.ts';
import { createKmsCustomerKeys } from './kms-customer-keys.ts';
import { createKmsPayloadSealer } from './kms-payload-sealer.ts';
import type { PayloadSealer } from './payload-sealer.ts';

export interface AwsCustomerSealerOptions {
  readonly kms: KMSClient;
  /** The stack's data CMK: generates and decrypts the customer data keys. */
  readonly keyArn: string;
  readonly client: DynamoDBDocumentClient;
  /** TABLES.customerKeys. */
  readonly table: string;
}

export function createAwsCustomerSealer(
  options: AwsCustomerSealerOptions,
  keys: CustomerKeyStore = createKmsCustomerKeys(options),
): PayloadSealer {
  return createCustomerKeySealer({
    keys,
    legacy: createKmsPayloadSealer({ kms: options.kms, keyArn: options.keyArn }),
  });
}

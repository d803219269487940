/**
 * The one declaration of every DynamoDB table: its keys and its expiry attribute. CDK creates the tables from it,
 * the code reads and writes through it, and the tests (dynalite) create their tables from it.
 */

export type KeyType = 'S' | 'N';

export interface KeyAttribute {
  readonly name: string;
  readonly type: KeyType;
}

export interface TableSchema {
  /** Part of the physical name: `virtuous-{environment}-{suffix}`. */
  readonly suffix: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  /** Epoch-seconds attribute DynamoDB's TTL deletes on; absent where data is kept while the customer is active. */
  readonly timeToLiveAttribute?: string;
  /** Partitioned by customer id, so offboarding deletes the customer's items with one Query per table. */
  readonly holdsCustomerData: boolean;
  /** Why this table exists and how long its items live: shown in docs and the deletion record. */
  readonly retention: string;
  /**
   * Why the customer's items outlive offboarding (until their TTL) instead of being purged; shown in docs and in the
   * deletion record's `remains`. Only for items that hold identifiers and codes, never donor data.
   */
  readonly keptAfterOffboarding?: string;
  /**
   * False only where a backup copy would defeat the table's purpose: the customer data keys, whose destruction must
   * leave no restorable copy. Every other table has point-in-time recovery (35 days).
   */
  readonly pointInTimeRecovery?: false;
}

const customerId: KeyAttribute = { name: 'customerId', type: 'S' };

export const TABLES = {
  customers: {
    suffix: 'customers',
    partitionKey: customerId,
    holdsCustomerData: true,
    retention: 'while the customer is connected; the offboarded record keeps status and timestamps only',
  },
  syncRecords: {
    suffix: 'sync-records',
    partitionKey: customerId,
    sortKey: { name: 'recordKey', type: 'S' },
    holdsCustomerData: true,
    retention: 'indefinite while the customer is active',
  },
  deliveries: {
    suffix: 'deliveries',
    partitionKey: customerId,
    sortKey: { name: 'deliveryId', type: 'S' },
    timeToLiveAttribute: 'expiresAt',
    holdsCustomerData: true,
    retention: 'webhook delivery captures (de-duplication): 30 days',
  },
  deadLetters: {
    suffix: 'dead-letters',
    partitionKey: customerId,
    sortKey: { name: 'deadLetterId', type: 'S' },
    timeToLiveAttribute: 'expiresAt',
    holdsCustomerData: true,
    retention: '90 days after resolution',
  },
  reconciliationLog: {
    suffix: 'reconciliation-log',
    partitionKey: customerId,
    sortKey: { name: 'runId', type: 'S' },
    timeToLiveAttribute: 'expiresAt',
    holdsCustomerData: true,
    retention: '1 year',
  },
  heldMessages: {
    suffix: 'held-messages',
    partitionKey: customerId,
    sortKey: { name: 'heldId', type: 'S' },
    holdsCustomerData: true,
    retention:
      'while the customer is paused: released to the queue on resume, deleted with the customer (payload sealed)',
  },
  checkpoints: {
    suffix: 'checkpoints',
    partitionKey: customerId,
    sortKey: { name: 'checkpointName', type: 'S' },
    holdsCustomerData: true,
    retention: 'while the customer is active (bulk-load and reconciliation positions)',
  },
  rateBudgets: {
    suffix: 'rate-budgets',
    partitionKey: customerId,
    sortKey: { name: 'windowStart', type: 'N' },
    timeToLiveAttribute: 'expiresAt',
    holdsCustomerData: true,
    retention: 'two hours (one request-budget window and its successor)',
  },
  secretAudit: {
    suffix: 'secret-audit',
    partitionKey: customerId,
    sortKey: { name: 'auditKey', type: 'S' },
    timeToLiveAttribute: 'expiresAt',
    holdsCustomerData: true,
    retention: '1 year',
    keptAfterOffboarding:
      'secret-access investigations after a customer leaves; who accessed which secret, why and when (identifiers and codes only)',
  },
  incidentReports: {
    suffix: 'incident-reports',
    partitionKey: customerId,
    sortKey: { name: 'reportId', type: 'S' },
    timeToLiveAttribute: 'expiresAt',
    holdsCustomerData: true,
    retention: 'incident-response reports (counts, identifiers, principals; no personal data): 1 year',
  },
  deletionRecords: {
    suffix: 'deletion-records',
    partitionKey: customerId,
    sortKey: { name: 'deletedAt', type: 'S' },
    holdsCustomerData: false,
    retention: 'kept for the customer compliance file; holds counts and timestamps, no personal data',
  },
  customerKeys: {
    suffix: 'customer-keys',
    partitionKey: customerId,
    holdsCustomerData: true,
    pointInTimeRecovery: false,
    retention:
      "each customer's data key, stored only KMS-encrypted, while the customer is connected; destroyed at offboarding (a tombstone keeps key id and fingerprint); no point-in-time recovery, so no backup keeps a copy",
  },
} as const satisfies Record<string, TableSchema>;

export type TableKey = keyof typeof TABLES;

export const TABLE_KEYS = Object.keys(TABLES) as TableKey[];

export function tableName(environment: string, key: TableKey): string {
  return `virtuous-${environment}-${TABLES[key].suffix}`;
}

/** The environment variable through which a function learns a table's physical name, e.g. TABLE_SYNC_RECORDS. */
export function tableEnvVar(key: TableKey): string {
  return `TABLE_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/**
 * CreateTable input for a table (plain data, the shape of the DynamoDB API), used by the one-machine runtime and the
 * tests to create in dynalite exactly the tables CDK deploys. TTL cannot be enabled there (dynalite lacks
 * UpdateTimeToLive); tests check the expiry attribute values instead.
 */
export function createTableInput(environment: string, key: TableKey) {
  const schema: TableSchema = TABLES[key];
  const keys = schema.sortKey ? [schema.partitionKey, schema.sortKey] : [schema.partitionKey];
  return {
    TableName: tableName(environment, key),
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: keys.map((k) => ({ AttributeName: k.name, AttributeType: k.type })),
    KeySchema: keys.map((k, index) => ({
      AttributeName: k.name,
      KeyType: index === 0 ? ('HASH' as const) : ('RANGE' as const),
    })),
  };
}

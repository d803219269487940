/** One record per reconciliation run (TABLES.reconciliationLog, kept one year): counts and codes only. */
import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { send } from './dynamo-call.ts';

export const RECONCILIATION_LOG_RETENTION_DAYS = 365;

export interface ReconciliationCounts {
  /** Records found in Virtuous by the modified-since query that we had not seen confirmed (missed webhooks). */
  readonly missedWebhooksRecovered: number;
  /** Submitted records older than the batch window that a lookup found (confirmed). */
  readonly stuckConfirmed: number;
  /** Submitted records older than the batch window still unknown to Virtuous (needs update: reported). */
  readonly needsUpdate: number;
  /** In-doubt records (write outcome unknown) this run found in Virtuous: confirmed. Optional for older runs. */
  readonly inDoubtConfirmed?: number;
  /** In-doubt records still unknown to Virtuous after the batch window (counted in needsUpdate too): reported. */
  readonly outcomeUnknownNotFound?: number;
  readonly refundsApplied: number;
  readonly virtuousCalls: number;
}

export interface ReconciliationRun extends ReconciliationCounts {
  readonly customerId: string;
  readonly runId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  /** `stopped`: the customer left `active` mid-run (offboarding); such a run writes nothing, this record neither. */
  readonly outcome: 'completed' | 'failed' | 'stopped';
  readonly errorCode?: string;
  /** The modified-since position the run looked from. */
  readonly since: string;
  /** Record keys that need an admin's attention in Virtuous (identifiers only, at most a few dozen). */
  readonly needsUpdateKeys: readonly string[];
  /** The needsUpdateKeys whose reason is `outcome_unknown_not_found`: an operator decides whether to replay them. */
  readonly outcomeUnknownKeys?: readonly string[];
}

export type StoredReconciliationRun = ReconciliationRun & { readonly expiresAt: number };

export interface ReconciliationLog {
  put(run: ReconciliationRun): Promise<void>;
  list(customerId: string): Promise<StoredReconciliationRun[]>;
}

export function createDynamoReconciliationLog(client: DynamoDBDocumentClient, table: string): ReconciliationLog {
  return {
    async put(run) {
      const expiresAt = Math.floor(Date.parse(run.finishedAt) / 1000) + RECONCILIATION_LOG_RETENTION_DAYS * 86_400;
      await send(client, new PutCommand({ TableName: table, Item: { ...run, expiresAt } }), 'PutItem(reconciliation)');
    },
    async list(customerId) {
      const result = await send<{ Items?: StoredReconciliationRun[] }>(
        client,
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'customerId = :customer',
          ExpressionAttributeValues: { ':customer': customerId },
        }),
        'Query(reconciliation)',
      );
      return result.Items ?? [];
    },
  };
}

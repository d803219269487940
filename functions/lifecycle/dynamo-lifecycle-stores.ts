/**
 * The lifecycle's own DynamoDB reads and writes: incident reports, the initial-load request (a checkpoint the sync
 * engine's bulk loader picks up) and the recent-writes summary from sync state. Work unchanged against dynalite.
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand, paginateQuery } from '@aws-sdk/lib-dynamodb';
import { assertCustomerId } from '../shared/identifiers.ts';
import { dynamoCall, dynamoSignal } from './dynamo-call.ts';
import type {
  IncidentReport,
  IncidentReportStore,
  RecentWritesSource,
  RecentWritesSummary,
  SyncControl,
} from './ports.ts';

const REPORT_RETENTION_SECONDS = 366 * 24 * 60 * 60;
const SAMPLE_KEYS = 20;
const MAX_SCANNED_PAGES = 1_000;

export class DynamoIncidentReportStore implements IncidentReportStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async put(report: IncidentReport): Promise<void> {
    assertCustomerId(report.customerId);
    const expiresAt = Math.floor(Date.parse(report.compiledAt) / 1000) + REPORT_RETENTION_SECONDS;
    await dynamoCall('write incident report', () =>
      this.client.send(new PutCommand({ TableName: this.tableName, Item: { ...report, expiresAt } }), {
        abortSignal: dynamoSignal(),
      }),
    );
  }

  async get(customerId: string, reportId: string): Promise<IncidentReport | undefined> {
    const answer = await dynamoCall('read incident report', () =>
      this.client.send(
        new GetCommand({ TableName: this.tableName, Key: { customerId, reportId }, ConsistentRead: true }),
        { abortSignal: dynamoSignal() },
      ),
    );
    if (answer.Item === undefined) return undefined;
    const { expiresAt: _expiresAt, ...report } = answer.Item;
    return report as IncidentReport;
  }
}

/** The checkpoint the bulk loader looks for; written once (a retry finds it and leaves it). */
export const INITIAL_LOAD_CHECKPOINT = 'initial-load';

export class DynamoSyncControl implements SyncControl {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly checkpointsTable: string,
  ) {}

  async requestInitialLoad(customerId: string, requestedAt: string): Promise<void> {
    assertCustomerId(customerId);
    await dynamoCall('request initial load', async () => {
      try {
        await this.client.send(
          new PutCommand({
            TableName: this.checkpointsTable,
            Item: { customerId, checkpointName: INITIAL_LOAD_CHECKPOINT, status: 'requested', requestedAt },
            ConditionExpression: 'attribute_not_exists(customerId)',
          }),
          { abortSignal: dynamoSignal() },
        );
      } catch (error) {
        if (!(error instanceof Error && error.name === 'ConditionalCheckFailedException')) throw error;
      }
    });
  }
}

/** Writes = sync records submitted since the given time; summarised as counts per kind and a few record keys. */
export class DynamoRecentWritesSource implements RecentWritesSource {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly syncRecordsTable: string,
  ) {}

  async recentWrites(customerId: string, sinceIso: string): Promise<RecentWritesSummary> {
    assertCustomerId(customerId);
    return dynamoCall('read recent writes', async () => {
      const byKind: Record<string, number> = {};
      const sample: string[] = [];
      let total = 0;
      let earliest: string | undefined;
      let latest: string | undefined;
      const pages = paginateQuery(
        { client: this.client, pageSize: 500 },
        {
          TableName: this.syncRecordsTable,
          KeyConditionExpression: 'customerId = :c',
          FilterExpression: 'submittedAt >= :since',
          ProjectionExpression: 'recordKey, kind, submittedAt',
          ExpressionAttributeValues: { ':c': customerId, ':since': sinceIso },
        },
      );
      let scanned = 0;
      for await (const page of pages) {
        for (const item of page.Items ?? []) {
          const kind = typeof item.kind === 'string' ? item.kind : 'unknown';
          const at = String(item.submittedAt);
          byKind[kind] = (byKind[kind] ?? 0) + 1;
          total += 1;
          if (sample.length < SAMPLE_KEYS && typeof item.recordKey === 'string') sample.push(item.recordKey);
          if (earliest === undefined || at < earliest) earliest = at;
          if (latest === undefined || at > latest) latest = at;
        }
        if (++scanned >= MAX_SCANNED_PAGES) break;
      }
      const summary: RecentWritesSummary = { total, byKind, sampleRecordKeys: sample };
      return earliest === undefined ? summary : { ...summary, earliest, latest };
    });
  }
}

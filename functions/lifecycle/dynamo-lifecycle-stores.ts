/**
 * The lifecycle's own DynamoDB reads and writes: incident reports, the initial-load checkpoint (which guards the
 * loads onboarding starts, and which the bulk loader continues) and the recent-writes summary from sync state.
 * Work unchanged against dynalite.
 */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { assertCustomerId } from '../shared/identifiers.ts';
import { dynamoCall, dynamoSignal } from './dynamo-call.ts';
import type {
  IncidentReport,
  IncidentReportStore,
  IncidentReportSummary,
  InitialLoad,
  InitialLoadState,
  RecentWritesSource,
  RecentWritesSummary,
  SyncControl,
  TokenRotationOutcome,
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

  async list(customerId: string, limit: number): Promise<IncidentReportSummary[]> {
    assertCustomerId(customerId);
    const answer = await dynamoCall('list incident reports', () =>
      this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'customerId = :c',
          ExpressionAttributeValues: { ':c': customerId },
          ProjectionExpression: 'reportId, executionId, openedAt, compiledAt, tokenRotation, compromiseIndicators',
          // Report ids start with the opening time, so the sort key orders them.
          ScanIndexForward: false,
          Limit: limit,
        }),
        { abortSignal: dynamoSignal() },
      ),
    );
    return (answer.Items ?? []) as IncidentReportSummary[];
  }

  async recordRotation(
    customerId: string,
    reportId: string,
    update: { readonly tokenRotation: TokenRotationOutcome; readonly compromiseIndicators: readonly string[] },
  ): Promise<boolean> {
    assertCustomerId(customerId);
    return dynamoCall('record the rotation in the incident report', async () => {
      try {
        await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { customerId, reportId },
            UpdateExpression: 'SET tokenRotation = :r, compromiseIndicators = :i',
            ConditionExpression: 'attribute_exists(reportId)',
            ExpressionAttributeValues: { ':r': update.tokenRotation, ':i': update.compromiseIndicators },
          }),
          { abortSignal: dynamoSignal() },
        );
        return true;
      } catch (error) {
        if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return false;
        throw error;
      }
    });
  }
}

/**
 * The checkpoint the bulk loader looks for (its default load id), written once: a retry finds it and leaves it.
 * Onboarding adds the loads it started (`startedLoads`, a string set) and then moves `requested` to `started`;
 * the bulk loader later writes its own position and status into the same item.
 */
export const INITIAL_LOAD_CHECKPOINT = 'initial-load';
const INITIAL_LOADS: readonly InitialLoad[] = ['reconciliation', 'stripe-connect'];

export class DynamoSyncControl implements SyncControl {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly checkpointsTable: string,
  ) {}

  private key(customerId: string) {
    return { customerId: assertCustomerId(customerId), checkpointName: INITIAL_LOAD_CHECKPOINT };
  }

  async requestInitialLoad(customerId: string, requestedAt: string): Promise<InitialLoadState> {
    const key = this.key(customerId);
    await dynamoCall('request initial load', async () => {
      try {
        await this.client.send(
          new PutCommand({
            TableName: this.checkpointsTable,
            Item: { ...key, status: 'requested', requestedAt },
            ConditionExpression: 'attribute_not_exists(customerId)',
          }),
          { abortSignal: dynamoSignal() },
        );
      } catch (error) {
        if (!(error instanceof Error && error.name === 'ConditionalCheckFailedException')) throw error;
      }
    });
    const answer = await dynamoCall('read initial load', () =>
      this.client.send(new GetCommand({ TableName: this.checkpointsTable, Key: key, ConsistentRead: true }), {
        abortSignal: dynamoSignal(),
      }),
    );
    const stored = answer.Item?.startedLoads;
    const started = stored instanceof Set ? INITIAL_LOADS.filter((load) => stored.has(load)) : [];
    return { status: typeof answer.Item?.status === 'string' ? answer.Item.status : 'requested', started };
  }

  async recordInitialLoadStarted(customerId: string, load: InitialLoad, at: string): Promise<void> {
    const key = this.key(customerId);
    await dynamoCall('record initial load started', () =>
      this.client.send(
        new UpdateCommand({
          TableName: this.checkpointsTable,
          Key: key,
          UpdateExpression: 'ADD startedLoads :load SET lastStartedAt = :at',
          ExpressionAttributeValues: { ':load': new Set([load]), ':at': at },
        }),
        { abortSignal: dynamoSignal() },
      ),
    );
  }

  async completeInitialLoadRequest(customerId: string, at: string): Promise<void> {
    const key = this.key(customerId);
    await dynamoCall('complete initial load request', async () => {
      try {
        await this.client.send(
          new UpdateCommand({
            TableName: this.checkpointsTable,
            Key: key,
            UpdateExpression: 'SET #status = :started, startedAt = :at',
            ConditionExpression: '#status = :requested',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':started': 'started', ':requested': 'requested', ':at': at },
          }),
          { abortSignal: dynamoSignal() },
        );
      } catch (error) {
        // The bulk loader already wrote its own status (it runs as soon as it is invoked): that one stays.
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

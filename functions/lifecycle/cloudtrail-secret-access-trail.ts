/**
 * The secret-access trail on AWS: CloudTrail's management events, looked up by event name GetSecretValue (which
 * BatchGetSecretValue also produces, once per secret) over the incident window, kept when the call named one of the
 * customer's secrets. Denied calls are kept: they carry `errorCode` and usually no `resources`, so the secret is
 * taken from `requestParameters.secretId` as well.
 *
 * LookupEvents answers at most 50 events a page and 2 requests a second per account and region: pages are paced to
 * that rate, the SDK's adaptive retry backs off on throttling within a bounded number of attempts, and the lookup
 * stops at a page budget (the read says `truncated`) so a busy account cannot outrun the task's timeout. CloudTrail
 * keeps these events 90 days: an older window start is moved up, and the report states the window covered.
 */
import { CloudTrailClient, type Event, paginateLookupEvents } from '@aws-sdk/client-cloudtrail';
import { PermanentError, TransientError } from '../shared/errors.ts';
import { assertCustomerId } from '../shared/identifiers.ts';
import {
  isCustomerSecret,
  type SecretAccessEvent,
  type SecretAccessTrail,
  type SecretAccessTrailRead,
  secretNameOf,
} from './secret-access-trail.ts';

/** CloudTrail's own figure for delivering an API call's event: typically within 5 minutes, at most about 15. */
export const CLOUDTRAIL_DELIVERY_LAG_MINUTES = 15;
/** LookupEvents looks back this far; the window is moved up a minute inside it. */
const LOOKUP_RETENTION_MS = 90 * 24 * 3_600_000 - 60_000;
/** LookupEvents' limit per account and region. */
const REQUESTS_PER_SECOND = 2;
const PAGE_SIZE = 50;
/** 200 pages (10,000 events) take at least 100 s at 2 requests a second: inside the task's timeout. */
export const DEFAULT_MAX_PAGES = 200;

const REFUSALS = new Set([
  'AccessDeniedException',
  'InvalidLookupAttributesException',
  'InvalidTimeRangeException',
  'InvalidMaxResultsException',
  'InvalidEventCategoryException',
  'UnsupportedOperationException',
  'OperationNotPermittedException',
]);

export interface CloudTrailTrailOptions {
  readonly client?: CloudTrailClient;
  /** The deployment's environment name: the second segment of every secret name it owns. */
  readonly environment: string;
  readonly maxPages?: number;
  readonly now?: () => number;
  /** Waits between pages; tests pass one that does not wait. */
  readonly sleep?: (ms: number) => Promise<void>;
}

interface CloudTrailRecord {
  readonly errorCode?: string;
  readonly userIdentity?: {
    readonly type?: string;
    readonly arn?: string;
    readonly accountId?: string;
    readonly invokedBy?: string;
  };
  readonly requestParameters?: { readonly secretId?: unknown } | null;
  // Before February 2024 some events spelled the key `aRN`.
  readonly resources?: readonly { readonly ARN?: string; readonly aRN?: string }[];
}

export class CloudTrailSecretAccessTrail implements SecretAccessTrail {
  readonly source = 'cloudtrail' as const;
  readonly deliveryLagMinutes = CLOUDTRAIL_DELIVERY_LAG_MINUTES;
  private readonly client: CloudTrailClient;
  private readonly maxPages: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: CloudTrailTrailOptions) {
    this.client =
      options.client ??
      new CloudTrailClient({
        retryMode: 'adaptive',
        maxAttempts: 4,
        requestHandler: { connectionTimeout: 2_000, requestTimeout: 10_000 },
      });
    this.maxPages = options.maxPages ?? DEFAULT_MAX_PAGES;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async readAccesses(query: { customerId: string; from: string; to: string }): Promise<SecretAccessTrailRead> {
    const customerId = assertCustomerId(query.customerId);
    const from = Math.max(Date.parse(query.from), this.now() - LOOKUP_RETENTION_MS);
    const to = Date.parse(query.to);
    const events: SecretAccessEvent[] = [];
    let pages = 0;
    let truncated = false;
    const paginator = paginateLookupEvents(
      { client: this.client, pageSize: PAGE_SIZE },
      {
        LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'GetSecretValue' }],
        StartTime: new Date(from),
        EndTime: new Date(to),
      },
    );
    try {
      let requestedAt = this.now();
      for await (const page of paginator) {
        pages += 1;
        for (const event of page.Events ?? []) {
          const access = this.toAccess(event, customerId);
          if (access !== undefined) events.push(access);
        }
        if (page.NextToken === undefined) break;
        if (pages >= this.maxPages) {
          truncated = true;
          break;
        }
        const wait = requestedAt + 1_000 / REQUESTS_PER_SECOND - this.now();
        if (wait > 0) await this.sleep(wait);
        requestedAt = this.now();
      }
    } catch (error) {
      throw classify(error);
    }
    events.sort((a, b) => a.at.localeCompare(b.at));
    return { events, coveredFrom: new Date(from).toISOString(), coveredTo: new Date(to).toISOString(), truncated };
  }

  private toAccess(event: Event, customerId: string): SecretAccessEvent | undefined {
    let record: CloudTrailRecord;
    try {
      record = JSON.parse(event.CloudTrailEvent ?? '{}') as CloudTrailRecord;
    } catch {
      record = {};
    }
    const requested = record.requestParameters?.secretId;
    const candidates = [
      ...(event.Resources ?? []).map((resource) => resource.ResourceName),
      ...(record.resources ?? []).map((resource) => resource.ARN ?? resource.aRN),
      typeof requested === 'string' ? requested : undefined,
    ].filter((id): id is string => typeof id === 'string' && id !== '');
    const secretName = candidates
      .map(secretNameOf)
      .find((name) => isCustomerSecret(name, this.options.environment, customerId));
    if (secretName === undefined || event.EventTime === undefined) return undefined;
    return {
      at: event.EventTime.toISOString(),
      principal: principalOf(record.userIdentity),
      secretName,
      ...(typeof record.errorCode === 'string' ? { errorCode: record.errorCode } : {}),
    };
  }
}

function principalOf(identity: CloudTrailRecord['userIdentity']): string {
  if (typeof identity?.arn === 'string' && identity.arn !== '') return identity.arn;
  if (typeof identity?.invokedBy === 'string') return `service:${identity.invokedBy}`;
  return `${identity?.type ?? 'Unknown'}:${identity?.accountId ?? 'unknown'}`;
}

/** Throttling left after the SDK's retries and service faults are retried by the workflow; refusals are not. */
function classify(error: unknown): Error {
  if (error instanceof PermanentError || error instanceof TransientError) return error;
  const name = error instanceof Error ? error.name : 'UnknownError';
  if (REFUSALS.has(name)) {
    return new PermanentError('CLOUDTRAIL_LOOKUP_REFUSED', `CloudTrail refused the lookup (${name})`);
  }
  return new TransientError('CLOUDTRAIL_UNAVAILABLE', `CloudTrail lookup failed (${name})`);
}

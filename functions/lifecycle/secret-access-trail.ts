/**
 * What the secrets manager itself recorded about reads of a customer's secrets, and what incident response makes of
 * it. On AWS the record is CloudTrail (every GetSecretValue, denied ones included, whoever called: the integration's
 * own audit table only sees the calls its own code made). One machine has no CloudTrail: there the local store's own
 * access records stand in, and the report names which of the two it used.
 *
 * Events and findings are identifiers only: principal ARNs, secret names, times, error codes and counts.
 */
import { isExpectedAccessor } from './secret-accessors.ts';

export type SecretAccessTrailSource = 'cloudtrail' | 'local-secret-store';

/** One read of one of the customer's secrets, as the trail recorded it. */
export interface SecretAccessEvent {
  readonly at: string;
  /** The caller's ARN (an assumed-role session on AWS), or `service:<host>` / `<type>:<account>` without one. */
  readonly principal: string;
  /** The secret's name (`{owner}/{environment}/{customer}/{kind}`), never its ARN suffix or value. */
  readonly secretName: string;
  /** Absent when the call succeeded (`AccessDenied`, `ResourceNotFoundException`, …). */
  readonly errorCode?: string;
}

export interface SecretAccessTrailRead {
  readonly events: readonly SecretAccessEvent[];
  /** Start of the window actually covered (later than asked when the trail does not reach back that far). */
  readonly coveredFrom: string;
  readonly coveredTo: string;
  /** The read stopped at its page budget: events before `coveredFrom`… are complete, the rest were not read. */
  readonly truncated: boolean;
}

export interface SecretAccessTrail {
  readonly source: SecretAccessTrailSource;
  /** How long after a call the trail may still be without it (CloudTrail: up to about 15 minutes). */
  readonly deliveryLagMinutes: number;
  readAccesses(query: { customerId: string; from: string; to: string }): Promise<SecretAccessTrailRead>;
}

export type TrailFindingKind = 'foreign_accessor' | 'access_denied' | 'volume_anomaly';

/** Calls grouped by what is wrong with them, who made them and on which secret. */
export interface TrailFinding {
  readonly kind: TrailFindingKind;
  readonly principal: string;
  readonly secretName: string;
  readonly calls: number;
  readonly firstAt: string;
  readonly lastAt: string;
  readonly errorCode?: string;
}

export interface SecretsManagerTrailFindings {
  readonly source: SecretAccessTrailSource;
  /** `unavailable`: the trail could not be read; the report says so and the operators check it by hand. */
  readonly status: 'checked' | 'unavailable';
  readonly errorCode?: string;
  readonly coveredFrom?: string;
  readonly coveredTo?: string;
  readonly deliveryLagMinutes: number;
  /** Calls after this time may not have reached the trail yet when it was read. */
  readonly completeUntil?: string;
  readonly truncated?: boolean;
  readonly totalCalls: number;
  readonly deniedCalls: number;
  readonly foreignCalls: number;
  readonly foreignPrincipals: readonly string[];
  readonly peakHourlyCalls: number;
  readonly findings: readonly TrailFinding[];
  /** More findings than the report keeps (it keeps the largest groups). */
  readonly findingsTruncated: boolean;
}

const MAX_PRINCIPALS = 50;
const MAX_FINDINGS = 50;

export function isDenied(errorCode: string | undefined): boolean {
  return (
    errorCode !== undefined && /^(AccessDenied|UnauthorizedOperation|Client\.UnauthorizedOperation)/.test(errorCode)
  );
}

/**
 * Findings: every call by a principal that is not one of the integration's own customer-scoped sessions for this
 * customer (isExpectedAccessor, the same rule as the audit review), every denied call (whoever made it: a denied call
 * by our own role means a scoping fault or a session used outside our code), and every hour whose successful reads
 * exceed the threshold (reads outside the expected pattern, by anyone).
 */
export function analyseTrail(
  read: SecretAccessTrailRead,
  trail: Pick<SecretAccessTrail, 'source' | 'deliveryLagMinutes'>,
  expectation: {
    readonly customerId: string;
    readonly expectedAccessors: readonly string[];
    readonly hourlyThreshold: number;
  },
): SecretsManagerTrailFindings {
  const groups = new Map<string, { -readonly [K in keyof TrailFinding]: TrailFinding[K] }>();
  const add = (kind: TrailFindingKind, event: SecretAccessEvent) => {
    const key = `${kind}\u0000${event.principal}\u0000${event.secretName}\u0000${event.errorCode ?? ''}`;
    const group = groups.get(key);
    if (group === undefined) {
      groups.set(key, {
        kind,
        principal: event.principal,
        secretName: event.secretName,
        calls: 1,
        firstAt: event.at,
        lastAt: event.at,
        ...(event.errorCode === undefined ? {} : { errorCode: event.errorCode }),
      });
      return;
    }
    group.calls += 1;
    if (event.at < group.firstAt) group.firstAt = event.at;
    if (event.at > group.lastAt) group.lastAt = event.at;
  };
  let deniedCalls = 0;
  let foreignCalls = 0;
  const foreignPrincipals = new Set<string>();
  const perHour = new Map<string, SecretAccessEvent[]>();
  for (const event of read.events) {
    const foreign = !isExpectedAccessor(event.principal, expectation.customerId, expectation.expectedAccessors);
    if (foreign) {
      foreignCalls += 1;
      foreignPrincipals.add(event.principal);
      add('foreign_accessor', event);
    }
    if (isDenied(event.errorCode)) {
      deniedCalls += 1;
      add('access_denied', event);
    }
    if (event.errorCode === undefined) {
      const hour = event.at.slice(0, 13);
      const hourly = perHour.get(hour);
      if (hourly === undefined) perHour.set(hour, [event]);
      else hourly.push(event);
    }
  }
  let peakHourlyCalls = 0;
  for (const events of perHour.values()) {
    peakHourlyCalls = Math.max(peakHourlyCalls, events.length);
    if (events.length > expectation.hourlyThreshold) for (const event of events) add('volume_anomaly', event);
  }
  const findings = [...groups.values()].sort((a, b) => b.calls - a.calls || a.firstAt.localeCompare(b.firstAt));
  const completeUntil = new Date(Date.parse(read.coveredTo) - trail.deliveryLagMinutes * 60_000).toISOString();
  return {
    source: trail.source,
    status: 'checked',
    coveredFrom: read.coveredFrom,
    coveredTo: read.coveredTo,
    deliveryLagMinutes: trail.deliveryLagMinutes,
    completeUntil,
    truncated: read.truncated,
    totalCalls: read.events.length,
    deniedCalls,
    foreignCalls,
    foreignPrincipals: [...foreignPrincipals].sort().slice(0, MAX_PRINCIPALS),
    peakHourlyCalls,
    findings: findings.slice(0, MAX_FINDINGS),
    findingsTruncated: findings.length > MAX_FINDINGS,
  };
}

/** What the report says when the trail could not be read at all (after the workflow's retries). */
export function trailUnavailable(
  trail: Pick<SecretAccessTrail, 'source' | 'deliveryLagMinutes'>,
  errorCode: string,
): SecretsManagerTrailFindings {
  return {
    source: trail.source,
    status: 'unavailable',
    errorCode,
    deliveryLagMinutes: trail.deliveryLagMinutes,
    totalCalls: 0,
    deniedCalls: 0,
    foreignCalls: 0,
    foreignPrincipals: [],
    peakHourlyCalls: 0,
    findings: [],
    findingsTruncated: false,
  };
}

const SECRET_ARN = /^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:\d{12}:secret:(.+)-[A-Za-z0-9]{6}$/;

/**
 * The secret name in a secret id as a caller passed it or CloudTrail resolved it: a name, or a full ARN (whose
 * name carries Secrets Manager's six-character suffix). A partial ARN (no suffix) gives its name too.
 */
export function secretNameOf(secretId: string): string {
  const full = SECRET_ARN.exec(secretId);
  if (full?.[1] !== undefined) return full[1];
  const partial = /^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:\d{12}:secret:(.+)$/.exec(secretId);
  return partial?.[1] ?? secretId;
}

/** `{owner}/{environment}/{customer}/{leaf}`: one of this customer's secrets in this environment, any owner. */
export function isCustomerSecret(secretName: string, environment: string, customerId: string): boolean {
  const parts = secretName.split('/');
  return parts.length === 4 && parts[1] === environment && parts[2] === customerId;
}

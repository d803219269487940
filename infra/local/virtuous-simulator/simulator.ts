/**
 * The simulator's state and its request pipeline: authenticate the Bearer key, apply the organization's hourly
 * limit (headers on every answer, 429 + Retry-After past it), inject the configured faults, then answer from
 * api-routes.ts. The control methods here are what the HTTP control API and the in-process handle both call.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type ApiRequest, errorResponse, matchRoute, type SimResponse } from './api-routes.ts';
import type { SimulatorClock } from './clock.ts';
import { type DeliverySettings, type DeliverySummary, deliverEvents } from './deliveries.ts';
import type {
  DeliveryRecord,
  FaultKind,
  FaultSettings,
  NeedsUpdateEntry,
  OrganizationState,
  RateLimitHeaderStyle,
  RequestLogEntry,
  SimContact,
  SimGift,
} from './model.ts';
import { transactionKey } from './model.ts';
import { type BatchSummary, runNightlyBatch } from './nightly-batch.ts';
import { seededRandom } from './prng.ts';
import {
  organizationFromRecord,
  organizationToRecord,
  parseSimulatorSnapshot,
  SIMULATOR_SNAPSHOT_VERSION,
  type SimulatorSnapshot,
} from './snapshot.ts';

export const UNAUTHORIZED_TEXT = 'Authorization has been denied for this request.';
const HOUR_MS = 3_600_000;
/** The request log is for tests and inspection; a long-running local runtime must not grow it without end. */
const MAX_REQUEST_LOG = 100_000;

export interface CreateOrganizationInput {
  readonly name?: string;
  readonly timeZone?: string;
  readonly isEnabled?: boolean;
  /** Requests per hour for the whole organization (every key). Default 5,000, the newer documented limit. */
  readonly rateLimitPerHour?: number;
  readonly rateLimitHeaderStyle?: RateLimitHeaderStyle;
  readonly faults?: FaultSettings;
}

export interface OrganizationUpdate {
  readonly name?: string;
  readonly isEnabled?: boolean;
  readonly rateLimitPerHour?: number;
  readonly rateLimitHeaderStyle?: RateLimitHeaderStyle;
}

export interface WebhookSnapshot {
  readonly id: number;
  readonly payloadUrl: string;
  readonly active: boolean;
  /** SHA-256 of the secret (hex), so a test can check which secret is set without the state exposing it. */
  readonly secretSha256: string;
  readonly flags: Readonly<Record<string, boolean>>;
}

export interface OrganizationSnapshot {
  readonly organizationId: number;
  readonly organizationUserId: number;
  readonly name: string;
  readonly isEnabled: boolean;
  readonly rateLimitPerHour: number;
  /** Times each gift transaction was received, keyed `source/id` (transactionKey): >1 means a re-submission. */
  readonly giftTransactions: Readonly<Record<string, number>>;
  readonly contactTransactions: Readonly<Record<string, number>>;
  /** Reversals received per reversed gift id. */
  readonly reversalTransactions: Readonly<Record<string, number>>;
  readonly held: { readonly gifts: number; readonly contacts: number; readonly reversals: number };
  readonly gifts: readonly SimGift[];
  readonly contacts: readonly SimContact[];
  readonly needsUpdate: readonly NeedsUpdateEntry[];
  readonly duplicatesMerged: number;
  readonly webhooks: readonly WebhookSnapshot[];
  readonly deliveries: readonly DeliveryRecord[];
  readonly requests: readonly RequestLogEntry[];
  readonly faultsInjected: Readonly<Record<FaultKind, number>>;
}

export interface GiftLedgerEntry {
  /** `source/id` of the gift transaction (transactionKey). */
  readonly transaction: string;
  /** Times Virtuous received it: more than 1 is a re-submission. */
  readonly received: number;
  /** created by a nightly batch, held until the next one, waiting for a contact, or received but not created. */
  readonly state: 'created' | 'held' | 'needs_update' | 'not_created';
  readonly giftId?: number;
  readonly amount?: number;
  readonly currencyCode?: string;
}

export interface GiftLedger {
  readonly organizationId: number;
  readonly name: string;
  readonly transactions: readonly GiftLedgerEntry[];
  /** Contact transactions received (all submissions). */
  readonly contactTransactions: number;
  readonly reversals: number;
  readonly held: { readonly gifts: number; readonly contacts: number; readonly reversals: number };
  /** Webhook deliveries the organization sent after its nightly batches. */
  readonly deliveries: { readonly delivered: number; readonly failed: number; readonly skipped: number };
}

export interface NightlyBatchOptions {
  /** Only this organization; default every organization. */
  readonly organizationId?: number;
  /** false skips deliveries (a receiver outage, for reconciliation tests). Default true. */
  readonly deliverWebhooks?: boolean;
}

export interface NightlyBatchResult {
  readonly organizations: ReadonlyArray<BatchSummary & { readonly deliveries: DeliverySummary }>;
}

export interface SimulatorSettings {
  readonly clock: SimulatorClock;
  readonly delivery: DeliverySettings;
  readonly maxGiftBatch: number;
  readonly amountsAsStrings: boolean;
  /** How long a timeout fault holds the connection before dropping it. */
  readonly timeoutHoldMs: number;
  readonly sleep: (ms: number) => Promise<void>;
}

interface Counters {
  organization: number;
  contact: number;
  gift: number;
  webhook: number;
  delivery: number;
}

/** Revoked keys stay known (and refused), so a snapshot can carry them and a restore cannot revive one. */
interface KeyRecord {
  readonly organizationId: number;
  revoked: boolean;
}

function newApiKey(): string {
  return `vsim_${randomBytes(24).toString('base64url')}`;
}

function checkRatio(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isFinite(value) || value < 0 || value > 1)) {
    throw new RangeError(`${name} must be between 0 and 1`);
  }
}

function checkLimit(value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new RangeError('rateLimitPerHour must be a positive integer');
  }
}

export class VirtuousSimulatorState {
  private readonly organizations = new Map<number, OrganizationState>();
  private readonly keys = new Map<string, KeyRecord>();
  private counters: Counters = { organization: 0, contact: 0, gift: 0, webhook: 0, delivery: 0 };
  private changes = 0;
  /** Requests with a missing, unknown or revoked key (they belong to no organization). */
  unauthorizedRequests = 0;

  constructor(private readonly settings: SimulatorSettings) {}

  now(): number {
    return this.settings.clock.now();
  }

  advanceClock(ms: number): number {
    this.settings.clock.advance(ms);
    this.changes += 1;
    return this.now();
  }

  /**
   * Grows with every request and control call that may have changed the state, so a periodic saver can skip
   * writing a snapshot when nothing happened since the last one.
   */
  get revision(): number {
    return this.changes;
  }

  createOrganization(input: CreateOrganizationInput = {}): { organizationId: number; apiKey: string } {
    checkLimit(input.rateLimitPerHour);
    this.changes += 1;
    const id = ++this.counters.organization;
    const org: OrganizationState = {
      id,
      name: input.name ?? `Simulated Organization ${id}`,
      timeZone: input.timeZone ?? 'Central Standard Time',
      isEnabled: input.isEnabled ?? true,
      userId: 1_000 + id,
      rateLimitPerHour: input.rateLimitPerHour ?? 5_000,
      rateLimitHeaderStyle: input.rateLimitHeaderStyle ?? 'standard',
      rateWindowStart: 0,
      rateWindowCount: 0,
      faults: {},
      random: seededRandom(1),
      faultCounts: {
        serverError: 0,
        timeout: 0,
        timeoutAfterProcessing: 0,
        serverErrorAfterProcessing: 0,
        cdnError: 0,
        malformed: 0,
        throttle: 0,
      },
      contacts: new Map(),
      gifts: new Map(),
      heldContacts: [],
      heldGifts: [],
      heldReversals: [],
      giftSubmissions: new Map(),
      contactSubmissions: new Map(),
      reversalSubmissions: new Map(),
      needsUpdate: new Map(),
      webhooks: new Map(),
      deliveries: [],
      requests: [],
      duplicatesMerged: 0,
    };
    this.organizations.set(id, org);
    if (input.faults !== undefined) this.setFaults(id, input.faults);
    return { organizationId: id, apiKey: this.addApiKey(id) };
  }

  addApiKey(organizationId: number): string {
    this.organization(organizationId);
    const key = newApiKey();
    this.keys.set(key, { organizationId, revoked: false });
    this.changes += 1;
    return key;
  }

  /** Revokes a key: later calls with it answer 401. Returns whether the key existed and was not yet revoked. */
  revokeApiKey(apiKey: string): boolean {
    const record = this.keys.get(apiKey);
    if (record === undefined || record.revoked) return false;
    record.revoked = true;
    this.changes += 1;
    return true;
  }

  setFaults(organizationId: number, faults: FaultSettings): void {
    const org = this.organization(organizationId);
    checkRatio('serverErrorRatio', faults.serverErrorRatio);
    checkRatio('timeoutRatio', faults.timeoutRatio);
    checkRatio('timeoutAfterProcessingRatio', faults.timeoutAfterProcessingRatio);
    checkRatio('serverErrorAfterProcessingRatio', faults.serverErrorAfterProcessingRatio);
    checkRatio('cdnErrorRatio', faults.cdnErrorRatio);
    checkRatio('malformedRatio', faults.malformedRatio);
    checkRatio('throttleRatio', faults.throttleRatio);
    const total =
      (faults.serverErrorRatio ?? 0) +
      (faults.timeoutRatio ?? 0) +
      (faults.timeoutAfterProcessingRatio ?? 0) +
      (faults.serverErrorAfterProcessingRatio ?? 0) +
      (faults.cdnErrorRatio ?? 0) +
      (faults.malformedRatio ?? 0) +
      (faults.throttleRatio ?? 0);
    if (total > 1) throw new RangeError('fault ratios must sum to at most 1');
    this.changes += 1;
    org.faults = { ...faults };
    org.random = seededRandom(faults.seed ?? 1);
  }

  updateOrganization(organizationId: number, changes: OrganizationUpdate): void {
    const org = this.organization(organizationId);
    checkLimit(changes.rateLimitPerHour);
    this.changes += 1;
    if (changes.name !== undefined) org.name = changes.name;
    if (changes.isEnabled !== undefined) org.isEnabled = changes.isEnabled;
    if (changes.rateLimitPerHour !== undefined) org.rateLimitPerHour = changes.rateLimitPerHour;
    if (changes.rateLimitHeaderStyle !== undefined) org.rateLimitHeaderStyle = changes.rateLimitHeaderStyle;
  }

  async nightlyBatch(options: NightlyBatchOptions = {}): Promise<NightlyBatchResult> {
    const orgs =
      options.organizationId === undefined
        ? [...this.organizations.values()]
        : [this.organization(options.organizationId)];
    const ids = {
      nextContactId: () => ++this.counters.contact,
      nextGiftId: () => ++this.counters.gift,
    };
    const results = [];
    this.changes += 1;
    for (const org of orgs) {
      const { summary, events } = runNightlyBatch(org, ids, this.now());
      const deliveries =
        options.deliverWebhooks === false
          ? { delivered: 0, failed: 0, skipped: 0 }
          : await deliverEvents(
              org,
              events,
              this.settings.delivery,
              () => ++this.counters.delivery,
              this.settings.sleep,
            );
      results.push({ ...summary, deliveries });
      // Delivery records change while the deliveries run.
      this.changes += 1;
    }
    return { organizations: results };
  }

  inspect(organizationId: number): OrganizationSnapshot {
    const org = this.organization(organizationId);
    return {
      organizationId: org.id,
      organizationUserId: org.userId,
      name: org.name,
      isEnabled: org.isEnabled,
      rateLimitPerHour: org.rateLimitPerHour,
      giftTransactions: Object.fromEntries(org.giftSubmissions),
      contactTransactions: Object.fromEntries(org.contactSubmissions),
      reversalTransactions: Object.fromEntries([...org.reversalSubmissions].map(([id, n]) => [String(id), n])),
      held: { gifts: org.heldGifts.length, contacts: org.heldContacts.length, reversals: org.heldReversals.length },
      gifts: structuredClone([...org.gifts.values()]),
      contacts: structuredClone([...org.contacts.values()]),
      needsUpdate: [...org.needsUpdate.values()],
      duplicatesMerged: org.duplicatesMerged,
      webhooks: [...org.webhooks.values()].map(({ id, payloadUrl, active, secret, ...flags }) => ({
        id,
        payloadUrl,
        active,
        secretSha256: createHash('sha256').update(secret, 'utf8').digest('hex'),
        flags,
      })),
      deliveries: structuredClone(org.deliveries),
      requests: [...org.requests],
      faultsInjected: { ...org.faultCounts },
    };
  }

  /** Every organization, by id and name (no keys). */
  organizationList(): Array<{ organizationId: number; organizationUserId: number; name: string; isEnabled: boolean }> {
    return [...this.organizations.values()].map((org) => ({
      organizationId: org.id,
      organizationUserId: org.userId,
      name: org.name,
      isEnabled: org.isEnabled,
    }));
  }

  /** The organization whose `organizationUserId` (what `GET /api/Organization/Current` answers) is `userId`. */
  organizationForUser(userId: number): number | undefined {
    return [...this.organizations.values()].find((org) => org.userId === userId)?.id;
  }

  /**
   * What reached the organization as gifts, by transaction (source and id, times received, held or created, amount)
   * and the webhook deliveries it sent: identifiers, amounts and counts only, never a donor's name or address.
   */
  giftLedger(organizationId: number): GiftLedger {
    const org = this.organization(organizationId);
    const created = new Map<string, SimGift>();
    for (const gift of org.gifts.values()) {
      if (gift.transactionSource !== undefined && gift.transactionId !== undefined) {
        created.set(transactionKey(gift.transactionSource, gift.transactionId), gift);
      }
    }
    const held = new Map(
      org.heldGifts.map((gift) => [transactionKey(gift.transactionSource, gift.transactionId), gift]),
    );
    const needsUpdate = new Set(
      [...org.needsUpdate.values()].map((entry) => transactionKey(entry.transactionSource, entry.transactionId)),
    );
    const transactions = [...org.giftSubmissions].map(([key, received]): GiftLedgerEntry => {
      const gift = created.get(key);
      const waiting = held.get(key);
      const amount = gift?.amount ?? waiting?.amount;
      const currencyCode = gift?.currencyCode ?? waiting?.currencyCode;
      return {
        transaction: key,
        received,
        state:
          gift !== undefined
            ? 'created'
            : waiting !== undefined
              ? 'held'
              : needsUpdate.has(key)
                ? 'needs_update'
                : 'not_created',
        ...(gift === undefined ? {} : { giftId: gift.id }),
        ...(amount === undefined ? {} : { amount }),
        ...(currencyCode === undefined ? {} : { currencyCode }),
      };
    });
    const deliveries = { delivered: 0, failed: 0, skipped: 0 };
    for (const record of org.deliveries) {
      if (record.outcome === 'delivered') deliveries.delivered += 1;
      else if (record.outcome === 'failed') deliveries.failed += 1;
      else deliveries.skipped += 1;
    }
    return {
      organizationId: org.id,
      name: org.name,
      transactions,
      contactTransactions: [...org.contactSubmissions.values()].reduce((sum, n) => sum + n, 0),
      reversals: [...org.reversalSubmissions.values()].reduce((sum, n) => sum + n, 0),
      held: { gifts: org.heldGifts.length, contacts: org.heldContacts.length, reversals: org.heldReversals.length },
      deliveries,
    };
  }

  reset(): void {
    this.organizations.clear();
    this.keys.clear();
    this.counters = { organization: 0, contact: 0, gift: 0, webhook: 0, delivery: 0 };
    this.unauthorizedRequests = 0;
    this.changes += 1;
  }

  /** The whole state as versioned plain JSON (see snapshot.ts for what is and is not kept). Holds keys and secrets. */
  exportSnapshot(): SimulatorSnapshot {
    return {
      version: SIMULATOR_SNAPSHOT_VERSION,
      savedAt: new Date().toISOString(),
      clockNow: this.now(),
      counters: { ...this.counters },
      unauthorizedRequests: this.unauthorizedRequests,
      apiKeys: [...this.keys].map(([apiKey, record]) => ({
        apiKey,
        organizationId: record.organizationId,
        revoked: record.revoked,
      })),
      organizations: [...this.organizations.values()].map(organizationToRecord),
    };
  }

  /**
   * Replaces the whole state with a snapshot (validated first: on SimulatorSnapshotError nothing changes). The
   * clock moves forward to the saved time if it is behind, so timestamps keep increasing across a restore.
   */
  importSnapshot(value: unknown): void {
    const snapshot = parseSimulatorSnapshot(value);
    const organizations = snapshot.organizations.map(organizationFromRecord);
    this.organizations.clear();
    for (const org of organizations) this.organizations.set(org.id, org);
    this.keys.clear();
    for (const key of snapshot.apiKeys) {
      this.keys.set(key.apiKey, { organizationId: key.organizationId, revoked: key.revoked });
    }
    this.counters = { ...snapshot.counters };
    this.unauthorizedRequests = snapshot.unauthorizedRequests;
    const behind = snapshot.clockNow - this.now();
    if (behind > 0) this.settings.clock.advance(behind);
    this.changes += 1;
  }

  /** One API request, from the Authorization header to the answer (rate-limit headers included). */
  handleApi(authorization: string | undefined, request: ApiRequest): SimResponse {
    const key = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    this.changes += 1;
    const record = key === undefined ? undefined : this.keys.get(key);
    const org = record === undefined || record.revoked ? undefined : this.organizations.get(record.organizationId);
    if (org === undefined) {
      this.unauthorizedRequests += 1;
      return { status: 401, text: UNAUTHORIZED_TEXT, contentType: 'text/plain; charset=utf-8' };
    }
    const nowMs = this.now();
    const route = matchRoute(request.method, request.segments);
    const template = route?.template ?? `${request.method} (unknown)`;

    const windowStart = nowMs - (nowMs % HOUR_MS);
    if (org.rateWindowStart !== windowStart) {
      org.rateWindowStart = windowStart;
      org.rateWindowCount = 0;
    }
    const resetAt = Math.floor((windowStart + HOUR_MS) / 1000);
    if (org.rateWindowCount >= org.rateLimitPerHour) {
      const retryAfter = Math.max(1, resetAt - Math.floor(nowMs / 1000));
      this.logRequest(org, { at: nowMs, method: request.method, route: template, status: 429, counted: false });
      const limited = errorResponse(org, 429, 'RATE_LIMIT_EXCEEDED', 'API rate limit exceeded');
      return { ...limited, headers: { ...this.rateHeaders(org, 0, resetAt), 'Retry-After': String(retryAfter) } };
    }
    org.rateWindowCount += 1;
    const headers = this.rateHeaders(org, org.rateLimitPerHour - org.rateWindowCount, resetAt);
    const answer = this.answer(org, request, route, nowMs);
    this.logRequest(org, { at: nowMs, method: request.method, route: template, status: answer.status, counted: true });
    return { ...answer, headers: { ...headers, ...answer.headers } };
  }

  private answer(
    org: OrganizationState,
    request: ApiRequest,
    route: ReturnType<typeof matchRoute>,
    nowMs: number,
  ): SimResponse {
    const fault = this.drawFault(org);
    if (fault !== undefined) org.faultCounts[fault] += 1;
    switch (fault) {
      case 'timeout':
        return { status: 0, hang: true };
      case 'serverError': {
        const status = [500, 502, 503][Math.floor(org.random() * 3)] ?? 500;
        return errorResponse(org, status, 'SERVER_ERROR', 'An error has occurred.');
      }
      case 'cdnError':
        return {
          status: 520,
          text: '<!DOCTYPE html><html><head><title>520: Web server is returning an unknown error</title></head><body>Error code 520</body></html>',
          contentType: 'text/html; charset=UTF-8',
        };
      case 'throttle': {
        const limited = errorResponse(org, 429, 'RATE_LIMIT_EXCEEDED', 'API rate limit exceeded');
        return { ...limited, headers: { 'Retry-After': String(org.faults.throttleRetryAfterSeconds ?? 1) } };
      }
      default:
        break;
    }
    let answer: SimResponse;
    if (route === undefined) {
      answer = errorResponse(org, 404, 'NOT_FOUND', 'No HTTP resource was found that matches the request URI.');
    } else if (!org.isEnabled && route.template !== 'GET /api/Organization/Current') {
      answer = errorResponse(org, 403, 'ORGANIZATION_DISABLED', 'The organization is disabled.');
    } else {
      answer = route.handler(request, route.params, {
        org,
        nowMs,
        maxGiftBatch: this.settings.maxGiftBatch,
        amountsAsStrings: this.settings.amountsAsStrings,
        nextWebhookId: () => ++this.counters.webhook,
      });
    }
    if (fault === 'timeoutAfterProcessing') return { status: 0, hang: true };
    if (fault === 'serverErrorAfterProcessing') {
      return errorResponse(org, 502, 'BAD_GATEWAY', 'The upstream server did not answer in time.');
    }
    if (fault === 'malformed') {
      // Processed, but the answer is cut off mid-JSON (a proxy or a deploy dropping the connection).
      return { status: 200, text: '{"id":1,"list":[{"id":', contentType: 'application/json; charset=utf-8' };
    }
    return answer;
  }

  private logRequest(org: OrganizationState, entry: RequestLogEntry): void {
    if (org.requests.length >= MAX_REQUEST_LOG) org.requests.splice(0, MAX_REQUEST_LOG / 10);
    org.requests.push(entry);
  }

  private drawFault(org: OrganizationState): FaultKind | undefined {
    const f = org.faults;
    const ranges: Array<[FaultKind, number]> = [
      ['serverError', f.serverErrorRatio ?? 0],
      ['timeout', f.timeoutRatio ?? 0],
      ['timeoutAfterProcessing', f.timeoutAfterProcessingRatio ?? 0],
      ['serverErrorAfterProcessing', f.serverErrorAfterProcessingRatio ?? 0],
      ['cdnError', f.cdnErrorRatio ?? 0],
      ['throttle', f.throttleRatio ?? 0],
      ['malformed', f.malformedRatio ?? 0],
    ];
    if (ranges.every(([, ratio]) => ratio === 0)) return undefined;
    let draw = org.random();
    for (const [kind, ratio] of ranges) {
      if (draw < ratio) return kind;
      draw -= ratio;
    }
    return undefined;
  }

  private rateHeaders(org: OrganizationState, remaining: number, resetAt: number): Record<string, string> {
    if (org.rateLimitHeaderStyle === 'none') return {};
    const prefix = org.rateLimitHeaderStyle === 'variant' ? 'X-Rate-Limit' : 'X-RateLimit';
    return {
      [`${prefix}-Limit`]: String(org.rateLimitPerHour),
      [`${prefix}-Remaining`]: String(Math.max(0, remaining)),
      [`${prefix}-Reset`]: String(resetAt),
    };
  }

  private organization(id: number): OrganizationState {
    const org = this.organizations.get(id);
    if (org === undefined) throw new RangeError(`no simulated organization ${id}`);
    return org;
  }

  get timeoutHoldMs(): number {
    return this.settings.timeoutHoldMs;
  }
}

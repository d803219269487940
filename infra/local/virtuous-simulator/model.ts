/**
 * The simulator's records: organizations with their keys, limits, faults, held transactions, resolved gifts and
 * contacts, webhook subscriptions and what was delivered. Plain data; behaviour lives in the modules that use it.
 */
import type { WebhookEventFlag } from '../../../functions/virtuous/api.ts';
import type { Random } from './prng.ts';

export type RateLimitHeaderStyle = 'standard' | 'variant' | 'none';

export interface FaultSettings {
  /** Share of requests answered 500/502/503 before any processing. */
  readonly serverErrorRatio?: number;
  /** Share of requests never answered (the connection is held until the client gives up or the hold ends). */
  readonly timeoutRatio?: number;
  /** Share answered 520 with a CDN HTML page, before processing. */
  readonly cdnErrorRatio?: number;
  /**
   * Share processed (a transaction is stored) and then never answered: the client cannot tell it from an ordinary
   * timeout, so a retry is a re-submission. Off by default; it shows what an ambiguous write costs.
   */
  readonly timeoutAfterProcessingRatio?: number;
  /** Share processed (a transaction is stored) and then answered 502, as a proxy does when the origin's answer dies. */
  readonly serverErrorAfterProcessingRatio?: number;
  /** Share processed normally but answered 200 with a truncated JSON body. */
  readonly malformedRatio?: number;
  /** Share answered 429 with Retry-After, before processing. */
  readonly throttleRatio?: number;
  readonly throttleRetryAfterSeconds?: number;
  /** Errors as plain text instead of the JSON error envelope (the API is mid-migration). */
  readonly plainTextErrors?: boolean;
  readonly seed?: number;
}

export type FaultKind =
  | 'serverError'
  | 'timeout'
  | 'timeoutAfterProcessing'
  | 'serverErrorAfterProcessing'
  | 'cdnError'
  | 'malformed'
  | 'throttle';

export interface ContactReference {
  readonly source: string;
  readonly id: string;
}

export interface SimContact {
  readonly id: number;
  references: ContactReference[];
  contactType?: string;
  firstName?: string;
  lastName?: string;
  email?: string;
  phone?: string;
  address1?: string;
  city?: string;
  state?: string;
  postal?: string;
  country?: string;
  tags?: string[];
  readonly createdDateTimeUtc: string;
  modifiedDateTimeUtc: string;
}

export interface SimDesignation {
  readonly code: string;
  readonly amountDesignated: number;
}

export interface SimGift {
  readonly id: number;
  readonly transactionSource?: string;
  readonly transactionId?: string;
  readonly contactId: number;
  readonly amount: number;
  readonly giftDate: string;
  readonly giftType: string;
  readonly currencyCode?: string;
  readonly designations?: readonly SimDesignation[];
  readonly reversedGiftId?: number;
  readonly createdDateTimeUtc: string;
  modifiedDateTimeUtc: string;
}

export interface HeldContact {
  readonly referenceSource: string;
  readonly referenceId: string;
  readonly contactType?: string;
  readonly firstName?: string;
  readonly lastName?: string;
  readonly email?: string;
  readonly phone?: string;
  readonly address1?: string;
  readonly city?: string;
  readonly state?: string;
  readonly postal?: string;
  readonly country?: string;
  readonly tags?: string[];
}

export interface HeldGift {
  readonly transactionSource: string;
  readonly transactionId: string;
  readonly contact: {
    readonly referenceId?: string;
    readonly firstName?: string;
    readonly lastName?: string;
    readonly email?: string;
  };
  readonly amount: number;
  readonly giftDate: string;
  readonly giftType: string;
  readonly currencyCode?: string;
  readonly designations?: readonly SimDesignation[];
  readonly receivedAt: string;
}

export interface HeldReversal {
  readonly reversedGiftId: number;
  readonly giftDate: string;
}

export interface NeedsUpdateEntry {
  readonly transactionSource: string;
  readonly transactionId: string;
  readonly reason: 'contact_not_found';
  readonly receivedAt: string;
}

export type SimWebhook = {
  readonly id: number;
  payloadUrl: string;
  secret: string;
  active: boolean;
} & { [flag in WebhookEventFlag]: boolean };

export type DeliveryOutcome = 'delivered' | 'failed' | 'skipped_not_loopback';

export interface DeliveryRecord {
  readonly id: number;
  readonly subscriptionId: number;
  readonly event: string;
  readonly recordId: number;
  attempts: number;
  /** HTTP status of each attempt, or 0 for a network failure or timeout. */
  readonly statuses: number[];
  outcome: DeliveryOutcome;
}

export interface RequestLogEntry {
  /** Simulator clock, epoch ms. */
  readonly at: number;
  readonly method: string;
  /** Route template, e.g. `POST /api/v2/Gift/Transaction` (no identifiers). */
  readonly route: string;
  readonly status: number;
  /** Counted against the organization's hourly limit. */
  readonly counted: boolean;
}

export interface OrganizationState {
  readonly id: number;
  name: string;
  timeZone: string;
  isEnabled: boolean;
  readonly userId: number;
  rateLimitPerHour: number;
  rateLimitHeaderStyle: RateLimitHeaderStyle;
  rateWindowStart: number;
  rateWindowCount: number;
  faults: FaultSettings;
  random: Random;
  readonly faultCounts: Record<FaultKind, number>;
  readonly contacts: Map<number, SimContact>;
  readonly gifts: Map<number, SimGift>;
  heldContacts: HeldContact[];
  heldGifts: HeldGift[];
  heldReversals: HeldReversal[];
  /** Times each gift transaction (source/id) was received, batch or single, over the organization's life. */
  readonly giftSubmissions: Map<string, number>;
  readonly contactSubmissions: Map<string, number>;
  readonly reversalSubmissions: Map<number, number>;
  readonly needsUpdate: Map<string, NeedsUpdateEntry>;
  readonly webhooks: Map<number, SimWebhook>;
  readonly deliveries: DeliveryRecord[];
  readonly requests: RequestLogEntry[];
  /** Gift transactions the batch found already resolved (re-submissions), merged instead of creating a second gift. */
  duplicatesMerged: number;
}

export function transactionKey(source: string, id: string): string {
  return `${source}/${id}`;
}

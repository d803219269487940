/**
 * Sync state of one source record (a gift, a contact, a refund) for one customer: the ledger that keeps every record
 * submitted to Virtuous at most once.
 *
 *   pending ──claim──► submitting (lease) ──200──► submitted ──giftCreate / lookup──► confirmed
 *      ▲                  │  transient error: back to pending                 └─ still 404 after the batch window ──► needs_update
 *      └──────────────────┘  permanent error: failed (dead letter holds the payload; replay resets to pending)
 *                         │  outcome unknown (sent, answer lost): in_doubt ──giftCreate / lookup──► confirmed
 *                         │     (never claimed again)                      └─ still 404 after the batch window ──►
 *                         │     needs_update (reason outcome_unknown_not_found; its dead letter may be replayed once)
 *   refunds wait in `deferred` until their gift has a Virtuous id.
 *
 * No personal data: ids, state, timestamps, counts, and the gift amount + currency as bare numbers (kept so
 * reconciliation can compare with Virtuous); never a name, email, phone or address.
 */

export type SyncKind = 'gift' | 'contact' | 'refund';

export type SyncState =
  | 'pending'
  | 'submitting'
  | 'submitted'
  | 'confirmed'
  | 'needs_update'
  | 'failed'
  | 'deferred'
  /** Sent, but whether Virtuous stored it is unknown: only reconciliation or a webhook may move it on. */
  | 'in_doubt';

/** A write whose outcome was unknown and that Virtuous still did not have after the batch window. */
export const OUTCOME_UNKNOWN_NOT_FOUND = 'outcome_unknown_not_found';
export type NeedsUpdateReason = typeof OUTCOME_UNKNOWN_NOT_FOUND;

export interface SyncRecord {
  readonly customerId: string;
  /** `{kind}#{source}#{sourceId}`, e.g. `gift#Stripe#pi_123`, `contact#Stripe#cus_1`, `refund#Stripe#ch_9`. */
  readonly recordKey: string;
  readonly kind: SyncKind;
  /** Virtuous transactionSource / referenceSource, e.g. `Stripe`. */
  readonly source: string;
  readonly sourceId: string;
  readonly state: SyncState;
  /** Submission attempts that reached the claim. */
  readonly attempts: number;
  /**
   * Source version of the submitted content (a contact's update time); 0 for immutable records (gifts, refunds).
   * A newer version of a contact may be submitted again; the same or an older one never is.
   */
  readonly version: number;
  readonly virtuousId?: number;
  readonly amount?: number;
  readonly currencyCode?: string;
  /** Refunds: the gift record they reverse. */
  readonly reversesRecordKey?: string;
  /** Refunds: the day the refund happened (YYYY-MM-DD), for the reversing transaction. */
  readonly refundDate?: string;
  /** Gifts: refunds waiting for this gift's Virtuous id. */
  readonly deferredRefunds?: readonly string[];
  readonly leaseOwner?: string;
  /** ISO time the current claim lapses; after it another worker may take the record over. */
  readonly leaseUntil?: string;
  readonly lastErrorCode?: string;
  /** In-doubt records: the dead letter that keeps the sealed payload until reconciliation decides. */
  readonly deadLetterId?: string;
  /** needs_update records reached from in_doubt carry `outcome_unknown_not_found`. */
  readonly needsUpdateReason?: NeedsUpdateReason;
  /**
   * The webhook delivery (its delivery id, a content hash) whose submission marked this record submitted: a
   * re-delivery that finds it here is a duplicate without a read of the delivery log. Cleared by the next claim.
   */
  readonly submittedByDelivery?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly submittedAt?: string;
  readonly confirmedAt?: string;
}

export function recordKey(kind: SyncKind, source: string, sourceId: string): string {
  return `${kind}#${source}#${sourceId}`;
}

const KINDS: ReadonlySet<string> = new Set(['gift', 'contact', 'refund']);

/** The parts of a record key; undefined for a key of another shape. */
export function parseRecordKey(key: string): { kind: SyncKind; source: string; sourceId: string } | undefined {
  const [kind, source, ...rest] = key.split('#');
  const sourceId = rest.join('#');
  if (kind === undefined || !KINDS.has(kind) || !source || !sourceId) return undefined;
  return { kind: kind as SyncKind, source, sourceId };
}

/** States in which a record's current version is done: a re-delivery of it is acknowledged without a call. */
export const SETTLED_STATES: ReadonlySet<SyncState> = new Set([
  'submitted',
  'confirmed',
  'needs_update',
  'failed',
  'in_doubt',
]);

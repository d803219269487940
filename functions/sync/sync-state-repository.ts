/**
 * Storage of sync records. The claim is the exactly-once gate: a conditional write that only one worker can win,
 * and that no worker wins for a version already submitted.
 */
import type { NeedsUpdateReason, SyncKind, SyncRecord, SyncState } from './sync-record.ts';

export interface ClaimRequest {
  readonly customerId: string;
  readonly recordKey: string;
  readonly kind: SyncKind;
  readonly source: string;
  readonly sourceId: string;
  readonly version: number;
  readonly owner: string;
  readonly now: Date;
  readonly leaseMs: number;
  readonly amount?: number;
  readonly currencyCode?: string;
}

export type ClaimResult =
  | { readonly outcome: 'claimed'; readonly record: SyncRecord }
  /** This version (or a newer one) is already submitted, confirmed, needs update, or failed permanently. */
  | { readonly outcome: 'settled'; readonly record: SyncRecord }
  /** Another worker holds a live lease on the record. */
  | { readonly outcome: 'in_flight'; readonly record: SyncRecord };

export interface RefundFacts {
  readonly customerId: string;
  readonly recordKey: string;
  readonly source: string;
  readonly sourceId: string;
  readonly reversesRecordKey: string;
  readonly refundDate: string;
  readonly amount?: number;
  readonly currencyCode?: string;
  readonly now: Date;
}

export interface SyncStateRepository {
  get(customerId: string, recordKey: string): Promise<SyncRecord | undefined>;
  claim(request: ClaimRequest): Promise<ClaimResult>;
  /**
   * submitting → submitted, only while `owner` holds the claim. false when the claim was lost or already confirmed.
   * `deliveryId`: the webhook delivery that was submitted, kept as `submittedByDelivery` in the same write, so the
   * delivery needs no separate delivery-log record.
   */
  markSubmitted(customerId: string, recordKey: string, owner: string, now: Date, deliveryId?: string): Promise<boolean>;
  /** submitting → confirmed directly (a call whose effect is final, e.g. a reversing transaction on a known gift). */
  markApplied(customerId: string, recordKey: string, owner: string, now: Date): Promise<boolean>;
  /** Gives a claim back after a failed call: → pending (retry later) or → failed (permanent). */
  release(
    customerId: string,
    recordKey: string,
    owner: string,
    to: 'pending' | 'failed',
    errorCode: string,
    now: Date,
  ): Promise<void>;
  /**
   * submitting → in_doubt, only while `owner` holds the claim: the call was sent and its outcome is unknown. The
   * record is never claimed again; `deadLetterId` names the dead letter holding its sealed payload.
   */
  markInDoubt(
    customerId: string,
    recordKey: string,
    owner: string,
    errorCode: string,
    deadLetterId: string,
    now: Date,
  ): Promise<boolean>;
  /**
   * Virtuous has the record (webhook, lookup or query): → confirmed with its id, created if we had no record of it
   * (so its source event can never send it again). Returns the record after the change and whether this call changed
   * it; undefined only for a key that is not a sync record key.
   */
  confirm(
    customerId: string,
    recordKey: string,
    virtuousId: number,
    now: Date,
  ): Promise<
    { readonly record: SyncRecord; readonly changed: boolean; readonly previousState?: SyncState } | undefined
  >;
  /**
   * submitted → needs_update (still unresolved after the batch window); with a reason, in_doubt → needs_update.
   * false if it changed meanwhile.
   */
  markNeedsUpdate(customerId: string, recordKey: string, now: Date, reason?: NeedsUpdateReason): Promise<boolean>;
  /** Creates the refund record in `deferred` (no-op if it exists) and links it to its gift. */
  deferRefund(facts: RefundFacts): Promise<SyncRecord>;
  /**
   * failed → pending, or needs_update for `outcome_unknown_not_found` → pending (an operator decided to send it),
   * so a replayed dead letter may be submitted again. With `inDoubtChecked`, also an in_doubt refund → pending: the
   * operator looked in Virtuous and found no reversal (Virtuous cannot be asked for one by our reference).
   */
  resetForReplay(
    customerId: string,
    recordKey: string,
    now: Date,
    options?: { readonly inDoubtChecked?: boolean },
  ): Promise<void>;
  /** A customer's records in the given states (paginated internally). */
  listByState(customerId: string, states: readonly SyncState[]): Promise<SyncRecord[]>;
}

/**
 * The Virtuous CRM+ API as this product uses it (see ../shared/virtuous-api.md): request and response shapes and
 * the client contract. The HTTP implementation is `client.ts`; the simulator in infra/local speaks the same API.
 *
 * Every method throws the classified errors of functions/shared/errors.ts: TransientError (429, 5xx, network,
 * timeout), RecoverableError (401 after one token re-read), PermanentError (400, 403, 404 where final, 409, 422).
 */

export interface OrganizationInfo {
  readonly organizationName: string;
  readonly organizationUserId: number | string;
  readonly organizationTimeZone?: string;
  readonly isAdministrator?: boolean;
  readonly isEnabled: boolean;
}

export const WEBHOOK_EVENT_FLAGS = [
  'contactCreate',
  'contactUpdate',
  'giftCreate',
  'giftUpdate',
  'giftDelete',
  'projectCreate',
  'projectUpdate',
  'projectDelete',
  'formSubmission',
  'contactNoteCreate',
  'contactNoteUpdate',
  'contactNoteDelete',
  'eventCreate',
  'eventUpdate',
  'eventDelete',
] as const;

export type WebhookEventFlag = (typeof WEBHOOK_EVENT_FLAGS)[number];

export type WebhookSubscription = {
  readonly payloadUrl: string;
  readonly secret: string;
  readonly active: boolean;
} & { readonly [flag in WebhookEventFlag]?: boolean };

export type WebhookRecord = WebhookSubscription & { readonly id: number };

export interface ContactInput {
  readonly firstName?: string;
  readonly lastName?: string;
  readonly email?: string;
  readonly phone?: string;
  readonly address?: {
    readonly address1?: string;
    readonly city?: string;
    readonly state?: string;
    readonly postal?: string;
    readonly country?: string;
  };
}

export interface GiftTransaction {
  readonly transactionSource: string;
  readonly transactionId: string;
  readonly contact: ContactInput & { readonly referenceId: string };
  readonly giftDate: string;
  readonly giftType: string;
  /** Major currency units (cents / 100). */
  readonly amount: number;
  readonly currencyCode?: string;
  readonly recurringGiftTransactionId?: string;
  readonly designations?: ReadonlyArray<{ readonly code: string; readonly amountDesignated: number }>;
}

export interface ContactTransaction extends ContactInput {
  readonly referenceSource: string;
  readonly referenceId: string;
  readonly contactType?: string;
  readonly tags?: readonly string[];
}

export interface GiftRecord {
  readonly id: number;
  readonly transactionSource?: string;
  readonly transactionId?: string;
  readonly contactId?: number;
  readonly amount?: number;
  readonly giftDate?: string;
  readonly modifiedDateTimeUtc?: string;
}

export interface ContactRecord {
  readonly id: number;
  readonly referenceSource?: string;
  readonly referenceId?: string;
  readonly modifiedDateTimeUtc?: string;
}

export interface QueryPage<T> {
  readonly list: readonly T[];
  readonly total: number;
  readonly skip: number;
  readonly take: number;
}

export interface ReversingTransaction {
  readonly reversedGiftId: number;
  readonly giftDate: string;
  readonly notes?: string;
}

/** Rate-limit headers of the last answer, when it carried them. */
export interface RateLimitObservation {
  readonly limit?: number;
  readonly remaining?: number;
  /** Unix seconds. */
  readonly resetAt?: number;
}

export interface SubmitGiftsOptions {
  /**
   * Called after each accepted chunk (at most 100 gifts), before the next one is sent, so the caller can record
   * what is already in Virtuous: if a later chunk fails, those gifts must not be submitted again.
   */
  readonly onChunkSubmitted?: (submitted: readonly GiftTransaction[]) => Promise<void> | void;
}

/** A client bound to one customer: it reads that customer's token from the SecretStore on its own. */
export interface VirtuousApi {
  currentOrganization(): Promise<OrganizationInfo>;
  createWebhook(subscription: WebhookSubscription): Promise<WebhookRecord>;
  getWebhook(id: number): Promise<WebhookRecord>;
  replaceWebhook(id: number, subscription: WebhookSubscription): Promise<WebhookRecord>;
  setWebhookActive(id: number, active: boolean): Promise<void>;
  /** Idempotent: a 404 counts as already deleted. */
  deleteWebhook(id: number): Promise<void>;
  /**
   * Transaction writes (submitGift, submitGifts, submitContact) are not idempotent: when the outcome is ambiguous
   * (sent, then timeout / 5xx / reset) they reject with TransientError `WRITE_OUTCOME_UNKNOWN` and are not retried.
   */
  submitGift(gift: GiftTransaction): Promise<void>;
  /** Sends the batch endpoint in chunks of at most 100, in order; see SubmitGiftsOptions for partial progress. */
  submitGifts(
    transactionSource: string,
    gifts: readonly GiftTransaction[],
    options?: SubmitGiftsOptions,
  ): Promise<void>;
  submitContact(contact: ContactTransaction): Promise<void>;
  /** undefined while the nightly batch has not resolved the transaction (404). */
  findGiftByTransaction(transactionSource: string, transactionId: string): Promise<GiftRecord | undefined>;
  findContactByReference(referenceSource: string, referenceId: string): Promise<ContactRecord | undefined>;
  queryGiftsModifiedSince(sinceUtc: string, skip: number, take: number): Promise<QueryPage<GiftRecord>>;
  queryContactsModifiedSince(sinceUtc: string, skip: number, take: number): Promise<QueryPage<ContactRecord>>;
  reverseGift(reversal: ReversingTransaction): Promise<void>;
}

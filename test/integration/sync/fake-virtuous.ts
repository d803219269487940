/**
 * A small in-memory VirtuousApi for the processor's own tests: counts every transaction per source id, resolves them
 * in a "nightly batch", and can fail calls on demand. The Virtuous simulator (infra/local/virtuous-simulator) is the
 * full stand-in; this fake keeps the engine's tests independent of HTTP timing.
 */
import {
  PermanentError,
  RecoverableError,
  TransientError,
  WRITE_OUTCOME_UNKNOWN,
} from '../../../functions/shared/errors.ts';
import type {
  ContactRecord,
  ContactTransaction,
  GiftRecord,
  GiftTransaction,
  QueryPage,
  ReversingTransaction,
  VirtuousApi,
} from '../../../functions/virtuous/api.ts';

/** `stored_answer_lost`: the write is stored, then the client reports WRITE_OUTCOME_UNKNOWN (an answer lost). */
export type Fault = 'transient' | 'permanent' | 'unauthorized' | 'stored_answer_lost' | undefined;

export class FakeVirtuous {
  readonly giftTransactions: GiftTransaction[] = [];
  readonly contactTransactions: ContactTransaction[] = [];
  readonly reversals: ReversingTransaction[] = [];
  readonly batchCalls: number[] = [];
  readonly gifts = new Map<string, GiftRecord>();
  calls = 0;
  revoked = false;
  /** Decides a fault per call (operation name and, for gifts, transaction ids). */
  fault: (operation: string, ids: readonly string[]) => Fault = () => undefined;
  private nextId = 1000;

  transactionsFor(transactionId: string): number {
    return this.giftTransactions.filter((gift) => gift.transactionId === transactionId).length;
  }

  /** Resolves every held gift transaction into a gift record; returns the new records. */
  nightlyBatch(now = new Date()): GiftRecord[] {
    const created: GiftRecord[] = [];
    for (const transaction of this.giftTransactions) {
      const key = `${transaction.transactionSource}#${transaction.transactionId}`;
      if (this.gifts.has(key)) continue;
      const record: GiftRecord = {
        id: this.nextId++,
        transactionSource: transaction.transactionSource,
        transactionId: transaction.transactionId,
        amount: transaction.amount,
        modifiedDateTimeUtc: now.toISOString(),
      };
      this.gifts.set(key, record);
      created.push(record);
    }
    return created;
  }

  /** Runs `store` unless the call fails before it; a lost answer fails after it. */
  private write(operation: string, ids: readonly string[], store: () => void): void {
    const lost = this.fault(operation, ids) === 'stored_answer_lost';
    if (!lost) {
      this.gate(operation, ids);
      store();
      return;
    }
    this.calls += 1;
    store();
    throw new TransientError(WRITE_OUTCOME_UNKNOWN, `${operation}: outcome unknown (VIRTUOUS_TIMEOUT)`);
  }

  private gate(operation: string, ids: readonly string[]): void {
    this.calls += 1;
    if (this.revoked)
      throw new RecoverableError('VIRTUOUS_UNAUTHORIZED', `${operation}: Virtuous answered 401`, { statusCode: 401 });
    const fault = this.fault(operation, ids);
    if (fault === 'transient')
      throw new TransientError('VIRTUOUS_UNAVAILABLE', `${operation}: Virtuous answered 503`, { statusCode: 503 });
    if (fault === 'permanent')
      throw new PermanentError('VIRTUOUS_CLIENT_ERROR', `${operation}: Virtuous answered 400`, { statusCode: 400 });
    if (fault === 'unauthorized')
      throw new RecoverableError('VIRTUOUS_UNAUTHORIZED', `${operation}: 401`, { statusCode: 401 });
  }

  api(): VirtuousApi {
    const unsupported = () => {
      throw new PermanentError('UNSUPPORTED', 'not part of the fake');
    };
    return {
      currentOrganization: unsupported,
      createWebhook: unsupported,
      getWebhook: unsupported,
      replaceWebhook: unsupported,
      setWebhookActive: unsupported,
      deleteWebhook: unsupported,
      submitGift: async (gift) => {
        this.write('submitGift', [gift.transactionId], () => this.giftTransactions.push(gift));
      },
      submitGifts: async (_source, gifts) => {
        this.write(
          'submitGifts',
          gifts.map((gift) => gift.transactionId),
          () => {
            this.batchCalls.push(gifts.length);
            this.giftTransactions.push(...gifts);
          },
        );
      },
      submitContact: async (contact) => {
        this.write('submitContact', [contact.referenceId], () => this.contactTransactions.push(contact));
      },
      findGiftByTransaction: async (source, id) => {
        this.gate('findGiftByTransaction', [id]);
        return this.gifts.get(`${source}#${id}`);
      },
      findContactByReference: async (): Promise<ContactRecord | undefined> => undefined,
      queryGiftsModifiedSince: async (since, skip, take): Promise<QueryPage<GiftRecord>> => {
        this.gate('queryGiftsModifiedSince', []);
        const all = [...this.gifts.values()].filter((gift) => (gift.modifiedDateTimeUtc ?? '') >= since);
        return { list: all.slice(skip, skip + take), total: all.length, skip, take };
      },
      queryContactsModifiedSince: async (_since, skip, take) => ({ list: [], total: 0, skip, take }),
      reverseGift: async (reversal) => {
        this.gate('reverseGift', [String(reversal.reversedGiftId)]);
        this.reversals.push(reversal);
      },
    };
  }
}

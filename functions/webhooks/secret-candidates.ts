/**
 * Loads the secrets a customer's deliveries may be signed with, through the SecretStore, and keeps them briefly in
 * memory so the hot path does not call Secrets Manager per delivery.
 *
 * Rotation stays safe with the cache: a rotation stores the new secret as `pending` before the sender is told to use
 * it, and pending is accepted. If a delivery still fails against a cached set (the cache was filled before the
 * pending secret existed), the set is re-read once, at most every `refreshFloorMs` per customer, so a forger cannot
 * turn failed signatures into a stream of Secrets Manager reads.
 *
 * The previous secret's window end comes from the customer record on every call, never from the cache, so the old
 * secret is refused from the exact instant its window closes.
 */
import type { KeyObject } from 'node:crypto';
import type { AccessContext, SecretRef, SecretStage, SecretStore } from '../credentials/secret-store.ts';
import type { CustomerRecord } from '../customers/customer.ts';
import type { WebhookProvider } from '../queue/inbound-message.ts';
import { parseValidUntil, type SecretCandidate } from './secret-set.ts';
import { hmacKey } from './signature-match.ts';

export const WEBHOOK_VERIFY_REASON = 'webhook:verify';

export interface SecretCandidatesOptions {
  readonly clock?: () => Date;
  /** How long a loaded set is reused. */
  readonly ttlMs?: number;
  /** Minimum age of a cached set before a signature mismatch may re-read it. */
  readonly refreshFloorMs?: number;
  /** Customers kept in memory; the oldest entry is dropped beyond this. */
  readonly maxEntries?: number;
}

interface CachedSet {
  readonly loadedAt: number;
  readonly includesPrevious: boolean;
  readonly current?: KeyObject;
  readonly pending?: KeyObject;
  readonly previous?: KeyObject;
}

/** The secret a provider signs a customer's deliveries with. */
export function webhookSecretRef(provider: WebhookProvider, customerId: string): SecretRef {
  return provider === 'stripe'
    ? { customerId, kind: 'source_webhook_secret', source: 'stripe' }
    : { customerId, kind: 'webhook_secret' };
}

export class SecretCandidates {
  private readonly cache = new Map<string, CachedSet>();
  private readonly clock: () => Date;
  private readonly ttlMs: number;
  private readonly refreshFloorMs: number;
  private readonly maxEntries: number;

  constructor(
    private readonly store: SecretStore,
    options: SecretCandidatesOptions = {},
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.ttlMs = options.ttlMs ?? 60_000;
    this.refreshFloorMs = options.refreshFloorMs ?? 5_000;
    this.maxEntries = options.maxEntries ?? 1_000;
  }

  /** The candidates for a delivery, from the cache when fresh. */
  async forDelivery(
    provider: WebhookProvider,
    customer: CustomerRecord,
    requestId?: string,
  ): Promise<SecretCandidate[]> {
    return (
      this.fromCache(provider, customer) ??
      this.toCandidates(await this.load(provider, customer, this.previousWindowOpen(customer), requestId), customer)
    );
  }

  /** The candidates when the cache holds a fresh, sufficient set; synchronous, so the hot path need not await. */
  fromCache(provider: WebhookProvider, customer: CustomerRecord): SecretCandidate[] | undefined {
    const cached = this.cache.get(cacheKey(provider, customer.customerId));
    if (cached === undefined || this.clock().getTime() - cached.loadedAt >= this.ttlMs) return undefined;
    if (!cached.includesPrevious && this.previousWindowOpen(customer)) return undefined;
    return this.toCandidates(cached, customer);
  }

  /**
   * After a mismatch against a cached set: a re-read set when the cached one is old enough to be worth it,
   * else undefined (the mismatch stands).
   */
  async refreshedAfterMismatch(
    provider: WebhookProvider,
    customer: CustomerRecord,
    requestId?: string,
  ): Promise<SecretCandidate[] | undefined> {
    const cached = this.cache.get(cacheKey(provider, customer.customerId));
    if (cached !== undefined && this.clock().getTime() - cached.loadedAt < this.refreshFloorMs) return undefined;
    const set = await this.load(provider, customer, this.previousWindowOpen(customer), requestId);
    return this.toCandidates(set, customer);
  }

  /** Drops a customer's cached secrets (after a rotation step or offboarding in the same process). */
  forget(provider: WebhookProvider, customerId: string): void {
    this.cache.delete(cacheKey(provider, customerId));
  }

  private toCandidates(set: CachedSet, customer: CustomerRecord): SecretCandidate[] {
    const candidates: SecretCandidate[] = [];
    if (set.current !== undefined) candidates.push({ key: set.current, stage: 'current' });
    if (set.pending !== undefined) candidates.push({ key: set.pending, stage: 'pending' });
    const validUntil = parseValidUntil(customer.previousWebhookSecretValidUntil);
    if (set.previous !== undefined && validUntil !== undefined && this.clock().getTime() < validUntil.getTime()) {
      candidates.push({ key: set.previous, stage: 'previous', validUntil });
    }
    return candidates;
  }

  private previousWindowOpen(customer: CustomerRecord): boolean {
    const until = parseValidUntil(customer.previousWebhookSecretValidUntil);
    return until !== undefined && this.clock().getTime() < until.getTime();
  }

  private async load(
    provider: WebhookProvider,
    customer: CustomerRecord,
    includePrevious: boolean,
    requestId: string | undefined,
  ): Promise<CachedSet> {
    const ref = webhookSecretRef(provider, customer.customerId);
    const context: AccessContext =
      requestId === undefined ? { reason: WEBHOOK_VERIFY_REASON } : { reason: WEBHOOK_VERIFY_REASON, requestId };
    const read = async (stage: SecretStage): Promise<KeyObject | undefined> => {
      const version = await this.store.read(ref, stage, context);
      return version === undefined ? undefined : hmacKey(version.value);
    };
    const [current, pending, previous] = await Promise.all([
      read('current'),
      read('pending'),
      includePrevious ? read('previous') : Promise.resolve(undefined),
    ]);
    const set: CachedSet = {
      loadedAt: this.clock().getTime(),
      includesPrevious: includePrevious,
      current,
      pending,
      previous,
    };
    const key = cacheKey(provider, customer.customerId);
    this.cache.delete(key);
    this.cache.set(key, set);
    if (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    return set;
  }
}

/**
 * A Virtuous set is keyed by the bare customer id, which the hot path already holds: building a `provider/id` string
 * per delivery costs ten times the Map lookup itself. Customer ids never contain `/`, so `stripe/<id>` cannot collide.
 */
function cacheKey(provider: WebhookProvider, customerId: string): string {
  return provider === 'virtuous' ? customerId : `${provider}/${customerId}`;
}

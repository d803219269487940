/**
 * Access tokens for source platforms that use OAuth (Stripe Connect, Mailchimp, ...).
 *
 * - The refresh token lives in the SecretStore (`{source}/{env}/{customer}/refresh_token`); access tokens live only
 *   in this container's memory, keyed by source and customer, until their natural expiry minus a skew (60 s).
 * - Concurrent callers share one refresh (single flight).
 * - A refresh that returns a new refresh token stores it (putPending → promotePending → deletePrevious) before the
 *   access token is handed to anyone; if it cannot be stored the access token is not used at all.
 * - A refused grant (CredentialRevokedError) pauses the customer (status `paused`, reason
 *   `credential_revoked:<source>`), alerts the customer and the operators exactly once, and blocks further refresh
 *   attempts for that customer and source until `resume` (after re-authorization). Other containers see the paused
 *   customer record and do not refresh either.
 */
import type { CustomerRepository } from '../customers/customer.ts';
import type { Notifier } from '../notifications/notifier.ts';
import { CredentialRevokedError, errorCode, PermanentError, TransientError } from '../shared/errors.ts';
import { assertCustomerId, assertSourceName } from '../shared/identifiers.ts';
import { logger } from '../shared/observability.ts';
import type { OAuthRefresher, RefreshedTokens } from './oauth-refresher.ts';
import type { SecretRef, SecretStore } from './secret-store.ts';

export const ACCESS_TOKEN_SKEW_MS = 60_000;
const PERSIST_ATTEMPTS = 3;

export interface SourceTokenManagerOptions {
  readonly store: SecretStore;
  readonly refresher: OAuthRefresher;
  readonly customers: CustomerRepository;
  readonly notifier: Notifier;
  readonly now?: () => number;
  readonly skewMs?: number;
  /** Backoff between attempts to persist a rotated refresh token (ms; injectable for tests). */
  readonly persistBackoffMs?: number;
}

interface CachedToken {
  readonly token: string;
  readonly usableUntil: number;
}

export function revokedReason(source: string): string {
  return `credential_revoked:${source}`;
}

export class SourceTokenManager {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inFlight = new Map<string, Promise<string>>();
  private readonly blocked = new Set<string>();
  private readonly now: () => number;
  private readonly skewMs: number;

  constructor(private readonly options: SourceTokenManagerOptions) {
    this.now = options.now ?? Date.now;
    this.skewMs = options.skewMs ?? ACCESS_TOKEN_SKEW_MS;
  }

  /** A usable access token for the customer at the source; refreshes (once, shared) when none is cached. */
  async accessToken(customerId: string, source: string, requestId?: string): Promise<string> {
    const key = this.key(customerId, source);
    if (this.blocked.has(key)) throw revokedError(source);
    const cached = this.tokens.get(key);
    if (cached !== undefined && cached.usableUntil > this.now()) return cached.token;
    const running = this.inFlight.get(key);
    if (running !== undefined) return running;
    const refresh = this.refresh(customerId, source, key, requestId).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, refresh);
    return refresh;
  }

  /** Forgets the cached access token (the source answered 401 to it); the next call refreshes. */
  invalidate(customerId: string, source: string): void {
    this.tokens.delete(this.key(customerId, source));
  }

  /**
   * Lifts this container's block after the customer re-authorized (a new refresh token was stored and the
   * customer record was set active again by the resume workflow).
   */
  resume(customerId: string, source: string): void {
    const key = this.key(customerId, source);
    this.blocked.delete(key);
    this.tokens.delete(key);
  }

  private async refresh(customerId: string, source: string, key: string, requestId?: string): Promise<string> {
    const customer = await this.options.customers.get(customerId);
    if (customer?.status === 'paused' && customer.statusReason === revokedReason(source)) {
      // Another container already handled the revocation: no refresh, no second alert.
      this.blocked.add(key);
      throw revokedError(source);
    }
    const ref: SecretRef = { customerId, kind: 'refresh_token', source };
    const context = { reason: 'oauth:refresh', ...(requestId === undefined ? {} : { requestId }) };
    const stored = await this.options.store.read(ref, 'current', context);
    if (stored === undefined) {
      throw new PermanentError('REFRESH_TOKEN_MISSING', `customer has no ${source} refresh token stored`);
    }

    let fresh: RefreshedTokens;
    try {
      fresh = await this.options.refresher.refresh(source, stored.value);
    } catch (error) {
      if (error instanceof CredentialRevokedError) {
        this.blocked.add(key);
        this.tokens.delete(key);
        await this.pauseAndAlert(customerId, source);
        throw revokedError(source, error);
      }
      throw error;
    }

    if (fresh.refreshToken !== undefined && fresh.refreshToken !== stored.value) {
      await this.persistRotated(ref, fresh.refreshToken, requestId);
    }
    const lifetimeMs = fresh.expiresInSeconds * 1000;
    if (lifetimeMs > this.skewMs) {
      this.tokens.set(key, { token: fresh.accessToken, usableUntil: this.now() + lifetimeMs - this.skewMs });
    }
    return fresh.accessToken;
  }

  private async persistRotated(ref: SecretRef, refreshToken: string, requestId?: string): Promise<void> {
    const context = { reason: 'oauth:rotate-refresh-token', ...(requestId === undefined ? {} : { requestId }) };
    const backoff = this.options.persistBackoffMs ?? 200;
    let lastError: unknown;
    for (let attempt = 0; attempt < PERSIST_ATTEMPTS; attempt++) {
      try {
        await this.options.store.putPending(ref, refreshToken, context);
        await this.options.store.promotePending(ref, context);
        await this.options.store.deletePrevious(ref, context);
        return;
      } catch (error) {
        lastError = error;
        if (!(error instanceof TransientError)) break;
        await new Promise((resolve) => setTimeout(resolve, backoff * 2 ** attempt));
      }
    }
    logger.error('rotated refresh token could not be stored; access token withheld', {
      customerId: ref.customerId,
      source: 'source' in ref ? ref.source : undefined,
      errorCode: errorCode(lastError),
    });
    throw new TransientError('REFRESH_TOKEN_NOT_PERSISTED', 'the rotated refresh token could not be stored', {
      cause: lastError,
    });
  }

  private async pauseAndAlert(customerId: string, source: string): Promise<void> {
    const reason = revokedReason(source);
    const customer = await this.options.customers.get(customerId);
    if (customer === undefined) return;
    if (customer.status === 'paused' && customer.statusReason === reason) return;
    try {
      await this.options.customers.update(
        customerId,
        { status: 'paused', statusReason: reason, updatedAt: new Date(this.now()).toISOString() },
        { expectedStatus: customer.status },
      );
    } catch (error) {
      // Lost the race to another container that paused the customer: it sends the alert.
      if (error instanceof TransientError) return;
      throw error;
    }
    logger.warn('customer paused: source credential revoked', { customerId, source, code: 'CREDENTIAL_REVOKED' });
    await this.options.notifier.notifyCustomer({ customerId, type: 'sync_paused', details: { reason } });
    await this.options.notifier.alertOperators({
      customerId,
      code: 'CREDENTIAL_REVOKED',
      severity: 'warning',
      details: { source, reason },
    });
  }

  private key(customerId: string, source: string): string {
    return `${assertSourceName(source)}:${assertCustomerId(customerId)}`;
  }
}

function revokedError(source: string, cause?: unknown): CredentialRevokedError {
  return new CredentialRevokedError(
    source,
    `the ${source} grant was revoked; the customer must re-authorize`,
    cause === undefined ? {} : { cause },
  );
}

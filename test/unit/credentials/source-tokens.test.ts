import { describe, expect, it } from 'vitest';
import { EncryptedFileStore } from '../../../functions/credentials/encrypted-file-store.ts';
import { MemoryAuditLog } from '../../../functions/credentials/memory-audit-log.ts';
import type { OAuthRefresher, RefreshedTokens } from '../../../functions/credentials/oauth-refresher.ts';
import type { SecretRef, SecretStore } from '../../../functions/credentials/secret-store.ts';
import { SourceTokenManager } from '../../../functions/credentials/source-tokens.ts';
import type { CustomerStatus } from '../../../functions/customers/customer.ts';
import { LocalNotifier } from '../../../functions/notifications/local-notifier.ts';
import { CredentialRevokedError, TransientError } from '../../../functions/shared/errors.ts';
import { registerSecret } from '../../support/canaries.ts';
import { InMemoryCustomers } from '../../support/in-memory-customers.ts';

const CUSTOMER = 'acme';
const SOURCE = 'stripe';
const refreshRef: SecretRef = { customerId: CUSTOMER, kind: 'refresh_token', source: SOURCE };

/** A scripted token endpoint: counts calls, records which refresh token it was given. */
class FakeRefresher implements OAuthRefresher {
  calls: string[] = [];
  next: () => Promise<RefreshedTokens> = async () => ({ accessToken: this.newAccess(), expiresInSeconds: 3600 });
  private issued = 0;
  newAccess(): string {
    this.issued++;
    return registerSecret(`access-token-${this.issued}-${Math.random().toString(36).slice(2, 10)}`);
  }
  async refresh(_source: string, refreshToken: string): Promise<RefreshedTokens> {
    this.calls.push(refreshToken);
    await new Promise((resolve) => setTimeout(resolve, 5));
    return this.next();
  }
}

async function setup(options: { status?: CustomerStatus; store?: (inner: SecretStore) => SecretStore } = {}) {
  let t = Date.parse('2026-11-29T03:00:00Z');
  const clock = { now: () => t, advance: (ms: number) => (t += ms) };
  const inner = EncryptedFileStore.inMemory({ environment: 'test', audit: new MemoryAuditLog() });
  const store = options.store ? options.store(inner) : inner;
  const initial = registerSecret(`refresh-initial-${Math.random().toString(36).slice(2, 10)}`);
  await inner.putPending(refreshRef, initial, { reason: 'test:seed' });
  await inner.promotePending(refreshRef, { reason: 'test:seed' });
  const customers = new InMemoryCustomers();
  await customers.create({
    customerId: CUSTOMER,
    status: options.status ?? 'active',
    sensitivity: 'standard',
    tokenRotationDays: 180,
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
  });
  const notifier = new LocalNotifier();
  const refresher = new FakeRefresher();
  const manager = new SourceTokenManager({
    store,
    refresher,
    customers,
    notifier,
    now: clock.now,
    persistBackoffMs: 1,
  });
  return { manager, refresher, customers, notifier, store: inner, clock, initial };
}

describe('SourceTokenManager', () => {
  it('keeps an access token until its expiry minus 60 s, then refreshes', async () => {
    const { manager, refresher, clock } = await setup();
    const first = await manager.accessToken(CUSTOMER, SOURCE);
    clock.advance((3600 - 61) * 1000);
    expect(await manager.accessToken(CUSTOMER, SOURCE)).toBe(first);
    expect(refresher.calls).toHaveLength(1);
    clock.advance(2000); // now within the 60 s skew
    const second = await manager.accessToken(CUSTOMER, SOURCE);
    expect(second).not.toBe(first);
    expect(refresher.calls).toHaveLength(2);
  });

  it('does not cache a token that lives no longer than the skew', async () => {
    const { manager, refresher } = await setup();
    refresher.next = async () => ({ accessToken: refresher.newAccess(), expiresInSeconds: 60 });
    await manager.accessToken(CUSTOMER, SOURCE);
    await manager.accessToken(CUSTOMER, SOURCE);
    expect(refresher.calls).toHaveLength(2);
  });

  it('lets 100 concurrent callers share exactly one refresh', async () => {
    const { manager, refresher } = await setup();
    const tokens = await Promise.all(Array.from({ length: 100 }, () => manager.accessToken(CUSTOMER, SOURCE)));
    expect(refresher.calls).toHaveLength(1);
    expect(new Set(tokens).size).toBe(1);
  });

  it('stores a rotated refresh token (promoted, previous deleted) before the access token is handed out', async () => {
    const events: string[] = [];
    const { manager, refresher, store, initial } = await setup({
      store: (inner) => ({
        read: (...a) => inner.read(...a),
        putPending: async (...a) => {
          events.push('put_pending');
          return inner.putPending(...a);
        },
        promotePending: async (...a) => {
          await new Promise((resolve) => setTimeout(resolve, 20)); // a slow promote must still finish first
          events.push('promote');
          return inner.promotePending(...a);
        },
        discardPending: (...a) => inner.discardPending(...a),
        deletePrevious: async (...a) => {
          events.push('delete_previous');
          return inner.deletePrevious(...a);
        },
        deleteCustomer: (...a) => inner.deleteCustomer(...a),
      }),
    });
    const rotated = registerSecret('refresh-rotated-8e7d6c5b');
    refresher.next = async () => ({
      accessToken: refresher.newAccess(),
      expiresInSeconds: 3600,
      refreshToken: rotated,
    });
    await manager.accessToken(CUSTOMER, SOURCE).then(() => events.push('handed_out'));
    expect(events).toEqual(['put_pending', 'promote', 'delete_previous', 'handed_out']);
    expect((await store.read(refreshRef, 'current', { reason: 'test:check' }))?.value).toBe(rotated);
    expect(await store.read(refreshRef, 'previous', { reason: 'test:check' })).toBeUndefined();
    manager.invalidate(CUSTOMER, SOURCE);
    refresher.next = async () => ({ accessToken: refresher.newAccess(), expiresInSeconds: 3600 });
    await manager.accessToken(CUSTOMER, SOURCE);
    expect(refresher.calls).toEqual([initial, rotated]);
  });

  it('withholds the access token when the rotated refresh token cannot be stored (bounded retries)', async () => {
    let puts = 0;
    const { manager, refresher } = await setup({
      store: (inner) => ({
        ...bind(inner),
        putPending: async () => {
          puts++;
          throw new TransientError('SECRETS_MANAGER_UNAVAILABLE', 'down');
        },
      }),
    });
    const access = refresher.newAccess();
    refresher.next = async () => ({
      accessToken: access,
      expiresInSeconds: 3600,
      refreshToken: registerSecret('rot-lost-1234'),
    });
    const error = await manager.accessToken(CUSTOMER, SOURCE).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'TransientError', code: 'REFRESH_TOKEN_NOT_PERSISTED' });
    expect(String(error)).not.toContain(access);
    expect(puts).toBe(3);
    refresher.next = async () => ({ accessToken: refresher.newAccess(), expiresInSeconds: 3600 });
    await manager.accessToken(CUSTOMER, SOURCE);
    expect(refresher.calls).toHaveLength(2); // nothing was cached from the withheld answer
  });

  it('on revocation pauses the customer with the source named, alerts exactly once, and stops refreshing', async () => {
    const { manager, refresher, customers, notifier } = await setup();
    refresher.next = async () => {
      throw new CredentialRevokedError(SOURCE, 'invalid_grant');
    };
    const results = await Promise.allSettled(Array.from({ length: 100 }, () => manager.accessToken(CUSTOMER, SOURCE)));
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof CredentialRevokedError)).toBe(true);
    for (let i = 0; i < 5; i++) {
      await expect(manager.accessToken(CUSTOMER, SOURCE)).rejects.toMatchObject({
        name: 'CredentialRevokedError',
        source: SOURCE,
      });
    }
    expect(refresher.calls).toHaveLength(1);
    expect(await customers.get(CUSTOMER)).toMatchObject({
      status: 'paused',
      statusReason: 'credential_revoked:stripe',
    });
    expect(notifier.customerNotifications).toEqual(
      [{ customerId: CUSTOMER, type: 'sync_paused', details: { reason: 'credential_revoked:stripe' } }].map((n) =>
        expect.objectContaining(n),
      ),
    );
    expect(notifier.operatorAlerts).toHaveLength(1);
    expect(notifier.operatorAlerts[0]).toMatchObject({ code: 'CREDENTIAL_REVOKED', customerId: CUSTOMER });

    // Re-authorized: a new refresh token is stored, the resume workflow sets the customer active, resume() lifts the block.
    await customers.update(CUSTOMER, { status: 'active', statusReason: undefined });
    manager.resume(CUSTOMER, SOURCE);
    refresher.next = async () => ({ accessToken: refresher.newAccess(), expiresInSeconds: 3600 });
    await expect(manager.accessToken(CUSTOMER, SOURCE)).resolves.toMatch(/^access-token-/);
    expect(refresher.calls).toHaveLength(2);
  });

  it('does not refresh or alert when another container already paused the customer for this source', async () => {
    const { manager, refresher, customers, notifier } = await setup();
    await customers.update(CUSTOMER, { status: 'paused', statusReason: 'credential_revoked:stripe' });
    const updatesBefore = customers.updates;
    await expect(manager.accessToken(CUSTOMER, SOURCE)).rejects.toBeInstanceOf(CredentialRevokedError);
    await expect(manager.accessToken(CUSTOMER, SOURCE)).rejects.toBeInstanceOf(CredentialRevokedError);
    expect(refresher.calls).toHaveLength(0);
    expect(customers.updates).toBe(updatesBefore);
    expect(notifier.messages).toHaveLength(0);
  });

  it('sends no second alert when another container wins the race to pause', async () => {
    const { manager, refresher, customers, notifier } = await setup();
    refresher.next = async () => {
      // Another container paused the customer while our refresh was in flight.
      await customers.update(CUSTOMER, { status: 'paused', statusReason: 'credential_revoked:stripe' });
      throw new CredentialRevokedError(SOURCE, 'invalid_grant');
    };
    await expect(manager.accessToken(CUSTOMER, SOURCE)).rejects.toBeInstanceOf(CredentialRevokedError);
    expect(notifier.messages).toHaveLength(0);
  });

  it('refreshes again after invalidate() (the source answered 401 to the access token)', async () => {
    const { manager, refresher } = await setup();
    const first = await manager.accessToken(CUSTOMER, SOURCE);
    manager.invalidate(CUSTOMER, SOURCE);
    expect(await manager.accessToken(CUSTOMER, SOURCE)).not.toBe(first);
    expect(refresher.calls).toHaveLength(2);
  });

  it('refuses malformed customer ids and sources before touching anything', async () => {
    const { manager, refresher } = await setup();
    await expect(manager.accessToken('../acme', SOURCE)).rejects.toMatchObject({ name: 'ForbiddenInputError' });
    await expect(manager.accessToken(CUSTOMER, 'stripe/x')).rejects.toMatchObject({ name: 'ForbiddenInputError' });
    expect(refresher.calls).toHaveLength(0);
  });
});

function bind(store: SecretStore): SecretStore {
  return {
    read: store.read.bind(store),
    putPending: store.putPending.bind(store),
    promotePending: store.promotePending.bind(store),
    discardPending: store.discardPending.bind(store),
    deletePrevious: store.deletePrevious.bind(store),
    deleteCustomer: store.deleteCustomer.bind(store),
  };
}

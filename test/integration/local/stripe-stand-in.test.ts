/**
 * The local runtime's Stripe stand-in over HTTP, driven by the product's own Stripe Connect code as the runtime wires
 * it (stripe-connect.ts): the platform's OAuth client from the local encrypted store, the shared refresher
 * configuration, the SourceTokenManager and the Stripe history source. Rotation, paging, expiry, a wrong client and a
 * revoked grant behave as the deployed code expects of Stripe.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EncryptedFileStore, MemoryDocumentStorage } from '../../../functions/credentials/encrypted-file-store.ts';
import { MemoryKeyring } from '../../../functions/credentials/keyring.ts';
import { MemoryAuditLog } from '../../../functions/credentials/memory-audit-log.ts';
import { HttpOAuthRefresher } from '../../../functions/credentials/oauth-refresher.ts';
import { SourceTokenManager } from '../../../functions/credentials/source-tokens.ts';
import { stripeConnectOAuthConfig } from '../../../functions/credentials/stripe-connect-oauth.ts';
import { LocalNotifier } from '../../../functions/notifications/local-notifier.ts';
import { CredentialRevokedError, ForbiddenInputError, PermanentError } from '../../../functions/shared/errors.ts';
import { commandFromStripeEvent } from '../../../functions/sync/inbound-events.ts';
import { stripeHistorySource } from '../../../functions/sync/stripe-history-source.ts';
import { localStripeConnectRefresher, provisionLocalStripeClient } from '../../../infra/local/stripe-connect.ts';
import { type StripeSimulator, startStripeSimulator } from '../../../infra/local/stripe-simulator/server.ts';
import { findLeaks, registerSecret } from '../../support/canaries.ts';
import { customerRecord, InMemoryCustomers } from '../../support/in-memory-customers.ts';

const REFRESH = (customerId: string) => ({ customerId, kind: 'refresh_token', source: 'stripe' }) as const;
const CONTEXT = { reason: 'test:connect' };

describe('the Stripe stand-in behind the local Stripe Connect wiring', () => {
  let now = Date.parse('2026-03-01T00:00:00Z');
  let stripe: StripeSimulator;
  const storage = new MemoryDocumentStorage();
  const store = new EncryptedFileStore({
    environment: 'local',
    audit: new MemoryAuditLog(),
    keyring: new MemoryKeyring(),
    storage,
  });

  beforeAll(async () => {
    stripe = await startStripeSimulator({ now: () => now, historySize: { customers: 5 } });
    const client = await provisionLocalStripeClient(store);
    registerSecret(client.clientSecret);
    stripe.control.registerPlatformClient(client);
  });

  afterAll(async () => {
    await stripe?.close();
  });

  const endpoints = () => ({ apiBaseUrl: stripe.baseUrl, oauthTokenUrl: stripe.oauthTokenUrl });

  /** A customer whose refresh token (minted by the stand-in) is stored, and the token manager and source for it. */
  async function connected(customerId: string) {
    const { accountId, refreshToken } = stripe.control.connectAccount();
    registerSecret(refreshToken);
    await store.putPending(REFRESH(customerId), refreshToken, CONTEXT);
    const customers = new InMemoryCustomers([customerRecord(customerId, 'active', '2026-03-01T00:00:00Z')]);
    const notifier = new LocalNotifier();
    const tokens = new SourceTokenManager({
      store,
      refresher: localStripeConnectRefresher(store, endpoints()),
      customers,
      notifier,
      now: () => now,
    });
    const source = stripeHistorySource({
      customerId,
      tokens,
      apiBaseUrl: stripe.baseUrl,
      allowLoopbackHttp: true,
      pageSize: 2,
      backoffMs: 1,
    });
    const readAll = async () => {
      const events: unknown[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await source.page(cursor);
        events.push(...page.events);
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== undefined && pages < 50);
      return { events, pages };
    };
    const stored = async () => (await store.read(REFRESH(customerId), 'current', CONTEXT))?.value;
    return { accountId, refreshToken, customers, notifier, tokens, readAll, stored };
  }

  it('keeps the platform OAuth client sealed in the local store, made once and out of reach of customer deletion', async () => {
    const first = await provisionLocalStripeClient(store);
    expect(await provisionLocalStripeClient(store)).toEqual(first);
    expect(first.clientId).toMatch(/^ca_local_/);
    expect(storage.raw()).toContain('stripe/local/_platform/oauth_client');
    expect(storage.raw()).not.toContain(first.clientSecret);
    // No customer id can name it (none starts with `_`), so no offboarding deletes it.
    await expect(store.deleteCustomer('_platform', CONTEXT)).rejects.toThrow(ForbiddenInputError);
    expect(JSON.parse((await store.readPlatformSecret('stripe', 'oauth_client')) ?? '{}').client_secret).toBe(
      first.clientSecret,
    );
  });

  it('pages every customer and succeeded PaymentIntent of the account, rotating the stored refresh token first', async () => {
    const { accountId, refreshToken, readAll, stored } = await connected('paging-co');
    const history = stripe.control.history(accountId);
    const { events, pages } = await readAll();

    const ids = events.map((event) => (event as { data: { object: { id: string } } }).data.object.id);
    expect(ids.filter((id) => id.startsWith('cus_')).sort()).toEqual(history?.customers.map((c) => c.id).sort());
    const succeeded = history?.paymentIntents.filter((intent) => intent.status === 'succeeded').map((i) => i.id);
    expect(ids.filter((id) => id.startsWith('pi_')).sort()).toEqual(succeeded?.sort());
    // 5 customers and 7 PaymentIntents in pages of 2: 3 + 4 pages.
    expect(pages).toBe(7);
    // Every event maps as the webhook path maps it.
    for (const event of events) expect(() => commandFromStripeEvent(event)).not.toThrow();

    const rotated = await stored();
    expect(rotated?.startsWith('rt_sim_')).toBe(true);
    expect(rotated === refreshToken).toBe(false);
    registerSecret(rotated ?? '');
    // The minted token was spent by the refresh: presented again, Stripe says invalid_grant.
    await expect(localStripeConnectRefresher(store, endpoints()).refresh('stripe', refreshToken)).rejects.toThrow(
      CredentialRevokedError,
    );
    // The same account's history is the same every time: seeded by its number.
    expect(stripe.control.history(accountId)).toEqual(history);
  });

  it('refreshes once more when an access token expired (401), within one load', async () => {
    const { readAll, stored } = await connected('expiry-co');
    await readAll();
    const afterFirstLoad = await stored();
    registerSecret(afterFirstLoad ?? '');
    // Past the stand-in's access-token lifetime (15 min) but not the hour the client assumes (Stripe's answer has no
    // expires_in): the cached token is refused with 401, dropped, and refreshed once.
    now += 20 * 60_000;
    const { events } = await readAll();
    expect(events.length).toBeGreaterThan(0);
    const afterSecondLoad = await stored();
    registerSecret(afterSecondLoad ?? '');
    expect(afterSecondLoad === afterFirstLoad).toBe(false);
  });

  it('a grant the account revoked stops the load: the customer is paused and the operators alerted once', async () => {
    const { accountId, customers, notifier, readAll } = await connected('revoked-co');
    expect(stripe.control.deauthorize(accountId)).toBe(true);
    await expect(readAll()).rejects.toThrow(CredentialRevokedError);
    await expect(readAll()).rejects.toThrow(CredentialRevokedError);
    const record = await customers.get('revoked-co');
    expect(record?.status).toBe('paused');
    expect(record?.statusReason).toBe('credential_revoked:stripe');
    expect(notifier.operatorAlerts.map((alert) => alert.code)).toEqual(['CREDENTIAL_REVOKED']);
    expect(stripe.control.accountList().find((a) => a.accountId === accountId)?.deauthorized).toBe(true);
  });

  it('refuses another platform’s client secret as invalid_client: an operator problem, not a revoked grant', async () => {
    const { refreshToken } = stripe.control.connectAccount();
    registerSecret(refreshToken);
    const wrongClient = new HttpOAuthRefresher({
      stripe: stripeConnectOAuthConfig({
        tokenUrl: stripe.oauthTokenUrl,
        clientCredentials: async () => ({ clientId: 'ca_other', clientSecret: 'sk_test_other_platform_0000' }),
        allowLoopbackHttp: true,
      }),
    });
    const refused = await wrongClient.refresh('stripe', refreshToken).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(PermanentError);
    expect((refused as PermanentError).code).toBe('OAUTH_CLIENT_REJECTED');
    // The grant was not spent by the refused call.
    const refreshed = await localStripeConnectRefresher(store, endpoints()).refresh('stripe', refreshToken);
    registerSecret(refreshed.accessToken);
    registerSecret(refreshed.refreshToken ?? '');
    expect(refreshed.refreshToken?.startsWith('rt_sim_')).toBe(true);
  });

  it('answers lists only with a live access token, and bounds limit and starting_after as Stripe does', async () => {
    const list = (path: string, token?: string) =>
      fetch(`${stripe.baseUrl}${path}`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
    expect((await list('/v1/customers')).status).toBe(401);
    expect((await list('/v1/customers', 'sk_test_not_issued')).status).toBe(401);
    const { refreshToken } = stripe.control.connectAccount();
    const { accessToken } = await localStripeConnectRefresher(store, endpoints()).refresh('stripe', refreshToken);
    registerSecret(accessToken);
    expect((await list('/v1/customers?limit=0', accessToken)).status).toBe(400);
    expect((await list('/v1/customers?limit=101', accessToken)).status).toBe(400);
    expect((await list('/v1/customers?starting_after=cus_nobody', accessToken)).status).toBe(400);
    expect((await list('/v1/charges', accessToken)).status).toBe(404);
    const page = (await (await list('/v1/payment_intents?limit=3', accessToken)).json()) as {
      data: { created: number }[];
      has_more: boolean;
    };
    expect(page.data).toHaveLength(3);
    expect(page.has_more).toBe(true);
    expect(page.data.map((intent) => intent.created)).toEqual(
      [...page.data.map((intent) => intent.created)].sort((a, b) => b - a),
    );
  });

  it('kept every token out of the store file', () => {
    expect(findLeaks(storage.raw())).toEqual([]);
  });
});

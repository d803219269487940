/**
 * The Stripe stand-in's state: the partner platform's OAuth client, connected accounts with their seeded history,
 * and the grants between them, answering as Stripe Connect does.
 *
 * - Token endpoint (`POST /oauth/token`, form-encoded): `grant_type=refresh_token` with the platform's secret key as
 *   `client_secret` (form field, or HTTP Basic / Bearer as Stripe also takes). Every refresh issues a new access
 *   token and rotates the refresh token: the one presented is spent, so a refresh token used twice is refused with
 *   `invalid_grant` (400), like one that never existed or whose account was deauthorized. A wrong or missing client
 *   secret is `invalid_client` (401). The answer, like Stripe's, has no `expires_in`; access tokens still expire here
 *   after `accessTokenTtlMs` (a request with an expired one is answered 401, as a revoked key is).
 * - Lists (`GET /v1/customers`, `GET /v1/payment_intents`) with a Bearer access token: newest first, `limit` 1-100
 *   (default 10), `starting_after` an object id of the list, `has_more`.
 *
 * Tokens are kept as SHA-256 digests only; a token is in the clear once, in the answer that issues it.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type AccountHistory, type HistorySize, seededHistory } from './history.ts';

export interface StripeAnswer {
  readonly status: number;
  readonly json: unknown;
}

export interface PlatformClient {
  readonly clientId: string;
  readonly clientSecret: string;
}

export interface ConnectedAccountView {
  readonly accountId: string;
  readonly deauthorized: boolean;
  readonly customers: number;
  readonly paymentIntents: number;
  readonly succeeded: number;
}

export interface StripeSimulatorStateOptions {
  readonly now?: () => number;
  /**
   * Default 15 minutes: shorter than the hour the product's Stripe Connect client assumes (Stripe's answer does not
   * say), so a long-running runtime also exercises the client's 401 → refresh-once path.
   */
  readonly accessTokenTtlMs?: number;
  readonly historySize?: HistorySize;
}

interface Account {
  readonly accountId: string;
  readonly history: AccountHistory;
  deauthorized: boolean;
}

const LIST_RESOURCES = { customers: 'customers', payment_intents: 'paymentIntents' } as const;
const OBJECT_ID = /^[A-Za-z0-9_]{1,255}$/;

const digest = (value: string) => createHash('sha256').update(value).digest('hex');
const token = (prefix: string) => `${prefix}${randomBytes(24).toString('base64url').replace(/[-_]/g, 'x')}`;

const oauthError = (status: number, error: string, description: string): StripeAnswer => ({
  status,
  json: { error, error_description: description },
});
const apiError = (status: number, message: string, extra: Record<string, string> = {}): StripeAnswer => ({
  status,
  json: { error: { type: 'invalid_request_error', message, ...extra } },
});

export class StripeSimulatorState {
  private platform: { readonly clientId: string; readonly secretDigest: Buffer } | undefined;
  private readonly accounts = new Map<string, Account>();
  /** Live refresh tokens (digest → account). */
  private readonly refreshTokens = new Map<string, string>();
  /** Live access tokens (digest → account and expiry). */
  private readonly accessTokens = new Map<string, { readonly accountId: string; readonly expiresAt: number }>();
  private readonly now: () => number;
  private readonly accessTokenTtlMs: number;
  private readonly historySize: HistorySize;

  constructor(options: StripeSimulatorStateOptions = {}) {
    this.now = options.now ?? Date.now;
    this.accessTokenTtlMs = options.accessTokenTtlMs ?? 15 * 60_000;
    this.historySize = options.historySize ?? { customers: 3 };
  }

  /** The one OAuth client (the partner platform) this Stripe accepts at its token endpoint. */
  registerPlatformClient(client: PlatformClient): void {
    if (client.clientId === '' || client.clientSecret === '') throw new RangeError('client id and secret are required');
    this.platform = { clientId: client.clientId, secretDigest: Buffer.from(digest(client.clientSecret), 'hex') };
  }

  /** A new connected account that authorized the platform: its id and the grant's first refresh token. */
  connectAccount(): { accountId: string; refreshToken: string } {
    const number = this.accounts.size + 1;
    const accountId = `acct_sim${String(number).padStart(10, '0')}`;
    this.accounts.set(accountId, { accountId, history: seededHistory(number, this.historySize), deauthorized: false });
    const refreshToken = token('rt_sim_');
    this.refreshTokens.set(digest(refreshToken), accountId);
    return { accountId, refreshToken };
  }

  /** The account deauthorizes the platform: every refresh and access token of it stops working. */
  deauthorize(accountId: string): boolean {
    const account = this.accounts.get(accountId);
    if (account === undefined) return false;
    account.deauthorized = true;
    for (const [key, owner] of this.refreshTokens) if (owner === accountId) this.refreshTokens.delete(key);
    for (const [key, access] of this.accessTokens) if (access.accountId === accountId) this.accessTokens.delete(key);
    return true;
  }

  accountList(): ConnectedAccountView[] {
    return [...this.accounts.values()].map((account) => ({
      accountId: account.accountId,
      deauthorized: account.deauthorized,
      customers: account.history.customers.length,
      paymentIntents: account.history.paymentIntents.length,
      succeeded: account.history.paymentIntents.filter((intent) => intent.status === 'succeeded').length,
    }));
  }

  /** The account's seeded objects (tests and the demo compare what reached Virtuous with them). */
  history(accountId: string): AccountHistory | undefined {
    return this.accounts.get(accountId)?.history;
  }

  /** `POST /oauth/token`. */
  token(form: URLSearchParams, authorization: string | undefined): StripeAnswer {
    if (!this.clientAuthenticated(form, authorization)) {
      return oauthError(401, 'invalid_client', 'No such client secret, or it does not belong to this platform.');
    }
    if (form.get('grant_type') !== 'refresh_token') {
      return oauthError(400, 'unsupported_grant_type', 'Only grant_type=refresh_token is supported here.');
    }
    const presented = form.get('refresh_token');
    if (presented === null || presented === '') return oauthError(400, 'invalid_request', 'No refresh_token provided.');
    const key = digest(presented);
    const accountId = this.refreshTokens.get(key);
    if (accountId === undefined || this.accounts.get(accountId)?.deauthorized !== false) {
      return oauthError(400, 'invalid_grant', 'Refresh token does not exist, was used already, or was revoked.');
    }
    this.refreshTokens.delete(key);
    const refreshToken = token('rt_sim_');
    const accessToken = token('sk_test_sim_');
    this.refreshTokens.set(digest(refreshToken), accountId);
    this.accessTokens.set(digest(accessToken), { accountId, expiresAt: this.now() + this.accessTokenTtlMs });
    return {
      status: 200,
      json: {
        access_token: accessToken,
        livemode: false,
        refresh_token: refreshToken,
        scope: 'read_only',
        stripe_publishable_key: `pk_test_sim_${accountId.slice(5)}`,
        stripe_user_id: accountId,
        token_type: 'bearer',
      },
    };
  }

  /** `GET /v1/customers` and `GET /v1/payment_intents`; undefined for any other path. */
  list(resource: string, query: URLSearchParams, authorization: string | undefined): StripeAnswer | undefined {
    if (!Object.hasOwn(LIST_RESOURCES, resource)) return undefined;
    const bearer = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
    const access = bearer === undefined ? undefined : this.accessTokens.get(digest(bearer));
    if (access === undefined || access.expiresAt <= this.now()) {
      if (bearer !== undefined && access !== undefined) this.accessTokens.delete(digest(bearer));
      return apiError(401, 'Invalid API Key provided.');
    }
    const limitText = query.get('limit') ?? '10';
    const limit = Number(limitText);
    if (!/^\d{1,3}$/.test(limitText) || limit < 1 || limit > 100) {
      return apiError(400, 'Invalid integer: limit must be between 1 and 100.', { param: 'limit' });
    }
    const history = (this.accounts.get(access.accountId) as Account).history;
    const all = [...history[LIST_RESOURCES[resource as keyof typeof LIST_RESOURCES]]].sort(
      (a, b) => b.created - a.created || b.id.localeCompare(a.id),
    );
    let start = 0;
    const after = query.get('starting_after');
    if (after !== null) {
      const index = OBJECT_ID.test(after) ? all.findIndex((object) => object.id === after) : -1;
      if (index < 0) return apiError(400, `No such object: '${after.slice(0, 60)}'`, { param: 'starting_after' });
      start = index + 1;
    }
    const data = all.slice(start, start + limit);
    return {
      status: 200,
      json: { object: 'list', url: `/v1/${resource}`, has_more: start + limit < all.length, data },
    };
  }

  private clientAuthenticated(form: URLSearchParams, authorization: string | undefined): boolean {
    if (this.platform === undefined) return false;
    let secret = form.get('client_secret') ?? undefined;
    const [scheme, credential] = (authorization ?? '').split(' ');
    if (secret === undefined && scheme === 'Bearer') secret = credential;
    if (secret === undefined && scheme === 'Basic' && credential !== undefined) {
      // Stripe takes the secret key as the Basic user name; RFC 6749 clients send id:secret.
      const [user, password] = Buffer.from(credential, 'base64').toString('utf8').split(':');
      secret = password ? decodeURIComponent(password) : user;
    }
    const clientId = form.get('client_id');
    if (secret === undefined || (clientId !== null && clientId !== this.platform.clientId)) return false;
    return timingSafeEqual(Buffer.from(digest(secret), 'hex'), this.platform.secretDigest);
  }
}

/**
 * The OAuth 2.0 refresh_token exchange (RFC 6749 §6) behind a small interface, so the token manager can be tested
 * without HTTP and each source (Stripe Connect, Mailchimp, Constant Contact, Virtuous `/Token`) only differs in
 * configuration. HTTPS only, a timeout on every call, no retries here (the caller's retry policy owns them).
 *
 * Errors: `invalid_grant` or an unauthorized answer → CredentialRevokedError (the customer must re-authorize);
 * `invalid_client`/`unauthorized_client` → PermanentError (our client registration is wrong: an operator problem);
 * 429/5xx/network/timeout → TransientError. Messages carry codes only: never a token or the response body.
 */
import { CredentialRevokedError, PermanentError, TransientError } from '../shared/errors.ts';
import { isLoopbackHost } from '../shared/loopback.ts';

export interface RefreshedTokens {
  readonly accessToken: string;
  /** Seconds the access token lives, as the server said (or the configured default when it did not say). */
  readonly expiresInSeconds: number;
  /** Present when the server rotated the refresh token: it must be stored before the access token is used. */
  readonly refreshToken?: string;
}

export interface OAuthRefresher {
  refresh(source: string, refreshToken: string): Promise<RefreshedTokens>;
}

export interface OAuthClientCredentials {
  readonly clientId: string;
  readonly clientSecret?: string;
}

export interface OAuthSourceConfig {
  readonly tokenUrl: string;
  /** Where the client credentials come from (an integration secret, never an environment variable value). */
  readonly clientCredentials: () => Promise<OAuthClientCredentials>;
  /** `basic`: HTTP Basic (RFC 6749 §2.3.1, preferred); `body`: client_id/client_secret form fields. */
  readonly clientAuthentication?: 'basic' | 'body';
  /** Used when the answer has no `expires_in` (Stripe Connect's tokens do not say). */
  readonly defaultExpiresInSeconds?: number;
  readonly timeoutMs?: number;
  readonly scope?: string;
  /** Local mode and tests only: permits http:// to a loopback stub. Never set in AWS. */
  readonly allowLoopbackHttp?: boolean;
}

const REVOKED_ERRORS = new Set(['invalid_grant', 'unauthorized', 'invalid_token', 'access_denied']);
const CLIENT_ERRORS = new Set(['invalid_client', 'unauthorized_client']);

export class HttpOAuthRefresher implements OAuthRefresher {
  constructor(
    private readonly sources: Readonly<Record<string, OAuthSourceConfig>>,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    for (const [source, config] of Object.entries(sources)) {
      const url = new URL(config.tokenUrl);
      const loopback = config.allowLoopbackHttp === true && url.protocol === 'http:' && isLoopbackHost(url.hostname);
      if (url.protocol !== 'https:' && !loopback) {
        throw new PermanentError('INSECURE_TOKEN_URL', `the token endpoint of ${source} must use HTTPS`);
      }
    }
  }

  async refresh(source: string, refreshToken: string): Promise<RefreshedTokens> {
    const config = this.sources[source];
    if (config === undefined) throw new PermanentError('UNKNOWN_OAUTH_SOURCE', `no OAuth configuration for ${source}`);
    const client = await config.clientCredentials();
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken });
    if (config.scope !== undefined) form.set('scope', config.scope);
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    if ((config.clientAuthentication ?? 'basic') === 'basic' && client.clientSecret !== undefined) {
      const encode = (s: string) => encodeURIComponent(s);
      headers.authorization = `Basic ${Buffer.from(`${encode(client.clientId)}:${encode(client.clientSecret)}`).toString('base64')}`;
    } else {
      form.set('client_id', client.clientId);
      if (client.clientSecret !== undefined) form.set('client_secret', client.clientSecret);
    }

    let response: Response;
    try {
      response = await this.fetchImpl(config.tokenUrl, {
        method: 'POST',
        headers,
        body: form.toString(),
        redirect: 'error',
        signal: AbortSignal.timeout(config.timeoutMs ?? 10_000),
      });
    } catch (error) {
      throw new TransientError('OAUTH_UNREACHABLE', `the ${source} token endpoint did not answer`, { cause: error });
    }
    const body = await readJson(response);
    const errorCode = typeof body?.error === 'string' ? body.error : undefined;

    if (response.ok) {
      const accessToken = body?.access_token;
      if (typeof accessToken !== 'string' || accessToken.length === 0) {
        throw new TransientError(
          'OAUTH_MALFORMED_ANSWER',
          `the ${source} token endpoint answered without an access token`,
        );
      }
      const expiresIn = Number(body?.expires_in);
      const rotated = body?.refresh_token;
      return {
        accessToken,
        expiresInSeconds:
          Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : (config.defaultExpiresInSeconds ?? 3600),
        ...(typeof rotated === 'string' && rotated.length > 0 && rotated !== refreshToken
          ? { refreshToken: rotated }
          : {}),
      };
    }
    const status = response.status;
    if (status === 429 || status >= 500) {
      const retryAfter = Number(response.headers.get('retry-after'));
      throw new TransientError('OAUTH_UNAVAILABLE', `the ${source} token endpoint is unavailable`, {
        statusCode: status,
        ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
      });
    }
    if (errorCode !== undefined && CLIENT_ERRORS.has(errorCode)) {
      throw new PermanentError(
        'OAUTH_CLIENT_REJECTED',
        `the ${source} token endpoint rejected our client credentials`,
        {
          statusCode: status,
        },
      );
    }
    if ((errorCode !== undefined && REVOKED_ERRORS.has(errorCode)) || status === 401) {
      throw new CredentialRevokedError(
        source,
        `the ${source} grant was revoked or expired (${errorCode !== undefined && REVOKED_ERRORS.has(errorCode) ? errorCode : status})`,
        {
          statusCode: status,
        },
      );
    }
    throw new PermanentError('OAUTH_REFRESH_REFUSED', `the ${source} token endpoint refused the refresh`, {
      statusCode: status,
    });
  }
}

async function readJson(response: Response): Promise<Record<string, unknown> | undefined> {
  try {
    const parsed: unknown = JSON.parse(await response.text());
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

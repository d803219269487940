import { describe, expect, it } from 'vitest';
import { HttpOAuthRefresher, type OAuthSourceConfig } from '../../../functions/credentials/oauth-refresher.ts';
import { CredentialRevokedError, PermanentError, TransientError } from '../../../functions/shared/errors.ts';
import { registerSecret } from '../../support/canaries.ts';

const refreshToken = registerSecret('rt-original-5a4b3c2d1e');
const clientSecret = registerSecret('client-secret-9f8e7d6c');

interface Seen {
  url: string;
  init: RequestInit;
}

function refresherAnswering(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  config: Partial<OAuthSourceConfig> = {},
) {
  const seen: Seen[] = [];
  const fetchImpl = (async (url: string, init: RequestInit) => {
    seen.push({ url, init });
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers });
  }) as unknown as typeof fetch;
  const refresher = new HttpOAuthRefresher(
    {
      stripe: {
        tokenUrl: 'https://connect.stripe.example/oauth/token',
        clientCredentials: async () => ({ clientId: 'ca_123', clientSecret }),
        ...config,
      },
    },
    fetchImpl,
  );
  return { refresher, seen };
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  const error = (await promise.catch((e: unknown) => e)) as Error;
  expect(`${String(error)} ${JSON.stringify(error)}`).not.toContain(refreshToken);
  expect(`${String(error)} ${JSON.stringify(error)}`).not.toContain(clientSecret);
  return error;
}

describe('HttpOAuthRefresher', () => {
  it('posts an RFC 6749 refresh_token grant with HTTP Basic client authentication', async () => {
    const access = registerSecret('at-new-1a2b3c4d');
    const { refresher, seen } = refresherAnswering(200, {
      access_token: access,
      expires_in: 1800,
      token_type: 'bearer',
    });
    expect(await refresher.refresh('stripe', refreshToken)).toEqual({ accessToken: access, expiresInSeconds: 1800 });
    const [call] = seen;
    expect(call?.init.method).toBe('POST');
    expect(call?.init.redirect).toBe('error');
    expect(call?.init.signal).toBeInstanceOf(AbortSignal);
    const form = new URLSearchParams(String(call?.init.body));
    expect(Object.fromEntries(form)).toEqual({ grant_type: 'refresh_token', refresh_token: refreshToken });
    const headers = call?.init.headers as Record<string, string>;
    expect(headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Buffer.from(headers.authorization?.replace('Basic ', '') ?? '', 'base64').toString()).toBe(
      `ca_123:${clientSecret}`,
    );
  });

  it('reports a rotated refresh token and defaults the lifetime when the server does not say', async () => {
    const rotated = registerSecret('rt-rotated-0f9e8d7c');
    const { refresher, seen } = refresherAnswering(
      200,
      { access_token: registerSecret('at-2-aaaaaaaa'), refresh_token: rotated },
      {},
      { clientAuthentication: 'body', defaultExpiresInSeconds: 900 },
    );
    expect(await refresher.refresh('stripe', refreshToken)).toMatchObject({
      refreshToken: rotated,
      expiresInSeconds: 900,
    });
    expect(new URLSearchParams(String(seen[0]?.init.body)).get('client_secret')).toBe(clientSecret);
  });

  it('does not report the same refresh token as rotated', async () => {
    const { refresher } = refresherAnswering(200, {
      access_token: registerSecret('at-3-bbbbbbbb'),
      refresh_token: refreshToken,
      expires_in: 60,
    });
    expect((await refresher.refresh('stripe', refreshToken)).refreshToken).toBeUndefined();
  });

  it.each([
    [400, { error: 'invalid_grant', error_description: 'revoked' }],
    [401, { error: 'unauthorized' }],
    [401, 'Authorization has been denied for this request.'],
  ])('maps %s %j to CredentialRevokedError', async (status, body) => {
    const { refresher } = refresherAnswering(status, body);
    const error = await failure(refresher.refresh('stripe', refreshToken));
    expect(error).toBeInstanceOf(CredentialRevokedError);
    expect((error as CredentialRevokedError).source).toBe('stripe');
  });

  it('maps a rejected client registration to PermanentError (an operator problem, not a customer revocation)', async () => {
    const { refresher } = refresherAnswering(401, { error: 'invalid_client' });
    expect(await failure(refresher.refresh('stripe', refreshToken))).toMatchObject({
      name: 'PermanentError',
      code: 'OAUTH_CLIENT_REJECTED',
    });
  });

  it('maps 429/5xx to TransientError with Retry-After, and a missing access token to TransientError', async () => {
    const busy = await failure(
      refresherAnswering(429, { error: 'slow_down' }, { 'retry-after': '7' }).refresher.refresh('stripe', refreshToken),
    );
    expect(busy).toBeInstanceOf(TransientError);
    expect((busy as TransientError).retryAfterSeconds).toBe(7);
    expect(await failure(refresherAnswering(503, '<html>').refresher.refresh('stripe', refreshToken))).toBeInstanceOf(
      TransientError,
    );
    expect(
      await failure(refresherAnswering(200, { token_type: 'bearer' }).refresher.refresh('stripe', refreshToken)),
    ).toMatchObject({
      code: 'OAUTH_MALFORMED_ANSWER',
    });
  });

  it('times out a token endpoint that never answers', async () => {
    const refresher = new HttpOAuthRefresher(
      {
        stripe: {
          tokenUrl: 'https://connect.stripe.example/oauth/token',
          clientCredentials: async () => ({ clientId: 'ca_123', clientSecret }),
          timeoutMs: 30,
        },
      },
      ((_url: string, init: RequestInit) =>
        new Promise((_resolve, reject) => {
          init.signal?.addEventListener('abort', () => reject(init.signal?.reason));
        })) as unknown as typeof fetch,
    );
    expect(await failure(refresher.refresh('stripe', refreshToken))).toMatchObject({ code: 'OAUTH_UNREACHABLE' });
  });

  it('refuses a plain-HTTP token endpoint and an unknown source', async () => {
    expect(
      () =>
        new HttpOAuthRefresher({
          x: { tokenUrl: 'http://example.com/token', clientCredentials: async () => ({ clientId: 'c' }) },
        }),
    ).toThrow(PermanentError);
    const { refresher } = refresherAnswering(200, {});
    await expect(refresher.refresh('mailchimp', refreshToken)).rejects.toMatchObject({ code: 'UNKNOWN_OAUTH_SOURCE' });
  });
});

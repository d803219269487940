/**
 * Stripe Connect on one machine: the same OAuth refresher configuration (stripe-connect-oauth.ts), token manager and
 * history source as on AWS, pointed at the Stripe stand-in (infra/local/stripe-simulator) on loopback. The partner
 * platform's OAuth client lives in the local encrypted store under the name it has in Secrets Manager
 * (`stripe/{env}/_platform/oauth_client`): made once, on the first start with the stand-in, and from then on read
 * from the store like every other secret. It is never in a file of the repository or in an environment variable.
 */
import { randomBytes } from 'node:crypto';
import type { EncryptedFileStore } from '../../functions/credentials/encrypted-file-store.ts';
import { HttpOAuthRefresher, type OAuthClientCredentials } from '../../functions/credentials/oauth-refresher.ts';
import { oauthClientFromSecret } from '../../functions/credentials/platform-secrets.ts';
import { stripeConnectOAuthConfig } from '../../functions/credentials/stripe-connect-oauth.ts';
import { PermanentError } from '../../functions/shared/errors.ts';
import { STRIPE_OAUTH_SOURCE } from '../../functions/sync/stripe-history-source.ts';

export interface StripeEndpoints {
  /** The stand-in of `https://api.stripe.com`. */
  readonly apiBaseUrl: string;
  /** The stand-in of `https://connect.stripe.com/oauth/token`. */
  readonly oauthTokenUrl: string;
}

type PlatformSecrets = Pick<EncryptedFileStore, 'readPlatformSecret' | 'putPlatformSecret'>;

/** Plain HTTP only to the stand-in on this machine's loopback address. */
export function isLocalStandIn(url: string): boolean {
  return url.startsWith('http://127.0.0.1:');
}

/** The refresher the lifecycle API validates refresh tokens with and the token manager refreshes with. */
export function localStripeConnectRefresher(store: PlatformSecrets, endpoints: StripeEndpoints): HttpOAuthRefresher {
  const read = async () => {
    const value = await store.readPlatformSecret(STRIPE_OAUTH_SOURCE, 'oauth_client');
    if (value === undefined) {
      throw new PermanentError('PLATFORM_SECRET_MISSING', 'the Stripe OAuth client is not in the local store');
    }
    return value;
  };
  return new HttpOAuthRefresher({
    [STRIPE_OAUTH_SOURCE]: stripeConnectOAuthConfig({
      tokenUrl: endpoints.oauthTokenUrl,
      clientCredentials: oauthClientFromSecret(read),
      allowLoopbackHttp: isLocalStandIn(endpoints.oauthTokenUrl),
    }),
  });
}

/**
 * The platform's OAuth client at the stand-in: the stored one, or a new one stored now. The runtime registers it with
 * the stand-in it starts, as a platform registers its application with Stripe.
 */
export async function provisionLocalStripeClient(store: PlatformSecrets): Promise<Required<OAuthClientCredentials>> {
  const stored = await store.readPlatformSecret(STRIPE_OAUTH_SOURCE, 'oauth_client');
  if (stored !== undefined) {
    const client = await oauthClientFromSecret(async () => stored)();
    if (client.clientSecret !== undefined) return { clientId: client.clientId, clientSecret: client.clientSecret };
  }
  const created = {
    clientId: `ca_local_${randomBytes(8).toString('hex')}`,
    clientSecret: `sk_test_local_${randomBytes(24).toString('base64url')}`,
  };
  await store.putPlatformSecret(
    STRIPE_OAUTH_SOURCE,
    'oauth_client',
    JSON.stringify({ client_id: created.clientId, client_secret: created.clientSecret }),
  );
  return created;
}

/**
 * The Stripe Connect OAuth refresher on AWS: the token endpoint (STRIPE_OAUTH_TOKEN_URL, Stripe's by default) and
 * the partner platform's OAuth client, read by name from Secrets Manager with the function's own role
 * (`stripe/{env}/_platform/oauth_client`). One configuration for every function that refreshes a customer's Stripe
 * token: the bulk loader (history loads) and the lifecycle API (validating a refresh token before storing it).
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ENV, requireSetting } from '../shared/environment.ts';
import { STRIPE_CONNECT_TOKEN_URL, STRIPE_OAUTH_SOURCE } from '../sync/stripe-history-source.ts';
import { HttpOAuthRefresher, type OAuthClientCredentials, type OAuthSourceConfig } from './oauth-refresher.ts';
import { oauthClientFromSecret, secretsManagerPlatformSecret } from './platform-secrets.ts';
import { platformSecretName } from './secret-names.ts';

export function createStripeConnectRefresher(env: NodeJS.ProcessEnv = process.env): HttpOAuthRefresher {
  const clientSecretName = platformSecretName(
    requireSetting(ENV.environmentName, env),
    STRIPE_OAUTH_SOURCE,
    'oauth_client',
  );
  const secretsManager = new SecretsManagerClient({
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000 },
  });
  return new HttpOAuthRefresher({
    [STRIPE_OAUTH_SOURCE]: stripeConnectOAuthConfig({
      tokenUrl: env[ENV.stripeOAuthTokenUrl] || STRIPE_CONNECT_TOKEN_URL,
      clientCredentials: oauthClientFromSecret(secretsManagerPlatformSecret(secretsManager, clientSecretName)),
    }),
  });
}

/**
 * How Stripe Connect's token endpoint is called, wherever the client credentials come from (Secrets Manager on AWS,
 * the local encrypted store on one machine, where `allowLoopbackHttp` lets it reach the loopback stand-in).
 */
export function stripeConnectOAuthConfig(input: {
  readonly tokenUrl: string;
  readonly clientCredentials: () => Promise<OAuthClientCredentials>;
  readonly allowLoopbackHttp?: boolean;
}): OAuthSourceConfig {
  return {
    tokenUrl: input.tokenUrl,
    clientCredentials: input.clientCredentials,
    // Stripe Connect takes the platform's secret key as `client_secret` in the form.
    clientAuthentication: 'body',
    // Stripe Connect's answer has no `expires_in`: refresh hourly rather than trust a token indefinitely.
    defaultExpiresInSeconds: 3600,
    timeoutMs: 10_000,
    ...(input.allowLoopbackHttp === true ? { allowLoopbackHttp: true } : {}),
  };
}

/**
 * Integration-internal secrets (the partner platform's OAuth client at a source), read from Secrets Manager by name
 * with the function's own role: they belong to no customer, so the customer-scoped SecretStore cannot hold them,
 * and they are never environment variables. Values are cached per container for a short time and never logged.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PermanentError } from '../shared/errors.ts';
import type { OAuthClientCredentials } from './oauth-refresher.ts';
import { classifySecretsManagerError } from './secrets-manager-errors.ts';

export const PLATFORM_SECRET_TTL_MS = 300_000;

/** Reads one secret's current string value. */
export type PlatformSecretReader = () => Promise<string>;

export function secretsManagerPlatformSecret(
  client: SecretsManagerClient,
  name: string,
  options: { readonly timeoutMs?: number; readonly ttlMs?: number; readonly now?: () => number } = {},
): PlatformSecretReader {
  const now = options.now ?? Date.now;
  const ttlMs = options.ttlMs ?? PLATFORM_SECRET_TTL_MS;
  let cached: { readonly value: Promise<string>; readonly until: number } | undefined;
  const fetchValue = async (): Promise<string> => {
    try {
      const answer = await client.send(new GetSecretValueCommand({ SecretId: name }), {
        abortSignal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
      });
      if (typeof answer.SecretString !== 'string' || answer.SecretString === '') {
        throw new PermanentError('PLATFORM_SECRET_EMPTY', 'the platform secret has no string value');
      }
      return answer.SecretString;
    } catch (error) {
      cached = undefined;
      if (error instanceof PermanentError) throw error;
      throw classifySecretsManagerError(error);
    }
  };
  return () => {
    if (cached === undefined || cached.until <= now()) cached = { value: fetchValue(), until: now() + ttlMs };
    return cached.value;
  };
}

/** `{"client_id": "...", "client_secret": "..."}` → OAuth client credentials; the message names fields, not values. */
export function oauthClientFromSecret(read: PlatformSecretReader): () => Promise<OAuthClientCredentials> {
  return async () => {
    const text = await read();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new PermanentError('PLATFORM_SECRET_MALFORMED', 'the OAuth client secret is not JSON');
    }
    const record = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
    const clientId = record.client_id;
    const clientSecret = record.client_secret;
    if (
      typeof clientId !== 'string' ||
      clientId === '' ||
      (clientSecret !== undefined && typeof clientSecret !== 'string')
    ) {
      throw new PermanentError(
        'PLATFORM_SECRET_MALFORMED',
        'the OAuth client secret needs client_id (and client_secret)',
      );
    }
    return { clientId, ...(typeof clientSecret === 'string' && clientSecret !== '' ? { clientSecret } : {}) };
  };
}

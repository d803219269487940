import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  oauthClientFromSecret,
  secretsManagerPlatformSecret,
} from '../../../functions/credentials/platform-secrets.ts';
import { PLATFORM_SEGMENT, platformSecretName, secretName } from '../../../functions/credentials/secret-names.ts';
import { ForbiddenInputError, PermanentError, TransientError } from '../../../functions/shared/errors.ts';
import { isCustomerId } from '../../../functions/shared/identifiers.ts';
import { registerSecret } from '../../support/canaries.ts';

const sm = mockClient(SecretsManagerClient);
afterEach(() => sm.reset());

describe('platformSecretName', () => {
  it('names the source, environment and a segment no customer id can take', () => {
    expect(platformSecretName('prod', 'stripe', 'oauth_client')).toBe('stripe/prod/_platform/oauth_client');
    expect(isCustomerId(PLATFORM_SEGMENT)).toBe(false);
    expect(() => secretName('prod', { customerId: PLATFORM_SEGMENT, kind: 'refresh_token', source: 'stripe' })).toThrow(
      ForbiddenInputError,
    );
  });

  it('refuses unsafe parts and the Virtuous owner segment', () => {
    expect(() => platformSecretName('prod', 'virtuous', 'oauth_client')).toThrow(ForbiddenInputError);
    expect(() => platformSecretName('prod', 'stripe/../x', 'oauth_client')).toThrow(ForbiddenInputError);
    expect(() => platformSecretName('*', 'stripe', 'oauth_client')).toThrow(ForbiddenInputError);
    expect(() => platformSecretName('prod', 'stripe', 'api_key' as never)).toThrow(ForbiddenInputError);
  });
});

describe('secretsManagerPlatformSecret + oauthClientFromSecret', () => {
  const name = 'stripe/test/_platform/oauth_client';

  it('reads by name once per TTL and parses the OAuth client', async () => {
    const secret = registerSecret(`sk_test_platform_${Math.random().toString(36).slice(2, 10)}`);
    sm.on(GetSecretValueCommand, { SecretId: name }).resolves({
      SecretString: JSON.stringify({ client_id: 'ca_123', client_secret: secret }),
    });
    let t = 0;
    const read = secretsManagerPlatformSecret(new SecretsManagerClient({}), name, { ttlMs: 1_000, now: () => t });
    const credentials = oauthClientFromSecret(read);
    expect(await credentials()).toEqual({ clientId: 'ca_123', clientSecret: secret });
    await credentials();
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    t = 1_001;
    await credentials();
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('classifies failures without quoting the value, and does not cache them', async () => {
    const secret = registerSecret(`sk_test_bad_${Math.random().toString(36).slice(2, 10)}`);
    sm.on(GetSecretValueCommand).resolvesOnce({ SecretString: `{"client_secret":"${secret}"` });
    const credentials = oauthClientFromSecret(secretsManagerPlatformSecret(new SecretsManagerClient({}), name));
    const malformed = await credentials().catch((error: unknown) => error);
    expect(malformed).toBeInstanceOf(PermanentError);
    expect(String((malformed as Error).message)).not.toContain(secret);

    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ client_secret: secret }) });
    const missingId = await credentials().catch((error: unknown) => error);
    expect(missingId).toBeInstanceOf(PermanentError);
    expect(String((missingId as Error).message)).not.toContain(secret);

    const denied = Object.assign(new Error('denied'), {
      name: 'AccessDeniedException',
      $metadata: { httpStatusCode: 400 },
    });
    sm.reset();
    sm.on(GetSecretValueCommand)
      .rejectsOnce(denied)
      .rejectsOnce(Object.assign(new Error('slow'), { name: 'ThrottlingException' }))
      .resolves({ SecretString: '{"client_id":"ca_1"}' });
    const read = secretsManagerPlatformSecret(new SecretsManagerClient({}), name);
    await expect(read()).rejects.toThrow(PermanentError);
    await expect(read()).rejects.toThrow(TransientError);
    expect(await read()).toBe('{"client_id":"ca_1"}');
  });
});

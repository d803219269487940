import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { StsCustomerSessions, sessionName } from '../../../functions/credentials/scoped-credentials.ts';
import { ForbiddenInputError, PermanentError, TransientError } from '../../../functions/shared/errors.ts';
import { registerSecret } from '../../support/canaries.ts';

const sts = mockClient(STSClient);
const ROLE = 'arn:aws:iam::123456789012:role/customer-secrets';
const KEY = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';
const SCOPE = { environment: 'staging', secretsKmsKeyArn: KEY };

beforeEach(() => {
  sts.reset();
});

function answer(expiresAt: number) {
  let n = 0;
  sts.on(AssumeRoleCommand).callsFake(async (input) => {
    n++;
    await new Promise((resolve) => setTimeout(resolve, 5));
    return {
      Credentials: {
        AccessKeyId: `ASIA${n}`,
        SecretAccessKey: registerSecret(`scoped-secret-key-${n}`),
        SessionToken: registerSecret(`scoped-session-token-${n}`),
        Expiration: new Date(expiresAt),
      },
      AssumedRoleUser: {
        AssumedRoleId: 'AROA',
        Arn: `arn:aws:sts::123456789012:assumed-role/customer-secrets/${input.RoleSessionName}`,
      },
    };
  });
}

/** Sessions of function `fn` for the Virtuous API over the mocked STS, unless the test says otherwise. */
function customerSessions(
  options: Partial<ConstructorParameters<typeof StsCustomerSessions>[0]> = {},
): StsCustomerSessions {
  return new StsCustomerSessions({
    roleArn: ROLE,
    functionName: 'fn',
    purpose: 'virtuous-api',
    scope: SCOPE,
    sts: new STSClient({}),
    ...options,
  });
}

describe('StsCustomerSessions', () => {
  it('assumes the role once for concurrent first calls, tagged with the customer', async () => {
    const t = Date.parse('2026-11-29T03:00:00Z');
    answer(t + 3600_000);
    const sessions = customerSessions({
      functionName: 'webhook-verifier',
      purpose: 'webhook-verification',
      now: () => t,
    });
    const all = await Promise.all(Array.from({ length: 20 }, () => sessions.forCustomer('acme')));
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(1);
    expect(new Set(all.map((s) => s.credentials.accessKeyId))).toEqual(new Set(['ASIA1']));
    expect(all[0]?.accessor).toBe('arn:aws:sts::123456789012:assumed-role/customer-secrets/acme@webhook-verifier');
    expect(sts.commandCalls(AssumeRoleCommand)[0]?.args[0].input).toMatchObject({
      RoleArn: ROLE,
      DurationSeconds: 3600,
      Tags: [
        { Key: 'customer_id', Value: 'acme' },
        { Key: 'purpose', Value: 'webhook-verification' },
      ],
      TransitiveTagKeys: ['customer_id', 'purpose'],
    });
  });

  it('binds every session to the customer it was asked for with a session policy of that purpose', async () => {
    const t = Date.parse('2026-11-29T03:00:00Z');
    answer(t + 3600_000);
    const sessionsFor = (purpose: 'webhook-verification' | 'virtuous-api' | 'secret-lifecycle') =>
      customerSessions({ purpose });
    await sessionsFor('webhook-verification').forCustomer('acme');
    await sessionsFor('virtuous-api').forCustomer('beta-org');
    await sessionsFor('secret-lifecycle').forCustomer('c_3');
    const policies = sts
      .commandCalls(AssumeRoleCommand)
      .map((call) => JSON.parse(call.args[0].input.Policy ?? 'null') as { Statement: Record<string, unknown>[] });
    const secretsOf = (policy: { Statement: Record<string, unknown>[] }) =>
      policy.Statement.find((statement) => statement.Sid === 'OnlyThisCustomer');
    const arn = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}`;
    expect(secretsOf(policies[0] as never)).toEqual({
      Sid: 'OnlyThisCustomer',
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      Resource: [arn('virtuous/staging/acme/webhook_secret-??????'), arn('stripe/staging/acme/webhook_secret-??????')],
    });
    expect(secretsOf(policies[1] as never)).toMatchObject({
      Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      Resource: [arn('virtuous/staging/beta-org/api_token-??????')],
    });
    expect(secretsOf(policies[2] as never)).toMatchObject({ Resource: [arn('*/staging/c_3/*')] });
    for (const policy of policies) {
      // Nothing else: listing metadata (absent vs denied) and the secrets key, which Secrets Manager uses for us.
      expect(policy.Statement.map((statement) => statement.Sid)).toEqual([
        'OnlyThisCustomer',
        'TellAbsentFromDenied',
        'SecretsKey',
      ]);
      expect(policy.Statement[2]).toMatchObject({ Resource: KEY });
    }
  });

  it('refuses an unknown purpose and a scope it cannot build a policy from, before calling STS', async () => {
    expect(() => customerSessions({ purpose: 'reader' as never })).toThrow(ForbiddenInputError);
    const sessions = customerSessions({ scope: { environment: 'staging', secretsKmsKeyArn: 'alias/secrets' } });
    await expect(sessions.forCustomer('acme')).rejects.toBeInstanceOf(ForbiddenInputError);
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });

  it('renews a session five minutes before it expires', async () => {
    let t = Date.parse('2026-11-29T03:00:00Z');
    answer(t + 15 * 60_000);
    const sessions = customerSessions({ now: () => t });
    await sessions.forCustomer('acme');
    t += 9 * 60_000;
    await sessions.forCustomer('acme');
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(1);
    t += 61_000;
    await sessions.forCustomer('acme');
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(2);
  });

  it('keeps the customer id whole in the session name and cuts only the function name', () => {
    const id = `c${'x'.repeat(60)}`;
    const name = sessionName(id, 'a-very-long-function-name-that-goes-on');
    expect(name.length).toBe(64);
    expect(name.startsWith(`${id}@`)).toBe(true);
    expect(sessionName('acme', 'fn name/with:odd chars')).toBe('acme@fn-name-with-odd-chars');
  });

  it('classifies a denied AssumeRole as permanent and a failing one as transient', async () => {
    const sessions = customerSessions();
    sts
      .on(AssumeRoleCommand)
      .rejectsOnce(Object.assign(new Error('no'), { name: 'AccessDenied' }))
      .rejectsOnce(new Error('socket hang up'));
    await expect(sessions.forCustomer('acme')).rejects.toBeInstanceOf(PermanentError);
    await expect(sessions.forCustomer('acme')).rejects.toBeInstanceOf(TransientError);
    await expect(sessions.forCustomer('../acme')).rejects.toMatchObject({ name: 'ForbiddenInputError' });
  });
});

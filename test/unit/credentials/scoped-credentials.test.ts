import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { StsCustomerSessions, sessionName } from '../../../functions/credentials/scoped-credentials.ts';
import { PermanentError, TransientError } from '../../../functions/shared/errors.ts';
import { registerSecret } from '../../support/canaries.ts';

const sts = mockClient(STSClient);
const ROLE = 'arn:aws:iam::123456789012:role/customer-secrets';

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

describe('StsCustomerSessions', () => {
  it('assumes the role once for concurrent first calls, tagged with the customer', async () => {
    const t = Date.parse('2026-11-29T03:00:00Z');
    answer(t + 3600_000);
    const sessions = new StsCustomerSessions({
      roleArn: ROLE,
      functionName: 'webhook-verifier',
      sts: new STSClient({}),
      now: () => t,
    });
    const all = await Promise.all(Array.from({ length: 20 }, () => sessions.forCustomer('acme')));
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(1);
    expect(new Set(all.map((s) => s.credentials.accessKeyId))).toEqual(new Set(['ASIA1']));
    expect(all[0]?.accessor).toBe('arn:aws:sts::123456789012:assumed-role/customer-secrets/acme@webhook-verifier');
    expect(sts.commandCalls(AssumeRoleCommand)[0]?.args[0].input).toMatchObject({
      RoleArn: ROLE,
      DurationSeconds: 3600,
      Tags: [{ Key: 'customer_id', Value: 'acme' }],
      TransitiveTagKeys: ['customer_id'],
    });
  });

  it('renews a session five minutes before it expires', async () => {
    let t = Date.parse('2026-11-29T03:00:00Z');
    answer(t + 15 * 60_000);
    const sessions = new StsCustomerSessions({
      roleArn: ROLE,
      functionName: 'fn',
      sts: new STSClient({}),
      now: () => t,
    });
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
    const sessions = new StsCustomerSessions({ roleArn: ROLE, functionName: 'fn', sts: new STSClient({}) });
    sts
      .on(AssumeRoleCommand)
      .rejectsOnce(Object.assign(new Error('no'), { name: 'AccessDenied' }))
      .rejectsOnce(new Error('socket hang up'));
    await expect(sessions.forCustomer('acme')).rejects.toBeInstanceOf(PermanentError);
    await expect(sessions.forCustomer('acme')).rejects.toBeInstanceOf(TransientError);
    await expect(sessions.forCustomer('../acme')).rejects.toMatchObject({ name: 'ForbiddenInputError' });
  });
});

import {
  DeleteSecretCommand,
  GetSecretValueCommand,
  type GetSecretValueCommandInput,
  InternalServiceError,
  PutResourcePolicyCommand,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import type { AuditEntry, AuditLog } from '../../../functions/credentials/audit-log.ts';
import { MemoryAuditLog } from '../../../functions/credentials/memory-audit-log.ts';
import type { SecretRef } from '../../../functions/credentials/secret-store.ts';
import { SecretsManagerStore } from '../../../functions/credentials/secrets-manager-store.ts';
import { ForbiddenInputError, TransientError } from '../../../functions/shared/errors.ts';
import {
  KMS_KEY_ARN,
  makeAwsHarness,
  ROLE_ARN,
  smMock,
  WRITER_ROLE_ARN,
} from '../../contract/secret-store/aws-harness.ts';
import { registerSecret } from '../../support/canaries.ts';

const ctx = { reason: 'test:aws', requestId: 'req-1' };
const api = (customerId: string): SecretRef => ({ customerId, kind: 'api_token' });
const value = (label: string) => registerSecret(`aws-${label}-${Math.random().toString(36).slice(2, 12)}`);

function clock(start = Date.parse('2026-11-29T03:00:00Z')) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('SecretsManagerStore on the Secrets Manager model', () => {
  it('creates a new secret without a value, attaches the deny policy, then stores the value as pending', async () => {
    const h = makeAwsHarness();
    await h.store.putPending({ customerId: 'acme', kind: 'refresh_token', source: 'stripe' }, value('new'), ctx);
    // The scoped session is told AccessDenied for a missing secret; ListSecrets shows it is missing, not forbidden.
    expect(h.model.log.map((e) => e.op)).toEqual([
      'PutSecretValue',
      'ListSecrets',
      'CreateSecret',
      'PutResourcePolicy',
      'PutSecretValue',
    ]);
    const create = smMock.commandCalls((await import('@aws-sdk/client-secrets-manager')).CreateSecretCommand)[0]
      ?.args[0].input;
    expect(create).toMatchObject({ Name: 'stripe/test/acme/refresh_token', KmsKeyId: KMS_KEY_ARN });
    expect(create?.SecretString).toBeUndefined();
    expect(create?.Tags).toEqual([
      { Key: 'customer_id', Value: 'acme' },
      { Key: 'environment', Value: 'test' },
      { Key: 'kind', Value: 'refresh_token' },
      { Key: 'source', Value: 'stripe' },
    ]);
    const policy = JSON.parse(smMock.commandCalls(PutResourcePolicyCommand)[0]?.args[0].input.ResourcePolicy ?? '{}');
    const readDeny = policy.Statement.find((s: { Sid: string }) => s.Sid === 'DenyValueReadsExceptScopedRoles');
    expect(readDeny).toMatchObject({ Effect: 'Deny', Principal: '*', Action: 'secretsmanager:GetSecretValue' });
    expect(readDeny.Condition.ArnNotEquals['aws:PrincipalArn']).toEqual([ROLE_ARN, WRITER_ROLE_ARN]);
    // Secrets Manager puts AWSCURRENT on a first version whatever the call named.
    expect(Object.values(h.model.stagesOf('stripe/test/acme/refresh_token'))).toEqual([['AWSCURRENT', 'AWSPENDING']]);
  });

  it('moves AWSCURRENT on promote, lets AWSPREVIOUS follow, and leaves a deleted previous without any label', async () => {
    const h = makeAwsHarness();
    const ref = api('acme');
    const first = await h.store.putPending(ref, value('1'), ctx);
    await h.store.promotePending(ref, ctx);
    const second = await h.store.putPending(ref, value('2'), ctx);
    expect(h.model.stagesOf('virtuous/test/acme/api_token')).toEqual({
      [first.versionId]: ['AWSCURRENT'],
      [second.versionId]: ['AWSPENDING'],
    });
    await h.store.promotePending(ref, ctx);
    expect(h.model.stagesOf('virtuous/test/acme/api_token')).toEqual({
      [first.versionId]: ['AWSPREVIOUS'],
      [second.versionId]: ['AWSCURRENT'],
    });
    await h.store.deletePrevious(ref, ctx);
    expect(h.model.stagesOf('virtuous/test/acme/api_token')).toEqual({
      [first.versionId]: [],
      [second.versionId]: ['AWSCURRENT'],
    });
    // Every read names a staging label (the resource policy denies reads without one, so deprecated versions stay shut).
    for (const call of smMock.commandCalls(GetSecretValueCommand)) {
      expect(call.args[0].input.VersionStage).toMatch(/^AWS(CURRENT|PENDING|PREVIOUS)$/);
      expect(call.args[0].input.VersionId).toBeUndefined();
    }
  });

  it('leaves every rotated-out version without a label, so Secrets Manager deletes it once it is a day old', async () => {
    const time = clock();
    const h = makeAwsHarness({ now: time.now });
    const ref = api('acme');
    const name = 'virtuous/test/acme/api_token';
    const labelled = () => Object.values(h.model.stagesOf(name)).filter((stages) => stages.length > 0);
    // 104 rotations as token rotation runs them: new key pending, cut over, the old key retired after confirmation.
    for (let i = 0; i < 104; i++) {
      await h.store.putPending(ref, value(`r${i}`), ctx);
      await h.store.promotePending(ref, ctx);
      await h.store.deletePrevious(ref, ctx);
      expect(labelled()).toEqual([['AWSCURRENT']]);
      time.advance(3_600_000);
    }
    expect(Object.keys(h.model.stagesOf(name))).toHaveLength(104);
    time.advance(24 * 3_600_000);
    // Secrets Manager's background purge (there is no call that deletes one version): down to its 100 versions.
    expect(h.model.purgeDeprecatedVersions()).toBe(4);
    expect(labelled()).toEqual([['AWSCURRENT']]);
    expect(h.model.log.some((entry) => entry.op === 'GetSecretValue' && entry.id !== name)).toBe(false);
  });

  it('serves reads from the cache for 30 s, audits cache hits, and re-fetches after invalidate()', async () => {
    const c = clock();
    const h = makeAwsHarness({ now: c.now });
    const ref = api('acme');
    const v1 = value('cached');
    await h.store.putPending(ref, v1, ctx);
    await h.store.promotePending(ref, ctx);
    const gets = () => smMock.commandCalls(GetSecretValueCommand).length;
    await h.store.read(ref, 'current', ctx);
    await h.store.read(ref, 'current', ctx);
    expect(gets()).toBe(1);
    const reads = h.audit.all().filter((r) => r.action === 'read');
    expect(reads.map((r) => r.cached ?? false)).toEqual([false, true]);

    // Another container rotates the token behind our back.
    const v2 = value('rotated-elsewhere');
    h.model.putSecretValue({ SecretId: 'virtuous/test/acme/api_token', SecretString: v2 }, 'acme');
    expect((await h.store.read(ref, 'current', ctx))?.value).toBe(v1);
    h.store.invalidate(ref); // e.g. Virtuous answered 401
    expect((await h.store.read(ref, 'current', ctx))?.value).toBe(v2);
    expect(gets()).toBe(2);
    c.advance(30_001);
    await h.store.read(ref, 'current', ctx);
    expect(gets()).toBe(3);
  });

  it('does not cache a value fetched before a promotion that completed while the fetch was in flight', async () => {
    const h = makeAwsHarness();
    const ref = api('acme');
    const [v1, v2] = [value('old'), value('new')];
    await h.store.putPending(ref, v1, ctx);
    await h.store.promotePending(ref, ctx);
    await h.store.putPending(ref, v2, ctx);

    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let gated = true;
    smMock.on(GetSecretValueCommand).callsFake(async (input: GetSecretValueCommandInput) => {
      const answer = h.model.getSecretValue(input, 'acme'); // answered before the promotion…
      if (gated) {
        gated = false;
        await gate; // …delivered after it
      }
      return answer;
    });
    const slowRead = h.store.read(ref, 'current', ctx);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await h.store.promotePending(ref, ctx);
    release();
    expect((await slowRead)?.value).toBe(v1);
    expect((await h.store.read(ref, 'current', ctx))?.value).toBe(v2);
  });

  it('reads each customer through that customer’s own scoped session, cached until 5 minutes before expiry', async () => {
    const c = clock();
    const h = makeAwsHarness({ now: c.now, functionName: 'sync-processor' });
    for (const customer of ['acme', 'globex']) {
      await h.store.putPending(api(customer), value(customer), ctx);
      await h.store.read(api(customer), 'current', ctx);
      await h.store.read(api(customer), 'pending', ctx);
    }
    expect(h.assumeRoleInputs()).toHaveLength(2);
    expect(h.assumeRoleInputs()[0]).toMatchObject({
      RoleArn: ROLE_ARN,
      RoleSessionName: 'acme@sync-processor',
      Tags: [
        { Key: 'customer_id', Value: 'acme' },
        { Key: 'purpose', Value: 'secret-lifecycle' },
      ],
      TransitiveTagKeys: ['customer_id', 'purpose'],
    });
    // The model denies any call whose session tag is not the secret's customer: every call carried the right one.
    for (const entry of h.model.log.filter((e) => e.id !== undefined)) {
      expect(entry.customer).toBe(entry.id?.split('/')[2]);
    }
    const accessors = new Set(h.audit.all().map((r) => `${r.customerId}=${r.accessor}`));
    expect(accessors).toEqual(
      new Set([
        'acme=arn:aws:sts::123456789012:assumed-role/customer-secrets/acme@sync-processor',
        'globex=arn:aws:sts::123456789012:assumed-role/customer-secrets/globex@sync-processor',
      ]),
    );
    c.advance(54 * 60_000);
    h.store.invalidate(api('acme'));
    await h.store.read(api('acme'), 'current', ctx);
    expect(h.assumeRoleInputs()).toHaveLength(2);
    c.advance(2 * 60_000); // now inside the 5-minute margin
    h.store.invalidate(api('acme'));
    await h.store.read(api('acme'), 'current', ctx);
    expect(h.assumeRoleInputs()).toHaveLength(3);
  });

  it('schedules deletion with the configured recovery window, or deletes without recovery when it is 0', async () => {
    const time = clock();
    const h = makeAwsHarness({ now: time.now, overrides: { sleep: async (ms) => void time.advance(ms) } });
    await h.store.putPending(api('acme'), value('a'), ctx);
    await h.store.putPending({ customerId: 'acme', kind: 'webhook_secret' }, value('b'), ctx);
    expect(await h.store.deleteCustomer('acme', ctx)).toEqual({ deletedSecrets: 2 });
    const deletes = smMock.calls().filter((c) => c.args[0].constructor.name === 'DeleteSecretCommand');
    expect(deletes.map((c) => (c.args[0].input as { RecoveryWindowInDays?: number }).RecoveryWindowInDays)).toEqual([
      7, 7,
    ]);
    expect(h.model.secrets.get('virtuous/test/acme/api_token')?.deletedDate).toBeInstanceOf(Date);
    // Re-onboarding inside the recovery window: Secrets Manager refuses every write to a secret marked for deletion,
    // so the store deletes it for good and creates it anew. It takes Secrets Manager a moment to free the name.
    h.model.forcedDeletionDelayMs = 600;
    const again = value('c');
    const { versionId } = await h.store.putPending(api('acme'), again, ctx);
    const forcedDeletes = smMock
      .commandCalls(DeleteSecretCommand)
      .filter((c) => c.args[0].input.ForceDeleteWithoutRecovery === true);
    expect(forcedDeletes.map((c) => c.args[0].input.SecretId)).toEqual(['virtuous/test/acme/api_token']);
    expect(h.model.log.filter((c) => c.op === 'CreateSecret').length).toBeGreaterThan(1); // refused until freed
    // Nothing of the deleted secret survives: the new value is its only version.
    expect(h.model.stagesOf('virtuous/test/acme/api_token')).toEqual({ [versionId]: ['AWSCURRENT', 'AWSPENDING'] });
    expect(h.model.secrets.get('virtuous/test/acme/api_token')?.policy).toBeDefined();
    expect((await h.store.read(api('acme'), 'current', ctx))?.value).toBe(again);
    // The other secret stays scheduled for deletion, recoverable until its window ends.
    expect(h.model.secrets.get('virtuous/test/acme/webhook_secret')?.deletedDate).toBeInstanceOf(Date);

    const forced = makeAwsHarness({ overrides: { recoveryWindowDays: 0 } });
    await forced.store.putPending(api('acme'), value('d'), ctx);
    expect(await forced.store.deleteCustomer('acme', ctx)).toEqual({ deletedSecrets: 1 });
    expect(smMock.commandCalls(DeleteSecretCommand)[0]?.args[0].input).toMatchObject({
      ForceDeleteWithoutRecovery: true,
    });
    expect(forced.model.secrets.size).toBe(0);
  });

  it('tells the caller to retry later when Secrets Manager has not freed a force-deleted name after its backoff', async () => {
    const time = clock();
    const waits: number[] = [];
    const h = makeAwsHarness({
      now: time.now,
      overrides: {
        sleep: async (ms) => {
          waits.push(ms);
          time.advance(ms);
        },
      },
    });
    await h.store.putPending(api('acme'), value('old'), ctx);
    await h.store.deleteCustomer('acme', ctx);
    h.model.forcedDeletionDelayMs = 60_000;
    const error = await h.store.putPending(api('acme'), value('new'), ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ code: 'SECRET_NAME_NOT_FREED', retryAfterSeconds: 5 });
    expect(waits).toEqual([250, 500, 1000, 2000, 4000]);
    // The retry, once the name is free, stores the value.
    time.advance(60_000);
    await expect(h.store.putPending(api('acme'), value('later'), ctx)).resolves.toMatchObject({
      versionId: expect.any(String),
    });
  });

  it('refuses a recovery window outside 0 or 7-30', () => {
    const base = makeAwsHarness();
    for (const recoveryWindowDays of [1, 6, 31, 2.5]) {
      expect(
        () =>
          new SecretsManagerStore({
            environment: 'test',
            kmsKeyArn: KMS_KEY_ARN,
            sessions: base.sessions,
            audit: base.audit,
            scopedRoleArns: [ROLE_ARN],
            recoveryWindowDays,
          }),
      ).toThrow(ForbiddenInputError);
    }
  });

  it('builds from the environment and names a missing or invalid setting', async () => {
    const { createSecretsManagerStore } = await import('../../../functions/credentials/secrets-manager-store.ts');
    const env = {
      ENVIRONMENT_NAME: 'production',
      SECRETS_KMS_KEY_ARN: KMS_KEY_ARN,
      CUSTOMER_SECRETS_ROLE_ARN: ROLE_ARN,
      SCOPED_SESSION_PURPOSE: 'virtuous-api',
      SECRET_ACCESS_ROLE_ARNS: `${ROLE_ARN}, ${WRITER_ROLE_ARN}`,
      TABLE_SECRET_AUDIT: 'virtuous-production-secret-audit',
      AWS_REGION: 'us-east-1',
    };
    expect(createSecretsManagerStore(env)).toBeInstanceOf(SecretsManagerStore);
    expect(() => createSecretsManagerStore({ ...env, SECRET_ACCESS_ROLE_ARNS: '' })).toThrow(/SECRET_ACCESS_ROLE_ARNS/);
    // A function deployed without a purpose, or with one that does not exist, never opens a session.
    expect(() => createSecretsManagerStore({ ...env, SCOPED_SESSION_PURPOSE: '' })).toThrow(/SCOPED_SESSION_PURPOSE/);
    expect(() => createSecretsManagerStore({ ...env, SCOPED_SESSION_PURPOSE: 'reader' })).toThrow(ForbiddenInputError);
    expect(() => createSecretsManagerStore({ ...env, SECRET_RECOVERY_WINDOW_DAYS: '3' })).toThrow(ForbiddenInputError);
    expect(() => createSecretsManagerStore({ ...env, SECRET_RECOVERY_WINDOW_DAYS: '45' })).toThrow(
      /SECRET_RECOVERY_WINDOW_DAYS/,
    );
    expect(() => createSecretsManagerStore({ ...env, SECRET_RECOVERY_WINDOW_DAYS: '0' })).not.toThrow();
  });

  it('classifies Secrets Manager failures, audits them, and never puts the value in the error', async () => {
    const h = makeAwsHarness();
    const ref = api('acme');
    const secret = value('x');
    await h.store.putPending(ref, secret, ctx);
    smMock
      .on(GetSecretValueCommand)
      .rejectsOnce(new InternalServiceError({ message: 'boom', $metadata: { httpStatusCode: 500 } }))
      .rejectsOnce(
        new SecretsManagerServiceException({
          name: 'AccessDeniedException',
          $fault: 'client',
          message: 'denied',
          $metadata: { httpStatusCode: 400 },
        }),
      );
    const transient = await h.store.read(ref, 'current', ctx).catch((e: unknown) => e);
    expect(transient).toBeInstanceOf(TransientError);
    const denied = await h.store.read(ref, 'current', ctx).catch((e: unknown) => e);
    expect(denied).toMatchObject({ name: 'PermanentError', code: 'SECRET_ACCESS_DENIED' });
    for (const error of [transient, denied]) expect(JSON.stringify(error) + String(error)).not.toContain(secret);
    expect(
      h.audit
        .all()
        .filter((r) => r.action === 'read')
        .map((r) => [r.outcome, r.errorCode]),
    ).toEqual([
      ['error', 'SECRETS_MANAGER_UNAVAILABLE'],
      ['error', 'SECRET_ACCESS_DENIED'],
    ]);
  });

  it('fails closed: when the audit record cannot be written, the value is not returned', async () => {
    const failing: AuditLog = {
      record: async (entry: AuditEntry) => {
        if (entry.action === 'read') throw new TransientError('AUDIT_WRITE_FAILED', 'audit table unavailable');
      },
      accessesBetween: async () => [],
      deleteCustomerEntries: async () => ({ deleted: 0 }),
    };
    const h = makeAwsHarness({ overrides: { audit: failing } });
    const secret = value('closed');
    await h.store.putPending(api('acme'), secret, ctx);
    const error = await h.store.read(api('acme'), 'current', ctx).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'AUDIT_WRITE_FAILED' });
    expect(JSON.stringify(error) + String(error)).not.toContain(secret);
  });

  it('records attempts when no scoped session can be obtained, and makes no Secrets Manager call', async () => {
    const h = makeAwsHarness({ overrides: { fallbackAccessor: 'function:sync-processor' } });
    const { stsMock } = await import('../../contract/secret-store/aws-harness.ts');
    const { AssumeRoleCommand } = await import('@aws-sdk/client-sts');
    stsMock.on(AssumeRoleCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
    await expect(h.store.read(api('acme'), 'current', ctx)).rejects.toMatchObject({ code: 'SCOPED_ROLE_DENIED' });
    expect(smMock.calls()).toHaveLength(0);
    expect(h.audit.all()[0]).toMatchObject({ outcome: 'error', accessor: 'function:sync-processor' });
  });
});

describe('MemoryAuditLog queries', () => {
  it('returns a customer’s accesses between two times and deletes all but the newest on request', async () => {
    const audit = new MemoryAuditLog();
    const at = (minute: number) => new Date(Date.UTC(2026, 10, 29, 3, minute)).toISOString();
    for (const [customerId, minute] of [
      ['acme', 1],
      ['acme', 5],
      ['acme', 9],
      ['globex', 5],
    ] as const) {
      await audit.record({
        customerId,
        kind: 'api_token',
        action: 'read',
        accessor: 'a',
        reason: 'x:y',
        outcome: 'ok',
        at: at(minute),
      });
    }
    expect((await audit.accessesBetween('acme', at(2), at(9))).map((r) => r.at)).toEqual([at(5), at(9)]);
    expect(await audit.deleteCustomerEntries('acme', at(5))).toEqual({ deleted: 2 });
    expect((await audit.accessesBetween('acme', at(0), at(59))).map((r) => r.at)).toEqual([at(9)]);
    expect(await audit.accessesBetween('globex', at(0), at(59))).toHaveLength(1);
  });
});

describe('SecretsManagerStore when the scoped session is denied an existing secret', () => {
  it('reports the denial instead of treating the secret as missing', async () => {
    const h = makeAwsHarness();
    await h.store.putPending(api('acme'), value('exists'), ctx);
    // Someone re-tagged the secret for another customer: the scoped session is now denied, and must say so.
    h.model.secrets.get('virtuous/test/acme/api_token')?.tags.set('customer_id', 'globex');
    h.store.invalidate(api('acme'));
    await expect(h.store.read(api('acme'), 'current', ctx)).rejects.toMatchObject({ code: 'SECRET_ACCESS_DENIED' });
    await expect(h.store.putPending(api('acme'), value('again'), ctx)).rejects.toMatchObject({
      code: 'SECRET_ACCESS_DENIED',
    });
  });
});

describe('SecretsManagerStore behind the Virtuous token source', () => {
  it('re-fetches once after a 401: invalidating the token source also clears the store cache', async () => {
    const { secretStoreTokenSource } = await import('../../../functions/virtuous/token-source.ts');
    const h = makeAwsHarness();
    const old = value('old-token');
    await h.store.putPending(api('acme'), old, ctx);
    await h.store.promotePending(api('acme'), ctx);
    const tokens = secretStoreTokenSource(h.store, 'acme', 'sync:submit');
    expect(await tokens.current()).toBe(old);
    // Another container promoted a new token; Virtuous now answers 401 to the old one.
    const rotated = value('rotated-token');
    h.model.putSecretValue({ SecretId: 'virtuous/test/acme/api_token', SecretString: rotated }, 'acme');
    tokens.invalidate();
    expect(await tokens.current()).toBe(rotated);
    expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });
});

import { describe, expect, it } from 'vitest';
import {
  MARKED_FOR_DELETION,
  MIN_DEPRECATED_AGE_MS,
  NAME_SCHEDULED_FOR_DELETION,
  SecretsManagerModel,
  VERSIONS_KEPT,
} from '../../support/secrets-manager-model.ts';

/** The model stands in for Secrets Manager in every AWS store test; these pin the behaviours it claims to model. */
describe('SecretsManagerModel', () => {
  it('attaches AWSCURRENT to the first version whatever labels the call names', () => {
    const model = new SecretsManagerModel();
    model.createSecret({ Name: 'a/test/c/api_token' });
    const { VersionStages } = model.putSecretValue({
      SecretId: 'a/test/c/api_token',
      SecretString: 's1',
      VersionStages: ['AWSPENDING'],
    });
    expect([...(VersionStages ?? [])].sort()).toEqual(['AWSCURRENT', 'AWSPENDING']);
  });

  it('requires RemoveFromVersionId to move a label, moves AWSPREVIOUS with AWSCURRENT, and never removes AWSCURRENT', () => {
    const model = new SecretsManagerModel();
    model.createSecret({ Name: 's', SecretString: 'one', ClientRequestToken: 'v1' });
    model.putSecretValue({
      SecretId: 's',
      SecretString: 'two',
      ClientRequestToken: 'v2',
      VersionStages: ['AWSPENDING'],
    });
    expect(() =>
      model.updateSecretVersionStage({ SecretId: 's', VersionStage: 'AWSCURRENT', MoveToVersionId: 'v2' }),
    ).toThrow(/RemoveFromVersionId/);
    model.updateSecretVersionStage({
      SecretId: 's',
      VersionStage: 'AWSCURRENT',
      MoveToVersionId: 'v2',
      RemoveFromVersionId: 'v1',
    });
    expect(model.stagesOf('s')).toEqual({ v1: ['AWSPREVIOUS'], v2: ['AWSCURRENT', 'AWSPENDING'] });
    expect(() =>
      model.updateSecretVersionStage({ SecretId: 's', VersionStage: 'AWSCURRENT', RemoveFromVersionId: 'v2' }),
    ).toThrow(/can't be completely removed/);
    model.updateSecretVersionStage({ SecretId: 's', VersionStage: 'AWSPREVIOUS', RemoveFromVersionId: 'v1' });
    expect(model.listSecretVersionIds({ SecretId: 's' }).Versions?.map((v) => v.VersionId)).toEqual(['v2']);
    expect(model.listSecretVersionIds({ SecretId: 's', IncludeDeprecated: true }).Versions).toHaveLength(2);
    expect(model.getSecretValue({ SecretId: 's', VersionId: 'v1' }).SecretString).toBe('one'); // deprecated, by id only
    expect(() => model.getSecretValue({ SecretId: 's', VersionStage: 'AWSPREVIOUS' })).toThrow(/can't find/);
  });

  it('is idempotent on ClientRequestToken and refuses a different value under the same token', () => {
    const model = new SecretsManagerModel();
    model.createSecret({ Name: 's' });
    model.putSecretValue({ SecretId: 's', SecretString: 'x', ClientRequestToken: 't' });
    expect(model.putSecretValue({ SecretId: 's', SecretString: 'x', ClientRequestToken: 't' }).VersionId).toBe('t');
    expect(() => model.putSecretValue({ SecretId: 's', SecretString: 'y', ClientRequestToken: 't' })).toThrow(
      /already exists/,
    );
  });

  it('filters ListSecrets by prefix, ANDs filters, hides secrets scheduled for deletion, and purges after the window', () => {
    let now = 0;
    const model = new SecretsManagerModel(() => now);
    model.createSecret({ Name: 'virtuous/test/acme/api_token', Tags: [{ Key: 'customer_id', Value: 'acme' }] });
    model.createSecret({ Name: 'virtuous/test/acme-2/api_token', Tags: [{ Key: 'customer_id', Value: 'acme-2' }] });
    const names = () =>
      model
        .listSecrets({
          Filters: [
            { Key: 'tag-key', Values: ['customer_id'] },
            { Key: 'tag-value', Values: ['acme'] },
          ],
        })
        .SecretList?.map((s) => s.Name);
    expect(names()).toEqual(['virtuous/test/acme-2/api_token', 'virtuous/test/acme/api_token']);
    model.deleteSecret({ SecretId: 'virtuous/test/acme/api_token', RecoveryWindowInDays: 7 });
    expect(names()).toEqual(['virtuous/test/acme-2/api_token']);
    expect(() => model.getSecretValue({ SecretId: 'virtuous/test/acme/api_token' })).toThrow(/marked for deletion/);
    expect(() => model.createSecret({ Name: 'virtuous/test/acme/api_token' })).toThrow(/scheduled for deletion/);
    now += 7 * 86_400_000;
    expect(model.purgeDue()).toBe(1);
    expect(() => model.deleteSecret({ SecretId: 'x', RecoveryWindowInDays: 3 })).toThrow(/find/);
  });

  it('refuses reads and writes of a secret scheduled for deletion with AWS’s texts, and RestoreSecret brings it back', () => {
    const model = new SecretsManagerModel(() => 0);
    const name = 'virtuous/test/acme/api_token';
    model.createSecret({ Name: name, SecretString: 'one', ClientRequestToken: 'v1' });
    model.putSecretValue({
      SecretId: name,
      SecretString: 'two',
      ClientRequestToken: 'v2',
      VersionStages: ['AWSPENDING'],
    });
    model.deleteSecret({ SecretId: name, RecoveryWindowInDays: 7 });
    const refused = [
      () => model.getSecretValue({ SecretId: name }),
      () => model.putSecretValue({ SecretId: name, SecretString: 'three' }),
      () => model.updateSecretVersionStage({ SecretId: name, VersionStage: 'AWSPENDING', RemoveFromVersionId: 'v2' }),
      () => model.deleteSecret({ SecretId: name, RecoveryWindowInDays: 7 }),
    ];
    for (const call of refused) {
      expect(call).toThrow(expect.objectContaining({ name: 'InvalidRequestException', message: MARKED_FOR_DELETION }));
    }
    expect(() => model.createSecret({ Name: name })).toThrow(
      expect.objectContaining({ name: 'InvalidRequestException', message: NAME_SCHEDULED_FOR_DELETION }),
    );
    expect(model.describeSecret({ SecretId: name }).DeletedDate).toEqual(new Date(7 * 86_400_000));

    expect(model.restoreSecret({ SecretId: name })).toMatchObject({ Name: name });
    expect(model.describeSecret({ SecretId: name }).DeletedDate).toBeUndefined();
    expect(model.stagesOf(name)).toEqual({ v1: ['AWSCURRENT'], v2: ['AWSPENDING'] });
    expect(model.getSecretValue({ SecretId: name }).SecretString).toBe('one');
    expect(model.restoreSecret({ SecretId: name })).toMatchObject({ Name: name });
    // A forced deletion is allowed on a scheduled secret and takes it at once.
    model.deleteSecret({ SecretId: name, RecoveryWindowInDays: 7 });
    model.deleteSecret({ SecretId: name, ForceDeleteWithoutRecovery: true });
    expect(model.secrets.has(name)).toBe(false);
  });

  it('purges deprecated versions only above 100 versions, only once a day old, oldest first, never a labelled one', () => {
    let now = 0;
    const model = new SecretsManagerModel(() => now);
    model.createSecret({ Name: 's' });
    for (let i = 1; i <= 105; i++) {
      model.putSecretValue({ SecretId: 's', SecretString: `value-${i}`, ClientRequestToken: `v${i}` });
      now += 60_000;
    }
    // Each put moved AWSCURRENT on: v105 current, v104 previous, 103 versions without a label.
    const unlabelled = () => Object.values(model.stagesOf('s')).filter((stages) => stages.length === 0).length;
    expect(unlabelled()).toBe(103);
    expect(model.purgeDeprecatedVersions()).toBe(0); // none is 24 hours old yet
    now += MIN_DEPRECATED_AGE_MS;
    expect(model.purgeDeprecatedVersions()).toBe(105 - VERSIONS_KEPT);
    const left = model.stagesOf('s');
    expect(Object.keys(left)).toHaveLength(VERSIONS_KEPT);
    expect(['v1', 'v2', 'v3', 'v4', 'v5'].some((id) => id in left)).toBe(false);
    expect(left.v105).toEqual(['AWSCURRENT']);
    expect(left.v104).toEqual(['AWSPREVIOUS']);
    expect(model.purgeDeprecatedVersions()).toBe(0);
  });
});

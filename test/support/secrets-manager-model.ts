/**
 * A stateful model of AWS Secrets Manager for aws-sdk-client-mock, faithful to the behaviours this product relies
 * on (from the Secrets Manager API reference). Modelled:
 *
 * - CreateSecret: name unique (ResourceExistsException), InvalidRequestException while a same-named secret waits
 *   for deletion; with a value the first version gets AWSCURRENT; without one the secret has no version; tags and
 *   KmsKeyId kept; ARN = name + '-' + 6 random characters.
 * - PutSecretValue: ResourceNotFoundException for an unknown secret; ClientRequestToken is the version id
 *   (idempotent for the same value, ResourceExistsException for another); VersionStages default [AWSCURRENT]; the
 *   first version of a secret always gets AWSCURRENT; a named label moves off any other version; when AWSCURRENT
 *   moves, AWSPREVIOUS moves onto the version it left.
 * - GetSecretValue by VersionStage and/or VersionId (default AWSCURRENT); ResourceNotFoundException when nothing
 *   matches; unlabelled (deprecated) versions readable by id only, as in AWS.
 * - UpdateSecretVersionStage: a label on another version must be named in RemoveFromVersionId
 *   (InvalidParameterException otherwise); AWSCURRENT can be moved but not removed; moving AWSCURRENT moves
 *   AWSPREVIOUS automatically; a version left without labels becomes deprecated (kept, hidden from listings).
 * - DescribeSecret (VersionIdsToStages of labelled versions, Tags, DeletedDate), ListSecretVersionIds
 *   (IncludeDeprecated), ListSecrets with filters name / tag-key / tag-value / description / all (prefix match,
 *   `!` negation, OR within a filter, AND across filters), IncludePlannedDeletion, MaxResults/NextToken.
 * - TagResource, PutResourcePolicy (must be JSON), DeleteSecret with RecoveryWindowInDays (7-30, default 30) or
 *   ForceDeleteWithoutRecovery (both: InvalidParameterException). DeleteSecret with a recovery window sets
 *   DeletedDate; from then on GetSecretValue, PutSecretValue, UpdateSecretVersionStage (and, here, the other
 *   writes and ListSecretVersionIds) fail with InvalidRequestException "You can't perform this operation on the
 *   secret because it was marked for deletion." and CreateSecret of the name with InvalidRequestException "You can't
 *   create this secret because a secret with this name is already scheduled for deletion." (the AWS texts);
 *   DescribeSecret still answers (with DeletedDate); a second DeleteSecret with a window is refused, a forced one
 *   is accepted. A forced deletion frees the name after `forcedDeletionDelayMs` (AWS deletes in the background;
 *   until then CreateSecret of the name is refused as above). RestoreSecret removes DeletedDate (a no-op on a secret that is not scheduled), and every
 *   version comes back with its labels. `purgeDue()` removes secrets whose recovery window ended.
 * - Version purge: Secrets Manager has no call that deletes one version ("You can't directly delete a version of a
 *   secret": remove its labels and it is deprecated). It "removes unlabeled versions when there are more than 100,
 *   but it does not remove versions created less than 24 hours ago" (quotas page); `purgeDeprecatedVersions()` is
 *   that background task: oldest unlabelled versions first, while a secret holds more than 100 versions.
 * - Scoping: with `principalOf`, each call learns the session's customer_id tag from the calling client's
 *   credentials and is denied (AccessDeniedException) on a secret whose customer_id tag or name is another
 *   customer's, as the customer-secrets role's policy does, and on a secret that does not exist (a tag condition
 *   cannot match a missing resource, so AWS answers AccessDenied rather than ResourceNotFound). CreateSecret is
 *   checked against the request's tags. ListSecrets is not resource-scoped (as in IAM).
 *
 * Not modelled: SecretBinary, rotation Lambdas, replication, the hard quota on versions, KMS itself.
 */
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  InvalidParameterException,
  InvalidRequestException,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutResourcePolicyCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  RestoreSecretCommand,
  type SecretsManagerClient,
  SecretsManagerServiceException,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { AwsStub } from 'aws-sdk-client-mock';

// biome-ignore lint/suspicious/noExplicitAny: the stub's type parameters are the client's private input/output unions
type SecretsManagerMock = AwsStub<any, any, any>;

import { randomBytes, randomUUID } from 'node:crypto';

const CURRENT = 'AWSCURRENT';
const PREVIOUS = 'AWSPREVIOUS';
/** Secrets Manager starts removing unlabelled versions above this many versions of one secret. */
export const VERSIONS_KEPT = 100;
/** ... and never removes a version younger than this. */
export const MIN_DEPRECATED_AGE_MS = 24 * 3600_000;
/** The texts AWS answers for a secret scheduled for deletion. */
export const MARKED_FOR_DELETION = "You can't perform this operation on the secret because it was marked for deletion.";
export const NAME_SCHEDULED_FOR_DELETION =
  "You can't create this secret because a secret with this name is already scheduled for deletion.";
const ACCOUNT = '123456789012';
const REGION = 'us-east-1';

interface ModelVersion {
  readonly versionId: string;
  readonly value: string;
  readonly stages: Set<string>;
  readonly createdDate: Date;
}

export interface ModelSecret {
  readonly arn: string;
  readonly name: string;
  readonly kmsKeyId?: string;
  readonly description?: string;
  readonly tags: Map<string, string>;
  readonly versions: Map<string, ModelVersion>;
  policy?: unknown;
  deletedDate?: Date;
  /** A forced deletion that Secrets Manager has not finished yet: the secret disappears at this time. */
  purgeAt?: Date;
}

const meta = { httpStatusCode: 400 };

function notFound(): ResourceNotFoundException {
  return new ResourceNotFoundException({
    message: "Secrets Manager can't find the specified secret.",
    $metadata: meta,
  });
}
function invalidRequest(message: string): InvalidRequestException {
  return new InvalidRequestException({ message, $metadata: meta });
}
function accessDenied(): SecretsManagerServiceException {
  return new SecretsManagerServiceException({
    name: 'AccessDeniedException',
    $fault: 'client',
    message: 'not authorized by the scoped session policy',
    $metadata: { httpStatusCode: 400 },
  });
}
function invalidParameter(message: string): InvalidParameterException {
  return new InvalidParameterException({ message, $metadata: meta });
}

export class SecretsManagerModel {
  readonly secrets = new Map<string, ModelSecret>();
  /** Every call in order: operation name and SecretId or Name (never values). */
  readonly log: { op: string; id?: string; customer?: string }[] = [];
  /**
   * How long a forced deletion takes to free the name: Secrets Manager deletes "with an asynchronous background
   * process, so there might be a short delay" before a secret of the same name can be created. 0: at once.
   */
  forcedDeletionDelayMs = 0;

  constructor(
    private readonly now: () => number = Date.now,
    /** The session's customer_id tag for the calling client; undefined means "not a scoped session". */
    private readonly principalOf?: (client: SecretsManagerClient) => Promise<string | undefined>,
  ) {}

  /** Routes every Secrets Manager command of the mock to this model. */
  attach(mock: SecretsManagerMock): void {
    const route = <I>(command: unknown, op: string, handler: (input: I, customer: string | undefined) => unknown) => {
      (mock as unknown as { on(c: unknown): { callsFake(f: (i: I, g: () => unknown) => unknown): void } })
        .on(command)
        .callsFake(async (input: I, getClient: () => unknown) => {
          this.finishForcedDeletions();
          const customer = this.principalOf ? await this.principalOf(getClient() as SecretsManagerClient) : undefined;
          const id = (input as { SecretId?: string; Name?: string }).SecretId ?? (input as { Name?: string }).Name;
          this.log.push({ op, ...(id === undefined ? {} : { id }), ...(customer === undefined ? {} : { customer }) });
          return handler(input, customer);
        });
    };
    route(CreateSecretCommand, 'CreateSecret', (i: CreateSecretCommand['input'], c) => this.createSecret(i, c));
    route(PutSecretValueCommand, 'PutSecretValue', (i: PutSecretValueCommand['input'], c) => this.putSecretValue(i, c));
    route(GetSecretValueCommand, 'GetSecretValue', (i: GetSecretValueCommand['input'], c) => this.getSecretValue(i, c));
    route(
      UpdateSecretVersionStageCommand,
      'UpdateSecretVersionStage',
      (i: UpdateSecretVersionStageCommand['input'], c) => this.updateSecretVersionStage(i, c),
    );
    route(DescribeSecretCommand, 'DescribeSecret', (i: DescribeSecretCommand['input'], c) => this.describeSecret(i, c));
    route(ListSecretVersionIdsCommand, 'ListSecretVersionIds', (i: ListSecretVersionIdsCommand['input'], c) =>
      this.listSecretVersionIds(i, c),
    );
    route(ListSecretsCommand, 'ListSecrets', (i: ListSecretsCommand['input']) => this.listSecrets(i));
    route(TagResourceCommand, 'TagResource', (i: TagResourceCommand['input'], c) => this.tagResource(i, c));
    route(PutResourcePolicyCommand, 'PutResourcePolicy', (i: PutResourcePolicyCommand['input'], c) =>
      this.putResourcePolicy(i, c),
    );
    route(DeleteSecretCommand, 'DeleteSecret', (i: DeleteSecretCommand['input'], c) => this.deleteSecret(i, c));
    route(RestoreSecretCommand, 'RestoreSecret', (i: RestoreSecretCommand['input'], c) => this.restoreSecret(i, c));
  }

  createSecret(input: CreateSecretCommand['input'], customer?: string) {
    const name = input.Name ?? '';
    const tags = new Map((input.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
    this.authorize(customer, name, tags);
    const existing = this.secrets.get(name);
    if (existing?.deletedDate) {
      throw invalidRequest(NAME_SCHEDULED_FOR_DELETION);
    }
    if (existing) {
      throw new ResourceExistsException({
        message: 'The operation failed because the secret already exists.',
        $metadata: meta,
      });
    }
    const secret: ModelSecret = {
      arn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-${randomBytes(3).toString('hex')}`,
      name,
      ...(input.KmsKeyId === undefined ? {} : { kmsKeyId: input.KmsKeyId }),
      ...(input.Description === undefined ? {} : { description: input.Description }),
      tags,
      versions: new Map(),
    };
    this.secrets.set(name, secret);
    let versionId: string | undefined;
    if (input.SecretString !== undefined) {
      versionId = input.ClientRequestToken ?? randomUUID();
      secret.versions.set(versionId, {
        versionId,
        value: input.SecretString,
        stages: new Set([CURRENT]),
        createdDate: new Date(this.now()),
      });
    }
    return { ARN: secret.arn, Name: name, ...(versionId === undefined ? {} : { VersionId: versionId }) };
  }

  putSecretValue(input: PutSecretValueCommand['input'], customer?: string) {
    const secret = this.live(input.SecretId, customer);
    const versionId = input.ClientRequestToken ?? randomUUID();
    const value = input.SecretString ?? '';
    const existing = secret.versions.get(versionId);
    if (existing) {
      if (existing.value !== value) {
        throw new ResourceExistsException({
          message: 'A version with this ClientRequestToken already exists.',
          $metadata: meta,
        });
      }
      return { ARN: secret.arn, Name: secret.name, VersionId: versionId, VersionStages: [...existing.stages] };
    }
    const labels = new Set(input.VersionStages ?? [CURRENT]);
    if (secret.versions.size === 0) labels.add(CURRENT);
    const version: ModelVersion = { versionId, value, stages: new Set(), createdDate: new Date(this.now()) };
    secret.versions.set(versionId, version);
    for (const label of labels) this.attachLabel(secret, label, version);
    return { ARN: secret.arn, Name: secret.name, VersionId: versionId, VersionStages: [...version.stages] };
  }

  getSecretValue(input: GetSecretValueCommand['input'], customer?: string) {
    const secret = this.live(input.SecretId, customer);
    const stage = input.VersionStage ?? (input.VersionId === undefined ? CURRENT : undefined);
    const version = [...secret.versions.values()].find(
      (v) =>
        (input.VersionId === undefined || v.versionId === input.VersionId) &&
        (stage === undefined || v.stages.has(stage)),
    );
    if (!version) {
      throw new ResourceNotFoundException({
        message: "Secrets Manager can't find the specified secret value for staging label or version.",
        $metadata: meta,
      });
    }
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.versionId,
      SecretString: version.value,
      VersionStages: [...version.stages],
      CreatedDate: version.createdDate,
    };
  }

  updateSecretVersionStage(input: UpdateSecretVersionStageCommand['input'], customer?: string) {
    const secret = this.live(input.SecretId, customer);
    const label = input.VersionStage ?? '';
    const holder = [...secret.versions.values()].find((v) => v.stages.has(label));
    const target = input.MoveToVersionId === undefined ? undefined : secret.versions.get(input.MoveToVersionId);
    if (input.MoveToVersionId !== undefined && !target) throw invalidParameter('MoveToVersionId names no version.');
    if (input.RemoveFromVersionId !== undefined && holder?.versionId !== input.RemoveFromVersionId) {
      throw invalidParameter('The staging label is not attached to RemoveFromVersionId.');
    }
    if (target && holder && holder !== target && input.RemoveFromVersionId === undefined) {
      throw invalidParameter(
        `The staging label ${label} is attached to another version: name it in RemoveFromVersionId.`,
      );
    }
    if (!target && label === CURRENT) {
      throw invalidParameter(
        "You can only move staging label AWSCURRENT to a different secret version. It can't be completely removed.",
      );
    }
    if (target) {
      this.attachLabel(secret, label, target);
    } else if (holder) {
      holder.stages.delete(label);
    }
    return { ARN: secret.arn, Name: secret.name };
  }

  describeSecret(input: DescribeSecretCommand['input'], customer?: string) {
    const secret = this.find(input.SecretId, customer);
    return {
      ARN: secret.arn,
      Name: secret.name,
      KmsKeyId: secret.kmsKeyId,
      Description: secret.description,
      Tags: [...secret.tags].map(([Key, Value]) => ({ Key, Value })),
      VersionIdsToStages: Object.fromEntries(
        [...secret.versions.values()].filter((v) => v.stages.size > 0).map((v) => [v.versionId, [...v.stages]]),
      ),
      ...(secret.deletedDate ? { DeletedDate: secret.deletedDate } : {}),
    };
  }

  listSecretVersionIds(input: ListSecretVersionIdsCommand['input'], customer?: string) {
    const secret = this.live(input.SecretId, customer);
    return {
      ARN: secret.arn,
      Name: secret.name,
      Versions: [...secret.versions.values()]
        .filter((v) => input.IncludeDeprecated || v.stages.size > 0)
        .map((v) => ({ VersionId: v.versionId, VersionStages: [...v.stages], CreatedDate: v.createdDate })),
    };
  }

  listSecrets(input: ListSecretsCommand['input']) {
    const all = [...this.secrets.values()]
      .filter((s) => input.IncludePlannedDeletion || !s.deletedDate)
      .filter((s) => (input.Filters ?? []).every((f) => matchesFilter(s, f.Key ?? '', f.Values ?? [])))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    const start = input.NextToken === undefined ? 0 : Number(input.NextToken);
    const size = Math.min(input.MaxResults ?? 100, 100);
    const page = all.slice(start, start + size);
    return {
      SecretList: page.map((s) => ({
        ARN: s.arn,
        Name: s.name,
        Tags: [...s.tags].map(([Key, Value]) => ({ Key, Value })),
        ...(s.deletedDate ? { DeletedDate: s.deletedDate } : {}),
      })),
      ...(start + size < all.length ? { NextToken: String(start + size) } : {}),
    };
  }

  tagResource(input: TagResourceCommand['input'], customer?: string) {
    const secret = this.live(input.SecretId, customer);
    for (const tag of input.Tags ?? []) secret.tags.set(tag.Key ?? '', tag.Value ?? '');
    return {};
  }

  putResourcePolicy(input: PutResourcePolicyCommand['input'], customer?: string) {
    const secret = this.live(input.SecretId, customer);
    try {
      secret.policy = JSON.parse(input.ResourcePolicy ?? '');
    } catch {
      throw new InvalidParameterException({ message: 'The resource policy is not valid JSON.', $metadata: meta });
    }
    return { ARN: secret.arn, Name: secret.name };
  }

  deleteSecret(input: DeleteSecretCommand['input'], customer?: string) {
    const secret = this.find(input.SecretId, customer);
    if (input.ForceDeleteWithoutRecovery && input.RecoveryWindowInDays !== undefined) {
      throw invalidParameter("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
    }
    if (input.ForceDeleteWithoutRecovery) {
      if (this.forcedDeletionDelayMs === 0) {
        this.secrets.delete(secret.name);
      } else {
        // Gone for every call at once, but the name stays taken until the background deletion has run.
        secret.deletedDate = new Date(this.now());
        secret.purgeAt = new Date(this.now() + this.forcedDeletionDelayMs);
      }
      return { ARN: secret.arn, Name: secret.name, DeletionDate: new Date(this.now()) };
    }
    if (secret.deletedDate) throw invalidRequest(MARKED_FOR_DELETION);
    const days = input.RecoveryWindowInDays ?? 30;
    if (days < 7 || days > 30) throw invalidParameter('RecoveryWindowInDays must be between 7 and 30.');
    secret.deletedDate = new Date(this.now() + days * 86_400_000);
    return { ARN: secret.arn, Name: secret.name, DeletionDate: secret.deletedDate };
  }

  /** Cancels a scheduled deletion: the secret and all its versions, with their labels, are back. */
  restoreSecret(input: RestoreSecretCommand['input'], customer?: string) {
    const secret = this.find(input.SecretId, customer);
    delete secret.deletedDate;
    return { ARN: secret.arn, Name: secret.name };
  }

  /**
   * Secrets Manager's background removal of deprecated versions: while a secret holds more than 100 versions, its
   * oldest unlabelled version created at least 24 hours ago is deleted. Returns how many versions were removed.
   */
  purgeDeprecatedVersions(): number {
    let removed = 0;
    for (const secret of this.secrets.values()) {
      const removable = [...secret.versions.values()]
        .filter((v) => v.stages.size === 0 && this.now() - v.createdDate.getTime() >= MIN_DEPRECATED_AGE_MS)
        .sort((a, b) => a.createdDate.getTime() - b.createdDate.getTime());
      while (secret.versions.size > VERSIONS_KEPT && removable.length > 0) {
        secret.versions.delete((removable.shift() as ModelVersion).versionId);
        removed++;
      }
    }
    return removed;
  }

  /** Completes forced deletions whose background deletion is due (before every call). */
  finishForcedDeletions(): void {
    for (const [name, secret] of this.secrets) {
      if (secret.purgeAt && secret.purgeAt.getTime() <= this.now()) this.secrets.delete(name);
    }
  }

  /** Removes secrets whose recovery window has ended (Secrets Manager does this in the background). */
  purgeDue(): number {
    let purged = 0;
    for (const [name, secret] of this.secrets) {
      if (secret.deletedDate && secret.deletedDate.getTime() <= this.now()) {
        this.secrets.delete(name);
        purged++;
      }
    }
    return purged;
  }

  /** Test view: staging labels by version id (labelled and deprecated versions). */
  stagesOf(name: string): Record<string, string[]> {
    const secret = this.secrets.get(name);
    return Object.fromEntries([...(secret?.versions.values() ?? [])].map((v) => [v.versionId, [...v.stages].sort()]));
  }

  private attachLabel(secret: ModelSecret, label: string, target: ModelVersion): void {
    for (const version of secret.versions.values()) {
      if (version === target || !version.stages.has(label)) continue;
      version.stages.delete(label);
      if (label === CURRENT) {
        for (const other of secret.versions.values()) other.stages.delete(PREVIOUS);
        version.stages.add(PREVIOUS);
      }
    }
    target.stages.add(label);
    if (label === CURRENT) target.stages.delete(PREVIOUS);
  }

  private find(secretId: string | undefined, customer: string | undefined): ModelSecret {
    const id = secretId ?? '';
    const secret =
      this.secrets.get(id) ?? [...this.secrets.values()].find((s) => s.arn === id || id.startsWith(`${s.arn}`));
    if (!secret) {
      // IAM evaluates before existence. A scoped session's policy checks aws:ResourceTag/customer_id, which a
      // missing secret cannot match: AWS answers AccessDenied, not ResourceNotFound, to scoped sessions.
      if (this.principalOf) throw accessDenied();
      throw notFound();
    }
    this.authorize(customer, secret.name, secret.tags);
    return secret;
  }

  private live(secretId: string | undefined, customer: string | undefined): ModelSecret {
    const secret = this.find(secretId, customer);
    if (secret.deletedDate) {
      throw invalidRequest(MARKED_FOR_DELETION);
    }
    return secret;
  }

  private authorize(customer: string | undefined, name: string, tags: Map<string, string>): void {
    if (!this.principalOf) return;
    const nameCustomer = name.split('/')[2];
    const tagged = tags.get('customer_id');
    if (customer === undefined || nameCustomer !== customer || (tagged !== undefined && tagged !== customer)) {
      throw accessDenied();
    }
  }
}

function matchesFilter(secret: ModelSecret, key: string, values: readonly string[]): boolean {
  const test = (raw: string): boolean => {
    const negate = raw.startsWith('!');
    const value = negate ? raw.slice(1) : raw;
    const tagKeys = [...secret.tags.keys()];
    const tagValues = [...secret.tags.values()];
    let hit: boolean;
    switch (key) {
      case 'name':
        hit = secret.name.startsWith(value);
        break;
      case 'tag-key':
        hit = tagKeys.some((k) => k.startsWith(value));
        break;
      case 'tag-value':
        hit = tagValues.some((v) => v.startsWith(value));
        break;
      case 'description':
        hit = (secret.description ?? '').startsWith(value);
        break;
      case 'all':
        hit = [secret.name, secret.description ?? '', ...tagKeys, ...tagValues].some((s) => s.startsWith(value));
        break;
      default:
        throw invalidParameter(`Unsupported filter key ${key}.`);
    }
    return negate ? !hit : hit;
  };
  return values.some(test);
}

/**
 * The SecretStore on AWS Secrets Manager.
 *
 * - Every call for customer X goes through a SecretsManagerClient built with X's scoped session (see
 *   scoped-credentials.ts); the execution role never reads a customer secret.
 * - Secrets are encrypted with the customer-managed key (SECRETS_KMS_KEY_ARN) and tagged `customer_id`,
 *   `environment`, `kind` (and `source`) at creation, which the scoped role's policy checks.
 * - Stages are Secrets Manager's own labels: current = AWSCURRENT, pending = AWSPENDING, previous = AWSPREVIOUS.
 *
 * Creating a secret: CreateSecret without a value, then PutResourcePolicy, then PutSecretValue with AWSPENDING,
 * so a value never exists without the deny-everyone-else policy. Secrets Manager attaches AWSCURRENT to a secret's
 * first version whatever labels the call names; the contract therefore says a first version is current at once
 * (callers validate before they store, as onboarding does).
 *
 * Promoting moves AWSCURRENT onto the pending version (Secrets Manager moves AWSPREVIOUS to the version AWSCURRENT
 * left) and then removes AWSPENDING. Deleting the previous version removes its last label: Secrets Manager has no
 * per-version delete; an unlabelled version is deprecated, can no longer be read (the resource policy requires a
 * staging label on every read) and is deleted by Secrets Manager in the background (unlabelled versions older than
 * 24 hours, once a secret holds more than 100). Deleting a customer schedules DeleteSecret with the configured
 * recovery window (7-30 days) or, when configured 0, deletes without recovery. Storing into a secret that waits out
 * its recovery window deletes it for good and creates it anew (replaceDeleted), so a retried onboarding is not
 * locked out and no value of the deleted secret survives.
 */

import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  type GetSecretValueCommandOutput,
  ListSecretsCommand,
  PutResourcePolicyCommand,
  PutSecretValueCommand,
  paginateListSecrets,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { createDocumentClient } from '../shared/dynamo-document-client.ts';
import { ENV, integerSetting, requireSetting, tableNameFromEnv } from '../shared/environment.ts';
import { ForbiddenInputError, PermanentError, TransientError } from '../shared/errors.ts';
import { assertCustomerId, assertEnvironmentName } from '../shared/identifiers.ts';
import { assertAccessContext } from './access-context.ts';
import type { AuditAction, AuditLog } from './audit-log.ts';
import { type AuditTarget, auditTarget, type OperationResult, runAudited } from './audited-access.ts';
import { DynamoDbAuditLog } from './dynamodb-audit-log.ts';
import { assertStage, assertValue } from './encrypted-file-store.ts';
import { KeyedMutex } from './mutex.ts';
import { type CustomerSession, type CustomerSessions, StsCustomerSessions } from './scoped-credentials.ts';
import { SecretCache } from './secret-cache.ts';
import { type ResolvedSecretRef, refFromTags, resolveSecretRef } from './secret-names.ts';
import { assertSecretPurpose } from './secret-purposes.ts';
import { secretResourcePolicy } from './secret-resource-policy.ts';
import type { AccessContext, SecretRef, SecretStage, SecretStore, SecretVersion } from './secret-store.ts';
import {
  classifySecretsManagerError,
  isNotFound,
  isScheduledForDeletion,
  sdkErrorName,
} from './secrets-manager-errors.ts';

export const STAGE_LABEL: Readonly<Record<SecretStage, string>> = {
  current: 'AWSCURRENT',
  pending: 'AWSPENDING',
  previous: 'AWSPREVIOUS',
};

export interface SecretsManagerStoreOptions {
  readonly environment: string;
  readonly kmsKeyArn: string;
  readonly sessions: CustomerSessions;
  readonly audit: AuditLog;
  /** Role ARNs the resource policy lets read values (the customer-secrets roles). */
  readonly scopedRoleArns: readonly string[];
  /** 0 = ForceDeleteWithoutRecovery; otherwise 7-30. */
  readonly recoveryWindowDays: number;
  readonly cacheTtlMs?: number;
  readonly now?: () => number;
  /** Builds the client for one customer's session; the default has timeouts and bounded retries. */
  readonly clientFor?: (session: CustomerSession, sessions: CustomerSessions) => SecretsManagerClient;
  /** Names the execution identity in the audit record when no session could be obtained. */
  readonly fallbackAccessor?: string;
  /** Waits between attempts (tests pass one that moves their clock). */
  readonly sleep?: (ms: number) => Promise<void>;
}

const MAX_CLIENTS = 200;
const DELETE_CONCURRENCY = 4;
/** CreateSecret attempts after a forced deletion (250 ms doubling: at most about 8 s of waiting). */
const REPLACE_ATTEMPTS = 6;
const REPLACE_BACKOFF_MS = 250;

export function defaultSecretsManagerClient(
  session: CustomerSession,
  sessions: CustomerSessions,
): SecretsManagerClient {
  return new SecretsManagerClient({
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
    // Re-asks the session cache, which renews the scoped session five minutes before it expires.
    credentials: async () => (await sessions.forCustomer(session.customerId)).credentials,
  });
}

export class SecretsManagerStore implements SecretStore {
  private readonly environment: string;
  private readonly cache: SecretCache;
  private readonly now: () => number;
  private readonly clients = new Map<string, SecretsManagerClient>();
  private readonly accessors = new Map<string, string>();
  private readonly labelLocks = new KeyedMutex();
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: SecretsManagerStoreOptions) {
    this.environment = assertEnvironmentName(options.environment);
    const window = options.recoveryWindowDays;
    if (!Number.isInteger(window) || (window !== 0 && (window < 7 || window > 30))) {
      throw new ForbiddenInputError('INVALID_RECOVERY_WINDOW', 'recovery window must be 0 (no recovery) or 7-30 days');
    }
    if (options.scopedRoleArns.length === 0) {
      throw new ForbiddenInputError('MISSING_SCOPED_ROLES', 'at least one scoped role must be allowed to read secrets');
    }
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.cache = new SecretCache(options.cacheTtlMs, this.now);
  }

  /** Drops cached versions of the secret, e.g. after Virtuous answered 401 (another container may have rotated). */
  invalidate(ref: SecretRef): void {
    this.cache.invalidate(resolveSecretRef(this.environment, ref).name);
  }

  async read(ref: SecretRef, stage: SecretStage, context: AccessContext): Promise<SecretVersion | undefined> {
    const resolved = this.resolve(ref, context);
    assertStage(stage);
    return this.audited(auditTarget(resolved), 'read', context, stage, async () => {
      const hit = this.cache.get(resolved.name, stage);
      if (hit !== undefined) return { result: hit, outcome: 'ok', versionId: hit.versionId, cached: true };
      const generation = this.cache.generation(resolved.name);
      const client = await this.client(resolved.customerId);
      let answer: GetSecretValueCommandOutput;
      try {
        answer = await client.send(
          new GetSecretValueCommand({ SecretId: resolved.name, VersionStage: STAGE_LABEL[stage] }),
        );
      } catch (error) {
        if (isScheduledForDeletion(error) || (await this.isAbsent(client, resolved.name, error))) {
          return { result: undefined, outcome: 'not_found' };
        }
        throw classifySecretsManagerError(error);
      }
      if (answer.SecretString === undefined || answer.VersionId === undefined) {
        throw new PermanentError('SECRET_NOT_A_STRING', 'the secret version holds no string value');
      }
      const version: SecretVersion = {
        value: answer.SecretString,
        versionId: answer.VersionId,
        stage,
        createdAt: (answer.CreatedDate ?? new Date(this.now())).toISOString(),
      };
      this.cache.set(resolved.name, stage, version, generation);
      return { result: version, outcome: 'ok', versionId: version.versionId };
    });
  }

  async putPending(ref: SecretRef, value: string, context: AccessContext): Promise<{ versionId: string }> {
    const resolved = this.resolve(ref, context);
    assertValue(value);
    return this.audited(auditTarget(resolved), 'put_pending', context, 'pending', () =>
      this.labelLocks.run(resolved.name, async () => {
        this.cache.invalidate(resolved.name);
        const client = await this.client(resolved.customerId);
        const put = () =>
          client.send(
            new PutSecretValueCommand({
              SecretId: resolved.name,
              SecretString: value,
              VersionStages: [STAGE_LABEL.pending],
              ClientRequestToken: randomUUID(),
            }),
          );
        let versionId: string | undefined;
        try {
          versionId = (await put()).VersionId;
        } catch (error) {
          if (isScheduledForDeletion(error) && (await this.isPendingDeletion(client, resolved.name))) {
            versionId = await this.replaceDeleted(client, resolved, put);
          } else {
            if (!(await this.isAbsent(client, resolved.name, error))) throw classifySecretsManagerError(error);
            await this.create(client, resolved);
            try {
              versionId = (await put()).VersionId;
            } catch (retryError) {
              throw classifySecretsManagerError(retryError);
            }
          }
        } finally {
          this.cache.invalidate(resolved.name);
        }
        if (versionId === undefined)
          throw new PermanentError('SECRET_NO_VERSION', 'PutSecretValue returned no version');
        return { result: { versionId }, outcome: 'ok', versionId };
      }),
    );
  }

  async promotePending(ref: SecretRef, context: AccessContext): Promise<{ versionId: string }> {
    const resolved = this.resolve(ref, context);
    return this.audited(auditTarget(resolved), 'promote', context, 'pending', () =>
      this.labelLocks.run(resolved.name, async () => {
        const client = await this.client(resolved.customerId);
        try {
          const stages = await this.stages(client, resolved.name);
          const pending = stages.get(STAGE_LABEL.pending);
          if (pending === undefined) {
            throw new PermanentError('NO_PENDING_VERSION', 'there is no pending version to promote');
          }
          const current = stages.get(STAGE_LABEL.current);
          if (current !== pending) {
            await client.send(
              new UpdateSecretVersionStageCommand({
                SecretId: resolved.name,
                VersionStage: STAGE_LABEL.current,
                MoveToVersionId: pending,
                ...(current === undefined ? {} : { RemoveFromVersionId: current }),
              }),
            );
          }
          await client.send(
            new UpdateSecretVersionStageCommand({
              SecretId: resolved.name,
              VersionStage: STAGE_LABEL.pending,
              RemoveFromVersionId: pending,
            }),
          );
          return { result: { versionId: pending }, outcome: 'ok', versionId: pending };
        } catch (error) {
          if (await this.isAbsent(client, resolved.name, error))
            throw new PermanentError('NO_PENDING_VERSION', 'there is no pending version to promote');
          throw error instanceof PermanentError ? error : classifyUnlessClassified(error);
        } finally {
          this.cache.invalidate(resolved.name);
        }
      }),
    );
  }

  async discardPending(ref: SecretRef, context: AccessContext): Promise<void> {
    return this.removeLabel(ref, context, 'discard_pending', 'pending');
  }

  async deletePrevious(ref: SecretRef, context: AccessContext): Promise<void> {
    return this.removeLabel(ref, context, 'delete_previous', 'previous');
  }

  async deleteCustomer(customerId: string, context: AccessContext): Promise<{ deletedSecrets: number }> {
    assertCustomerId(customerId);
    assertAccessContext(context);
    return this.audited({ customerId, kind: 'all' }, 'delete_customer', context, undefined, async () => {
      const client = await this.client(customerId);
      const names: string[] = [];
      try {
        for await (const page of paginateListSecrets(
          { client, pageSize: 100 },
          {
            Filters: [
              { Key: 'tag-key', Values: ['customer_id'] },
              { Key: 'tag-value', Values: [customerId] },
            ],
          },
        )) {
          for (const entry of page.SecretList ?? []) {
            const tags = Object.fromEntries((entry.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
            const ref = refFromTags(tags);
            // tag-key and tag-value filters match independently: keep only secrets whose own tags name this
            // customer and environment, and whose name is exactly the one we would build for them.
            if (ref === undefined || tags.customer_id !== customerId || tags.environment !== this.environment) continue;
            if (entry.Name !== resolveSecretRef(this.environment, ref).name || entry.DeletedDate !== undefined)
              continue;
            names.push(entry.Name);
          }
        }
      } catch (error) {
        throw classifyUnlessClassified(error);
      }
      let deleted = 0;
      const queue = [...names];
      const worker = async () => {
        for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
          this.cache.invalidate(name);
          try {
            await client.send(
              new DeleteSecretCommand({
                SecretId: name,
                ...(this.options.recoveryWindowDays === 0
                  ? { ForceDeleteWithoutRecovery: true }
                  : { RecoveryWindowInDays: this.options.recoveryWindowDays }),
              }),
            );
            deleted++;
          } catch (error) {
            // Already gone or already scheduled: the goal of this call is met for that secret.
            if (!isNotFound(error) && !isScheduledForDeletion(error)) throw classifySecretsManagerError(error);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, names.length) }, worker));
      return {
        result: { deletedSecrets: deleted },
        outcome: deleted > 0 ? 'ok' : 'not_found',
        deletedSecrets: deleted,
      };
    });
  }

  private removeLabel(
    ref: SecretRef,
    context: AccessContext,
    action: 'discard_pending' | 'delete_previous',
    stage: 'pending' | 'previous',
  ): Promise<void> {
    const resolved = this.resolve(ref, context);
    return this.audited(auditTarget(resolved), action, context, stage, () =>
      this.labelLocks.run(resolved.name, async (): Promise<OperationResult<void>> => {
        const client = await this.client(resolved.customerId);
        try {
          const versionId = (await this.stages(client, resolved.name)).get(STAGE_LABEL[stage]);
          if (versionId === undefined) return { result: undefined, outcome: 'not_found' };
          await client.send(
            new UpdateSecretVersionStageCommand({
              SecretId: resolved.name,
              VersionStage: STAGE_LABEL[stage],
              RemoveFromVersionId: versionId,
            }),
          );
          return { result: undefined, outcome: 'ok', versionId };
        } catch (error) {
          if (isScheduledForDeletion(error) || (await this.isAbsent(client, resolved.name, error))) {
            return { result: undefined, outcome: 'not_found' };
          }
          throw classifyUnlessClassified(error);
        } finally {
          this.cache.invalidate(resolved.name);
        }
      }),
    );
  }

  /**
   * Whether a failed call failed because the secret does not exist. Secrets Manager says ResourceNotFound, but a
   * scoped session whose policy checks `aws:ResourceTag/customer_id` is told AccessDenied instead (a missing secret
   * has no tags to match). ListSecrets, which is not resource-scoped, then tells the two apart.
   */
  private async isAbsent(client: SecretsManagerClient, name: string, error: unknown): Promise<boolean> {
    if (isNotFound(error)) return true;
    if (sdkErrorName(error) !== 'AccessDeniedException') return false;
    try {
      const listed = await client.send(
        new ListSecretsCommand({
          Filters: [{ Key: 'name', Values: [name] }],
          IncludePlannedDeletion: true,
          MaxResults: 100,
        }),
      );
      return !(listed.SecretList ?? []).some((entry) => entry.Name === name);
    } catch {
      return false;
    }
  }

  /** Whether the secret waits out its recovery window (DescribeSecret still answers for it, with DeletedDate). */
  private async isPendingDeletion(client: SecretsManagerClient, name: string): Promise<boolean> {
    try {
      const described = await client.send(new DescribeSecretCommand({ SecretId: name }));
      return described.DeletedDate !== undefined;
    } catch {
      return false;
    }
  }

  /**
   * Stores a value under the name of a secret deleted with a recovery window (a failed onboarding's compensation, or
   * an offboarding, then a new onboarding): Secrets Manager refuses every write to that secret, and CreateSecret of
   * its name, until the window ends. The deleted secret is therefore deleted for good at once
   * (ForceDeleteWithoutRecovery, which Secrets Manager accepts on a secret already scheduled) and created anew, so
   * no value of the deleted one survives (RestoreSecret would keep them, as deprecated versions). Secrets Manager
   * finishes a forced deletion in the background: CreateSecret is retried with backoff until the name is free, and
   * after REPLACE_ATTEMPTS the caller is told to retry later (TransientError). Returns the new version id.
   */
  private async replaceDeleted(
    client: SecretsManagerClient,
    resolved: ResolvedSecretRef,
    put: () => Promise<{ VersionId?: string | undefined }>,
  ): Promise<string | undefined> {
    try {
      await client.send(new DeleteSecretCommand({ SecretId: resolved.name, ForceDeleteWithoutRecovery: true }));
    } catch (error) {
      throw classifySecretsManagerError(error);
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await this.create(client, resolved);
        break;
      } catch (error) {
        if (!(error instanceof PermanentError && error.code === 'SECRET_SCHEDULED_FOR_DELETION')) throw error;
        if (attempt >= REPLACE_ATTEMPTS) {
          throw new TransientError('SECRET_NAME_NOT_FREED', 'Secrets Manager is still deleting the earlier secret', {
            cause: error,
            retryAfterSeconds: 5,
          });
        }
        await this.sleep(REPLACE_BACKOFF_MS * 2 ** (attempt - 1));
      }
    }
    try {
      return (await put()).VersionId;
    } catch (error) {
      throw classifySecretsManagerError(error);
    }
  }

  /** Staging label → version id, from DescribeSecret. */
  private async stages(client: SecretsManagerClient, name: string): Promise<Map<string, string>> {
    const described = await client.send(new DescribeSecretCommand({ SecretId: name }));
    const labels = new Map<string, string>();
    for (const [versionId, versionStages] of Object.entries(described.VersionIdsToStages ?? {})) {
      for (const label of versionStages) labels.set(label, versionId);
    }
    return labels;
  }

  private async create(client: SecretsManagerClient, resolved: ResolvedSecretRef): Promise<void> {
    try {
      await client.send(
        new CreateSecretCommand({
          Name: resolved.name,
          KmsKeyId: this.options.kmsKeyArn,
          Description: `Virtuous integration ${resolved.kind} of customer ${resolved.customerId}`,
          Tags: [
            { Key: 'customer_id', Value: resolved.customerId },
            { Key: 'environment', Value: resolved.environment },
            { Key: 'kind', Value: resolved.kind },
            ...(resolved.source === undefined ? [] : [{ Key: 'source', Value: resolved.source }]),
          ],
        }),
      );
    } catch (error) {
      // Another container created it first: its policy may not be attached yet, so attach ours regardless.
      if (resolvedExists(error) === false) throw classifySecretsManagerError(error);
    }
    try {
      await client.send(
        new PutResourcePolicyCommand({
          SecretId: resolved.name,
          ResourcePolicy: JSON.stringify(secretResourcePolicy(this.options.scopedRoleArns)),
          BlockPublicPolicy: true,
        }),
      );
    } catch (error) {
      throw classifySecretsManagerError(error);
    }
  }

  private async client(customerId: string): Promise<SecretsManagerClient> {
    const session = await this.options.sessions.forCustomer(customerId);
    this.accessors.set(customerId, session.accessor);
    let client = this.clients.get(customerId);
    if (client === undefined) {
      if (this.clients.size >= MAX_CLIENTS) {
        const [oldestId, oldest] = this.clients.entries().next().value as [string, SecretsManagerClient];
        this.clients.delete(oldestId);
        oldest.destroy();
      }
      client = (this.options.clientFor ?? defaultSecretsManagerClient)(session, this.options.sessions);
      this.clients.set(customerId, client);
    }
    return client;
  }

  private resolve(ref: SecretRef, context: AccessContext): ResolvedSecretRef {
    const resolved = resolveSecretRef(this.environment, ref);
    assertAccessContext(context);
    return resolved;
  }

  private audited<T>(
    target: AuditTarget,
    action: AuditAction,
    context: AccessContext,
    stage: SecretStage | undefined,
    operation: () => Promise<OperationResult<T>>,
  ): Promise<T> {
    return runAudited(
      this.options.audit,
      {
        target,
        action,
        ...(stage === undefined ? {} : { stage }),
        accessor: () =>
          this.accessors.get(target.customerId) ?? this.options.fallbackAccessor ?? 'execution-role:unscoped',
        context,
        now: this.now,
      },
      operation,
    );
  }
}

function resolvedExists(error: unknown): boolean {
  return (error as { name?: string })?.name === 'ResourceExistsException';
}

function classifyUnlessClassified(error: unknown): Error {
  if (error instanceof PermanentError) return error;
  if (error instanceof Error && 'errorClass' in error) return error;
  return classifySecretsManagerError(error);
}

/**
 * The store a Lambda uses, from its environment: ENVIRONMENT_NAME, SECRETS_KMS_KEY_ARN, CUSTOMER_SECRETS_ROLE_ARN
 * (the role this function assumes per customer), SCOPED_SESSION_PURPOSE (why: which of the customer's secrets its
 * sessions may touch, secret-purposes.ts), SECRET_ACCESS_ROLE_ARNS (every scoped role, for the resource
 * policy), SECRET_RECOVERY_WINDOW_DAYS (0 or 7-30, default 30), TABLE_SECRET_AUDIT, AWS_LAMBDA_FUNCTION_NAME.
 */
export function createSecretsManagerStore(env: NodeJS.ProcessEnv = process.env): SecretsManagerStore {
  const functionName = env.AWS_LAMBDA_FUNCTION_NAME ?? 'unknown-function';
  const documentClient = createDocumentClient({
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000 },
  });
  const roleArn = requireSetting(ENV.customerSecretsRoleArn, env);
  const scopedRoleArns = requireSetting(ENV.secretAccessRoleArns, env)
    .split(',')
    .map((arn) => arn.trim())
    .filter((arn) => arn.length > 0);
  const recoveryWindowDays = integerSetting(ENV.secretRecoveryWindowDays, 30, { min: 0, max: 30 }, env);
  const environment = requireSetting(ENV.environmentName, env);
  const kmsKeyArn = requireSetting(ENV.secretsKmsKeyArn, env);
  return new SecretsManagerStore({
    environment,
    kmsKeyArn,
    sessions: new StsCustomerSessions({
      roleArn,
      functionName,
      purpose: assertSecretPurpose(requireSetting(ENV.customerSecretsPurpose, env)),
      scope: { environment, secretsKmsKeyArn: kmsKeyArn },
    }),
    audit: new DynamoDbAuditLog(documentClient, tableNameFromEnv('secretAudit', env)),
    scopedRoleArns,
    recoveryWindowDays,
    fallbackAccessor: `function:${functionName}`,
  });
}

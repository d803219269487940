/**
 * A SecretStore test double that follows the contract of functions/credentials/secret-store.ts faithfully: at most
 * one current, pending and previous version per secret; putPending replaces an earlier pending; promotePending moves
 * pending → current → previous (the older previous is gone) and fails with PermanentError without a pending version;
 * discard/delete are idempotent. Every call is recorded (reference, stage, reason, never the value) so tests can
 * assert on access counts and reasons, and reads can be made to fail to exercise outage paths.
 */
import { randomUUID } from 'node:crypto';
import type {
  AccessContext,
  SecretRef,
  SecretStage,
  SecretStore,
  SecretVersion,
} from '../../functions/credentials/secret-store.ts';
import { ForbiddenInputError, PermanentError, TransientError } from '../../functions/shared/errors.ts';

export interface RecordedAccess {
  readonly operation: 'read' | 'putPending' | 'promotePending' | 'discardPending' | 'deletePrevious' | 'deleteCustomer';
  readonly customerId: string;
  readonly kind?: SecretRef['kind'];
  readonly stage?: SecretStage;
  readonly reason: string;
  readonly requestId?: string;
}

type Versions = { -readonly [stage in SecretStage]?: SecretVersion };

const REASON = /^[a-z0-9_-]+(?::[a-z0-9_-]+)*$/;

function refKey(ref: SecretRef): string {
  return 'source' in ref ? `${ref.customerId}/${ref.kind}/${ref.source}` : `${ref.customerId}/${ref.kind}`;
}

export class InMemorySecretStore implements SecretStore {
  readonly accesses: RecordedAccess[] = [];
  private readonly secrets = new Map<string, Versions>();
  private readonly customerOf = new Map<string, string>();
  private readFailure: Error | undefined;

  constructor(private readonly clock: () => Date = () => new Date()) {}

  /** Test setup: stores `value` as the current version (through putPending + promotePending, like a real rotation). */
  async seedCurrent(ref: SecretRef, value: string): Promise<void> {
    await this.putPending(ref, value, { reason: 'test:seed' });
    await this.promotePending(ref, { reason: 'test:seed' });
  }

  /** Makes every following read fail (a Secrets Manager outage) until `restoreReads`. */
  failReads(error: Error = new TransientError('SECRET_STORE_UNAVAILABLE', 'secret store unavailable')): void {
    this.readFailure = error;
  }

  restoreReads(): void {
    this.readFailure = undefined;
  }

  readsOf(customerId: string): RecordedAccess[] {
    return this.accesses.filter((access) => access.operation === 'read' && access.customerId === customerId);
  }

  async read(ref: SecretRef, stage: SecretStage, context: AccessContext): Promise<SecretVersion | undefined> {
    this.record('read', ref, context, stage);
    if (this.readFailure !== undefined) throw this.readFailure;
    return this.secrets.get(refKey(ref))?.[stage];
  }

  async putPending(ref: SecretRef, value: string, context: AccessContext): Promise<{ versionId: string }> {
    this.record('putPending', ref, context, 'pending');
    if (value === '') throw new ForbiddenInputError('EMPTY_SECRET', 'a secret value must not be empty');
    const key = refKey(ref);
    const versions = this.secrets.get(key) ?? {};
    const versionId = randomUUID();
    versions.pending = { value, versionId, stage: 'pending', createdAt: this.clock().toISOString() };
    this.secrets.set(key, versions);
    this.customerOf.set(key, ref.customerId);
    return { versionId };
  }

  async promotePending(ref: SecretRef, context: AccessContext): Promise<{ versionId: string }> {
    this.record('promotePending', ref, context);
    const versions = this.secrets.get(refKey(ref));
    const pending = versions?.pending;
    if (versions === undefined || pending === undefined) {
      throw new PermanentError('NO_PENDING_VERSION', 'there is no pending version to promote');
    }
    if (versions.current !== undefined) versions.previous = { ...versions.current, stage: 'previous' };
    versions.current = { ...pending, stage: 'current' };
    delete versions.pending;
    return { versionId: pending.versionId };
  }

  async discardPending(ref: SecretRef, context: AccessContext): Promise<void> {
    this.record('discardPending', ref, context, 'pending');
    delete this.secrets.get(refKey(ref))?.pending;
  }

  async deletePrevious(ref: SecretRef, context: AccessContext): Promise<void> {
    this.record('deletePrevious', ref, context, 'previous');
    delete this.secrets.get(refKey(ref))?.previous;
  }

  async deleteCustomer(customerId: string, context: AccessContext): Promise<{ deletedSecrets: number }> {
    this.assertContext(context);
    this.accesses.push({ operation: 'deleteCustomer', customerId, reason: context.reason });
    let deletedSecrets = 0;
    for (const [key, owner] of this.customerOf) {
      if (owner !== customerId) continue;
      this.secrets.delete(key);
      this.customerOf.delete(key);
      deletedSecrets += 1;
    }
    return { deletedSecrets };
  }

  private record(operation: RecordedAccess['operation'], ref: SecretRef, context: AccessContext, stage?: SecretStage) {
    this.assertContext(context);
    this.accesses.push({
      operation,
      customerId: ref.customerId,
      kind: ref.kind,
      reason: context.reason,
      ...(stage === undefined ? {} : { stage }),
      ...(context.requestId === undefined ? {} : { requestId: context.requestId }),
    });
  }

  private assertContext(context: AccessContext): void {
    if (!REASON.test(context.reason)) {
      throw new ForbiddenInputError('INVALID_ACCESS_REASON', 'an access reason is required (short, no spaces)');
    }
  }
}

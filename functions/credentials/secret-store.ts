/**
 * The domain's view of secret storage. Implementations: Secrets Manager (AWS) and an encrypted local store
 * (one machine). Both follow the Secrets Manager rotation model: a secret has at most one current, one pending and
 * one previous version (AWSCURRENT / AWSPENDING / AWSPREVIOUS).
 *
 * Every call names its reason (`sync:submit`, `onboarding:validate`, ...): there is no access without one, and each
 * access produces an audit record. Values never leave through logs, errors, or return values other than `read`.
 */

/**
 * `api_token` and `webhook_secret` are the customer's Virtuous secrets; `refresh_token` (OAuth) and
 * `source_webhook_secret` (the signing secret a source platform such as Stripe uses for its webhooks) belong to a source.
 */
export type SecretKind = 'api_token' | 'webhook_secret' | 'refresh_token' | 'source_webhook_secret';

export type SecretStage = 'current' | 'pending' | 'previous';

/**
 * Which secret. Names: `virtuous/{env}/{customer}/api_token`, `virtuous/{env}/{customer}/webhook_secret`,
 * `{source}/{env}/{customer}/refresh_token`, `{source}/{env}/{customer}/webhook_secret`.
 */
export type SecretRef =
  | { readonly customerId: string; readonly kind: 'api_token' | 'webhook_secret' }
  | { readonly customerId: string; readonly kind: 'refresh_token' | 'source_webhook_secret'; readonly source: string };

export interface SecretVersion {
  readonly value: string;
  readonly versionId: string;
  readonly stage: SecretStage;
  /** ISO-8601 time the version was stored. */
  readonly createdAt: string;
}

export interface AccessContext {
  /** Why the value is touched, e.g. `webhook:verify`, `sync:submit`, `rotation:promote`. Required, short, no spaces. */
  readonly reason: string;
  /** The Lambda or workflow request id, for the audit trail. */
  readonly requestId?: string;
}

export interface SecretStore {
  /** The version at `stage`, or undefined when there is none. */
  read(ref: SecretRef, stage: SecretStage, context: AccessContext): Promise<SecretVersion | undefined>;
  /**
   * Stores a new pending version (replacing an earlier pending one). Creates the secret if it does not exist; as in
   * Secrets Manager, the first version of a new secret is current as well as pending (validate before storing).
   */
  putPending(ref: SecretRef, value: string, context: AccessContext): Promise<{ versionId: string }>;
  /** pending → current, current → previous. Fails with PermanentError when there is no pending version. */
  promotePending(ref: SecretRef, context: AccessContext): Promise<{ versionId: string }>;
  /** Removes the pending version (compensation of a rotation that did not finish). Idempotent. */
  discardPending(ref: SecretRef, context: AccessContext): Promise<void>;
  /** Deletes the previous version: a retired secret is deleted, not marked inactive. Idempotent. */
  deletePrevious(ref: SecretRef, context: AccessContext): Promise<void>;
  /** Deletes every secret of the customer (offboarding). Returns how many secrets were deleted. Idempotent. */
  deleteCustomer(customerId: string, context: AccessContext): Promise<{ deletedSecrets: number }>;
  /**
   * Forgets any value this container cached for the secret, so the next read asks the backing store. Call it when
   * a credential was refused (Virtuous answered 401): another container may have rotated it. Stores without a
   * cache omit it, so call it as `store.invalidate?.(ref)`.
   */
  invalidate?(ref: SecretRef): void;
}

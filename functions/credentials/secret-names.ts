/**
 * The one place a secret's name is built. Names carry the scope (`{owner}/{environment}/{customer}/{kind}`) so IAM
 * policies can scope reads to `*\/{environment}/${aws:PrincipalTag/customer_id}/*` and audit trails read plainly.
 *
 * Every part is validated before a name exists: a customer id or source with a slash, `..`, a wildcard, nothing,
 * or too many characters is refused with ForbiddenInputError, so no SDK call, file access or audit write ever sees it.
 */
import { ForbiddenInputError } from '../shared/errors.ts';
import { assertCustomerId, assertEnvironmentName, assertSourceName } from '../shared/identifiers.ts';
import type { SecretKind, SecretRef } from './secret-store.ts';

/** Owner segment of the customer's own Virtuous secrets; a source may never be called this. */
export const VIRTUOUS_OWNER = 'virtuous';

const LEAF: Readonly<Record<SecretKind, string>> = {
  api_token: 'api_token',
  webhook_secret: 'webhook_secret',
  refresh_token: 'refresh_token',
  source_webhook_secret: 'webhook_secret',
};

const KINDS: ReadonlySet<string> = new Set(Object.keys(LEAF));

/** The last segment of a secret's name for its kind (`source_webhook_secret` is stored as `webhook_secret`). */
export function secretLeaf(kind: SecretKind): string {
  return LEAF[kind];
}

/** The checked parts of a reference; what tags, audit records and names are made from. */
export interface ResolvedSecretRef {
  readonly name: string;
  readonly environment: string;
  readonly customerId: string;
  readonly kind: SecretKind;
  /** Absent for Virtuous secrets. */
  readonly source?: string;
}

export function resolveSecretRef(environment: string, ref: SecretRef): ResolvedSecretRef {
  assertEnvironmentName(environment);
  if (ref === null || typeof ref !== 'object' || !KINDS.has(ref.kind)) {
    throw new ForbiddenInputError('INVALID_SECRET_KIND', 'secret kind must be one of the declared kinds');
  }
  const customerId = assertCustomerId(ref.customerId);
  if (ref.kind === 'api_token' || ref.kind === 'webhook_secret') {
    return {
      name: `${VIRTUOUS_OWNER}/${environment}/${customerId}/${LEAF[ref.kind]}`,
      environment,
      customerId,
      kind: ref.kind,
    };
  }
  const source = assertSourceName((ref as { source?: unknown }).source);
  if (source === VIRTUOUS_OWNER) {
    // A "virtuous" source would put a source credential into the name space of the customer's Virtuous secrets.
    throw new ForbiddenInputError('INVALID_SOURCE_NAME', 'source name must not be the Virtuous owner segment');
  }
  return {
    name: `${source}/${environment}/${customerId}/${LEAF[ref.kind]}`,
    environment,
    customerId,
    kind: ref.kind,
    source,
  };
}

export function secretName(environment: string, ref: SecretRef): string {
  return resolveSecretRef(environment, ref).name;
}

/** The reference a stored secret's tags describe, or undefined when the tags do not describe one of ours. */
export function refFromTags(tags: Readonly<Record<string, string>>): SecretRef | undefined {
  const customerId = tags.customer_id;
  const kind = tags.kind;
  if (customerId === undefined || kind === undefined) return undefined;
  if (kind === 'api_token' || kind === 'webhook_secret') return { customerId, kind };
  if ((kind === 'refresh_token' || kind === 'source_webhook_secret') && tags.source !== undefined) {
    return { customerId, kind, source: tags.source };
  }
  return undefined;
}

/**
 * The customer segment of integration-internal secrets (the partner platform's own OAuth client at a source). A
 * customer id cannot start with `_`, so no customer-scoped session (`*\/{env}/${customer_id}/*`) can ever match it.
 */
export const PLATFORM_SEGMENT = '_platform';

/** What an integration-internal secret of a source holds. */
export type PlatformSecretPurpose = 'oauth_client';
const PLATFORM_PURPOSES: ReadonlySet<string> = new Set<PlatformSecretPurpose>(['oauth_client']);

/** `{source}/{env}/_platform/{purpose}`, e.g. `stripe/prod/_platform/oauth_client`. */
export function platformSecretName(environment: string, source: string, purpose: PlatformSecretPurpose): string {
  assertEnvironmentName(environment);
  assertSourceName(source);
  if (source === VIRTUOUS_OWNER) {
    throw new ForbiddenInputError('INVALID_SOURCE_NAME', 'source name must not be the Virtuous owner segment');
  }
  if (!PLATFORM_PURPOSES.has(purpose)) {
    throw new ForbiddenInputError('INVALID_SECRET_KIND', 'platform secret purpose must be one of the declared ones');
  }
  return `${source}/${environment}/${PLATFORM_SEGMENT}/${purpose}`;
}

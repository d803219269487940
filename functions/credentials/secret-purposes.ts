/**
 * Why a function opens a customer-scoped session, and which of that customer's secrets the session may touch.
 *
 * Every scoped session carries two session tags, `customer_id` (whose secrets) and `purpose` (which of them), and a
 * session policy naming only that customer's secrets for that purpose:
 *
 * - the customer-secrets roles' trust policies let each execution role ask for its own purpose only, so the
 *   internet-facing webhook verifier can never obtain a session that reads an API token or a refresh token;
 * - the roles' policies grant per purpose (`aws:PrincipalTag/purpose`) on names built from `aws:PrincipalTag/customer_id`
 *   and require the secret's `customer_id` resource tag to match;
 * - the session policy is an upper bound written by the code from the customer id the message or execution names,
 *   so a wrong tag (a confused deputy) cannot widen a session beyond that one customer's secrets.
 *
 * The infrastructure (infra/aws/constructs/secrets.ts) and the sessions (scoped-credentials.ts) both build their
 * policies from this table, so the two cannot drift apart.
 */
import { WEBHOOK_PROVIDERS } from '../queue/inbound-message.ts';
import { ForbiddenInputError } from '../shared/errors.ts';
import { assertCustomerId, assertEnvironmentName } from '../shared/identifiers.ts';
import { secretLeaf, VIRTUOUS_OWNER } from './secret-names.ts';
import type { SecretKind } from './secret-store.ts';

export const CUSTOMER_TAG = 'customer_id';
export const PURPOSE_TAG = 'purpose';

export const SECRET_READ_ACTIONS = ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'] as const;
/** What Secrets Manager asks KMS for on the caller's behalf when it stores or returns a value. */
export const SECRETS_KEY_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'] as const;

export type CustomerSecretsRoleKind = 'reader' | 'writer';

export interface PurposeSecret {
  /** `virtuous` or the source platform whose secret it is. */
  readonly owner: string;
  readonly kind: SecretKind;
}

export interface PurposeScope {
  /** The customer-secrets role its sessions are opened on. */
  readonly role: CustomerSecretsRoleKind;
  /** The customer's secrets it may touch; `every` is all of them (any owner, any kind). */
  readonly secrets: readonly PurposeSecret[] | 'every';
  /** Upper bound of the session's Secrets Manager actions on those secrets (the role's policy grants). */
  readonly actions: readonly string[];
}

/** The secret each webhook provider signs a customer's deliveries with. */
const WEBHOOK_SECRETS: readonly PurposeSecret[] = WEBHOOK_PROVIDERS.map((provider) =>
  provider === VIRTUOUS_OWNER
    ? { owner: VIRTUOUS_OWNER, kind: 'webhook_secret' }
    : { owner: provider, kind: 'source_webhook_secret' },
);

export const SECRET_PURPOSES = {
  /** The webhook verifier: faces the internet, so it reads only the secrets deliveries are signed with. */
  'webhook-verification': { role: 'reader', secrets: WEBHOOK_SECRETS, actions: SECRET_READ_ACTIONS },
  /** Processor and reconciler: call Virtuous with the customer's API token, nothing else. */
  'virtuous-api': {
    role: 'reader',
    secrets: [{ owner: VIRTUOUS_OWNER, kind: 'api_token' }],
    actions: SECRET_READ_ACTIONS,
  },
  /**
   * Lifecycle tasks and API, OAuth refresh-token rotation: create, rotate, restore and delete the customer's secrets.
   * The writer role's policy names the actions; the session policy only pins them to the one customer.
   */
  'secret-lifecycle': { role: 'writer', secrets: 'every', actions: ['secretsmanager:*'] },
} as const satisfies Record<string, PurposeScope>;

export type SecretPurpose = keyof typeof SECRET_PURPOSES;
export const SECRET_PURPOSE_NAMES = Object.keys(SECRET_PURPOSES) as SecretPurpose[];

export function assertSecretPurpose(value: unknown): SecretPurpose {
  if (typeof value !== 'string' || !Object.hasOwn(SECRET_PURPOSES, value)) {
    throw new ForbiddenInputError(
      'INVALID_SECRET_PURPOSE',
      `secret purpose must be one of ${SECRET_PURPOSE_NAMES.join(', ')}`,
    );
  }
  return value as SecretPurpose;
}

/**
 * Secret-name patterns (as they appear in a secret ARN, random suffix included) a purpose may touch for one
 * customer. `customerSegment` is a checked customer id, or an IAM policy variable in the role's policy.
 */
export function purposeSecretPatterns(environment: string, purpose: SecretPurpose, customerSegment: string): string[] {
  const secrets: readonly PurposeSecret[] | 'every' = SECRET_PURPOSES[purpose].secrets;
  if (secrets === 'every') return [`*/${environment}/${customerSegment}/*`];
  // Secrets Manager appends `-` and six random characters to every name.
  return secrets.map(({ owner, kind }) => `${owner}/${environment}/${customerSegment}/${secretLeaf(kind)}-??????`);
}

export interface SessionPolicyScope {
  readonly environment: string;
  /** The key the secrets are encrypted with; its ARN also gives the partition, region and account of the secrets. */
  readonly secretsKmsKeyArn: string;
}

const KMS_KEY_ARN = /^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):key\/[A-Za-z0-9-]+$/;

/**
 * The session policy for one customer and purpose: the purpose's actions on exactly that customer's secrets, listing
 * metadata (to tell a missing secret from a forbidden one) and the secrets key. It only ever narrows the role.
 */
export function sessionPolicy(purpose: SecretPurpose, customerId: string, scope: SessionPolicyScope): string {
  assertCustomerId(customerId);
  const environment = assertEnvironmentName(scope.environment);
  const key = KMS_KEY_ARN.exec(scope.secretsKmsKeyArn);
  if (key === null) {
    throw new ForbiddenInputError('INVALID_SETTING', 'the secrets key must be a KMS key ARN');
  }
  const [, partition, region, account] = key;
  const secretArn = (pattern: string) => `arn:${partition}:secretsmanager:${region}:${account}:secret:${pattern}`;
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'OnlyThisCustomer',
        Effect: 'Allow',
        Action: [...SECRET_PURPOSES[purpose].actions],
        Resource: purposeSecretPatterns(environment, purpose, customerId).map(secretArn),
      },
      { Sid: 'TellAbsentFromDenied', Effect: 'Allow', Action: 'secretsmanager:ListSecrets', Resource: '*' },
      { Sid: 'SecretsKey', Effect: 'Allow', Action: [...SECRETS_KEY_ACTIONS], Resource: scope.secretsKmsKeyArn },
    ],
  });
}

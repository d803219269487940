/**
 * Keys and the per-customer secret scoping.
 *
 * - `dataKey` encrypts tables, queues, log groups, topics and buckets.
 * - `secretsKey` encrypts every customer secret. Its key policy lets only the customer-secrets roles use it, and
 *   only through Secrets Manager; an explicit deny stops kms:Decrypt by anyone else, including administrators and
 *   the account root. That is what makes "no human reads a production secret value" hold even for `*` on `*`.
 * - `readerRole` / `writerRole`: a worker assumes one of them with the session tags `customer_id` and `purpose`
 *   (functions/credentials/secret-purposes.ts). The trust policy lets each execution role ask for its own purpose
 *   only; the session can touch only its purpose's secrets named `…/{environment}/{customer_id}/…` AND tagged with
 *   that same `customer_id`. The webhook verifier's sessions (purpose `webhook-verification`) read webhook signing
 *   secrets only, never an API token or a refresh token.
 *   Purposes share the two roles rather than getting a role each: every secret's resource policy names the scoped
 *   role ARNs it was created with, so a new role would be locked out of every existing secret.
 *
 * Break-glass: there is no standing human path to a secret value. Reading one requires a deliberate change of the
 * secrets key policy (a stack change through review, or a PutKeyPolicy by the account root that CloudTrail records
 * and the SecretsKeyChanged rule reports to the operators topic), followed by reverting it. docs/security/cdk-nag-acknowledgements.md and
 * the break-glass runbook describe the procedure.
 *
 * No secret is created here: the lifecycle code creates each customer's secrets at runtime.
 */
import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib';
import {
  AccountRootPrincipal,
  AnyPrincipal,
  ArnPrincipal,
  CompositePrincipal,
  Effect,
  type IRole,
  PolicyDocument,
  PolicyStatement,
  PrincipalWithConditions,
  Role,
  ServicePrincipal,
  SessionTagsPrincipal,
} from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import {
  PURPOSE_TAG,
  purposeSecretPatterns,
  SECRET_PURPOSE_NAMES,
  SECRET_PURPOSES,
  type SecretPurpose,
} from '../../../functions/credentials/secret-purposes.ts';

export const CUSTOMER_TAG = 'customer_id';

/** Key administration for the account root, deliberately without any cryptographic use of the key. */
const KEY_ADMIN_ACTIONS = [
  'kms:Create*',
  'kms:Describe*',
  'kms:Enable*',
  'kms:List*',
  'kms:Put*',
  'kms:Update*',
  'kms:Revoke*',
  'kms:Disable*',
  'kms:Get*',
  'kms:Delete*',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
  'kms:RotateKeyOnDemand',
];

export const SECRET_READ_ACTIONS = ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'];
export const SECRET_WRITE_ACTIONS = [
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecretVersionStage',
  'secretsmanager:DeleteSecret',
  'secretsmanager:PutResourcePolicy',
  'secretsmanager:TagResource',
];
export const SECRET_CREATE_ACTIONS = ['secretsmanager:CreateSecret', 'secretsmanager:TagResource'];

export interface SecretsProps {
  readonly environmentName: string;
}

/** The execution roles that open customer-scoped sessions, by purpose (each role has exactly one). */
export type CustomerSecretsUsers = Readonly<Record<SecretPurpose, readonly IRole[]>>;

export class Secrets extends Construct {
  readonly dataKey: Key;
  readonly secretsKey: Key;
  readonly environmentName: string;
  private readerRole?: Role;
  private writerRole?: Role;

  constructor(scope: Construct, id: string, props: SecretsProps) {
    super(scope, id);
    this.environmentName = props.environmentName;

    this.dataKey = new Key(this, 'DataKey', {
      alias: `alias/virtuous-${props.environmentName}-data`,
      description: 'Virtuous integration: tables, queues, logs, topics, archive and debug buckets',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
      pendingWindow: Duration.days(30),
    });
    // Services that write to resources encrypted with this key on the stack's behalf.
    this.dataKey.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchLogsEncryption',
        principals: [new ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:*`,
          },
        },
      }),
    );
    this.dataKey.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AlarmsPublishToEncryptedTopics',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );

    this.secretsKey = new Key(this, 'SecretsKey', {
      alias: `alias/virtuous-${props.environmentName}-secrets`,
      description:
        'Virtuous integration: customer secrets; usable only by the customer-secrets roles via Secrets Manager',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
      pendingWindow: Duration.days(30),
      policy: new PolicyDocument({
        statements: [
          new PolicyStatement({
            sid: 'KeyAdministrationWithoutUse',
            principals: [new AccountRootPrincipal()],
            actions: KEY_ADMIN_ACTIONS,
            resources: ['*'],
          }),
        ],
      }),
    });
    // Grants only when an AWS service creates them for a resource it encrypts (DynamoDB, Lambda, Firehose):
    // nobody, the account root included, can hand a principal a standing grant that bypasses the key policy
    // (Control Tower CT.KMS.PR.3).
    for (const key of [this.dataKey, this.secretsKey]) {
      key.addToResourcePolicy(
        new PolicyStatement({
          sid: 'GrantsOnlyForAwsResources',
          effect: Effect.DENY,
          principals: [new AnyPrincipal()],
          actions: ['kms:CreateGrant'],
          resources: ['*'],
          conditions: {
            BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
          },
        }),
      );
    }
  }

  /** Secrets ARN pattern a session tagged with `customer_id` may touch (any source, this environment). */
  secretArnPattern(): string {
    return this.secretArn(`*/${this.environmentName}/\${aws:PrincipalTag/${CUSTOMER_TAG}}/*`);
  }

  private secretArn(namePattern: string): string {
    return `arn:${Aws.PARTITION}:secretsmanager:${Aws.REGION}:${Aws.ACCOUNT_ID}:secret:${namePattern}`;
  }

  /**
   * Creates the two customer-secrets roles trusted by exactly the given execution roles (called once, after the
   * workers exist) and completes the secrets key policy with them.
   */
  createCustomerSecretsRoles(users: CustomerSecretsUsers): { reader: Role; writer: Role } {
    if (this.readerRole || this.writerRole) throw new Error('customer-secrets roles already created');
    const reader = this.scopedRole('CustomerSecretsReader', 'reader', users);
    const writer = this.scopedRole('CustomerSecretsWriter', 'writer', users);
    this.readerRole = reader;
    this.writerRole = writer;

    const region = Aws.REGION;
    // Reader sessions reach only what their purpose names: the verifier's cannot read an API token.
    for (const purpose of SECRET_PURPOSE_NAMES.filter((p) => SECRET_PURPOSES[p].role === 'reader')) {
      reader.addToPrincipalPolicy(
        new PolicyStatement({
          sid: `ReadOwnSecretsFor${pascal(purpose)}`,
          actions: [...SECRET_PURPOSES[purpose].actions],
          resources: purposeSecretPatterns(this.environmentName, purpose, `\${aws:PrincipalTag/${CUSTOMER_TAG}}`).map(
            (pattern) => this.secretArn(pattern),
          ),
          conditions: {
            StringEquals: {
              [`aws:ResourceTag/${CUSTOMER_TAG}`]: `\${aws:PrincipalTag/${CUSTOMER_TAG}}`,
              [`aws:PrincipalTag/${PURPOSE_TAG}`]: purpose,
            },
          },
        }),
      );
    }
    writer.addToPrincipalPolicy(this.readStatement());
    writer.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'ChangeOwnCustomerSecrets',
        actions: SECRET_WRITE_ACTIONS,
        resources: [this.secretArnPattern()],
        conditions: { StringEquals: { [`aws:ResourceTag/${CUSTOMER_TAG}`]: `\${aws:PrincipalTag/${CUSTOMER_TAG}}` } },
      }),
    );
    writer.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'CreateOwnCustomerSecrets',
        actions: SECRET_CREATE_ACTIONS,
        resources: [this.secretArnPattern()],
        conditions: { StringEquals: { [`aws:RequestTag/${CUSTOMER_TAG}`]: `\${aws:PrincipalTag/${CUSTOMER_TAG}}` } },
      }),
    );
    for (const role of [reader, writer]) {
      // A missing secret answers AccessDenied to a tag-scoped session (it has no tags to match); the store tells
      // "absent" from "denied" with ListSecrets, which has no resource-level scoping and returns no values.
      role.addToPrincipalPolicy(
        new PolicyStatement({ sid: 'TellAbsentFromDenied', actions: ['secretsmanager:ListSecrets'], resources: ['*'] }),
      );
      role.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'SecretsKeyThroughSecretsManager',
          actions: ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
          resources: [this.secretsKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` } },
        }),
      );
    }

    const scopedRoleArns = [reader.roleArn, writer.roleArn];
    this.secretsKey.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CustomerSecretsRolesViaSecretsManager',
        principals: scopedRoleArns.map((arn) => new ArnPrincipal(arn)),
        actions: ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` } },
      }),
    );
    this.secretsKey.addToResourcePolicy(
      new PolicyStatement({
        sid: 'DenyDecryptToEveryoneElse',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['kms:Decrypt'],
        resources: ['*'],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': scopedRoleArns } },
      }),
    );
    return { reader, writer };
  }

  private readStatement(): PolicyStatement {
    return new PolicyStatement({
      sid: 'ReadOwnCustomerSecrets',
      actions: SECRET_READ_ACTIONS,
      resources: [this.secretArnPattern()],
      conditions: { StringEquals: { [`aws:ResourceTag/${CUSTOMER_TAG}`]: `\${aws:PrincipalTag/${CUSTOMER_TAG}}` } },
    });
  }

  private scopedRole(id: string, kind: 'reader' | 'writer', users: CustomerSecretsUsers): Role {
    const purposes = SECRET_PURPOSE_NAMES.filter((p) => SECRET_PURPOSES[p].role === kind && users[p].length > 0);
    const trusted = purposes.flatMap((p) => users[p]);
    if (trusted.length === 0) throw new Error(`customer-secrets ${kind} role needs at least one trusted role`);
    // One trust statement per purpose: only the execution roles declared for it, only with exactly two session
    // tags, customer_id (non-empty) and purpose (that purpose). An execution role cannot ask for another purpose.
    const [first, ...rest] = purposes.map(
      (purpose) =>
        new SessionTagsPrincipal(
          new PrincipalWithConditions(
            new CompositePrincipal(...users[purpose].map((r) => new ArnPrincipal(r.roleArn))),
            {
              StringEquals: { [`aws:RequestTag/${PURPOSE_TAG}`]: purpose },
              StringLike: { [`aws:RequestTag/${CUSTOMER_TAG}`]: '?*' },
              'ForAllValues:StringEquals': { 'aws:TagKeys': [CUSTOMER_TAG, PURPOSE_TAG] },
            },
          ),
        ),
    );
    const role = new Role(this, id, {
      roleName: `virtuous-${this.environmentName}-customer-secrets-${kind}`,
      description: `Per-customer ${kind} of customer secrets; every session must carry the ${CUSTOMER_TAG} and ${PURPOSE_TAG} tags`,
      assumedBy: first as SessionTagsPrincipal,
      maxSessionDuration: Duration.hours(1),
    });
    // Each further purpose becomes a statement of its own, with its own principals and conditions.
    for (const principal of rest) if (role.assumeRolePolicy) principal.addToAssumeRolePolicy(role.assumeRolePolicy);
    for (const r of trusted) {
      r.addToPrincipalPolicy(
        new PolicyStatement({
          sid: `AssumeCustomerSecrets${kind === 'reader' ? 'Reader' : 'Writer'}`,
          actions: ['sts:AssumeRole', 'sts:TagSession'],
          resources: [role.roleArn],
        }),
      );
    }
    return role;
  }
}

function pascal(name: string): string {
  return name
    .split('-')
    .map((part) => `${part[0]?.toUpperCase() ?? ''}${part.slice(1)}`)
    .join('');
}

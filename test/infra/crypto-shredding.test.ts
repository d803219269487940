// biome-ignore-all lint/suspicious/noExplicitAny: CloudFormation template JSON is untyped
/**
 * Crypto-shredding and the deletion drill's set-up in the template, evaluated with @cloud-copilot/iam-simulate:
 *
 * - the customer-keys table has no point-in-time recovery (every other table has it), and only offboarding may delete
 *   a key; sealers read and create, openers only read;
 * - the retention figures the deletion record states under `remains` are the template's own;
 * - the drill's set-up step: an administrator cannot encrypt a secret with the secrets key (the step the runbook
 *   used to ask for), while the lifecycle API's role can, through its customer-secrets session for the reserved
 *   drill customer, store `virtuous/<environment>/deletion-drill/api_token` exactly as it stores a customer's key.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { CUSTOMER_TAG, PURPOSE_TAG, sessionPolicy } from '../../functions/credentials/secret-purposes.ts';
import { secretResourcePolicy } from '../../functions/credentials/secret-resource-policy.ts';
import { DRILL_SANDBOX_CUSTOMER_ID } from '../../functions/deletion-drill/drill.ts';
import {
  INBOUND_DLQ_DAYS,
  INBOUND_QUEUE_DAYS,
  LOG_ARCHIVE_DAYS,
  LOG_RETENTION_DAYS,
} from '../../functions/lifecycle/deletion-reach.ts';
import { TABLE_KEYS, TABLES, type TableSchema, tableName } from '../../functions/shared/tables.ts';
import { WORKER_SPECS, type WorkerName } from '../../infra/aws/constructs/workers.ts';
import { type Synthesized, synthesize } from './synth.ts';
import { ACCOUNT, logicalId, PARTITION, REGION, simulate, TemplatePolicies } from './template-policies.ts';

const ENVIRONMENT = 'staging';
let synth: Synthesized;
let policies: TemplatePolicies;

beforeAll(() => {
  synth = synthesize({}, { nag: false });
  policies = new TemplatePolicies(synth.json as never);
}, 180_000);

const resources = (type: string) =>
  Object.values(synth.json.Resources as Record<string, any>).filter((resource) => resource.Type === type);

describe('customer data keys in the template', () => {
  it('keeps no point-in-time copy of the customer-keys table, and one of every other table', () => {
    for (const key of TABLE_KEYS) {
      const table = resources('AWS::DynamoDB::Table').find(
        (t) => t.Properties.TableName === tableName(ENVIRONMENT, key),
      );
      const schema: TableSchema = TABLES[key];
      expect(table?.Properties.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled, key).toBe(
        key !== 'customerKeys',
      );
      expect(schema.pointInTimeRecovery === false, key).toBe(key === 'customerKeys');
    }
  });

  it('every function that seals reads and creates keys, one that only opens reads them, no other touches them', async () => {
    const table = `arn:${PARTITION}:dynamodb:${REGION}:${ACCOUNT}:table/${tableName(ENVIRONMENT, 'customerKeys')}`;
    for (const name of Object.keys(WORKER_SPECS) as WorkerName[]) {
      const spec = WORKER_SPECS[name];
      const role = logicalId(synth.built.stack.workers.functions[name].role);
      const can = async (action: string) =>
        (await simulate({
          principal: policies.roleArn(role),
          identityPolicies: policies.identityPolicies(role),
          action,
          resource: table,
        })) === 'Allowed';
      // Offboarding destroys keys (and proves it with a probe sealed under the key).
      const writes = spec.sealsWithDataKey === true || name === 'tasks:offboarding';
      const reads = writes || spec.opensWithDataKey === true;
      expect(await can('dynamodb:GetItem'), `${name} GetItem`).toBe(reads);
      expect(await can('dynamodb:PutItem'), `${name} PutItem`).toBe(writes);
      const variables = policies.resource(logicalId(synth.built.stack.workers.functions[name].function)).Properties
        ?.Environment?.Variables;
      if (reads) expect(variables?.TABLE_CUSTOMER_KEYS, `${name} knows the key table`).toBeDefined();
    }
  });

  it('states in the deletion record the retention the template deploys', () => {
    const logGroups = resources('AWS::Logs::LogGroup').map((group) => group.Properties.RetentionInDays);
    expect(logGroups.length).toBeGreaterThan(5);
    expect(logGroups.filter((days) => days !== LOG_RETENTION_DAYS)).toEqual([]);
    const queues = Object.fromEntries(
      resources('AWS::SQS::Queue').map((queue) => [
        queue.Properties.QueueName,
        queue.Properties.MessageRetentionPeriod,
      ]),
    );
    expect(queues[`virtuous-${ENVIRONMENT}-inbound`]).toBe(INBOUND_QUEUE_DAYS * 86_400);
    expect(queues[`virtuous-${ENVIRONMENT}-inbound-dlq`]).toBe(INBOUND_DLQ_DAYS * 86_400);
    const archive = logicalId(synth.built.stack.observability.archiveBucket);
    const rules = policies.resource(archive).Properties?.LifecycleConfiguration?.Rules as any[];
    expect(rules.some((rule) => rule.ExpirationInDays === LOG_ARCHIVE_DAYS)).toBe(true);
  });
});

describe('deletion drill set-up through the lifecycle API', () => {
  const secretArn = `arn:${PARTITION}:secretsmanager:${REGION}:${ACCOUNT}:secret:virtuous/${ENVIRONMENT}/${DRILL_SANDBOX_CUSTOMER_ID}/api_token-Ab12Cd`;

  it('an administrator cannot store the sandbox key: the secrets key refuses to encrypt for anyone else', async () => {
    const secretsKey = logicalId(synth.built.stack.secrets.secretsKey);
    const admin = `arn:${PARTITION}:iam::${ACCOUNT}:role/OrganizationAccountAccessRole`;
    const everything = [
      {
        name: 'Admin',
        policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
      },
    ];
    expect(
      await simulate({
        principal: admin,
        identityPolicies: everything,
        action: 'kms:GenerateDataKey',
        resource: policies.keyArn(secretsKey),
        resourcePolicy: policies.keyPolicy(secretsKey),
        context: { 'aws:PrincipalArn': admin, 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com` },
      }),
    ).not.toBe('Allowed');
  });

  it("the lifecycle API's role stores it: assumes the writer for the drill customer, creates and promotes the secret", async () => {
    const { workers, secrets } = synth.built.stack;
    const api = logicalId(workers.functions.lifecycleApi.role);
    const writer = logicalId(secrets.node.findChild('CustomerSecretsWriter'));
    const secretsKey = logicalId(secrets.secretsKey);
    const purpose = WORKER_SPECS.lifecycleApi.customerSecrets as string;
    const tags = {
      [`aws:RequestTag/${CUSTOMER_TAG}`]: DRILL_SANDBOX_CUSTOMER_ID,
      [`aws:RequestTag/${PURPOSE_TAG}`]: purpose,
      'aws:TagKeys': [CUSTOMER_TAG, PURPOSE_TAG],
    };
    for (const action of ['sts:AssumeRole', 'sts:TagSession']) {
      expect(
        await simulate({
          principal: policies.roleArn(api),
          identityPolicies: policies.identityPolicies(api),
          action,
          resource: policies.roleArn(writer),
          resourcePolicy: policies.trustPolicy(writer),
          context: tags,
        }),
        action,
      ).toBe('Allowed');
    }
    const session = {
      principal: `arn:${PARTITION}:sts::${ACCOUNT}:assumed-role/${policies.roleName(writer)}/${DRILL_SANDBOX_CUSTOMER_ID}-1`,
      identityPolicies: policies.identityPolicies(writer),
      sessionPolicy: JSON.parse(
        sessionPolicy(purpose as never, DRILL_SANDBOX_CUSTOMER_ID, {
          environment: ENVIRONMENT,
          secretsKmsKeyArn: policies.keyArn(secretsKey),
        }),
      ),
    };
    const sessionTags = {
      'aws:PrincipalArn': policies.roleArn(writer),
      [`aws:PrincipalTag/${CUSTOMER_TAG}`]: DRILL_SANDBOX_CUSTOMER_ID,
      [`aws:PrincipalTag/${PURPOSE_TAG}`]: purpose,
    };
    expect(
      await simulate({
        ...session,
        action: 'secretsmanager:CreateSecret',
        resource: secretArn,
        context: {
          ...sessionTags,
          [`aws:RequestTag/${CUSTOMER_TAG}`]: DRILL_SANDBOX_CUSTOMER_ID,
          'aws:TagKeys': [CUSTOMER_TAG, 'environment', 'kind'],
        },
      }),
      'CreateSecret',
    ).toBe('Allowed');
    const resourcePolicy = secretResourcePolicy([
      policies.roleArn(logicalId(secrets.node.findChild('CustomerSecretsReader'))),
      policies.roleArn(writer),
    ]);
    for (const action of ['secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage']) {
      expect(
        await simulate({
          ...session,
          action,
          resource: secretArn,
          resourcePolicy,
          context: { ...sessionTags, [`aws:ResourceTag/${CUSTOMER_TAG}`]: DRILL_SANDBOX_CUSTOMER_ID },
        }),
        action,
      ).toBe('Allowed');
    }
    expect(
      await simulate({
        ...session,
        action: 'kms:GenerateDataKey',
        resource: policies.keyArn(secretsKey),
        resourcePolicy: policies.keyPolicy(secretsKey),
        context: { ...sessionTags, 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com` },
      }),
      'GenerateDataKey via Secrets Manager',
    ).toBe('Allowed');
  });
});

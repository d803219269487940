// biome-ignore-all lint/suspicious/noExplicitAny: CloudFormation template JSON is untyped; these helpers and assertions walk it structurally
/**
 * IAM evaluation of the synthesized policies with @cloud-copilot/iam-simulate (AGPL-3.0, used only in tests).
 *
 * For every ordered pair of test customers A ≠ B: a customer-secrets session tagged A may read A's secrets and is
 * denied B's (by name and by tag); every worker execution role is denied direct secret reads; an administrator
 * with `*` on `*` is denied reading a secret value by the secret's resource policy and decrypting by the secrets
 * key policy. And every function role may call only the services its code needs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveSecretRef } from '../../functions/credentials/secret-names.ts';
import {
  CUSTOMER_TAG,
  PURPOSE_TAG,
  SECRET_PURPOSE_NAMES,
  SECRET_PURPOSES,
  type SecretPurpose,
  sessionPolicy,
} from '../../functions/credentials/secret-purposes.ts';
import { secretResourcePolicy } from '../../functions/credentials/secret-resource-policy.ts';
import type { SecretRef } from '../../functions/credentials/secret-store.ts';
import { WEBHOOK_PROVIDERS, type WebhookProvider } from '../../functions/queue/inbound-message.ts';
import { TABLE_KEYS, tableName } from '../../functions/shared/tables.ts';
import { webhookSecretRef } from '../../functions/webhooks/secret-candidates.ts';
import { WORKER_SPECS, type WorkerName, type WorkerSpec } from '../../infra/aws/constructs/workers.ts';
import { type Synthesized, synthesize } from './synth.ts';
import {
  ACCOUNT,
  logicalId,
  PARTITION,
  REGION,
  type SimulationOutcome,
  type SimulationRequest,
  simulate as simulateIam,
  TemplatePolicies,
} from './template-policies.ts';

const CUSTOMERS = ['acme', 'beta-org', 'c_3', 'delta99'] as const;
const ENVIRONMENT = 'staging';

let synth: Synthesized;
let policies: TemplatePolicies;
let readerRole: string;
let writerRole: string;
let secretsKey: string;
const matrix = { checks: 0, allowed: 0, explicitDenials: 0, implicitDenials: 0 };

function secretArn(customer: string, name = 'api_token', source = 'virtuous'): string {
  return `arn:${PARTITION}:secretsmanager:${REGION}:${ACCOUNT}:secret:${source}/${ENVIRONMENT}/${customer}/${name}-Ab12Cd`;
}

function refArn(ref: SecretRef): string {
  return `arn:${PARTITION}:secretsmanager:${REGION}:${ACCOUNT}:secret:${resolveSecretRef(ENVIRONMENT, ref).name}-Ab12Cd`;
}

function sessionArn(roleLogicalId: string, session: string): string {
  return `arn:${PARTITION}:sts::${ACCOUNT}:assumed-role/${policies.roleName(roleLogicalId)}/${session}`;
}

/** The simulator's decision, counted into the matrix the summary test reports. */
async function simulate(request: SimulationRequest): Promise<SimulationOutcome> {
  const outcome = await simulateIam(request);
  matrix.checks += 1;
  if (outcome === 'Allowed') matrix.allowed += 1;
  else if (outcome === 'ExplicitlyDenied') matrix.explicitDenials += 1;
  else matrix.implicitDenials += 1;
  return outcome;
}

/** The session policy the code attaches to a session for this customer and purpose (scoped-credentials.ts). */
function sessionPolicyFor(purpose: SecretPurpose, customer: string): unknown {
  return JSON.parse(
    sessionPolicy(purpose, customer, { environment: ENVIRONMENT, secretsKmsKeyArn: policies.keyArn(secretsKey) }),
  );
}

interface SessionShape {
  /** Default: the API-token reader's purpose on the reader role, the lifecycle purpose on the writer role. */
  readonly purpose?: SecretPurpose;
  /** Which secret of the owner: default the Virtuous API token. */
  readonly secret?: (customerId: string) => SecretRef;
  /** The customer the session policy names; default the session's tag (they differ only by mistake). */
  readonly policyCustomer?: string;
}

/**
 * A customer-secrets session reading or writing a secret, as the code opens it (tags and session policy), with the
 * secret's resource policy in force.
 */
function secretRequest(
  role: string,
  sessionCustomer: string,
  action: string,
  owner: string,
  tagOwner = owner,
  shape: SessionShape = {},
) {
  const purpose = shape.purpose ?? (role === writerRole ? 'secret-lifecycle' : 'virtuous-api');
  return {
    principal: sessionArn(role, `${sessionCustomer}-1`),
    identityPolicies: policies.identityPolicies(role),
    sessionPolicy: sessionPolicyFor(purpose, shape.policyCustomer ?? sessionCustomer),
    action,
    resource: shape.secret ? refArn(shape.secret(owner)) : secretArn(owner),
    resourcePolicy: secretResourcePolicy([policies.roleArn(readerRole), policies.roleArn(writerRole)]),
    context: {
      'aws:PrincipalArn': policies.roleArn(role),
      [`aws:PrincipalTag/${CUSTOMER_TAG}`]: sessionCustomer,
      [`aws:PrincipalTag/${PURPOSE_TAG}`]: purpose,
      'aws:ResourceTag/customer_id': tagOwner,
      'secretsmanager:VersionStage': 'AWSCURRENT',
    },
  };
}

function workerRoles(): [WorkerName, string][] {
  return (Object.keys(WORKER_SPECS) as WorkerName[]).map((name) => [
    name,
    logicalId(synth.built.stack.workers.functions[name].role),
  ]);
}

beforeAll(() => {
  synth = synthesize({}, { nag: false });
  policies = new TemplatePolicies(synth.json as never);
  readerRole = logicalId(synth.built.stack.node.findChild('Secrets').node.findChild('CustomerSecretsReader'));
  writerRole = logicalId(synth.built.stack.node.findChild('Secrets').node.findChild('CustomerSecretsWriter'));
  secretsKey = logicalId(synth.built.stack.secrets.secretsKey);
}, 180_000);

describe('customer-secrets sessions are scoped to their own customer', () => {
  it('A reads A and is denied B, for every ordered pair, by name and by tag, for both roles', async () => {
    for (const role of [readerRole, writerRole]) {
      for (const a of CUSTOMERS) {
        expect(await simulate(secretRequest(role, a, 'secretsmanager:GetSecretValue', a)), `${a} reads own`).toBe(
          'Allowed',
        );
        for (const b of CUSTOMERS) {
          if (a === b) continue;
          expect(await simulate(secretRequest(role, a, 'secretsmanager:GetSecretValue', b)), `${a}→${b}`).not.toBe(
            'Allowed',
          );
          // A secret named for A but tagged for B (or the reverse) is refused too: both must match.
          expect(await simulate(secretRequest(role, a, 'secretsmanager:GetSecretValue', a, b))).not.toBe('Allowed');
          expect(await simulate(secretRequest(role, a, 'secretsmanager:GetSecretValue', b, a))).not.toBe('Allowed');
        }
      }
    }
  });

  it('only the writer stores and deletes, and only for its own customer; creation needs the matching request tag', async () => {
    for (const a of CUSTOMERS) {
      expect(await simulate(secretRequest(readerRole, a, 'secretsmanager:PutSecretValue', a))).not.toBe('Allowed');
      expect(await simulate(secretRequest(writerRole, a, 'secretsmanager:PutSecretValue', a))).toBe('Allowed');
      expect(await simulate(secretRequest(writerRole, a, 'secretsmanager:DeleteSecret', a))).toBe('Allowed');
      for (const b of CUSTOMERS) {
        if (a === b) continue;
        expect(await simulate(secretRequest(writerRole, a, 'secretsmanager:PutSecretValue', b))).not.toBe('Allowed');
        expect(await simulate(secretRequest(writerRole, a, 'secretsmanager:DeleteSecret', b))).not.toBe('Allowed');
        const create = (requestTag: string, owner: string) => ({
          principal: sessionArn(writerRole, `${a}-1`),
          identityPolicies: policies.identityPolicies(writerRole),
          action: 'secretsmanager:CreateSecret',
          resource: secretArn(owner),
          context: {
            'aws:PrincipalTag/customer_id': a,
            'aws:RequestTag/customer_id': requestTag,
            'aws:TagKeys': ['customer_id', 'environment', 'kind'],
          },
        });
        expect(await simulate(create(a, a))).toBe('Allowed');
        expect(await simulate(create(b, a))).not.toBe('Allowed');
        expect(await simulate(create(a, b))).not.toBe('Allowed');
      }
    }
  });

  it('scoped sessions may list secret metadata (to tell absent from denied) but never read another value', async () => {
    for (const role of [readerRole, writerRole]) {
      expect(
        await simulate({
          principal: sessionArn(role, 'acme-1'),
          identityPolicies: policies.identityPolicies(role),
          action: 'secretsmanager:ListSecrets',
          resource: '*',
          context: { 'aws:PrincipalTag/customer_id': 'acme' },
        }),
      ).toBe('Allowed');
    }
  });

  it('each execution role may assume only the role of its purpose, only tagged with that purpose and a customer', async () => {
    const assume = (worker: string, role: string, action: string, context?: Record<string, string | string[]>) =>
      simulate({
        principal: policies.roleArn(worker),
        identityPolicies: policies.identityPolicies(worker),
        action,
        resource: policies.roleArn(role),
        resourcePolicy: policies.trustPolicy(role),
        ...(context === undefined ? {} : { context }),
      });
    const tags = (purpose: string, keys = [CUSTOMER_TAG, PURPOSE_TAG]) => ({
      [`aws:RequestTag/${CUSTOMER_TAG}`]: 'acme',
      [`aws:RequestTag/${PURPOSE_TAG}`]: purpose,
      'aws:TagKeys': keys,
    });
    for (const [role, kind] of [
      [readerRole, 'reader'],
      [writerRole, 'writer'],
    ] as const) {
      for (const [name, worker] of workerRoles()) {
        const own = WORKER_SPECS[name].customerSecrets;
        for (const purpose of SECRET_PURPOSE_NAMES) {
          const allowed = own === purpose && SECRET_PURPOSES[purpose].role === kind;
          for (const action of ['sts:AssumeRole', 'sts:TagSession']) {
            expect(await assume(worker, role, action, tags(purpose)), `${name} ${action} ${kind} as ${purpose}`).toBe(
              allowed ? 'Allowed' : 'ImplicitlyDenied',
            );
            if (!allowed) continue;
            expect(
              await assume(worker, role, action, tags(purpose, [CUSTOMER_TAG, PURPOSE_TAG, 'admin'])),
              `${name} with an extra tag`,
            ).not.toBe('Allowed');
            expect(
              await assume(worker, role, action, {
                [`aws:RequestTag/${CUSTOMER_TAG}`]: 'acme',
                'aws:TagKeys': [CUSTOMER_TAG],
              }),
              `${name} without a purpose tag`,
            ).not.toBe('Allowed');
            expect(
              await assume(worker, role, action, {
                [`aws:RequestTag/${PURPOSE_TAG}`]: purpose,
                'aws:TagKeys': [PURPOSE_TAG],
              }),
              `${name} without a customer tag`,
            ).not.toBe('Allowed');
          }
        }
        expect(await assume(worker, role, 'sts:AssumeRole'), `${name} without session tags`).not.toBe('Allowed');
      }
    }
  });
});

describe('a session reaches only the secrets of its purpose, for the customer the code named', () => {
  const webhookSecret = (provider: WebhookProvider) => (customerId: string) => webhookSecretRef(provider, customerId);
  const apiToken = (customerId: string): SecretRef => ({ customerId, kind: 'api_token' });
  const refreshToken = (customerId: string): SecretRef => ({ customerId, kind: 'refresh_token', source: 'stripe' });
  const read = 'secretsmanager:GetSecretValue';

  it('the functions that face the internet and call Virtuous open sessions for different purposes', () => {
    expect(WORKER_SPECS.webhookVerifier.customerSecrets).toBe('webhook-verification');
    expect(WORKER_SPECS.processor.customerSecrets).toBe('virtuous-api');
    expect(WORKER_SPECS.reconciler.customerSecrets).toBe('virtuous-api');
  });

  it("a verifier session for A reads A's webhook secrets only: no API token and no refresh token of anyone", async () => {
    const verifier = { purpose: 'webhook-verification' } as const;
    for (const a of CUSTOMERS) {
      for (const provider of WEBHOOK_PROVIDERS) {
        expect(
          await simulate(secretRequest(readerRole, a, read, a, a, { ...verifier, secret: webhookSecret(provider) })),
          `${a} ${provider} webhook secret`,
        ).toBe('Allowed');
      }
      for (const b of CUSTOMERS) {
        for (const secret of [apiToken, refreshToken]) {
          expect(
            await simulate(secretRequest(readerRole, a, read, b, b, { ...verifier, secret })),
            `${a} reads ${b}'s ${secret(b).kind}`,
          ).not.toBe('Allowed');
        }
        if (a === b) continue;
        for (const provider of WEBHOOK_PROVIDERS) {
          expect(
            await simulate(secretRequest(readerRole, a, read, b, b, { ...verifier, secret: webhookSecret(provider) })),
            `${a} reads ${b}'s ${provider} webhook secret`,
          ).not.toBe('Allowed');
        }
      }
      // Each layer holds on its own: the role's policy without the session policy, and the session policy even
      // when a tag said the session was for reading API tokens.
      const withoutSessionPolicy = { ...secretRequest(readerRole, a, read, a, a, verifier), sessionPolicy: undefined };
      expect(await simulate(withoutSessionPolicy), `${a} token by the role's policy alone`).not.toBe('Allowed');
      const mistagged = secretRequest(readerRole, a, read, a, a, { purpose: 'virtuous-api' });
      mistagged.sessionPolicy = sessionPolicyFor('webhook-verification', a);
      expect(await simulate(mistagged), `${a} token by the session policy alone`).not.toBe('Allowed');
      expect(await simulate(secretRequest(readerRole, a, 'secretsmanager:PutSecretValue', a, a, verifier))).not.toBe(
        'Allowed',
      );
    }
  });

  it("a processor session for A reads A's API token only", async () => {
    for (const a of CUSTOMERS) {
      expect(await simulate(secretRequest(readerRole, a, read, a)), `${a} own token`).toBe('Allowed');
      for (const secret of [webhookSecret('virtuous'), webhookSecret('stripe'), refreshToken]) {
        expect(await simulate(secretRequest(readerRole, a, read, a, a, { secret })), `${a} ${secret(a).kind}`).not.toBe(
          'Allowed',
        );
      }
      for (const b of CUSTOMERS) {
        if (a !== b) expect(await simulate(secretRequest(readerRole, a, read, b)), `${a}→${b}`).not.toBe('Allowed');
      }
    }
  });

  it('a session whose tag names another customer than the code asked for reaches neither', async () => {
    for (const [role, purpose] of [
      [readerRole, 'webhook-verification'],
      [readerRole, 'virtuous-api'],
      [writerRole, 'secret-lifecycle'],
    ] as const) {
      const secret = purpose === 'webhook-verification' ? webhookSecret('virtuous') : apiToken;
      for (const a of CUSTOMERS) {
        for (const b of CUSTOMERS) {
          if (a === b) continue;
          // The code named A (session policy); the tag wrongly says B.
          for (const owner of [a, b]) {
            expect(
              await simulate(secretRequest(role, b, read, owner, owner, { purpose, secret, policyCustomer: a })),
              `${purpose}: policy ${a}, tag ${b}, secret of ${owner}`,
            ).not.toBe('Allowed');
          }
        }
      }
    }
  });
});

describe('nobody else reads a secret value', () => {
  it('every worker execution role is denied direct GetSecretValue and kms:Decrypt on the secrets key', async () => {
    for (const [name, worker] of workerRoles()) {
      for (const customer of CUSTOMERS) {
        const direct = await simulate({
          principal: policies.roleArn(worker),
          identityPolicies: policies.identityPolicies(worker),
          action: 'secretsmanager:GetSecretValue',
          resource: secretArn(customer),
          resourcePolicy: secretResourcePolicy([policies.roleArn(readerRole), policies.roleArn(writerRole)]),
          context: { 'aws:PrincipalArn': policies.roleArn(worker), 'secretsmanager:VersionStage': 'AWSCURRENT' },
        });
        expect(direct, name).toBe('ExplicitlyDenied');
      }
      const decrypt = await simulate({
        principal: policies.roleArn(worker),
        identityPolicies: policies.identityPolicies(worker),
        action: 'kms:Decrypt',
        resource: policies.keyArn(secretsKey),
        resourcePolicy: policies.keyPolicy(secretsKey),
        context: {
          'aws:PrincipalArn': policies.roleArn(worker),
          'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com`,
        },
      });
      expect(decrypt, name).toBe('ExplicitlyDenied');
    }
  });

  it('an administrator with * on * is denied by the resource policy and by the secrets key policy', async () => {
    const admin = `arn:${PARTITION}:iam::${ACCOUNT}:role/OrganizationAccountAccessRole`;
    const everything = [
      {
        name: 'AdministratorAccess',
        policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
      },
    ];
    for (const customer of CUSTOMERS) {
      expect(
        await simulate({
          principal: admin,
          identityPolicies: everything,
          action: 'secretsmanager:GetSecretValue',
          resource: secretArn(customer),
          resourcePolicy: secretResourcePolicy([policies.roleArn(readerRole), policies.roleArn(writerRole)]),
          context: { 'aws:PrincipalArn': admin, 'secretsmanager:VersionStage': 'AWSCURRENT' },
        }),
      ).toBe('ExplicitlyDenied');
    }
    for (const via of [`secretsmanager.${REGION}.amazonaws.com`, undefined]) {
      expect(
        await simulate({
          principal: admin,
          identityPolicies: everything,
          action: 'kms:Decrypt',
          resource: policies.keyArn(secretsKey),
          resourcePolicy: policies.keyPolicy(secretsKey),
          context: via ? { 'aws:PrincipalArn': admin, 'kms:ViaService': via } : { 'aws:PrincipalArn': admin },
        }),
      ).toBe('ExplicitlyDenied');
    }
    // The scoped roles themselves can decrypt, but only through Secrets Manager.
    for (const role of [readerRole, writerRole]) {
      const base = {
        principal: sessionArn(role, 'acme-1'),
        identityPolicies: policies.identityPolicies(role),
        action: 'kms:Decrypt',
        resource: policies.keyArn(secretsKey),
        resourcePolicy: policies.keyPolicy(secretsKey),
      };
      expect(
        await simulate({
          ...base,
          context: {
            'aws:PrincipalArn': policies.roleArn(role),
            'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com`,
          },
        }),
      ).toBe('Allowed');
      expect(await simulate({ ...base, context: { 'aws:PrincipalArn': policies.roleArn(role) } })).not.toBe('Allowed');
    }
  });
});

describe('each function role calls only what its code needs', () => {
  function expectedServices(spec: WorkerSpec): string[] {
    const services = new Set(['logs', 'xray']);
    if (spec.callsVirtuous) services.add('ec2');
    if (Object.keys(spec.tables).length > 0) services.add('dynamodb').add('kms');
    if (spec.inboundQueue) services.add('sqs').add('kms');
    if (spec.customerSecrets) services.add('sts');
    if (spec.customerNotifications || spec.operatorAlerts) services.add('sns').add('kms');
    if (spec.sealsWithDataKey || spec.opensWithDataKey) services.add('kms');
    if (spec.startsWorkflows) services.add('states');
    if (spec.debugCaptures || spec.readsImports) services.add('s3');
    if (spec.invokedBySchedule) services.add('sqs');
    if (spec.readsOAuthClientOf?.length) services.add('secretsmanager');
    if (spec.startsInitialLoads) services.add('lambda');
    if (spec.reviewsSecretAccess) services.add('cloudtrail');
    return [...services].sort();
  }

  it('allows exactly the expected services per role, never iam or a bare *, secretsmanager only for a platform OAuth client', () => {
    for (const [name, worker] of workerRoles()) {
      const allows = policies
        .identityPolicies(worker)
        .flatMap((p) => (p.policy.Statement as any[]).filter((s) => s.Effect === 'Allow'));
      const actions = allows.flatMap((s) => [s.Action].flat());
      const services = [...new Set(actions.map((a: string) => a.split(':')[0]))].sort();
      expect(services, name).toEqual(expectedServices(WORKER_SPECS[name]));
      // The one direct Secrets Manager permission an execution role may hold: reading the declared integration-
      // internal OAuth client(s) by exact name. Customer secrets stay reachable only through the scoped roles.
      for (const statement of allows.filter((s) => JSON.stringify(s.Action).includes('secretsmanager:'))) {
        expect([statement.Action].flat(), name).toEqual(['secretsmanager:GetSecretValue']);
        const resources = [statement.Resource].flat().map((r: unknown) => JSON.stringify(r));
        expect(resources.length, name).toBe(WORKER_SPECS[name].readsOAuthClientOf?.length);
        for (const resource of resources)
          expect(resource, name).toContain(`/${ENVIRONMENT}/_platform/oauth_client-??????`);
      }
      expect(actions, name).not.toContain('*');
      expect(
        actions.filter((a: string) => /^[a-z0-9-]+:\*$/.test(a)),
        name,
      ).toEqual([]);
    }
  });

  it('only the incident-response tasks look up CloudTrail events, read-only: never stop or change a trail', async () => {
    expect(WORKER_SPECS['tasks:incident-response'].reviewsSecretAccess).toBe(true);
    for (const [name, worker] of workerRoles()) {
      const request = { principal: policies.roleArn(worker), identityPolicies: policies.identityPolicies(worker) };
      const lookup = await simulate({ ...request, action: 'cloudtrail:LookupEvents', resource: '*' });
      expect(lookup, name).toBe(WORKER_SPECS[name].reviewsSecretAccess === true ? 'Allowed' : 'ImplicitlyDenied');
      const trail = `arn:${PARTITION}:cloudtrail:${REGION}:${ACCOUNT}:trail/management`;
      for (const action of ['cloudtrail:StopLogging', 'cloudtrail:DeleteTrail', 'cloudtrail:PutEventSelectors']) {
        expect(await simulate({ ...request, action, resource: trail }), `${name} ${action}`).not.toBe('Allowed');
      }
    }
  });

  it('reaches exactly the tables its declaration names, with exactly the declared access', async () => {
    for (const [name, worker] of workerRoles()) {
      const identityPolicies = policies.identityPolicies(worker);
      const principal = policies.roleArn(worker);
      const declared = WORKER_SPECS[name].tables;
      for (const key of TABLE_KEYS) {
        const table = `arn:${PARTITION}:dynamodb:${REGION}:${ACCOUNT}:table/${tableName(ENVIRONMENT, key)}`;
        const access = declared[key];
        const read = await simulate({ principal, identityPolicies, action: 'dynamodb:GetItem', resource: table });
        const write = await simulate({ principal, identityPolicies, action: 'dynamodb:PutItem', resource: table });
        expect(read === 'Allowed', `${name} read ${key}`).toBe(access === 'read' || access === 'readWrite');
        expect(write === 'Allowed', `${name} write ${key}`).toBe(access === 'write' || access === 'readWrite');
      }
    }
  });

  it('whoever dead-letters to the encrypted schedule DLQ may send to it and use its key', async () => {
    const workers = synth.built.stack.workers;
    const dlq = synth.built.stack.state.scheduleDeadLetterQueue;
    const queueArn = `arn:${PARTITION}:sqs:${REGION}:${ACCOUNT}:${policies.resource(logicalId(dlq)).Properties.QueueName}`;
    const dataKey = policies.keyArn(logicalId(synth.built.stack.secrets.dataKey));
    const senders = [
      logicalId(workers.node.findChild('SchedulerRole')),
      logicalId(workers.functions.reconciler.role),
      logicalId(workers.functions.rotationScheduler.role),
      logicalId(workers.functions.lockReleaser.role),
    ];
    const dataKeyPolicy = policies.keyPolicy(logicalId(synth.built.stack.secrets.dataKey));
    for (const role of senders) {
      const identityPolicies = policies.identityPolicies(role);
      const principal = policies.roleArn(role);
      const context = { 'aws:SecureTransport': 'true', 'aws:PrincipalArn': principal };
      expect(
        await simulate({ principal, identityPolicies, action: 'sqs:SendMessage', resource: queueArn, context }),
        `${role} sqs:SendMessage`,
      ).toBe('Allowed');
      expect(
        await simulate({
          principal,
          identityPolicies,
          action: 'kms:GenerateDataKey',
          resource: dataKey,
          resourcePolicy: dataKeyPolicy,
          context,
        }),
        `${role} kms:GenerateDataKey`,
      ).toBe('Allowed');
    }
  });

  it('releasing held messages (reconciler, lifecycle API resume): query and delete them, decrypt, send to the queue', async () => {
    const { workers, state, secrets } = synth.built.stack;
    const heldTable = `arn:${PARTITION}:dynamodb:${REGION}:${ACCOUNT}:table/${tableName(ENVIRONMENT, 'heldMessages')}`;
    const inboundId = logicalId(state.inboundQueue);
    const inbound = `arn:${PARTITION}:sqs:${REGION}:${ACCOUNT}:${policies.resource(inboundId).Properties?.QueueName ?? inboundId}`;
    const dataKey = policies.keyArn(logicalId(secrets.dataKey));
    const dataKeyPolicy = policies.keyPolicy(logicalId(secrets.dataKey));
    const releasers = ['reconciler', 'lifecycleApi'] as const;
    for (const name of releasers) {
      const role = logicalId(workers.functions[name].role);
      const identityPolicies = policies.identityPolicies(role);
      const principal = policies.roleArn(role);
      const context = { 'aws:SecureTransport': 'true', 'aws:PrincipalArn': principal };
      for (const [action, resource, resourcePolicy] of [
        ['dynamodb:Query', heldTable, undefined],
        ['dynamodb:DeleteItem', heldTable, undefined],
        ['sqs:SendMessage', inbound, undefined],
        ['kms:Decrypt', dataKey, dataKeyPolicy],
      ] as const) {
        expect(
          await simulate({ principal, identityPolicies, action, resource, context, resourcePolicy }),
          `${name} ${action}`,
        ).toBe('Allowed');
      }
      const variables = policies.resource(logicalId(workers.functions[name].function)).Properties.Environment.Variables;
      expect(Object.keys(variables), name).toEqual(
        expect.arrayContaining(['DATA_KMS_KEY_ARN', 'INBOUND_QUEUE_URL', 'TABLE_HELD_MESSAGES']),
      );
    }
    // The reconciler also seals (its deferred refunds can dead-letter): GenerateDataKey on the data key.
    const reconciler = logicalId(workers.functions.reconciler.role);
    expect(
      await simulate({
        principal: policies.roleArn(reconciler),
        identityPolicies: policies.identityPolicies(reconciler),
        action: 'kms:GenerateDataKey',
        resource: dataKey,
        resourcePolicy: dataKeyPolicy,
        context: { 'aws:PrincipalArn': policies.roleArn(reconciler) },
      }),
    ).toBe('Allowed');
    // Held messages stay out of reach of the functions that never hold or release them.
    for (const name of ['webhookVerifier', 'rotationScheduler', 'tasks:onboarding'] as const) {
      const role = logicalId(workers.functions[name].role);
      expect(
        await simulate({
          principal: policies.roleArn(role),
          identityPolicies: policies.identityPolicies(role),
          action: 'dynamodb:Query',
          resource: heldTable,
        }),
        name,
      ).not.toBe('Allowed');
    }
  });

  it('the lifecycle API dead-letter routes: list and resolve dead letters, reset the sync record, replay to the queue', async () => {
    const { workers, state, secrets } = synth.built.stack;
    const table = (key: 'deadLetters' | 'syncRecords' | 'deliveries') =>
      `arn:${PARTITION}:dynamodb:${REGION}:${ACCOUNT}:table/${tableName(ENVIRONMENT, key)}`;
    const inboundId = logicalId(state.inboundQueue);
    const inbound = `arn:${PARTITION}:sqs:${REGION}:${ACCOUNT}:${policies.resource(inboundId).Properties?.QueueName ?? inboundId}`;
    const dataKey = policies.keyArn(logicalId(secrets.dataKey));
    const dataKeyPolicy = policies.keyPolicy(logicalId(secrets.dataKey));
    const role = logicalId(workers.functions.lifecycleApi.role);
    const identityPolicies = policies.identityPolicies(role);
    const principal = policies.roleArn(role);
    const context = { 'aws:SecureTransport': 'true', 'aws:PrincipalArn': principal };
    const outcome = (action: string, resource: string, resourcePolicy?: unknown) =>
      simulate({ principal, identityPolicies, action, resource, context, resourcePolicy });
    for (const [action, resource] of [
      ['dynamodb:Query', table('deadLetters')],
      ['dynamodb:GetItem', table('deadLetters')],
      ['dynamodb:UpdateItem', table('deadLetters')],
      ['dynamodb:GetItem', table('syncRecords')],
      ['dynamodb:UpdateItem', table('syncRecords')],
      ['sqs:SendMessage', inbound],
    ] as const) {
      expect(await outcome(action, resource), `lifecycleApi ${action} ${resource}`).toBe('Allowed');
    }
    expect(await outcome('kms:Decrypt', dataKey, dataKeyPolicy), 'lifecycleApi kms:Decrypt').toBe('Allowed');
    // The dead-letter routes reach the tables a replay needs, not the rest of the sync engine's.
    expect(await outcome('dynamodb:Query', table('deliveries'))).not.toBe('Allowed');
    expect(await outcome('dynamodb:DeleteItem', table('deliveries'))).not.toBe('Allowed');
    const variables = policies.resource(logicalId(workers.functions.lifecycleApi.function)).Properties.Environment
      .Variables;
    expect(Object.keys(variables)).toEqual(
      expect.arrayContaining(['TABLE_DEAD_LETTERS', 'TABLE_SYNC_RECORDS', 'TABLE_CUSTOMERS', 'INBOUND_QUEUE_URL']),
    );
  });

  it('the bulk loader reads import objects, and nobody else does', async () => {
    const importsId = logicalId(synth.built.stack.state.importsBucket);
    const bucket = String(policies.resource(importsId).Properties?.BucketName ?? importsId).toLowerCase();
    const object = `arn:${PARTITION}:s3:::${bucket}/acme/export.jsonl`;
    for (const [name, worker] of workerRoles()) {
      const outcome = await simulate({
        principal: policies.roleArn(worker),
        identityPolicies: policies.identityPolicies(worker),
        action: 's3:GetObject',
        resource: object,
      });
      expect(outcome === 'Allowed', `${name} s3:GetObject imports`).toBe(name === 'bulkLoader');
    }
  });

  it('only the onboarding tasks invoke the reconciler and the bulk loader, the lifecycle API the bulk loader, unqualified, nothing else', async () => {
    const functionArn = (name: WorkerName) =>
      policies.resolve({ 'Fn::GetAtt': [logicalId(synth.built.stack.workers.functions[name].function), 'Arn'] });
    for (const [name, worker] of workerRoles()) {
      const invoke = (resource: string) =>
        simulate({
          principal: policies.roleArn(worker),
          identityPolicies: policies.identityPolicies(worker),
          action: 'lambda:InvokeFunction',
          resource,
        });
      for (const target of Object.keys(WORKER_SPECS) as WorkerName[]) {
        const allowed =
          (name === 'tasks:onboarding' && (target === 'reconciler' || target === 'bulkLoader')) ||
          (name === 'lifecycleApi' && target === 'bulkLoader');
        expect((await invoke(functionArn(target))) === 'Allowed', `${name} invokes ${target}`).toBe(allowed);
      }
      expect(await invoke(`${functionArn('reconciler')}:1`), `${name} invokes a version`).not.toBe('Allowed');
    }
  });

  it('the bulk loader and the lifecycle API read the Stripe platform OAuth client by its exact name, nobody else', async () => {
    const platform = `arn:${PARTITION}:secretsmanager:${REGION}:${ACCOUNT}:secret:stripe/${ENVIRONMENT}/_platform/oauth_client-Ab12Cd`;
    const elsewhere = [
      `arn:${PARTITION}:secretsmanager:${REGION}:${ACCOUNT}:secret:stripe/${ENVIRONMENT}/_platform/other-Ab12Cd`,
      `arn:${PARTITION}:secretsmanager:${REGION}:${ACCOUNT}:secret:stripe/other-env/_platform/oauth_client-Ab12Cd`,
      secretArn('acme', 'refresh_token', 'stripe'),
    ];
    for (const [name, worker] of workerRoles()) {
      const read = (resource: string) =>
        simulate({
          principal: policies.roleArn(worker),
          identityPolicies: policies.identityPolicies(worker),
          action: 'secretsmanager:GetSecretValue',
          resource,
        });
      expect((await read(platform)) === 'Allowed', `${name} platform OAuth client`).toBe(
        name === 'bulkLoader' || name === 'lifecycleApi',
      );
      for (const resource of elsewhere) expect(await read(resource), `${name} ${resource}`).not.toBe('Allowed');
    }
  });

  it('denies a sample of actions no function needs', async () => {
    const table = `arn:${PARTITION}:dynamodb:${REGION}:${ACCOUNT}:table/virtuous-${ENVIRONMENT}-customers`;
    for (const [name, worker] of workerRoles()) {
      const identityPolicies = policies.identityPolicies(worker);
      const principal = policies.roleArn(worker);
      for (const [action, resource] of [
        ['dynamodb:DeleteTable', table],
        ['dynamodb:UpdateTable', table],
        ['iam:PassRole', policies.roleArn(readerRole)],
        ['kms:ScheduleKeyDeletion', policies.keyArn(secretsKey)],
        ['secretsmanager:ListSecrets', '*'],
      ] as const) {
        expect(await simulate({ principal, identityPolicies, action, resource }), `${name} ${action}`).not.toBe(
          'Allowed',
        );
      }
    }
  });

  it('reports the matrix', () => {
    expect(matrix.checks).toBeGreaterThan(500);
    expect(matrix.explicitDenials).toBeGreaterThan(0);
    expect(matrix.implicitDenials).toBeGreaterThan(0);
    console.log(
      `IAM simulation: ${matrix.checks} checks — ${matrix.allowed} allowed, ${matrix.explicitDenials} explicit denials, ${matrix.implicitDenials} implicit denials (${CUSTOMERS.length} customers, ${CUSTOMERS.length * (CUSTOMERS.length - 1)} ordered pairs, ${workerRoles().length} function roles)`,
    );
  });
});

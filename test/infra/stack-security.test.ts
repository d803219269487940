// biome-ignore-all lint/suspicious/noExplicitAny: CloudFormation template JSON is untyped; these helpers and assertions walk it structurally
/**
 * Security properties of the synthesized stack (one synthesis for the whole file) and its cdk-nag report.
 */
import { Validations } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { sessionName } from '../../functions/credentials/scoped-credentials.ts';
import { isExpectedAccessor } from '../../functions/lifecycle/secret-accessors.ts';
import { lifecycleSettingsFromEnv } from '../../functions/lifecycle/settings.ts';
import { PROCESSOR_TIMEOUT_SECONDS } from '../../functions/processor/limits.ts';
import { ENV } from '../../functions/shared/environment.ts';
import { TABLE_KEYS, TABLES, tableName } from '../../functions/shared/tables.ts';
import { CFN_GUARD_PLUGIN_NAME, CONTROL_ID_PATTERN } from '../../infra/aws/nag/control-tower.ts';
import { readWorkflowDefinition, WORKFLOWS } from '../../statemachines/workflows.ts';
import { pluginReport, resourcesOfType, type Synthesized, synthesize, unacknowledgedFindings } from './synth.ts';
import { TemplatePolicies } from './template-policies.ts';

let synth: Synthesized;
// One synthesis (several seconds; much longer on a loaded machine) shared by every test in the file.
beforeAll(() => {
  synth = synthesize();
}, 180_000);

const resources = (type: string) => resourcesOfType(synth.json, type);

describe('ingress', () => {
  it('associates a WAF web ACL with the API stage', () => {
    const [[aclId]] = resources('AWS::WAFv2::WebACL') as [[string, unknown]];
    const [[stageId]] = resources('AWS::ApiGateway::Stage') as [[string, unknown]];
    synth.template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      WebACLArn: { 'Fn::GetAtt': [aclId, 'Arn'] },
      ResourceArn: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([{ Ref: stageId }])] }),
    });
  });

  it('runs the rate, body-size, common, known-bad-inputs and IP-reputation rules', () => {
    const [[, acl]] = resources('AWS::WAFv2::WebACL') as [[string, any]];
    expect(acl.Properties.Scope).toBe('REGIONAL');
    const rules = acl.Properties.Rules as any[];
    const managed = rules.map((r) => r.Statement.ManagedRuleGroupStatement?.Name).filter(Boolean);
    expect(managed).toEqual(
      expect.arrayContaining([
        'AWSManagedRulesCommonRuleSet',
        'AWSManagedRulesKnownBadInputsRuleSet',
        'AWSManagedRulesAmazonIpReputationList',
      ]),
    );
    const rate = rules.find((r) => r.Statement.RateBasedStatement);
    expect(rate.Action).toEqual({ Block: {} });
    expect(rate.Statement.RateBasedStatement.AggregateKeyType).toBe('IP');
    const size = rules.find((r) => r.Statement.SizeConstraintStatement);
    expect(size.Action).toEqual({ Block: {} });
    expect(size.Statement.SizeConstraintStatement).toMatchObject({
      ComparisonOperator: 'GT',
      Size: 65_536,
      FieldToMatch: { Body: { OversizeHandling: 'MATCH' } },
    });
    // The managed 8 KB body rule only counts: the explicit rule above owns the limit. The rules that would block
    // signed JSON webhooks count too; waf-webhook-routes.test.ts checks they still block outside the webhook routes.
    const common = rules.find((r) => r.Statement.ManagedRuleGroupStatement?.Name === 'AWSManagedRulesCommonRuleSet');
    expect(common.Statement.ManagedRuleGroupStatement.RuleActionOverrides).toContainEqual({
      Name: 'SizeRestrictions_BODY',
      ActionToUse: { Count: {} },
    });
    expect(acl.Properties.AssociationConfig.RequestBody.API_GATEWAY.DefaultSizeInspectionLimit).toBe('KB_64');
    // Every rule is evaluated before anything managed that could count what the explicit ones block.
    expect(size.Priority).toBeLessThan(common.Priority);
  });

  it('throttles the stage and each webhook method, traces, and writes JSON access logs to a retained group', () => {
    const [[, stage]] = resources('AWS::ApiGateway::Stage') as [[string, any]];
    expect(stage.Properties.TracingEnabled).toBe(true);
    const settings = stage.Properties.MethodSettings as any[];
    const all = settings.find((s) => s.ResourcePath === '/*' && s.HttpMethod === '*');
    expect(all.ThrottlingRateLimit).toBeGreaterThan(0);
    expect(all.ThrottlingBurstLimit).toBeGreaterThan(0);
    expect(all.DataTraceEnabled).toBe(false);
    for (const provider of ['virtuous', 'stripe']) {
      const method = settings.find(
        (s) => s.ResourcePath === `/~1webhooks~1${provider}~1{customerId}` && s.HttpMethod === 'POST',
      );
      expect(method, provider).toBeDefined();
      expect(method.ThrottlingRateLimit).toBeLessThanOrEqual(all.ThrottlingRateLimit);
    }
    const format = JSON.parse(stage.Properties.AccessLogSetting.Format as string);
    expect(Object.keys(format)).toEqual(expect.arrayContaining(['requestId', 'ip', 'status', 'resourcePath']));
    expect(stage.Properties.AccessLogSetting.Format).not.toMatch(/body|authorization/i);
  });

  it('requires path parameter, Content-Type and the signature header on each webhook route, with a validator', () => {
    const methods = resources('AWS::ApiGateway::Method').map(([, m]) => m.Properties);
    const webhooks = methods.filter((m) => m.HttpMethod === 'POST');
    expect(webhooks).toHaveLength(2);
    const headerSets = webhooks.map((m) => Object.keys(m.RequestParameters).sort());
    expect(headerSets).toEqual(
      expect.arrayContaining([
        [
          'method.request.header.Content-Type',
          'method.request.header.Stripe-Signature',
          'method.request.path.customerId',
        ],
        [
          'method.request.header.Content-Type',
          'method.request.header.X-Virtuous-Signature',
          'method.request.path.customerId',
        ],
      ]),
    );
    for (const method of webhooks) {
      expect(method.AuthorizationType).toBe('NONE');
      expect(method.RequestValidatorId).toBeDefined();
      expect(method.Integration.Type).toBe('AWS_PROXY');
    }
    const lifecycle = methods.find((m) => m.HttpMethod === 'ANY');
    expect(lifecycle.AuthorizationType).toBe('AWS_IAM');
    synth.template.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
      ValidateRequestParameters: true,
    });
  });

  it('passes raw bodies through as base64 (binary media type */*), on a regional endpoint', () => {
    synth.template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      BinaryMediaTypes: ['*/*'],
      EndpointConfiguration: { Types: ['REGIONAL'] },
    });
  });
});

describe('state', () => {
  it('creates every table of functions/shared/tables.ts with its keys, TTL, PITR and the data key', () => {
    const tables = resources('AWS::DynamoDB::Table').map(([, t]) => t.Properties);
    expect(tables).toHaveLength(TABLE_KEYS.length);
    for (const key of TABLE_KEYS) {
      const schema = TABLES[key];
      const table = tables.find((t) => t.TableName === tableName('staging', key));
      expect(table, key).toBeDefined();
      const expectedKeys = [{ AttributeName: schema.partitionKey.name, KeyType: 'HASH' }];
      if ('sortKey' in schema) expectedKeys.push({ AttributeName: schema.sortKey.name, KeyType: 'RANGE' });
      expect(table.KeySchema).toEqual(expectedKeys);
      expect(table.BillingMode).toBe('PAY_PER_REQUEST');
      // Every table but the customer data keys, whose destruction a restorable copy would undo.
      expect(table.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled, key).toBe(key !== 'customerKeys');
      expect(table.SSESpecification).toMatchObject({ SSEEnabled: true, SSEType: 'KMS' });
      expect(table.SSESpecification.KMSMasterKeyId).toBeDefined();
      if ('timeToLiveAttribute' in schema) {
        expect(table.TimeToLiveSpecification).toEqual({ AttributeName: schema.timeToLiveAttribute, Enabled: true });
      } else {
        expect(table.TimeToLiveSpecification).toBeUndefined();
      }
      expect(table.DeletionProtectionEnabled).toBe(false);
    }
  });

  it('redrives the inbound queue to a DLQ after 5 receives, with visibility ≥ 6× the processor timeout', () => {
    const queues = resources('AWS::SQS::Queue');
    const inbound = queues.find(([, q]) => q.Properties.QueueName === 'virtuous-staging-inbound')?.[1];
    const dlq = queues.find(([, q]) => q.Properties.QueueName === 'virtuous-staging-inbound-dlq');
    expect(inbound.Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [dlq?.[0], 'Arn'] },
      maxReceiveCount: 5,
    });
    const processor = resources('AWS::Lambda::Function').find(([id]) => id.startsWith('WorkersProcessorFunction'))?.[1];
    expect(inbound.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * processor.Properties.Timeout);
    // The constant offboarding's settle wait is checked against (test/unit/sync/active-customer-gate.test.ts).
    expect(processor.Properties.Timeout).toBe(PROCESSOR_TIMEOUT_SECONDS);
    synth.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: Match.anyValue() },
    });
  });

  it('encrypts every queue with the data key and denies non-TLS access in every queue policy', () => {
    const queues = resources('AWS::SQS::Queue');
    expect(queues.length).toBeGreaterThanOrEqual(3);
    for (const [id, queue] of queues) {
      expect(queue.Properties.KmsMasterKeyId, id).toEqual({
        'Fn::GetAtt': [expect.stringMatching(/^SecretsDataKey/), 'Arn'],
      });
      const policy = resources('AWS::SQS::QueuePolicy').find(([, p]) =>
        (p.Properties.Queues as any[]).some((q) => q.Ref === id),
      )?.[1];
      expect(policy, `${id} has no queue policy`).toBeDefined();
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 'sqs:*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
    }
  });
});

describe('encryption and retention everywhere', () => {
  it('rotates both customer-managed keys', () => {
    const keys = resources('AWS::KMS::Key');
    expect(keys).toHaveLength(2);
    for (const [, key] of keys) expect(key.Properties.EnableKeyRotation).toBe(true);
  });

  it('keeps every log group 30 days, encrypted with the data key', () => {
    const groups = resources('AWS::Logs::LogGroup');
    expect(groups.length).toBeGreaterThanOrEqual(15);
    for (const [id, group] of groups) {
      expect(group.Properties.RetentionInDays, id).toBe(30);
      expect(group.Properties.KmsKeyId, id).toBeDefined();
    }
    // Every function logs to a group the stack owns (none left for Lambda to create without retention).
    for (const [id, fn] of resources('AWS::Lambda::Function')) {
      if (id.startsWith('CustomVpcRestrictDefaultSG')) continue;
      expect(fn.Properties.LoggingConfig?.LogGroup, id).toBeDefined();
    }
  });

  it('encrypts topics and buckets, blocks public access, enforces TLS and expires what must expire', () => {
    for (const [id, topic] of resources('AWS::SNS::Topic')) expect(topic.Properties.KmsMasterKeyId, id).toBeDefined();
    for (const [, policy] of resources('AWS::SNS::TopicPolicy')) {
      expect(JSON.stringify(policy.Properties.PolicyDocument)).toContain('aws:SecureTransport');
    }
    const buckets = resources('AWS::S3::Bucket');
    expect(buckets).toHaveLength(4);
    for (const [id, bucket] of buckets) {
      expect(bucket.Properties.PublicAccessBlockConfiguration, id).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      const policy = resources('AWS::S3::BucketPolicy').find(([, p]) => p.Properties.Bucket.Ref === id)?.[1];
      expect(JSON.stringify(policy?.Properties.PolicyDocument), id).toContain('"aws:SecureTransport":"false"');
    }
    const debug = buckets.find(([id]) => id.startsWith('ObservabilityDebugCaptures'))?.[1];
    expect(
      debug.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault,
    ).toMatchObject({
      SSEAlgorithm: 'aws:kms',
    });
    expect(debug.Properties.LoggingConfiguration.DestinationBucketName).toBeDefined();
    expect(debug.Properties.LifecycleConfiguration.Rules[0]).toMatchObject({ ExpirationInDays: 30, Status: 'Enabled' });
    const archive = buckets.find(([id]) => id.startsWith('ObservabilityLogArchive'))?.[1];
    expect(archive.Properties.LifecycleConfiguration.Rules[0]).toMatchObject({
      ExpirationInDays: 365,
      Transitions: [{ StorageClass: 'GLACIER', TransitionInDays: 30 }],
    });
    // Worker, workflow and API logs are copied to the archive.
    const filters = resources('AWS::Logs::SubscriptionFilter');
    const functions = resources('AWS::Lambda::Function').filter(([id]) => id.startsWith('Workers'));
    expect(filters.length).toBeGreaterThanOrEqual(functions.length + 2);
  });
});

describe('functions', () => {
  it('run nodejs24.x on arm64 with X-Ray, explicit memory and timeout', () => {
    const functions = resources('AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThanOrEqual(11 + 1);
    for (const [id, fn] of functions) {
      expect(fn.Properties.Runtime, id).toBe('nodejs24.x');
      expect(fn.Properties.Architectures, id).toEqual(['arm64']);
      if (id.startsWith('CustomVpcRestrictDefaultSG')) continue;
      expect(fn.Properties.TracingConfig, id).toEqual({ Mode: 'Active' });
      expect(fn.Properties.MemorySize, id).toBeGreaterThanOrEqual(128);
      expect(fn.Properties.Timeout, id).toBeGreaterThan(0);
      expect(fn.Properties.Handler, id).toBe('index.handler');
    }
  });

  it('one tasks function per workflow, and the Virtuous callers inside the VPC', () => {
    const ids = resources('AWS::Lambda::Function').map(([id]) => id);
    for (const name of Object.keys(WORKFLOWS)) {
      const pascal = name
        .split('-')
        .map((p) => p[0]?.toUpperCase() + p.slice(1))
        .join('');
      expect(
        ids.some((id) => id.startsWith(`Workers${pascal}TasksFunction`)),
        name,
      ).toBe(true);
    }
    const inVpc = resources('AWS::Lambda::Function')
      .filter(([, fn]) => fn.Properties.VpcConfig)
      .map(([id]) => id.replace(/Function[0-9A-F]{8}$/, ''));
    expect(inVpc).toEqual(
      expect.arrayContaining(['WorkersProcessor', 'WorkersReconciler', 'WorkersBulkLoader', 'WorkersLifecycleApi']),
    );
    expect(inVpc).not.toContain('WorkersWebhookVerifier');
  });

  it('give lifecycle functions the public webhook base URL of this API and stage', () => {
    const [[apiId]] = resources('AWS::ApiGateway::RestApi') as [[string, unknown]];
    const onboarding = resources('AWS::Lambda::Function').find(([id]) => id.startsWith('WorkersOnboardingTasks'))?.[1];
    const url = new TemplatePolicies(synth.json as never).resolve(
      onboarding.Properties.Environment.Variables[ENV.webhookPublicBaseUrl],
    );
    expect(url).toBe(`https://${apiId.toLowerCase()}.execute-api.us-east-1.amazonaws.com/v1`);
  });

  it('let the onboarding tasks invoke exactly the reconciler and the bulk loader, named in their environment', () => {
    const functions = resources('AWS::Lambda::Function');
    const idOf = (prefix: string) => functions.find(([id]) => id.startsWith(prefix))?.[0] as string;
    const [onboardingId, reconcilerId, bulkLoaderId] = [
      idOf('WorkersOnboardingTasksFunction'),
      idOf('WorkersReconcilerFunction'),
      idOf('WorkersBulkLoaderFunction'),
    ];
    const onboarding = functions.find(([id]) => id === onboardingId)?.[1];
    expect(onboarding.Properties.Environment.Variables[ENV.reconcilerFunctionArn]).toEqual({
      'Fn::GetAtt': [reconcilerId, 'Arn'],
    });
    expect(onboarding.Properties.Environment.Variables[ENV.bulkLoaderFunctionArn]).toEqual({
      'Fn::GetAtt': [bulkLoaderId, 'Arn'],
    });
    const roleId = onboarding.Properties.Role['Fn::GetAtt'][0] as string;
    const invokeStatements = resources('AWS::IAM::Policy')
      .filter(([, p]) => (p.Properties.Roles as any[]).some((r) => r.Ref === roleId))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as any[])
      .filter((statement) => [statement.Action].flat().some((action: string) => action.startsWith('lambda:')));
    expect(new Set(invokeStatements.flatMap((statement) => [statement.Action].flat()))).toEqual(
      new Set(['lambda:InvokeFunction']),
    );
    expect(invokeStatements.flatMap((statement) => [statement.Resource].flat())).toEqual(
      expect.arrayContaining([{ 'Fn::GetAtt': [reconcilerId, 'Arn'] }, { 'Fn::GetAtt': [bulkLoaderId, 'Arn'] }]),
    );
    expect(invokeStatements.flatMap((statement) => [statement.Resource].flat())).toHaveLength(2);
    const others = functions.filter(
      ([id, fn]) => id !== onboardingId && fn.Properties.Environment?.Variables?.[ENV.reconcilerFunctionArn],
    );
    expect(others).toEqual([]);
  });

  it('tell only the incident-response tasks which roles read customer secrets, so only their own sessions pass', () => {
    const policies = new TemplatePolicies(synth.json as never);
    const scopedRoles = resources('AWS::IAM::Role')
      .filter(([, role]) => /^virtuous-staging-customer-secrets-(reader|writer)$/.test(role.Properties.RoleName ?? ''))
      .map(([id]) => policies.roleArn(id))
      .sort();
    expect(scopedRoles).toHaveLength(2);
    const withVariable = resources('AWS::Lambda::Function').filter(
      ([, fn]) => fn.Properties.Environment?.Variables?.[ENV.expectedSecretAccessors] !== undefined,
    );
    expect(withVariable.map(([id]) => id.replace(/Function[0-9A-F]{8}$/, ''))).toEqual([
      'WorkersIncidentResponseTasks',
    ]);
    const [[, incidentTasks]] = withVariable as [[string, any]];
    const expected = lifecycleSettingsFromEnv({
      [ENV.expectedSecretAccessors]: policies.resolve(
        incidentTasks.Properties.Environment.Variables[ENV.expectedSecretAccessors],
      ),
    }).expectedSecretAccessors;
    expect([...expected].sort()).toEqual(scopedRoles);

    // What the audit holds for a scoped session (functions/credentials/scoped-credentials.ts), judged by the matcher.
    const sessionOf = (roleArn: string, customer: string) =>
      roleArn.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/') +
      `/${sessionName(customer, 'VirtuousIntegration-staging-WorkersIncidentResponseTasks-X1')}`;
    for (const role of scopedRoles) {
      expect(isExpectedAccessor(sessionOf(role, 'acme'), 'acme', expected)).toBe(true);
      expect(isExpectedAccessor(sessionOf(role, 'globex'), 'acme', expected)).toBe(false);
    }
  });

  it('set only declared environment variables, none holding a secret-like value', () => {
    const declared = new Set(Object.values(ENV));
    const secretLike = /(-----BEGIN|AKIA[0-9A-Z]{16}|sk_(live|test)_|whsec_|xox[bp]-|[A-Za-z0-9+/]{40,}={0,2}$)/;
    let checked = 0;
    for (const [id, fn] of resources('AWS::Lambda::Function')) {
      const variables = (fn.Properties.Environment?.Variables ?? {}) as Record<string, unknown>;
      for (const [name, value] of Object.entries(variables)) {
        checked += 1;
        const ok =
          declared.has(name as never) ||
          /^TABLE_[A-Z_]+$/.test(name) ||
          name.startsWith(ENV.stateMachineArnPrefix) ||
          name === 'AWS_NODEJS_CONNECTION_REUSE_ENABLED' ||
          name === 'NODE_OPTIONS';
        expect(ok, `${id}: ${name}`).toBe(true);
        expect(name, id).not.toMatch(/SECRET$|TOKEN$|PASSWORD|API_KEY/);
        if (typeof value === 'string') expect(value, `${id}: ${name}`).not.toMatch(secretLike);
      }
    }
    expect(checked).toBeGreaterThan(50);
  });
});

describe('schedules', () => {
  it('reconciles hourly and checks rotations daily, with bounded retries and the encrypted schedule DLQ', () => {
    const schedules = resources('AWS::Scheduler::Schedule').map(([, s]) => s.Properties);
    const queues = resources('AWS::SQS::Queue');
    const scheduleDlq = queues.find(([, q]) => q.Properties.QueueName === 'virtuous-staging-schedule-dlq')?.[0];
    expect(scheduleDlq).toBeDefined();
    const targetOf = (functionPrefix: string) =>
      schedules.filter((s) => JSON.stringify(s.Target.Arn).includes(`"${functionPrefix}`));
    for (const [functionPrefix, expression] of [
      ['WorkersReconciler', 'rate(1 hour)'],
      ['WorkersRotationScheduler', 'rate(1 day)'],
    ] as const) {
      const matching = targetOf(functionPrefix);
      expect(matching, functionPrefix).toHaveLength(1);
      const [schedule] = matching;
      expect(schedule.ScheduleExpression, functionPrefix).toBe(expression);
      expect(schedule.State ?? 'ENABLED', functionPrefix).toBe('ENABLED');
      // A scheduled run that cannot be delivered is kept, not lost: bounded retries, then the encrypted DLQ.
      expect(schedule.Target.RetryPolicy.MaximumRetryAttempts, functionPrefix).toBeLessThanOrEqual(3);
      expect(schedule.Target.DeadLetterConfig.Arn['Fn::GetAtt'][0], functionPrefix).toBe(scheduleDlq);
      // The reconciler fans out over every active customer when no customer id is given.
      expect(JSON.parse(schedule.Target.Input), functionPrefix).not.toHaveProperty('customerId');
    }
  });
});

describe('network', () => {
  it('creates two Elastic IPs, retained, used by one NAT gateway per AZ, and published as outputs and SSM', () => {
    const eips = resources('AWS::EC2::EIP');
    expect(eips).toHaveLength(2);
    for (const [, eip] of eips) {
      expect(eip.DeletionPolicy).toBe('Retain');
      expect(eip.UpdateReplacePolicy).toBe('Retain');
    }
    const nats = resources('AWS::EC2::NatGateway').map(([, n]) => n.Properties.AllocationId['Fn::GetAtt'][0]);
    expect(nats.sort()).toEqual(eips.map(([id]) => id).sort());
    const outputs = synth.json.Outputs as Record<string, any>;
    const published = Object.values(outputs).map((o) => o.Value?.Ref);
    for (const [id] of eips) expect(published).toContain(id);
    synth.template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/virtuous/staging/egress-ips',
      Type: 'StringList',
    });
  });

  it('has gateway and interface endpoints for the AWS services the workers call, and flow logs', () => {
    const services = resources('AWS::EC2::VPCEndpoint').map(([, e]) => JSON.stringify(e.Properties.ServiceName));
    for (const service of ['dynamodb', 's3', 'sqs', 'secretsmanager', 'sts', 'kms', 'logs', 'states', 'sns']) {
      expect(
        services.some((s) => s.includes(`.${service}`)),
        service,
      ).toBe(true);
    }
    synth.template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'ALL' });
    expect(resources('AWS::EC2::Subnet')).toHaveLength(4);
  });
});

describe('workflows', () => {
  it('five Standard state machines with logging ALL and tracing, from the ASL files with substitutions', () => {
    const machines = resources('AWS::StepFunctions::StateMachine');
    expect(machines).toHaveLength(Object.keys(WORKFLOWS).length);
    for (const [id, machine] of machines) {
      expect(machine.Properties.StateMachineType, id).toBe('STANDARD');
      expect(machine.Properties.TracingConfiguration, id).toEqual({ Enabled: true });
      expect(machine.Properties.LoggingConfiguration, id).toMatchObject({ Level: 'ALL', IncludeExecutionData: false });
      expect(machine.Properties.DefinitionS3Location, id).toBeDefined();
      const workflow = Object.values(WORKFLOWS).find(
        (w) => machine.Properties.StateMachineName === `virtuous-staging-${w.name}`,
      );
      expect(workflow, id).toBeDefined();
      // Every placeholder written in the ASL file is substituted, and nothing else.
      const placeholders = new Set(
        [...readWorkflowDefinition(workflow?.name as never).matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]),
      );
      expect(Object.keys(machine.Properties.DefinitionSubstitutions).sort(), id).toEqual([...placeholders].sort());
    }
  });

  it('each machine may invoke only its own tasks function', () => {
    const machines = resources('AWS::StepFunctions::StateMachine');
    for (const [id, machine] of machines) {
      const roleId = machine.Properties.RoleArn['Fn::GetAtt'][0] as string;
      const ownTasks = machine.Properties.DefinitionSubstitutions.TasksFunctionArn['Fn::GetAtt'][0] as string;
      const policies = resources('AWS::IAM::Policy').filter(([, p]) =>
        (p.Properties.Roles as any[]).some((r) => r.Ref === roleId),
      );
      const invoked = policies.flatMap(([, p]) =>
        (p.Properties.PolicyDocument.Statement as any[])
          .filter((s) => [s.Action].flat().includes('lambda:InvokeFunction'))
          .flatMap((s) => [s.Resource].flat()),
      );
      const functionsInvoked = new Set(
        invoked.map((r) => JSON.stringify(r).match(/Workers\w+Function[0-9A-F]{8}/)?.[0]),
      );
      expect([...functionsInvoked], id).toEqual([ownTasks]);
    }
  });
});

describe('observability', () => {
  it('alarms to the operators topic on the product metrics, DLQs, every function and every workflow', () => {
    const alarms = resources('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const topic = resources('AWS::SNS::Topic').find(
      ([, t]) => t.Properties.TopicName === 'virtuous-staging-operator-alerts',
    );
    for (const alarm of alarms) expect(alarm.AlarmActions).toEqual([{ Ref: topic?.[0] }]);
    const metricNames = alarms.map((a) => a.MetricName).filter(Boolean);
    for (const name of [
      'SignatureFailures',
      'DeadLettersCreated',
      'CustomersPaused',
      'TokenRotationOverdue',
      'ReconciliationFailures',
      'VirtuousRateLimited',
      'WritesInDoubt',
      'ApproximateNumberOfMessagesVisible',
      'Errors',
      'Throttles',
    ]) {
      expect(metricNames, name).toContain(name);
    }
    const signature = alarms.filter((a) => a.MetricName === 'SignatureFailures');
    expect(signature.map((a) => a.Dimensions.find((d: any) => d.Name === 'provider').Value).sort()).toEqual([
      'stripe',
      'virtuous',
    ]);
    const functions = resources('AWS::Lambda::Function').filter(([id]) => id.startsWith('Workers')).length;
    expect(alarms.filter((a) => a.MetricName === 'Errors')).toHaveLength(functions);
    const workflowAlarms = alarms.filter((a) => JSON.stringify(a.Metrics ?? []).includes('ExecutionsFailed'));
    expect(workflowAlarms).toHaveLength(Object.keys(WORKFLOWS).length);
    expect(resources('AWS::CloudWatch::Dashboard')).toHaveLength(1);
  });

  it('alerts operators on a secrets key policy or secret resource policy change, a disabled key or a scheduled deletion', () => {
    const keyId = resources('AWS::KMS::Key').find(([id]) => id.startsWith('SecretsSecretsKey'))?.[0];
    const topic = resources('AWS::SNS::Topic').find(
      ([, t]) => t.Properties.TopicName === 'virtuous-staging-operator-alerts',
    );
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.kms'],
        detail: Match.objectLike({
          eventName: Match.arrayWith(['PutKeyPolicy', 'DisableKey', 'ScheduleKeyDeletion']),
          requestParameters: { keyId: Match.arrayWith([{ Ref: keyId }]) },
        }),
      },
      Targets: [Match.objectLike({ Arn: { Ref: topic?.[0] }, DeadLetterConfig: Match.anyValue() })],
    });
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.secretsmanager'],
        detail: Match.objectLike({ eventName: ['PutResourcePolicy', 'DeleteResourcePolicy'] }),
      },
      Targets: [Match.objectLike({ Arn: { Ref: topic?.[0] }, DeadLetterConfig: Match.anyValue() })],
    });
  });
});

/** Every `Validations.of(scope).acknowledge()` in the app, with where it was made (ids without `annotation::`). */
function recordedAcknowledgements(): { id: string; reason: string; path: string }[] {
  const acknowledgements: { id: string; reason: string; path: string }[] = [];
  for (const construct of synth.built.app.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        acknowledgements.push({ id: id.replace(/^annotation::/i, ''), reason, path: construct.node.path });
      }
    }
  }
  return acknowledgements;
}

describe('cdk-nag (AwsSolutions, Serverless, NIST 800-53 rev 5)', () => {
  it('ran all three packs (each has acknowledged findings on this stack)', () => {
    expect([...new Set(synth.acknowledged.map((f) => f.pack))].sort()).toEqual([
      'AwsSolutions',
      'NIST.800.53.R5',
      'Serverless',
    ]);
  });

  it('has zero unacknowledged findings', () => {
    // Includes CDK's own CloudFormation validation plugin when it reports anything.
    expect(unacknowledgedFindings(synth.report)).toEqual([]);
    expect(synth.synthError).toBeUndefined();
  });

  it('every acknowledgement has a specific reason and still matches a finding', () => {
    const acknowledgements = recordedAcknowledgements();
    expect(acknowledgements.filter((a) => /^(AwsSolutions|Serverless|NIST)/.test(a.id)).length).toBeGreaterThan(20);
    const matched = new Set(synth.acknowledged.map((f) => f.ruleId));
    const nag = acknowledgements.filter((a) => /^(AwsSolutions|Serverless|NIST\.800\.53\.R5)-/.test(a.id));
    const stale = nag.filter((a) => !matched.has(a.id)).map((a) => `${a.id} @ ${a.path}`);
    expect(stale).toEqual([]);
    for (const { id, reason } of nag) {
      expect(reason.length, id).toBeGreaterThanOrEqual(40);
    }
    console.log(
      `cdk-nag: 0 unacknowledged, ${synth.acknowledged.length} acknowledged findings from ${nag.length} acknowledgements`,
    );
  });
});

describe('AWS Control Tower proactive controls (cfn-guard)', () => {
  const controlId = (description: string) => description.match(CONTROL_ID_PATTERN)?.[1] ?? '(no control id)';

  it('has zero unacknowledged findings', () => {
    // Fails with "no cdk-validator-cfnguard report" when the controls did not run at all.
    const guard = pluginReport(synth.report, CFN_GUARD_PLUGIN_NAME);
    const findings = guard.violations.flatMap((violation) =>
      violation.violatingConstructs.map(
        (c) =>
          `${controlId(violation.description)} ${violation.ruleName} @ ${c.constructPath} (${c.cloudFormationResource?.logicalId ?? 'no logical id'})`,
      ),
    );
    expect(findings).toEqual([]);
    expect(guard.conclusion).toBe('success');
  });

  it('every acknowledgement names a bundled control, has a specific reason and still matches a finding', () => {
    const guard = pluginReport(synth.report, CFN_GUARD_PLUGIN_NAME);
    const acknowledgements = recordedAcknowledgements().filter((a) => a.id.startsWith(`${CFN_GUARD_PLUGIN_NAME}::`));
    expect(acknowledgements.length).toBeGreaterThan(0);
    const suppressed = guard.suppressedViolations ?? [];
    const matched = new Set(suppressed.map((s) => `${s.acknowledgedId} @ ${s.acknowledgedAt}`));
    const stale = acknowledgements.filter((a) => !matched.has(`${a.id} @ ${a.path}`)).map((a) => `${a.id} @ ${a.path}`);
    expect(stale).toEqual([]);
    for (const { id, reason } of acknowledgements) expect(reason.length, id).toBeGreaterThanOrEqual(40);
    for (const finding of suppressed) expect(controlId(finding.description), finding.ruleName).toMatch(/^CT\./);
    const findings = suppressed.reduce((sum, s) => sum + s.violatingConstructs.length, 0);
    const controls = new Set(suppressed.map((s) => controlId(s.description)));
    console.log(
      `Control Tower: 0 unacknowledged, ${findings} acknowledged findings of ${controls.size} controls from ${acknowledgements.length} acknowledgements`,
    );
  });
});

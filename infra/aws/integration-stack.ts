/**
 * The whole product in one stack, composed of one construct per concern. Construction order follows the
 * dependencies: keys → network/state/observability → workers (and their customer-secrets roles) → ingress →
 * workflows → alarms over everything.
 */
import { CfnOutput, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { WorkflowName } from '../../functions/customers/customer.ts';
import type { IntegrationConfig } from './config.ts';
import { Ingress } from './constructs/ingress.ts';
import { LockRelease } from './constructs/lock-release.ts';
import { Network } from './constructs/network.ts';
import { Observability } from './constructs/observability.ts';
import { Secrets } from './constructs/secrets.ts';
import { State } from './constructs/state.ts';
import { WORKER_SPECS, Workers } from './constructs/workers.ts';
import { Workflows } from './constructs/workflows.ts';
import { acknowledgeStackFindings } from './nag/acknowledgements.ts';

export interface IntegrationStackProps extends StackProps {
  readonly config: IntegrationConfig;
}

export class IntegrationStack extends Stack {
  readonly secrets: Secrets;
  readonly network: Network;
  readonly state: State;
  readonly observability: Observability;
  readonly workers: Workers;
  readonly ingress: Ingress;
  readonly workflows: Workflows;
  readonly lockRelease: LockRelease;

  constructor(scope: Construct, id: string, props: IntegrationStackProps) {
    super(scope, id, props);
    const { config } = props;
    const environmentName = config.environmentName;
    Tags.of(this).add('application', 'virtuous-integration');
    Tags.of(this).add('environment', environmentName);

    this.secrets = new Secrets(this, 'Secrets', { environmentName });
    const dataKey = this.secrets.dataKey;
    this.network = new Network(this, 'Network', {
      environmentName,
      logKey: dataKey,
      ...(config.egressIpAllocations === undefined ? {} : { existingEgressIps: config.egressIpAllocations }),
    });
    this.observability = new Observability(this, 'Observability', {
      environmentName,
      dataKey,
      operatorEmails: config.operatorEmails,
    });
    this.state = new State(this, 'State', {
      environmentName,
      dataKey,
      processorTimeout: WORKER_SPECS.processor.timeout,
      accessLogBucket: this.observability.accessLogBucket,
    });
    this.workers = new Workers(this, 'Workers', {
      config,
      vpc: this.network.vpc,
      secrets: this.secrets,
      state: this.state,
      customerNotifications: this.observability.customerNotifications,
      operatorAlerts: this.observability.operatorAlerts,
      debugBucket: this.observability.debugBucket,
    });
    const fns = this.workers.functions;
    this.ingress = new Ingress(this, 'Ingress', {
      environmentName,
      logKey: dataKey,
      webhookVerifier: fns.webhookVerifier.function,
      lifecycleApi: fns.lifecycleApi.function,
      virtuousSignatureHeader: config.virtuousSignatureHeader,
      maxWebhookBodyBytes: config.maxWebhookBodyBytes,
      wafRateLimitPer5Minutes: config.wafRateLimitPer5Minutes,
      wafWebhookRateLimitPer5Minutes: config.wafWebhookRateLimitPer5Minutes,
      apiRateLimit: config.apiRateLimit,
      apiBurstLimit: config.apiBurstLimit,
    });
    this.workers.connectWebhookUrl(this.ingress.publicBaseUrl());

    const tasksFunctions = {
      onboarding: fns['tasks:onboarding'].function,
      'token-rotation': fns['tasks:token-rotation'].function,
      'webhook-secret-rotation': fns['tasks:webhook-secret-rotation'].function,
      offboarding: fns['tasks:offboarding'].function,
      'incident-response': fns['tasks:incident-response'].function,
    } satisfies Record<WorkflowName, unknown>;
    this.workflows = new Workflows(this, 'Workflows', { environmentName, logKey: dataKey, tasksFunctions });
    this.workers.connectWorkflows(this.workflows.machines, (name) => this.workflows.executionArnPattern(name));
    this.lockRelease = new LockRelease(this, 'LockRelease', {
      environmentName,
      machines: this.workflows.machines,
      lockReleaser: fns.lockReleaser,
      deadLetterQueue: this.state.scheduleDeadLetterQueue,
    });

    this.observability.watchKeyChanges(this.secrets.secretsKey, this.state.scheduleDeadLetterQueue);
    this.observability.monitor({
      functions: Object.fromEntries(Object.entries(fns).map(([name, worker]) => [name, worker.function])),
      stateMachines: this.workflows.machines,
      deadLetterQueues: {
        InboundDeadLetterQueue: this.state.deadLetterQueue,
        ScheduleDeadLetterQueue: this.state.scheduleDeadLetterQueue,
      },
      archivedLogGroups: {
        ...Object.fromEntries(Object.entries(fns).map(([name, worker]) => [name.replace(':', '-'), worker.logGroup])),
        ApiAccess: this.ingress.accessLogGroup,
        Workflows: this.workflows.logGroup,
      },
    });

    new CfnOutput(this, 'ApiUrl', { value: this.ingress.api.url, description: 'Base URL of the ingress API' });
    new CfnOutput(this, 'ImportsBucketName', {
      value: this.state.importsBucket.bucketName,
      description: 'Where a customer history export is dropped for a bulk load (kept 7 days)',
    });
    new CfnOutput(this, 'OperatorAlertsTopicArn', { value: this.observability.operatorAlerts.topicArn });
    new CfnOutput(this, 'CustomerNotificationsTopicArn', { value: this.observability.customerNotifications.topicArn });
    for (const [name, machine] of Object.entries(this.workflows.machines)) {
      new CfnOutput(this, `${name.replace(/-/g, '')}StateMachineArn`, { value: machine.stateMachineArn });
    }

    acknowledgeStackFindings(this);
  }
}

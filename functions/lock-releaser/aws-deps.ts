/**
 * AWS dependencies of the lock releaser: the customers table, the customer-secrets store (writer role, to discard a
 * rotation's pending key) and the operators' topic. State machine ARNs come from STATE_MACHINE_ARN_<WORKFLOW>.
 */
import { SNSClient } from '@aws-sdk/client-sns';
import { WORKFLOWS } from '../../statemachines/workflows.ts';
import { createSecretsManagerStore } from '../credentials/secrets-manager-store.ts';
import type { WorkflowName } from '../customers/customer.ts';
import { DynamoCustomerRepository } from '../customers/dynamo-customer-repository.ts';
import { stateMachineArnVariable } from '../lifecycle/sfn-workflow-starter.ts';
import { SnsNotifier } from '../notifications/sns-notifier.ts';
import { createDocumentClient } from '../shared/dynamo-document-client.ts';
import { ENV, requireSetting, tableNameFromEnv } from '../shared/environment.ts';
import type { LockReleaserDeps } from './handler.ts';

const CLIENT_SETTINGS = {
  maxAttempts: 3,
  requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
} as const;

export function createAwsLockReleaserDeps(env: NodeJS.ProcessEnv = process.env): LockReleaserDeps {
  const machines = new Map<string, WorkflowName>();
  for (const workflow of Object.keys(WORKFLOWS) as WorkflowName[]) {
    machines.set(requireSetting(stateMachineArnVariable(workflow), env), workflow);
  }
  // Operators only: this function is granted publish on the operators' topic and nothing else.
  const sns = new SnsNotifier({
    sns: new SNSClient(CLIENT_SETTINGS),
    customerTopicArn: '',
    operatorTopicArn: requireSetting(ENV.operatorAlertsTopicArn, env),
  });
  return {
    customers: new DynamoCustomerRepository(createDocumentClient(CLIENT_SETTINGS), tableNameFromEnv('customers', env)),
    secrets: createSecretsManagerStore(env),
    notifier: { alertOperators: (alert) => sns.alertOperators(alert) },
    workflowOf: (stateMachineArn) => machines.get(stateMachineArn),
  };
}

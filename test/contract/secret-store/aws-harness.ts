/**
 * Wires SecretsManagerStore to aws-sdk-client-mock: Secrets Manager answered by the stateful model (which enforces
 * the scoped-session policy per calling client), STS AssumeRole answered with per-customer credentials that expire.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AssumeRoleCommand, type AssumeRoleCommandInput, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { MemoryAuditLog } from '../../../functions/credentials/memory-audit-log.ts';
import { StsCustomerSessions } from '../../../functions/credentials/scoped-credentials.ts';
import {
  SecretsManagerStore,
  type SecretsManagerStoreOptions,
} from '../../../functions/credentials/secrets-manager-store.ts';
import { registerSecret } from '../../support/canaries.ts';
import { SecretsManagerModel } from '../../support/secrets-manager-model.ts';

export const ROLE_ARN = 'arn:aws:iam::123456789012:role/customer-secrets';
export const WRITER_ROLE_ARN = 'arn:aws:iam::123456789012:role/customer-secrets-writer';
export const KMS_KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555';

export const smMock = mockClient(SecretsManagerClient);
export const stsMock = mockClient(STSClient);

export interface AwsHarness {
  readonly store: SecretsManagerStore;
  readonly audit: MemoryAuditLog;
  readonly model: SecretsManagerModel;
  readonly sessions: StsCustomerSessions;
  externalCalls(): number;
  assumeRoleInputs(): AssumeRoleCommandInput[];
}

export function makeAwsHarness(
  options: { now?: () => number; overrides?: Partial<SecretsManagerStoreOptions>; functionName?: string } = {},
): AwsHarness {
  smMock.reset();
  stsMock.reset();
  const now = options.now ?? Date.now;
  const keyToCustomer = new Map<string, string>();
  let issued = 0;
  stsMock.on(AssumeRoleCommand).callsFake((input: AssumeRoleCommandInput) => {
    const customer = input.Tags?.find((t) => t.Key === 'customer_id')?.Value ?? '';
    issued += 1;
    const accessKeyId = `ASIA${issued}${customer.replace(/[^a-z0-9]/g, '').toUpperCase()}`.slice(0, 20);
    keyToCustomer.set(accessKeyId, customer);
    return {
      Credentials: {
        AccessKeyId: accessKeyId,
        SecretAccessKey: registerSecret(`session-secret-${issued}-${customer}`),
        SessionToken: registerSecret(`session-token-${issued}-${customer}`),
        Expiration: new Date(now() + 3600_000),
      },
      AssumedRoleUser: {
        AssumedRoleId: `AROA:${input.RoleSessionName}`,
        Arn: `arn:aws:sts::123456789012:assumed-role/customer-secrets/${input.RoleSessionName}`,
      },
    };
  });
  const model = new SecretsManagerModel(now, async (client) => {
    const identity = await (client.config.credentials as () => Promise<{ accessKeyId: string }>)();
    return keyToCustomer.get(identity.accessKeyId);
  });
  model.attach(smMock);
  const audit = new MemoryAuditLog();
  const sessions = new StsCustomerSessions({
    roleArn: ROLE_ARN,
    functionName: options.functionName ?? 'sync-processor',
    // The contract exercises every store operation, so its sessions are the writer's.
    purpose: 'secret-lifecycle',
    scope: { environment: 'test', secretsKmsKeyArn: KMS_KEY_ARN },
    sts: new STSClient({ region: 'us-east-1' }),
    now,
  });
  const store = new SecretsManagerStore({
    environment: 'test',
    kmsKeyArn: KMS_KEY_ARN,
    sessions,
    audit,
    scopedRoleArns: [ROLE_ARN, WRITER_ROLE_ARN],
    recoveryWindowDays: 7,
    now,
    clientFor: (session, all) =>
      new SecretsManagerClient({
        region: 'us-east-1',
        maxAttempts: 1,
        credentials: async () => (await all.forCustomer(session.customerId)).credentials,
      }),
    ...options.overrides,
  });
  return {
    store,
    audit,
    model,
    sessions,
    externalCalls: () => smMock.calls().length + stsMock.calls().length,
    assumeRoleInputs: () => stsMock.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input),
  };
}

/**
 * Points every AWS SDK v3 client of this process at the local stand-ins, with dummy credentials. Real AWS
 * credentials are never read in local mode: the shared config/credentials files are replaced by /dev/null, profile and
 * session variables are removed, instance metadata is disabled, and every service without a stand-in is sent to a
 * closed loopback port so an accidental call fails at once instead of reaching AWS.
 */
import { ENV } from '../../functions/shared/environment.ts';
import { TABLE_KEYS, tableEnvVar, tableName } from '../../functions/shared/tables.ts';

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/** Port 9 (discard) is closed on loopback: a call to an unexpected service is refused immediately. */
const NOWHERE = 'http://127.0.0.1:9';
const SERVICES_WITHOUT_STAND_IN = ['SECRETS_MANAGER', 'STS', 'KMS', 'SFN', 'SNS', 'CLOUDWATCH', 'SSM', 'S3'];

const CREDENTIAL_VARIABLES_TO_DROP = [
  'AWS_PROFILE',
  'AWS_DEFAULT_PROFILE',
  'AWS_SESSION_TOKEN',
  'AWS_SECURITY_TOKEN',
  'AWS_ROLE_ARN',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
];

export interface LocalEndpoints {
  readonly dynamodb: string;
  readonly sqs: string;
}

/** The variables the handlers' lazy wiring and the SDK read, for one environment and its stand-ins. */
export function localAwsVariables(
  environment: string,
  endpoints: LocalEndpoints,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const variables: Record<string, string> = {
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    [ENV.environmentName]: environment,
    ...extra,
  };
  for (const service of SERVICES_WITHOUT_STAND_IN) variables[`AWS_ENDPOINT_URL_${service}`] = NOWHERE;
  for (const key of TABLE_KEYS) variables[tableEnvVar(key)] = tableName(environment, key);
  return variables;
}

/** Applies the variables to this process (the runtime runs every handler in-process). */
export function applyLocalAwsEnvironment(variables: Readonly<Record<string, string>>): void {
  for (const name of CREDENTIAL_VARIABLES_TO_DROP) delete process.env[name];
  Object.assign(process.env, variables);
}

/** Client configuration for SDK clients the runtime builds itself. */
export function localClientConfig(endpoint: string) {
  return { endpoint, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS }, maxAttempts: 3 };
}

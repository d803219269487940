/**
 * Names of the environment variables the functions read: one place, used by CDK to set them and by the code to
 * read them. No variable ever holds a token, secret or password: those live only in the SecretStore.
 */
import { ForbiddenInputError } from './errors.ts';
import { type TableKey, tableEnvVar } from './tables.ts';

export const ENV = {
  environmentName: 'ENVIRONMENT_NAME',
  inboundQueueUrl: 'INBOUND_QUEUE_URL',
  virtuousBaseUrl: 'VIRTUOUS_BASE_URL',
  virtuousSignatureHeader: 'VIRTUOUS_SIGNATURE_HEADER',
  maxWebhookBodyBytes: 'MAX_WEBHOOK_BODY_BYTES',
  webhookPublicBaseUrl: 'WEBHOOK_PUBLIC_BASE_URL',
  customerSecretsRoleArn: 'CUSTOMER_SECRETS_ROLE_ARN',
  /** Why the function opens customer-scoped sessions (functions/credentials/secret-purposes.ts). */
  customerSecretsPurpose: 'SCOPED_SESSION_PURPOSE',
  secretsKmsKeyArn: 'SECRETS_KMS_KEY_ARN',
  dataKmsKeyArn: 'DATA_KMS_KEY_ARN',
  customerNotificationsTopicArn: 'CUSTOMER_NOTIFICATIONS_TOPIC_ARN',
  operatorAlertsTopicArn: 'OPERATOR_ALERTS_TOPIC_ARN',
  hourlyRequestBudget: 'VIRTUOUS_HOURLY_REQUEST_BUDGET',
  secretRecoveryWindowDays: 'SECRET_RECOVERY_WINDOW_DAYS',
  /** Comma-separated role ARNs the secrets' resource policy lets read values (the customer-secrets roles). */
  secretAccessRoleArns: 'SECRET_ACCESS_ROLE_ARNS',
  stateMachineArnPrefix: 'STATE_MACHINE_ARN_',
  webhookSecretOverlapSeconds: 'WEBHOOK_SECRET_OVERLAP_SECONDS',
  incidentLookbackHours: 'INCIDENT_LOOKBACK_HOURS',
  expectedSecretAccessors: 'EXPECTED_SECRET_ACCESSORS',
  secretAccessHourlyThreshold: 'SECRET_ACCESS_HOURLY_THRESHOLD',
  tokenRotationDaysHigh: 'TOKEN_ROTATION_DAYS_HIGH',
  tokenRotationDaysStandard: 'TOKEN_ROTATION_DAYS_STANDARD',
  debugCaptureBucket: 'DEBUG_CAPTURE_BUCKET',
  /** Optional: the Stripe API and Stripe Connect token endpoint (defaults: Stripe's own HTTPS URLs). */
  stripeApiBaseUrl: 'STRIPE_API_BASE_URL',
  stripeOAuthTokenUrl: 'STRIPE_OAUTH_TOKEN_URL',
  /** ARNs of the functions onboarding invokes asynchronously to start a new customer's initial loads. */
  reconcilerFunctionArn: 'RECONCILER_FUNCTION_ARN',
  bulkLoaderFunctionArn: 'BULK_LOADER_FUNCTION_ARN',
} as const;

export function tableNameFromEnv(key: TableKey, env: NodeJS.ProcessEnv = process.env): string {
  return requireSetting(tableEnvVar(key), env);
}

/** Reads a required setting; a missing one is a deployment fault, reported by its name (never its value). */
export function requireSetting(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new ForbiddenInputError('MISSING_SETTING', `setting ${name} is not set`);
  }
  return value;
}

export function integerSetting(
  name: string,
  fallback: number,
  bounds: { min: number; max: number },
  env: NodeJS.ProcessEnv = process.env,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < bounds.min || value > bounds.max) {
    throw new ForbiddenInputError(
      'INVALID_SETTING',
      `setting ${name} must be an integer between ${bounds.min} and ${bounds.max}`,
    );
  }
  return value;
}

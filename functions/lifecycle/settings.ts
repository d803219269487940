/**
 * Lifecycle settings, read once from the environment with bounds: none of them is a secret.
 */
import type { Sensitivity } from '../customers/customer.ts';
import { ENV, integerSetting, requireSetting } from '../shared/environment.ts';

export interface LifecycleSettings {
  /** Public base URL of this deployment's webhook endpoint (API Gateway stage URL or the local ingress). */
  readonly webhookPublicBaseUrl: string;
  /** How long the previous webhook secret stays accepted after the subscription switched to the new one. */
  readonly webhookSecretOverlapSeconds: number;
  /** How far back incident response looks at writes and secret accesses. */
  readonly incidentLookbackHours: number;
  /**
   * Who is expected to access customer secrets: customer-secrets role ARNs (their sessions for the customer in
   * question) and exact or `*`-prefixed names of other accessors (`local:<user>`); see secret-accessors.ts.
   */
  readonly expectedSecretAccessors: readonly string[];
  /** Secret accesses per hour above which incident response reports a volume anomaly. */
  readonly secretAccessHourlyThreshold: number;
  readonly tokenRotationDays: Readonly<Record<Sensitivity, number>>;
}

export const DEFAULT_LIFECYCLE_SETTINGS: Omit<LifecycleSettings, 'webhookPublicBaseUrl' | 'expectedSecretAccessors'> = {
  webhookSecretOverlapSeconds: 24 * 60 * 60,
  incidentLookbackHours: 7 * 24,
  secretAccessHourlyThreshold: 500,
  tokenRotationDays: { high: 90, standard: 180 },
};

/** The payload URL Virtuous delivers a customer's webhooks to (the ingress route `/webhooks/virtuous/{customerId}`). */
export function webhookPayloadUrl(
  settings: Pick<LifecycleSettings, 'webhookPublicBaseUrl'>,
  customerId: string,
): string {
  return `${settings.webhookPublicBaseUrl.replace(/\/+$/, '')}/webhooks/virtuous/${customerId}`;
}

export function lifecycleSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): LifecycleSettings {
  return {
    webhookPublicBaseUrl: env[ENV.webhookPublicBaseUrl] ?? '',
    webhookSecretOverlapSeconds: integerSetting(
      ENV.webhookSecretOverlapSeconds,
      DEFAULT_LIFECYCLE_SETTINGS.webhookSecretOverlapSeconds,
      { min: 60, max: 14 * 24 * 60 * 60 },
      env,
    ),
    incidentLookbackHours: integerSetting(
      ENV.incidentLookbackHours,
      DEFAULT_LIFECYCLE_SETTINGS.incidentLookbackHours,
      { min: 1, max: 366 * 24 },
      env,
    ),
    expectedSecretAccessors: (env[ENV.expectedSecretAccessors] ?? '')
      .split(',')
      .map((value) => value.trim())
      .filter((value) => value !== ''),
    secretAccessHourlyThreshold: integerSetting(
      ENV.secretAccessHourlyThreshold,
      DEFAULT_LIFECYCLE_SETTINGS.secretAccessHourlyThreshold,
      { min: 1, max: 1_000_000 },
      env,
    ),
    tokenRotationDays: {
      high: integerSetting(ENV.tokenRotationDaysHigh, 90, { min: 1, max: 365 }, env),
      standard: integerSetting(ENV.tokenRotationDaysStandard, 180, { min: 1, max: 365 }, env),
    },
  };
}

/** Where a workflow needs the webhook URL, a missing setting is a deployment fault. */
export function requireWebhookBaseUrl(settings: Pick<LifecycleSettings, 'webhookPublicBaseUrl'>): string {
  if (settings.webhookPublicBaseUrl === '') requireSetting(ENV.webhookPublicBaseUrl, {});
  return settings.webhookPublicBaseUrl;
}

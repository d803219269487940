/**
 * Tells the partner platform's UI (customer notifications) and the operators (alerts) that something happened.
 * Events carry identifiers and codes only; the platform renders the words. AWS: SNS topics; one machine: a file.
 */

export type CustomerNotificationType =
  | 'sync_active'
  | 'onboarding_failed'
  | 'sync_paused'
  | 'sync_resumed'
  | 'token_rotation_requested'
  | 'token_rotated'
  | 'token_rotation_failed'
  | 'token_revocation_requested'
  | 'webhook_secret_rotated'
  | 'webhook_secret_rotation_failed'
  | 'offboarding_failed'
  | 'offboarding_complete'
  | 'incident_report_ready'
  | 'incident_report_updated';

export interface CustomerNotification {
  readonly customerId: string;
  readonly type: CustomerNotificationType;
  /** Identifiers and codes only (e.g. `{ reason: 'credential_revoked:mailchimp' }`, `{ deletionRecordId }`). */
  readonly details?: Readonly<Record<string, string | number | boolean>>;
}

export interface OperatorAlert {
  readonly customerId?: string;
  readonly code: string;
  readonly severity: 'info' | 'warning' | 'critical';
  readonly details?: Readonly<Record<string, string | number | boolean>>;
}

export interface Notifier {
  notifyCustomer(notification: CustomerNotification): Promise<void>;
  alertOperators(alert: OperatorAlert): Promise<void>;
}

/**
 * The wire form of notifications: JSON of the event with a kind and a time, identifiers and codes only. The
 * details are re-checked here so a value that looks like free text (spaces, '@', long strings) cannot slip
 * a name, email or token into a topic the partner platform's UI or a pager reads.
 */
import { ForbiddenInputError } from '../shared/errors.ts';
import type { CustomerNotification, OperatorAlert } from './notifier.ts';

const SAFE_DETAIL = /^[A-Za-z0-9:/._#=+-]{0,200}$/;

export type NotificationMessage =
  | ({ readonly kind: 'customer_notification'; readonly at: string } & CustomerNotification)
  | ({ readonly kind: 'operator_alert'; readonly at: string } & OperatorAlert);

export function assertIdentifierDetails(
  details: Readonly<Record<string, string | number | boolean>> | undefined,
): void {
  for (const [key, value] of Object.entries(details ?? {})) {
    const ok =
      SAFE_DETAIL.test(key) &&
      (typeof value === 'boolean' ||
        (typeof value === 'number' && Number.isFinite(value)) ||
        SAFE_DETAIL.test(String(value)));
    if (!ok) {
      throw new ForbiddenInputError(
        'INVALID_NOTIFICATION_DETAIL',
        `notification detail ${SAFE_DETAIL.test(key) ? key : '(key)'} must be an identifier or code`,
      );
    }
  }
}

export function customerMessage(notification: CustomerNotification, now: number): NotificationMessage {
  assertIdentifierDetails(notification.details);
  return { kind: 'customer_notification', at: new Date(now).toISOString(), ...notification };
}

export function operatorMessage(alert: OperatorAlert, now: number): NotificationMessage {
  assertIdentifierDetails(alert.details);
  return { kind: 'operator_alert', at: new Date(now).toISOString(), ...alert };
}

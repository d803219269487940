/**
 * Notifier for one machine: appends each event as one JSON line to a file (what the local partner-platform UI or a
 * developer tails) and keeps them in memory for tests. Same message form as the SNS notifier.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { assertCustomerId } from '../shared/identifiers.ts';
import { customerMessage, type NotificationMessage, operatorMessage } from './notification-message.ts';
import type { CustomerNotification, Notifier, OperatorAlert } from './notifier.ts';

export class LocalNotifier implements Notifier {
  readonly messages: NotificationMessage[] = [];
  private writes: Promise<void> = Promise.resolve();

  constructor(
    /** JSON-lines file; omit to keep events in memory only. */
    private readonly path?: string,
    private readonly now: () => number = Date.now,
  ) {}

  get customerNotifications(): CustomerNotification[] {
    return this.messages.filter((m) => m.kind === 'customer_notification') as CustomerNotification[];
  }

  get operatorAlerts(): OperatorAlert[] {
    return this.messages.filter((m) => m.kind === 'operator_alert') as OperatorAlert[];
  }

  async notifyCustomer(notification: CustomerNotification): Promise<void> {
    assertCustomerId(notification.customerId);
    await this.append(customerMessage(notification, this.now()));
  }

  async alertOperators(alert: OperatorAlert): Promise<void> {
    if (alert.customerId !== undefined) assertCustomerId(alert.customerId);
    await this.append(operatorMessage(alert, this.now()));
  }

  private async append(message: NotificationMessage): Promise<void> {
    this.messages.push(message);
    const path = this.path;
    if (path === undefined) return;
    // Chained so concurrent events land as whole lines in the order they were raised.
    const write = this.writes.then(async () => {
      await mkdir(dirname(path), { recursive: true });
      await appendFile(path, `${JSON.stringify(message)}\n`, { encoding: 'utf8', mode: 0o600 });
    });
    this.writes = write.catch(() => undefined);
    await write;
  }
}

/**
 * When a customer's API token is due for rotation: its own policy (`tokenRotationDays`), never longer than the
 * deployment's ceiling for its sensitivity (90 days for high by default), counted from the last promotion.
 */
import type { CustomerRecord } from '../customers/customer.ts';
import type { LifecycleSettings } from './settings.ts';

const DAY_MS = 86_400_000;

export function rotationDays(record: CustomerRecord, settings: Pick<LifecycleSettings, 'tokenRotationDays'>): number {
  const ceiling = record.sensitivity === 'high' ? settings.tokenRotationDays.high : 365;
  const own =
    Number.isInteger(record.tokenRotationDays) && record.tokenRotationDays > 0 ? record.tokenRotationDays : undefined;
  return Math.min(own ?? settings.tokenRotationDays[record.sensitivity] ?? 180, ceiling);
}

/** Due date of the next rotation (ISO-8601), from the last promotion or, before any, the record's creation. */
export function rotationDueAt(record: CustomerRecord, settings: Pick<LifecycleSettings, 'tokenRotationDays'>): string {
  const since = Date.parse(record.tokenPromotedAt ?? record.createdAt);
  return new Date(since + rotationDays(record, settings) * DAY_MS).toISOString();
}

/** Active customers with no workflow running whose token is at or past its due date. */
export function isRotationDue(
  record: CustomerRecord,
  now: Date,
  settings: Pick<LifecycleSettings, 'tokenRotationDays'>,
): boolean {
  if (record.status !== 'active' || record.lock !== undefined) return false;
  return Date.parse(rotationDueAt(record, settings)) <= now.getTime();
}

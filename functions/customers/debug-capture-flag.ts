/**
 * The per-customer, time-limited debug-capture flag. Capture copies raw bodies (donor data) into the debug store, so
 * it is never on by default, never open-ended, and an unreadable value counts as off.
 */
import type { CustomerRecord } from './customer.ts';

/** The longest a capture window may run: one investigation day. */
export const MAX_DEBUG_CAPTURE_MINUTES = 24 * 60;

export function isDebugCaptureActive(until: string | undefined, now: Date): boolean {
  if (until === undefined) return false;
  const end = Date.parse(until);
  // A window further ahead than the maximum was not set by the API: treat it as off rather than trust it.
  return Number.isFinite(end) && end > now.getTime() && end - now.getTime() <= MAX_DEBUG_CAPTURE_MINUTES * 60_000;
}

export function debugCaptureActiveFor(record: Pick<CustomerRecord, 'debugCaptureUntil'>, now: Date): boolean {
  return isDebugCaptureActive(record.debugCaptureUntil, now);
}

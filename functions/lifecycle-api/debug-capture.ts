/**
 * Switching a customer's debug capture on (for a bounded number of minutes) and off. Capture copies raw webhook
 * bodies, donor data, into the debug store, so switching it on always tells the operators who asked, when, and
 * until when; the alert goes out before the flag is set, so no capture window ever opens unannounced.
 */
import { ACCEPTS_WEBHOOKS, type CustomerStatus } from '../customers/customer.ts';
import { isDebugCaptureActive, MAX_DEBUG_CAPTURE_MINUTES } from '../customers/debug-capture-flag.ts';
import { ApiRefusal, type LifecycleApiDeps } from './lifecycle-api.ts';

export interface DebugCaptureRequest {
  readonly customerId: string;
  /** The caller as API Gateway identified it (IAM ARN); reduced to identifier characters for the alert. */
  readonly requestedBy: string | undefined;
}

export interface DebugCaptureState {
  readonly customerId: string;
  readonly debugCaptureUntil: string | null;
}

const CAPTURABLE: readonly CustomerStatus[] = [...ACCEPTS_WEBHOOKS];

/** Notification details must be identifier-like: an ARN keeps its shape, anything else becomes `_`. */
export function callerLabel(caller: string | undefined): string {
  if (caller === undefined || caller === '') return 'unknown';
  return caller.replace(/[^A-Za-z0-9:/._#=+-]/g, '_').slice(0, 200);
}

function alerting(deps: LifecycleApiDeps) {
  if (deps.notifier === undefined) {
    throw new ApiRefusal(
      501,
      'NOT_CONFIGURED',
      'debug capture needs the operator alerts, which are not configured here',
    );
  }
  return deps.notifier;
}

async function capturableCustomer(deps: LifecycleApiDeps, customerId: string) {
  const record = await deps.customers.get(customerId);
  if (record === undefined || record.status === 'offboarded') {
    throw new ApiRefusal(404, 'CUSTOMER_NOT_FOUND', `customer ${customerId} is not connected`);
  }
  return record;
}

export async function enableDebugCapture(
  deps: LifecycleApiDeps,
  request: DebugCaptureRequest & { readonly minutes: number },
): Promise<DebugCaptureState> {
  const { customerId, minutes } = request;
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_DEBUG_CAPTURE_MINUTES) {
    throw new ApiRefusal(
      400,
      'INVALID_MINUTES',
      `minutes must be a whole number from 1 to ${MAX_DEBUG_CAPTURE_MINUTES}`,
    );
  }
  const notifier = alerting(deps);
  const record = await capturableCustomer(deps, customerId);
  if (!CAPTURABLE.includes(record.status)) {
    throw new ApiRefusal(
      409,
      'CUSTOMER_NOT_RECEIVING',
      `customer ${customerId} is ${record.status}: nothing to capture`,
    );
  }
  const now = deps.clock.now();
  const until = new Date(now.getTime() + minutes * 60_000).toISOString();
  await notifier.alertOperators({
    customerId,
    code: 'debug_capture_enabled',
    severity: 'warning',
    details: { until, minutes, requestedBy: callerLabel(request.requestedBy), requestedAt: now.toISOString() },
  });
  // Conditional on a receiving status: an offboarding that started meanwhile wins, and no window opens on it.
  await deps.customers.update(
    customerId,
    { debugCaptureUntil: until, updatedAt: now.toISOString() },
    { expectedStatus: CAPTURABLE },
  );
  return { customerId, debugCaptureUntil: until };
}

export async function disableDebugCapture(
  deps: LifecycleApiDeps,
  request: DebugCaptureRequest,
): Promise<DebugCaptureState & { readonly wasActive: boolean }> {
  const { customerId } = request;
  const record = await capturableCustomer(deps, customerId);
  const now = deps.clock.now();
  const wasActive = isDebugCaptureActive(record.debugCaptureUntil, now);
  if (record.debugCaptureUntil !== undefined) {
    await deps.customers.update(customerId, { debugCaptureUntil: undefined, updatedAt: now.toISOString() });
  }
  if (wasActive) {
    await alerting(deps).alertOperators({
      customerId,
      code: 'debug_capture_disabled',
      severity: 'info',
      details: { requestedBy: callerLabel(request.requestedBy), requestedAt: now.toISOString() },
    });
  }
  return { customerId, debugCaptureUntil: null, wasActive };
}

/**
 * Debug captures: raw webhook deliveries or request bodies kept, behind an explicit flag, for an investigation. They
 * may hold PII, so they live in an access-controlled, expiring store (S3 with a lifecycle rule on AWS, a folder on
 * one machine), under a per-customer prefix, and offboarding deletes them.
 */
export interface DebugCaptureStore {
  /** Capture keys of the customer (relative to the customer's prefix), at most `limit` per call. */
  list(customerId: string): Promise<string[]>;
  /** Deletes every capture of the customer; returns how many were deleted. Idempotent. */
  deleteCustomer(customerId: string): Promise<{ deleted: number }>;
}

/** Every capture of a customer sits under this prefix, so one listing finds them all. */
export function captureCustomerPrefix(customerId: string): string {
  return `captures/${customerId}/`;
}

/** One captured request: what an investigation needs to replay or inspect it. May hold PII; never logged. */
export interface DebugCapture {
  readonly customerId: string;
  /** Content id of the delivery (functions/webhooks/delivery-id.ts): a 64-hex SHA-256. */
  readonly deliveryId: string;
  readonly provider: string;
  /** `accepted`, or `refused` with the refusal reason (a signature mismatch is the case worth a body). */
  readonly outcome: 'accepted' | 'refused';
  readonly reason?: string;
  readonly requestId?: string;
  readonly capturedAt: Date;
  /** Only the allowlisted headers (functions/webhook-verifier/debug-capture.ts); never the signature. */
  readonly headers: Readonly<Record<string, string>>;
  readonly rawBody: Buffer;
}

/** The write half, kept apart so only the verifier's wiring (and its role) can put captures. */
export interface DebugCaptureWriter {
  /** Stores the capture under the customer's prefix; returns its key relative to that prefix. */
  write(capture: DebugCapture): Promise<{ key: string }>;
}

const DELIVERY_ID = /^[a-f0-9]{64}$/;

/**
 * `{yyyy-mm-dd}/{deliveryId}.{outcome}.json` under the customer's prefix: one listing per customer finds them
 * all (offboarding), the date groups an investigation, and a refused and an accepted copy of the same bytes do not
 * overwrite each other.
 */
export function captureKey(capture: Pick<DebugCapture, 'capturedAt' | 'deliveryId' | 'outcome'>): string {
  if (!DELIVERY_ID.test(capture.deliveryId)) throw new TypeError('a capture needs a content delivery id');
  return `${capture.capturedAt.toISOString().slice(0, 10)}/${capture.deliveryId}.${capture.outcome}.json`;
}

/** The stored document: JSON with the body in Base64, so any bytes survive exactly. */
export function serializeCapture(capture: DebugCapture): string {
  return JSON.stringify({
    version: 1,
    customerId: capture.customerId,
    deliveryId: capture.deliveryId,
    provider: capture.provider,
    outcome: capture.outcome,
    ...(capture.reason === undefined ? {} : { reason: capture.reason }),
    ...(capture.requestId === undefined ? {} : { requestId: capture.requestId }),
    capturedAt: capture.capturedAt.toISOString(),
    headers: capture.headers,
    rawBodyBase64: capture.rawBody.toString('base64'),
  });
}

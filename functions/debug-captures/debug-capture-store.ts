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

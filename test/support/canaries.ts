/**
 * Canary values: donor PII and secrets seeded into test inputs. The setup file captures everything product code
 * writes to stdout/stderr during a test file and fails the file if any canary (or any registered secret) appears.
 * Use these values in events, bodies and secret stores instead of inventing new PII.
 */

export const DONOR = {
  firstName: 'Canaryfirst',
  lastName: 'Canarylast',
  email: 'canary.donor@pii-canary.example',
  phone: '+1-555-0100-731',
  address1: '731 Canary Lane',
  city: 'Canaryville',
  postal: '73100',
} as const;

export const PII_CANARIES: readonly string[] = Object.values(DONOR);

const registeredSecrets = new Set<string>();

/** Registers a secret value a test created (token, webhook secret, refresh token) so output is checked for it. */
export function registerSecret(value: string): string {
  registeredSecrets.add(value);
  return value;
}

export function forbiddenValues(): string[] {
  return [...PII_CANARIES, ...registeredSecrets];
}

/** Returns every forbidden value found in `text` (by value; callers must never print the result). */
export function findLeaks(text: string): string[] {
  return forbiddenValues().filter((value) => value.length >= 6 && text.includes(value));
}

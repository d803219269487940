/**
 * Where the client gets its Bearer token. The client asks for `current()` before each call and calls
 * `invalidate()` after a 401, so a rotated token is picked up with one re-read instead of a failed batch.
 */
import type { SecretStore } from '../credentials/secret-store.ts';
import { RecoverableError } from '../shared/errors.ts';

export interface TokenSource {
  current(): Promise<string>;
  invalidate(): void;
}

export interface SecretStoreTokenSourceOptions {
  /** Re-read after this long even without a 401, so a promoted token replaces the old one before it is revoked. */
  readonly maxAgeMs?: number;
  readonly requestId?: string;
  readonly now?: () => number;
}

const DEFAULT_MAX_AGE_MS = 5 * 60_000;

/**
 * The customer's current Virtuous API token from the SecretStore, read with `reason` for the audit trail
 * (e.g. `sync:submit`). One read serves every call until it is invalidated or older than `maxAgeMs`;
 * concurrent callers share one in-flight read so a burst does not become a burst of audited reads.
 */
export function secretStoreTokenSource(
  store: SecretStore,
  customerId: string,
  reason: string,
  options: SecretStoreTokenSourceOptions = {},
): TokenSource {
  const maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  const now = options.now ?? Date.now;
  let cached: { value: string; readAt: number } | undefined;
  let inFlight: Promise<string> | undefined;
  let generation = 0;

  async function read(readGeneration: number): Promise<string> {
    const version = await store.read({ customerId, kind: 'api_token' }, 'current', {
      reason,
      ...(options.requestId === undefined ? {} : { requestId: options.requestId }),
    });
    if (version === undefined || version.value === '') {
      throw new RecoverableError('VIRTUOUS_TOKEN_MISSING', 'the customer has no current Virtuous API token');
    }
    // An invalidate() during the read means this value may be the one that just failed: do not keep it.
    if (readGeneration === generation) cached = { value: version.value, readAt: now() };
    return version.value;
  }

  return {
    current() {
      if (cached !== undefined && now() - cached.readAt < maxAgeMs) return Promise.resolve(cached.value);
      if (inFlight === undefined) {
        inFlight = read(generation).finally(() => {
          inFlight = undefined;
        });
      }
      return inFlight;
    },
    invalidate() {
      generation += 1;
      cached = undefined;
      inFlight = undefined;
      // The store's own per-container cache may hold the same refused token: the re-read must reach the backend.
      store.invalidate?.({ customerId, kind: 'api_token' });
    },
  };
}

/** A fixed token (tests, the one-machine runtime's tooling). */
export function staticTokenSource(token: string): TokenSource {
  return {
    current: () => Promise.resolve(token),
    invalidate: () => undefined,
  };
}

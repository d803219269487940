/**
 * Virtuous clients for the lifecycle: the product's HTTP client (functions/virtuous/client.ts), with the token read
 * from the SecretStore at the stage the step needs (a rotation validates the pending key before it is current) and
 * the reason the audit trail records.
 */
import type { SecretStage, SecretStore } from '../credentials/secret-store.ts';
import { RecoverableError } from '../shared/errors.ts';
import { createVirtuousClient, type VirtuousClientOptions } from '../virtuous/client.ts';
import type { RateBudget } from '../virtuous/rate-budget.ts';
import { staticTokenSource, type TokenSource } from '../virtuous/token-source.ts';
import type { VirtuousConnector } from './ports.ts';

export interface VirtuousConnectorOptions {
  readonly baseUrl: string;
  readonly secrets: SecretStore;
  readonly budget: RateBudget;
  readonly allowLoopbackHttp?: boolean;
  readonly timeoutMs?: number;
  readonly maxAttempts?: number;
  /** Passed through to the client (tests shorten its backoff). */
  readonly client?: Partial<Pick<VirtuousClientOptions, 'backoff' | 'sleep' | 'fetch'>>;
}

/** Reads the token at `stage` on every call, so a step always uses exactly the version it means to test. */
export function stagedTokenSource(
  secrets: SecretStore,
  customerId: string,
  stage: SecretStage,
  reason: string,
): TokenSource {
  return {
    async current() {
      const version = await secrets.read({ customerId, kind: 'api_token' }, stage, { reason });
      if (version === undefined || version.value === '') {
        throw new RecoverableError(
          'VIRTUOUS_TOKEN_MISSING',
          `customer ${customerId} has no ${stage} Virtuous API token`,
        );
      }
      return version.value;
    },
    invalidate: () => undefined,
  };
}

export function createVirtuousConnector(options: VirtuousConnectorOptions): VirtuousConnector {
  const base = {
    baseUrl: options.baseUrl,
    budget: options.budget,
    allowLoopbackHttp: options.allowLoopbackHttp ?? false,
    timeoutMs: options.timeoutMs ?? 10_000,
    maxAttempts: options.maxAttempts ?? 3,
    ...options.client,
  };
  return {
    forCustomer: (customerId, { stage, reason }) =>
      createVirtuousClient({
        ...base,
        customerId,
        tokens: stagedTokenSource(options.secrets, customerId, stage, reason),
      }),
    forToken: (customerId, token) => createVirtuousClient({ ...base, customerId, tokens: staticTokenSource(token) }),
  };
}

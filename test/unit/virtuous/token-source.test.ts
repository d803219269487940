import { describe, expect, it } from 'vitest';
import type {
  AccessContext,
  SecretRef,
  SecretStage,
  SecretStore,
  SecretVersion,
} from '../../../functions/credentials/secret-store.ts';
import { RecoverableError } from '../../../functions/shared/errors.ts';
import { secretStoreTokenSource } from '../../../functions/virtuous/token-source.ts';
import { registerSecret } from '../../support/canaries.ts';

/** Only `read` is used by the adapter; the rest fail loudly if it ever reaches for them. */
function storeWith(
  values: Array<string | undefined>,
  reads: Array<{ ref: SecretRef; stage: SecretStage; context: AccessContext }>,
) {
  let index = 0;
  let release: (() => void) | undefined;
  const gate = { hold: false };
  const store: SecretStore = {
    async read(ref, stage, context): Promise<SecretVersion | undefined> {
      reads.push({ ref, stage, context });
      if (gate.hold) await new Promise<void>((resolve) => (release = resolve));
      const value = values[Math.min(index++, values.length - 1)];
      return value === undefined
        ? undefined
        : { value, versionId: `v${index}`, stage, createdAt: '2026-11-29T00:00:00Z' };
    },
    putPending: () => Promise.reject(new Error('unused')),
    promotePending: () => Promise.reject(new Error('unused')),
    discardPending: () => Promise.reject(new Error('unused')),
    deletePrevious: () => Promise.reject(new Error('unused')),
    deleteCustomer: () => Promise.reject(new Error('unused')),
  };
  return { store, gate, release: () => release?.() };
}

describe('secretStoreTokenSource', () => {
  const first = registerSecret('vtok_first_0123456789abcdef');
  const second = registerSecret('vtok_second_0123456789abcdef');

  it("reads the customer's current api_token with the given reason, once for many calls", async () => {
    const reads: Array<{ ref: SecretRef; stage: SecretStage; context: AccessContext }> = [];
    const { store } = storeWith([first, second], reads);
    const tokens = secretStoreTokenSource(store, 'acme', 'sync:submit', { requestId: 'req-1' });
    expect(await Promise.all([tokens.current(), tokens.current(), tokens.current()])).toEqual([first, first, first]);
    expect(await tokens.current()).toBe(first);
    expect(reads).toEqual([
      {
        ref: { customerId: 'acme', kind: 'api_token' },
        stage: 'current',
        context: { reason: 'sync:submit', requestId: 'req-1' },
      },
    ]);
  });

  it('re-reads after invalidate() and after maxAgeMs', async () => {
    const reads: Array<{ ref: SecretRef; stage: SecretStage; context: AccessContext }> = [];
    const { store } = storeWith([first, second, second], reads);
    let now = 0;
    const tokens = secretStoreTokenSource(store, 'acme', 'sync:submit', { maxAgeMs: 1_000, now: () => now });
    expect(await tokens.current()).toBe(first);
    tokens.invalidate();
    expect(await tokens.current()).toBe(second);
    now = 999;
    await tokens.current();
    expect(reads).toHaveLength(2);
    now = 1_000;
    await tokens.current();
    expect(reads).toHaveLength(3);
  });

  it('does not keep a value whose read was overtaken by invalidate()', async () => {
    const reads: Array<{ ref: SecretRef; stage: SecretStage; context: AccessContext }> = [];
    const { store, gate, release } = storeWith([first, second], reads);
    const tokens = secretStoreTokenSource(store, 'acme', 'sync:submit');
    gate.hold = true;
    const pending = tokens.current();
    tokens.invalidate();
    gate.hold = false;
    release();
    expect(await pending).toBe(first);
    expect(await tokens.current()).toBe(second);
  });

  it('reports a missing token as RecoverableError VIRTUOUS_TOKEN_MISSING, and retries the read next time', async () => {
    const reads: Array<{ ref: SecretRef; stage: SecretStage; context: AccessContext }> = [];
    const { store } = storeWith([undefined, first], reads);
    const tokens = secretStoreTokenSource(store, 'acme', 'sync:submit');
    const error = await tokens.current().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecoverableError);
    expect(error).toMatchObject({ code: 'VIRTUOUS_TOKEN_MISSING' });
    await expect(tokens.current()).resolves.toBe(first);
  });
});

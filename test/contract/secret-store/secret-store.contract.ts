/**
 * The SecretStore contract, run against every implementation (Secrets Manager through its stateful model, and the
 * local encrypted store). A behaviour one store has and the other lacks is a bug in one of them.
 */
import { describe, expect, it } from 'vitest';
import type { MemoryAuditLog } from '../../../functions/credentials/memory-audit-log.ts';
import type { SecretRef, SecretStore } from '../../../functions/credentials/secret-store.ts';
import { ForbiddenInputError, PermanentError } from '../../../functions/shared/errors.ts';
import { registerSecret } from '../../support/canaries.ts';

export interface ContractHarness {
  readonly store: SecretStore;
  readonly audit: MemoryAuditLog;
  /** Calls that left the store (SDK calls, storage loads/saves): must stay 0 for refused input. */
  externalCalls(): number;
}

const ctx = { reason: 'test:contract', requestId: 'req-contract-1' } as const;

let counter = 0;
function secretValue(label: string): string {
  counter += 1;
  return registerSecret(`sv-${label}-${counter}-${Math.random().toString(36).slice(2, 14)}`);
}

function uniqueCustomer(prefix = 'cust'): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
}

export function describeSecretStoreContract(name: string, makeHarness: () => Promise<ContractHarness>): void {
  describe(`SecretStore contract: ${name}`, () => {
    it('reads nothing for a secret that was never stored, and audits the attempt', async () => {
      const { store, audit } = await makeHarness();
      const ref: SecretRef = { customerId: uniqueCustomer(), kind: 'api_token' };
      expect(await store.read(ref, 'current', ctx)).toBeUndefined();
      expect(audit.all()).toHaveLength(1);
      expect(audit.all()[0]).toMatchObject({
        customerId: ref.customerId,
        kind: 'api_token',
        action: 'read',
        stage: 'current',
        reason: 'test:contract',
        requestId: 'req-contract-1',
        outcome: 'not_found',
      });
    });

    it('makes the first version of a new secret current as well as pending; promotion then only clears pending', async () => {
      const { store } = await makeHarness();
      const ref: SecretRef = { customerId: uniqueCustomer(), kind: 'webhook_secret' };
      const v1 = secretValue('first');
      const { versionId } = await store.putPending(ref, v1, ctx);
      expect((await store.read(ref, 'pending', ctx))?.value).toBe(v1);
      expect((await store.read(ref, 'current', ctx))?.versionId).toBe(versionId);
      expect(await store.promotePending(ref, ctx)).toEqual({ versionId });
      expect(await store.read(ref, 'pending', ctx)).toBeUndefined();
      expect(await store.read(ref, 'previous', ctx)).toBeUndefined();
      const current = await store.read(ref, 'current', ctx);
      expect(current).toMatchObject({ value: v1, versionId, stage: 'current' });
      expect(Number.isNaN(Date.parse(current?.createdAt ?? ''))).toBe(false);
    });

    it('rotates: pending beside current, promote moves current to previous, deletePrevious removes it', async () => {
      const { store } = await makeHarness();
      const ref: SecretRef = { customerId: uniqueCustomer(), kind: 'api_token' };
      const [v1, v2, v3] = [secretValue('v1'), secretValue('v2'), secretValue('v3')];
      await store.putPending(ref, v1, ctx);
      await store.promotePending(ref, ctx);

      const second = await store.putPending(ref, v2, ctx);
      expect((await store.read(ref, 'current', ctx))?.value).toBe(v1);
      expect((await store.read(ref, 'pending', ctx))?.value).toBe(v2);

      await store.promotePending(ref, ctx);
      expect(await store.read(ref, 'current', ctx)).toMatchObject({ value: v2, versionId: second.versionId });
      expect((await store.read(ref, 'previous', ctx))?.value).toBe(v1);
      expect(await store.read(ref, 'pending', ctx)).toBeUndefined();

      await store.putPending(ref, v3, ctx);
      await store.promotePending(ref, ctx);
      expect((await store.read(ref, 'current', ctx))?.value).toBe(v3);
      expect((await store.read(ref, 'previous', ctx))?.value).toBe(v2);

      await store.deletePrevious(ref, ctx);
      expect(await store.read(ref, 'previous', ctx)).toBeUndefined();
      expect((await store.read(ref, 'current', ctx))?.value).toBe(v3);
      await expect(store.deletePrevious(ref, ctx)).resolves.toBeUndefined();
    });

    it('replaces an earlier pending version and discards pending without touching current', async () => {
      const { store } = await makeHarness();
      const ref: SecretRef = { customerId: uniqueCustomer(), kind: 'refresh_token', source: 'mailchimp' };
      const [v1, v2, v3] = [secretValue('c'), secretValue('p1'), secretValue('p2')];
      await store.putPending(ref, v1, ctx);
      await store.promotePending(ref, ctx);
      await store.putPending(ref, v2, ctx);
      const latest = await store.putPending(ref, v3, ctx);
      expect(await store.read(ref, 'pending', ctx)).toMatchObject({ value: v3, versionId: latest.versionId });

      await store.discardPending(ref, ctx);
      expect(await store.read(ref, 'pending', ctx)).toBeUndefined();
      expect((await store.read(ref, 'current', ctx))?.value).toBe(v1);
      await expect(store.discardPending(ref, ctx)).resolves.toBeUndefined();
      await expect(
        store.discardPending({ customerId: uniqueCustomer(), kind: 'api_token' }, ctx),
      ).resolves.toBeUndefined();
    });

    it('refuses to promote without a pending version (PermanentError) and audits the failed attempt', async () => {
      const { store, audit } = await makeHarness();
      const ref: SecretRef = { customerId: uniqueCustomer(), kind: 'api_token' };
      const error = await store.promotePending(ref, ctx).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as PermanentError).code).toBe('NO_PENDING_VERSION');
      await store.putPending(ref, secretValue('x'), ctx);
      await store.promotePending(ref, ctx);
      await expect(store.promotePending(ref, ctx)).rejects.toMatchObject({ code: 'NO_PENDING_VERSION' });
      const promotes = audit.all().filter((r) => r.action === 'promote');
      expect(promotes.map((r) => r.outcome)).toEqual(['error', 'ok', 'error']);
      expect(promotes[0]?.errorCode).toBe('NO_PENDING_VERSION');
    });

    it('writes exactly one audit record per operation, with who, what, why and no value', async () => {
      const { store, audit } = await makeHarness();
      const customerId = uniqueCustomer();
      const ref: SecretRef = { customerId, kind: 'source_webhook_secret', source: 'stripe' };
      const value = secretValue('audited');
      await store.putPending(ref, value, { reason: 'onboarding:store', requestId: 'exec-1' });
      await store.read(ref, 'current', { reason: 'webhook:verify' });
      await store.promotePending(ref, { reason: 'rotation:promote' });
      await store.discardPending(ref, { reason: 'rotation:compensate' });
      await store.deletePrevious(ref, { reason: 'rotation:finish' });
      await store.deleteCustomer(customerId, { reason: 'offboarding:delete-secrets', requestId: 'exec-2' });
      const records = audit.all();
      expect(records.map((r) => [r.action, r.reason, r.outcome])).toEqual([
        ['put_pending', 'onboarding:store', 'ok'],
        ['read', 'webhook:verify', 'ok'],
        ['promote', 'rotation:promote', 'ok'],
        ['discard_pending', 'rotation:compensate', 'not_found'],
        ['delete_previous', 'rotation:finish', 'not_found'],
        ['delete_customer', 'offboarding:delete-secrets', 'ok'],
      ]);
      for (const record of records) {
        expect(record.customerId).toBe(customerId);
        expect(record.accessor.length).toBeGreaterThan(3);
        expect(Number.isNaN(Date.parse(record.at))).toBe(false);
        expect(record.auditKey.startsWith(record.at)).toBe(true);
        expect(record.expiresAt - Math.floor(Date.parse(record.at) / 1000)).toBeGreaterThanOrEqual(365 * 86_400);
      }
      expect(records.slice(0, 5).every((r) => r.kind === 'source_webhook_secret' && r.source === 'stripe')).toBe(true);
      expect(records[0]?.requestId).toBe('exec-1');
      expect(records[5]).toMatchObject({ kind: 'all', deletedSecrets: 1, requestId: 'exec-2' });
      expect(JSON.stringify(records)).not.toContain(value);
      const between = await audit.accessesBetween(
        customerId,
        records[0]?.at ?? '',
        new Date(Date.now() + 1000).toISOString(),
      );
      expect(between).toHaveLength(6);
    });

    it.each([
      ['a slash', { customerId: 'acme/other', kind: 'api_token' }],
      ['a parent segment', { customerId: '..', kind: 'api_token' }],
      ['a wildcard', { customerId: 'acme*', kind: 'webhook_secret' }],
      ['an empty id', { customerId: '', kind: 'api_token' }],
      ['an over-long id', { customerId: 'a'.repeat(65), kind: 'api_token' }],
      ['upper case', { customerId: 'Acme', kind: 'api_token' }],
      ['a source with a slash', { customerId: 'acme', kind: 'refresh_token', source: 'stripe/../x' }],
      ['a source named virtuous', { customerId: 'acme', kind: 'refresh_token', source: 'virtuous' }],
      ['a missing source', { customerId: 'acme', kind: 'refresh_token' }],
      ['an unknown kind', { customerId: 'acme', kind: 'password' }],
    ])('refuses %s before any call or audit write', async (_label, ref) => {
      const { store, audit, externalCalls } = await makeHarness();
      const bad = ref as unknown as SecretRef;
      const value = secretValue('refused');
      const attempts: (() => Promise<unknown>)[] = [
        () => store.read(bad, 'current', ctx),
        () => store.putPending(bad, value, ctx),
        () => store.promotePending(bad, ctx),
        () => store.discardPending(bad, ctx),
        () => store.deletePrevious(bad, ctx),
      ];
      for (const attempt of attempts) {
        const error = await attempt().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ForbiddenInputError);
        expect(String((error as Error).message)).not.toContain(value);
      }
      if (
        typeof (ref as { customerId: string }).customerId === 'string' &&
        !/^[a-z0-9][a-z0-9_-]{0,63}$/.test(ref.customerId)
      ) {
        await expect(store.deleteCustomer(ref.customerId, ctx)).rejects.toBeInstanceOf(ForbiddenInputError);
      }
      expect(externalCalls()).toBe(0);
      expect(audit.all()).toHaveLength(0);
    });

    it.each([
      ['no reason', {}],
      ['free text', { reason: 'because I wanted to' }],
      ['no area', { reason: 'read' }],
      ['an over-long reason', { reason: `sync:${'a'.repeat(80)}` }],
      ['a request id with spaces', { reason: 'sync:submit', requestId: 'a b' }],
    ])('refuses an access with %s before any call', async (_label, context) => {
      const { store, audit, externalCalls } = await makeHarness();
      const ref: SecretRef = { customerId: uniqueCustomer(), kind: 'api_token' };
      const bad = context as { reason: string };
      await expect(store.read(ref, 'current', bad)).rejects.toMatchObject({ code: expect.stringMatching(/^INVALID_/) });
      await expect(store.putPending(ref, secretValue('r'), bad)).rejects.toBeInstanceOf(ForbiddenInputError);
      await expect(store.deleteCustomer(ref.customerId, bad)).rejects.toBeInstanceOf(ForbiddenInputError);
      expect(externalCalls()).toBe(0);
      expect(audit.all()).toHaveLength(0);
    });

    it('stores again at once after the customer was deleted: the new value is current and pending, nothing deleted is readable', async () => {
      const { store } = await makeHarness();
      const customerId = uniqueCustomer('again');
      const refs: SecretRef[] = [
        { customerId, kind: 'api_token' },
        { customerId, kind: 'source_webhook_secret', source: 'stripe' },
      ];
      for (const ref of refs) {
        await store.putPending(ref, secretValue('old-1'), ctx);
        await store.promotePending(ref, ctx);
        await store.putPending(ref, secretValue('old-2'), ctx);
        await store.promotePending(ref, ctx);
        await store.putPending(ref, secretValue('old-pending'), ctx);
      }
      expect(await store.deleteCustomer(customerId, ctx)).toEqual({ deletedSecrets: 2 });
      for (const ref of refs) {
        const fresh = secretValue('fresh');
        const { versionId } = await store.putPending(ref, fresh, ctx);
        expect(await store.read(ref, 'pending', ctx)).toMatchObject({ value: fresh, versionId });
        expect(await store.read(ref, 'current', ctx)).toMatchObject({ value: fresh, versionId });
        expect(await store.read(ref, 'previous', ctx)).toBeUndefined();
        expect(await store.promotePending(ref, ctx)).toEqual({ versionId });
        expect(await store.read(ref, 'previous', ctx)).toBeUndefined();
      }
    });

    it('keeps customers apart and deletes only the offboarded customer (ids sharing a prefix included)', async () => {
      const { store } = await makeHarness();
      const a = uniqueCustomer('acme');
      const b = `${a}-2`;
      const refs = (customerId: string): SecretRef[] => [
        { customerId, kind: 'api_token' },
        { customerId, kind: 'webhook_secret' },
        { customerId, kind: 'refresh_token', source: 'stripe' },
      ];
      const values = new Map<string, string>();
      for (const ref of [...refs(a), ...refs(b)]) {
        const value = secretValue(ref.customerId === a ? 'a' : 'b');
        values.set(JSON.stringify(ref), value);
        await store.putPending(ref, value, ctx);
        await store.promotePending(ref, ctx);
      }
      expect(await store.deleteCustomer(a, ctx)).toEqual({ deletedSecrets: 3 });
      for (const ref of refs(a)) expect(await store.read(ref, 'current', ctx)).toBeUndefined();
      for (const ref of refs(b))
        expect((await store.read(ref, 'current', ctx))?.value).toBe(values.get(JSON.stringify(ref)));
      expect(await store.deleteCustomer(a, ctx)).toEqual({ deletedSecrets: 0 });
    });

    it('deletes a customer with many secrets (more than one listing page)', async () => {
      const { store, audit } = await makeHarness();
      const customerId = uniqueCustomer('big');
      const refs: SecretRef[] = [
        { customerId, kind: 'api_token' },
        { customerId, kind: 'webhook_secret' },
      ];
      for (let i = 0; i < 59; i++) {
        refs.push({ customerId, kind: 'refresh_token', source: `src-${i}` });
        refs.push({ customerId, kind: 'source_webhook_secret', source: `src-${i}` });
      }
      const other: SecretRef = { customerId: uniqueCustomer('keep'), kind: 'api_token' };
      await Promise.all([...refs, other].map((ref) => store.putPending(ref, secretValue('many'), ctx)));
      expect(await store.deleteCustomer(customerId, ctx)).toEqual({ deletedSecrets: refs.length });
      const left = await Promise.all(refs.map((ref) => store.read(ref, 'current', ctx)));
      expect(left.filter((v) => v !== undefined)).toHaveLength(0);
      expect(await store.read(other, 'current', ctx)).toBeDefined();
      expect(audit.all().filter((r) => r.action === 'delete_customer')).toHaveLength(1);
    });

    it('never serves the superseded value once a promotion has completed, under concurrent reads', async () => {
      const { store } = await makeHarness();
      const ref: SecretRef = { customerId: uniqueCustomer('race'), kind: 'api_token' };
      const [v1, v2] = [secretValue('old'), secretValue('new')];
      await store.putPending(ref, v1, ctx);
      await store.promotePending(ref, ctx);
      await store.read(ref, 'current', ctx); // warm any cache with the old value

      const during = Array.from({ length: 40 }, () => store.read(ref, 'current', ctx));
      const rotation = (async () => {
        await store.putPending(ref, v2, ctx);
        await store.promotePending(ref, ctx);
      })();
      const raced = await Promise.all([...during, rotation.then(() => undefined)]);
      for (const seen of raced.slice(0, 40)) expect([v1, v2]).toContain(seen?.value);
      const after = await Promise.all(Array.from({ length: 40 }, () => store.read(ref, 'current', ctx)));
      expect(new Set(after.map((v) => v?.value))).toEqual(new Set([v2]));
      expect((await store.read(ref, 'previous', ctx))?.value).toBe(v1);
    });

    it('lets exactly one of two concurrent promotions win', async () => {
      const { store } = await makeHarness();
      const ref: SecretRef = { customerId: uniqueCustomer('twice'), kind: 'api_token' };
      const [v1, v2] = [secretValue('a'), secretValue('b')];
      await store.putPending(ref, v1, ctx);
      await store.promotePending(ref, ctx);
      await store.putPending(ref, v2, ctx);
      const results = await Promise.allSettled([store.promotePending(ref, ctx), store.promotePending(ref, ctx)]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(rejected.reason).toMatchObject({ code: 'NO_PENDING_VERSION' });
      expect((await store.read(ref, 'current', ctx))?.value).toBe(v2);
      expect((await store.read(ref, 'previous', ctx))?.value).toBe(v1);
    });

    it('round-trips values exactly (unicode, JSON, 64 KiB) and refuses empty or larger values', async () => {
      const { store } = await makeHarness();
      const ref: SecretRef = { customerId: uniqueCustomer(), kind: 'api_token' };
      for (const value of [registerSecret('tök€n-✓-{"a":1}'), registerSecret(`big-${'x'.repeat(65_536 - 4)}`)]) {
        await store.putPending(ref, value, ctx);
        expect((await store.read(ref, 'pending', ctx))?.value).toBe(value);
      }
      await expect(store.putPending(ref, '', ctx)).rejects.toBeInstanceOf(ForbiddenInputError);
      await expect(store.putPending(ref, 'x'.repeat(65_537), ctx)).rejects.toBeInstanceOf(ForbiddenInputError);
    });
  });
}

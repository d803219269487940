import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderCaptureStore } from '../../../functions/debug-captures/local-folder-capture-store.ts';
import { deliveryId } from '../../../functions/webhooks/delivery-id.ts';
import { DONOR } from '../../support/canaries.ts';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'captures-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function capture(customerId: string, path: string): Promise<void> {
  const file = join(root, 'captures', customerId, path);
  await mkdir(join(file, '..'), { recursive: true });
  await writeFile(file, JSON.stringify({ email: DONOR.email }));
}

describe('LocalFolderCaptureStore', () => {
  it("lists and deletes one customer's captures only", async () => {
    const store = new LocalFolderCaptureStore(root);
    await capture('acme', '2026-11-28/d1.json');
    await capture('acme', '2026-11-29/d2.json');
    await capture('acme-2', '2026-11-29/d3.json');
    expect(await store.list('acme')).toEqual(['2026-11-28/d1.json', '2026-11-29/d2.json']);
    expect(await store.deleteCustomer('acme')).toEqual({ deleted: 2 });
    expect(await store.list('acme')).toEqual([]);
    expect(await store.deleteCustomer('acme')).toEqual({ deleted: 0 });
    expect(await store.list('acme-2')).toEqual(['2026-11-29/d3.json']);
    expect(await readdir(join(root, 'captures'))).toEqual(['acme-2']);
  });

  it('refuses a customer id that could escape the folder', async () => {
    const store = new LocalFolderCaptureStore(root);
    await expect(store.list('../etc')).rejects.toMatchObject({ name: 'ForbiddenInputError' });
    await expect(store.deleteCustomer('..')).rejects.toMatchObject({ name: 'ForbiddenInputError' });
  });

  it('writes a capture owner-only under the customer, and offboarding deletes what the verifier wrote', async () => {
    const store = new LocalFolderCaptureStore(root);
    const body = Buffer.from(JSON.stringify({ email: DONOR.email }));
    const id = deliveryId('virtuous', 'writer', body);
    const { key } = await store.write({
      customerId: 'writer',
      deliveryId: id,
      provider: 'virtuous',
      outcome: 'refused',
      reason: 'signature_mismatch',
      requestId: 'req-1',
      capturedAt: new Date('2026-11-29T23:59:59.000Z'),
      headers: { 'content-type': 'application/json' },
      rawBody: body,
    });
    expect(key).toBe(`2026-11-29/${id}.refused.json`);
    const file = join(root, 'captures', 'writer', key);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(await readFile(file, 'utf8')) as { rawBodyBase64: string; reason: string };
    expect(Buffer.from(stored.rawBodyBase64, 'base64').equals(body)).toBe(true);
    expect(stored.reason).toBe('signature_mismatch');
    expect(await store.list('writer')).toEqual([key]);
    expect(await store.deleteCustomer('writer')).toEqual({ deleted: 1 });
    expect(await store.list('writer')).toEqual([]);
  });

  it('refuses to write a capture whose delivery id is not a content hash (no path in a key)', async () => {
    const store = new LocalFolderCaptureStore(root);
    await expect(
      store.write({
        customerId: 'writer',
        deliveryId: '../../escape',
        provider: 'virtuous',
        outcome: 'accepted',
        capturedAt: new Date(),
        headers: {},
        rawBody: Buffer.from('{}'),
      }),
    ).rejects.toThrow(TypeError);
    expect(await store.list('writer')).toEqual([]);
  });
});

import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderCaptureStore } from '../../../functions/debug-captures/local-folder-capture-store.ts';
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
});

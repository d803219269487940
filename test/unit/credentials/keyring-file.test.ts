/**
 * The keyring file holds key-encryption keys in the clear (mode 0600). A damaged file must be refused with a
 * classified error whose message quotes nothing of the file: V8's SyntaxError quotes the text around the fault.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileKeyring } from '../../../functions/credentials/keyring.ts';
import { PermanentError } from '../../../functions/shared/errors.ts';
import { registerSecret } from '../../support/canaries.ts';

let directory: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'keyring-file-'));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('FileKeyring with a damaged file', () => {
  it('refuses it as INVALID_KEYRING without quoting the key material', async () => {
    const key = registerSecret(randomBytes(32).toString('base64'));
    const path = join(directory, 'keyring.json');
    // A hand edit that lost the quotes around a key: JSON.parse reports "Unexpected token" with the text after it.
    await writeFile(path, `{"format":1,"activeKeyId":"kek-1","keys":[{"id":"kek-1","key":${key}}]}`, { mode: 0o600 });

    const refused = await new FileKeyring(path).active().then(
      () => undefined,
      (error: unknown) => error,
    );

    expect(refused).toBeInstanceOf(PermanentError);
    expect((refused as PermanentError).code).toBe('INVALID_KEYRING');
    const text = `${(refused as Error).message} ${(refused as Error).stack ?? ''}`;
    expect(text.includes(key.slice(0, 8))).toBe(false);
  });

  it('refuses a file that is valid JSON but not a keyring document', async () => {
    const path = join(directory, 'keyring.json');
    await writeFile(path, 'null', { mode: 0o600 });
    await expect(new FileKeyring(path).active()).rejects.toMatchObject({ code: 'INVALID_KEYRING' });
  });
});

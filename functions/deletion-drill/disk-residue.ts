/**
 * The one-machine half of the drill's crypto-shredding check: after offboarding, the data folder's files (keyring,
 * dynalite's LevelDB files, the queue backlog) are read byte for byte, because LevelDB keeps deleted items in its
 * log and tables until compaction. Nothing of the customer may be readable there: no copy of the drill's plaintext
 * canary, no keyring entry holding the customer's key, and every sealed payload under the customer's destroyed key
 * that still lies in a file must refuse to open.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { PayloadSealer, SealedPayloadV2 } from '../crypto/payload-sealer.ts';
import { isClassified } from '../shared/errors.ts';

export interface DiskResidue {
  readonly filesScanned: number;
  /** Copies of the canary plaintext in any file: must be 0. */
  readonly plaintextCopies: number;
  /** Sealed payloads under the customer's (destroyed) key still lying in the files. */
  readonly sealedFound: number;
  /** Of those, how many opened: must be 0. */
  readonly sealedOpened: number;
  /** Entries of the keyring file that still hold a data key of the customer: must be 0. */
  readonly keyEntries: number;
}

export interface DiskResidueScan {
  /** The data folder. */
  readonly root: string;
  /** Paths under root that are not the integration's (the Virtuous simulator's snapshot). */
  readonly exclude: readonly string[];
  /** The keyring file, relative to root. */
  readonly keyringFile: string;
  readonly customerId: string;
  /** The customer's destroyed key id: sealed payloads naming it are the residue to try. */
  readonly keyId: string;
  readonly canary: string;
  /** Purposes the customer's payloads are sealed for; each found payload is tried under every one. */
  readonly purposes: readonly string[];
  readonly sealer: PayloadSealer;
}

/** A v2 envelope as stored: DynamoDB JSON (`{"S":"…"}` values, dynalite's LevelDB records) or plain JSON. */
function envelopePattern(keyId: string): RegExp {
  const value = (name: string, capture: string) => `"${name}":(?:\\{"S":)?"${capture}"\\}?`;
  const base64 = '([A-Za-z0-9+/=]+)';
  return new RegExp(
    [
      value('keyId', keyId.replace(/[^a-z0-9-]/g, '')),
      value('iv', base64),
      value('tag', base64),
      value('ciphertext', base64),
    ].join(','),
    'g',
  );
}

async function filesUnder(root: string, exclude: readonly string[]): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((path) => !exclude.some((excluded) => relative(root, path).startsWith(excluded)));
}

async function opens(sealer: PayloadSealer, sealed: SealedPayloadV2, customerId: string, purposes: readonly string[]) {
  for (const purpose of purposes) {
    try {
      await sealer.open(sealed, { customerId, purpose });
      return true;
    } catch (error) {
      if (!isClassified(error)) throw error;
    }
  }
  return false;
}

function keyringEntriesOf(text: string, customerId: string): number {
  try {
    const document = JSON.parse(text) as { customerKeys?: { customerId?: string }[] };
    return (document.customerKeys ?? []).filter((entry) => entry.customerId === customerId).length;
  } catch {
    // A keyring that does not parse is a defect of its own; count it as not proven clean.
    return 1;
  }
}

export async function scanDiskResidue(scan: DiskResidueScan): Promise<DiskResidue> {
  const files = await filesUnder(scan.root, scan.exclude);
  const canary = Buffer.from(scan.canary, 'utf8');
  let plaintextCopies = 0;
  let sealedFound = 0;
  let sealedOpened = 0;
  let keyEntries = 0;
  const tried = new Set<string>();
  for (const file of files) {
    const bytes = await readFile(file);
    for (let at = bytes.indexOf(canary); at !== -1; at = bytes.indexOf(canary, at + 1)) plaintextCopies++;
    const text = bytes.toString('latin1');
    if (relative(scan.root, file) === scan.keyringFile) keyEntries += keyringEntriesOf(text, scan.customerId);
    for (const match of text.matchAll(envelopePattern(scan.keyId))) {
      const [, iv, tag, ciphertext] = match as unknown as [string, string, string, string];
      if (tried.has(ciphertext)) continue;
      tried.add(ciphertext);
      sealedFound++;
      const sealed: SealedPayloadV2 = {
        v: 2,
        alg: 'AES-256-GCM',
        wrap: 'customer-key',
        keyId: scan.keyId,
        iv,
        tag,
        ciphertext,
      };
      if (await opens(scan.sealer, sealed, scan.customerId, scan.purposes)) sealedOpened++;
    }
  }
  return { filesScanned: files.length, plaintextCopies, sealedFound, sealedOpened, keyEntries };
}

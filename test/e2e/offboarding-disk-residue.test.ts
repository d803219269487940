// Crypto-shredding on the one-machine runtime, checked on disk: a paused customer's webhook (donor canary inside) is
// held sealed under the customer's own key in dynalite's LevelDB files. Offboarding deletes the item, but LevelDB
// keeps deleted records in its files until compaction; after offboarding the data folder's files hold no donor
// canary in any encoding, no copy of the customer's key, and every sealed residue of the customer refuses to open.
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { scanDiskResidue } from '../../functions/deletion-drill/disk-residue.ts';
import { DRILL_CANARY_PURPOSE } from '../../functions/deletion-drill/drill.ts';
import { DEAD_LETTER_PURPOSE } from '../../functions/sync/dead-letters.ts';
import { HELD_MESSAGE_PURPOSE } from '../../functions/sync/held-messages.ts';
import { SIMULATOR_SNAPSHOT_FILE } from '../../infra/local/simulator-snapshot-file.ts';
import { transactionKey } from '../../infra/local/virtuous-simulator/model.ts';
import { DONOR, findLeaks, registerSecret } from '../support/canaries.ts';
import { onboardWithStripe, sendStripeGift, useSimulatedRuntime } from './support.ts';

const CUSTOMER = 'shred-co';

/** The canary as it may lie in a file: plain, and Base64 at each of the three alignments (queue bodies are Base64). */
function encodings(text: string): string[] {
  return [
    text,
    ...[0, 1, 2].map((shift) => {
      const encoded = Buffer.from(`${'x'.repeat(shift)}${text}`).toString('base64');
      // Drop the characters that depend on the bytes around the canary.
      return encoded.slice(Math.ceil((shift * 4) / 3) + 1, -4);
    }),
  ];
}

async function filesContaining(root: string, needle: string, exclude: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if (exclude.some((excluded) => path.startsWith(join(root, excluded)))) continue;
    if ((await readFile(path)).includes(Buffer.from(needle))) found.push(path);
  }
  return found;
}

describe('offboarding shreds what the data folder still holds of the customer', () => {
  // 60× faster workflow waits: offboarding settles in-flight sync writes for 90 s.
  const local = useSimulatedRuntime({ dataDir: 'shred-', timeScale: 60 });
  let organizationId: number;
  const stripeSecret = registerSecret(`whsec_${randomBytes(24).toString('base64url')}`);
  const { cli } = local;
  const excluded = [SIMULATOR_SNAPSHOT_FILE];
  const keyring = async () =>
    JSON.parse(await readFile(join(local.dataDir, 'keyring.json'), 'utf8')) as {
      customerKeys?: { customerId: string; id: string; key: string }[];
    };
  const scan = (keyId: string) =>
    scanDiskResidue({
      root: local.dataDir,
      exclude: excluded,
      keyringFile: 'keyring.json',
      customerId: CUSTOMER,
      keyId,
      canary: DONOR.email,
      purposes: [HELD_MESSAGE_PURPOSE, DEAD_LETTER_PURPOSE, DRILL_CANARY_PURPOSE],
      // The runtime's own sealer: the same keyring file the runtime reads.
      sealer: local.runtime.components.sealer,
    });

  beforeAll(async () => {
    const org = local.simulator.control.createOrganization({ name: 'Shred Org' });
    organizationId = org.organizationId;
    await onboardWithStripe(local.runtime, CUSTOMER, org.apiKey, stripeSecret);
  }, 30_000);

  it('holds the paused customer’s delivery sealed: on disk, but only as ciphertext that opens while the key exists', async () => {
    // First a gift synced while the customer is active: what normal processing keeps holds no donor data either.
    expect(
      (
        await sendStripeGift(local.runtime, {
          customerId: CUSTOMER,
          secret: stripeSecret,
          paymentIntentId: 'pi_shred_active',
          stripeCustomerId: 'cus_shred_0',
          amountCents: 900,
        })
      ).status,
    ).toBe(202);
    expect(await local.runtime.waitForQueueIdle(10_000)).toBe(true);
    expect(
      local.simulator.control.inspect(organizationId).giftTransactions[transactionKey('Stripe', 'pi_shred_active')],
    ).toBe(1);
    const paused = await cli(['pause', CUSTOMER, '--reason', 'maintenance']);
    expect(paused.code).toBe(0);
    expect(
      (
        await sendStripeGift(local.runtime, {
          customerId: CUSTOMER,
          secret: stripeSecret,
          paymentIntentId: 'pi_shred_0',
          stripeCustomerId: 'cus_shred_0',
          amountCents: 1200,
        })
      ).status,
    ).toBe(202);
    expect(await local.runtime.waitForQueueIdle(10_000)).toBe(true);

    const entry = (await keyring()).customerKeys?.find((key) => key.customerId === CUSTOMER);
    expect(entry).toBeDefined();
    const before = await scan(entry?.id ?? '');
    // The scan finds the sealed held message in dynalite's files and (key still present) opens it: a real check.
    expect(before.sealedFound).toBeGreaterThanOrEqual(1);
    expect(before.sealedOpened).toBe(before.sealedFound);
    expect(before.keyEntries).toBe(1);
    for (const form of encodings(DONOR.email)) expect(await filesContaining(local.dataDir, form, excluded)).toEqual([]);
  }, 30_000);

  it('after offboarding: the key is gone from the keyring, the LevelDB residue no longer opens, no canary anywhere', async () => {
    const entry = (await keyring()).customerKeys?.find((key) => key.customerId === CUSTOMER);
    const offboarded = await cli(['offboard', CUSTOMER, '--yes', '--timeout', '60']);
    expect(offboarded.code).toBe(0);
    expect(offboarded.stdout).toContain(entry?.id ?? 'missing key id');

    const after = await scan(entry?.id ?? '');
    // LevelDB still holds the deleted item (no compaction yet): the residue is there, and it is dark.
    expect(after.sealedFound).toBeGreaterThanOrEqual(1);
    expect(after.sealedOpened).toBe(0);
    expect(after.keyEntries).toBe(0);
    expect(after.plaintextCopies).toBe(0);
    // Neither the key itself nor the canary, in any encoding, lies in any file of the data folder.
    expect(await filesContaining(local.dataDir, entry?.key ?? 'missing key', excluded)).toEqual([]);
    for (const form of encodings(DONOR.email)) expect(await filesContaining(local.dataDir, form, excluded)).toEqual([]);
    expect((await keyring()).customerKeys?.some((key) => key.customerId === CUSTOMER)).toBe(false);
  }, 60_000);

  it('the deletion drill checks the same on disk for its synthetic customer', async () => {
    const report = await local.runtime.components.deletionDrill(
      async () => local.simulator.control.createOrganization({ name: 'Drill' }).apiKey,
    );
    expect(report).toMatchObject({
      ok: true,
      residue: {
        customerKey: 'destroyed',
        sealedCanary: 'refused',
        disk: { plaintextCopies: 0, sealedOpened: 0, keyEntries: 0 },
      },
    });
    expect(report.residue?.disk?.sealedFound).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('prints no donor data or key', () => {
    expect(findLeaks(local.cliOutput())).toHaveLength(0);
  });
});

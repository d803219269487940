/**
 * Crypto-shredding of a leaving customer: destroy the customer's data key and prove it. Just before the key goes, a
 * probe (a fixed, non-personal text) is sealed under it exactly like the customer's payloads; after, opening that
 * probe must be refused with CUSTOMER_KEY_DESTROYED. A repeated call (a retried workflow step) finds the tombstone
 * and proves the same by asking for the destroyed key by id.
 */
import { isClassified, PermanentError } from '../shared/errors.ts';
import { createCustomerKeySealer } from './customer-key-sealer.ts';
import { CUSTOMER_KEY_DESTROYED, type CustomerKeyStore } from './customer-keys.ts';
import type { SealedPayload } from './payload-sealer.ts';

export const SHREDDING_PROBE_PURPOSE = 'shredding-probe';
const PROBE_TEXT = 'crypto-shredding probe';

export type KeyShredding =
  | {
      readonly status: 'destroyed';
      readonly keyId: string;
      readonly fingerprint: string;
      readonly destroyedAt: string;
      /** A payload sealed under the key (or the key asked for by id) after the destruction: always `refused`. */
      readonly trialOpen: 'refused';
    }
  /** The customer never had sealed data, so there was no key to destroy. */
  | { readonly status: 'no_key'; readonly trialOpen: 'not_applicable' };

async function refused(attempt: () => Promise<unknown>): Promise<boolean> {
  try {
    await attempt();
    return false;
  } catch (error) {
    if (isClassified(error) && error.code === CUSTOMER_KEY_DESTROYED) return true;
    throw error;
  }
}

export async function shredCustomerKey(keys: CustomerKeyStore, customerId: string, at: Date): Promise<KeyShredding> {
  const before = await keys.describe(customerId);
  if (before === undefined) return { status: 'no_key', trialOpen: 'not_applicable' };
  const sealer = createCustomerKeySealer({ keys });
  const context = { customerId, purpose: SHREDDING_PROBE_PURPOSE };
  const probe: SealedPayload | undefined =
    before.state === 'active' ? await sealer.seal(PROBE_TEXT, context) : undefined;
  const destroyed = await keys.destroy(customerId, at);
  if (destroyed === undefined) {
    throw new PermanentError('SHREDDING_NOT_PROVEN', 'the customer key vanished without a tombstone');
  }
  const proven = await refused(() =>
    probe === undefined ? keys.byId(customerId, destroyed.keyId) : sealer.open(probe, context),
  );
  if (!proven) {
    throw new PermanentError('SHREDDING_NOT_PROVEN', 'a payload sealed under the destroyed key still opened');
  }
  return {
    status: 'destroyed',
    keyId: destroyed.keyId,
    fingerprint: destroyed.fingerprint,
    destroyedAt: destroyed.destroyedAt,
    trialOpen: 'refused',
  };
}

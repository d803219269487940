/**
 * In-doubt records: transaction writes that were sent but whose outcome was lost (see sync-record.ts). Their sealed
 * payload is kept as a dead letter until the outcome is known; once Virtuous shows the transaction (webhook, query or
 * lookup) that dead letter has nothing left to decide and is discarded, so its payload is deleted.
 */
import { errorCode } from '../shared/errors.ts';
import { logger } from '../shared/observability.ts';
import type { DeadLetters } from './dead-letters.ts';
import type { SyncRecord, SyncState } from './sync-record.ts';

/** After a confirmation: discards the dead letter an in-doubt record kept. Never fails the confirmation. */
export async function discardConfirmedInDoubt(
  deadLetters: Pick<DeadLetters, 'discard'> | undefined,
  confirmed: { readonly record: SyncRecord; readonly previousState?: SyncState } | undefined,
  now: Date,
): Promise<void> {
  const deadLetterId = confirmed?.record.deadLetterId;
  if (deadLetters === undefined || confirmed?.previousState !== 'in_doubt' || deadLetterId === undefined) return;
  try {
    await deadLetters.discard(confirmed.record.customerId, deadLetterId, now);
  } catch (error) {
    // Already resolved by an operator, or storage down: the record is confirmed either way, and a replay of an open
    // dead letter finds a confirmed record whose claim sends nothing.
    logger.warn('dead letter of a confirmed in-doubt record not discarded', {
      customerId: confirmed.record.customerId,
      deadLetterId,
      errorCode: errorCode(error),
    });
  }
}

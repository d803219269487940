/** The claim protocol of the sync-state repository on dynalite: the exactly-once gate. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoSyncStateRepository } from '../../../functions/sync/dynamo-sync-state-repository.ts';
import type { ClaimRequest, SyncStateRepository } from '../../../functions/sync/sync-state-repository.ts';
import { type LocalAws, startLocalAws } from '../../support/local-aws.ts';

let aws: LocalAws;
let repo: SyncStateRepository;
const t0 = new Date('2026-11-29T10:00:00.000Z');
const at = (ms: number) => new Date(t0.getTime() + ms);

beforeAll(async () => {
  aws = await startLocalAws();
  repo = createDynamoSyncStateRepository(aws.documentClient, aws.tableNames.syncRecords);
});

afterAll(async () => {
  await aws.stop();
});

function claim(recordKey: string, owner: string, overrides: Partial<ClaimRequest> = {}) {
  return repo.claim({
    customerId: 'acme',
    recordKey,
    kind: 'gift',
    source: 'Stripe',
    sourceId: recordKey.split('#')[2] as string,
    version: 0,
    owner,
    now: t0,
    leaseMs: 60_000,
    amount: 25,
    currencyCode: 'USD',
    ...overrides,
  });
}

describe('sync-state claims', () => {
  it('lets exactly one of many concurrent claimants win', async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, index) => claim('gift#Stripe#pi_race', `w${index}`)),
    );
    expect(results.filter((result) => result.outcome === 'claimed')).toHaveLength(1);
    expect(results.filter((result) => result.outcome === 'in_flight')).toHaveLength(11);
  });

  it('never grants a claim on a submitted record, and the mark needs the claim owner', async () => {
    expect((await claim('gift#Stripe#pi_s', 'a')).outcome).toBe('claimed');
    expect(await repo.markSubmitted('acme', 'gift#Stripe#pi_s', 'b', at(1))).toBe(false);
    expect(await repo.markSubmitted('acme', 'gift#Stripe#pi_s', 'a', at(1))).toBe(true);
    const again = await claim('gift#Stripe#pi_s', 'c', { now: at(10 * 86_400_000) });
    expect(again.outcome).toBe('settled');
    const record = await repo.get('acme', 'gift#Stripe#pi_s');
    expect(record).toMatchObject({ state: 'submitted', attempts: 1, amount: 25, currencyCode: 'USD' });
    expect(record?.leaseOwner).toBeUndefined();
  });

  it('in_doubt: only the claim owner marks it, no claim is ever granted again, not even after any lease', async () => {
    const key = 'gift#Stripe#pi_doubt';
    expect((await claim(key, 'a')).outcome).toBe('claimed');
    expect(await repo.markInDoubt('acme', key, 'b', 'WRITE_OUTCOME_UNKNOWN', 'dl-1', at(1))).toBe(false);
    expect(await repo.markInDoubt('acme', key, 'a', 'WRITE_OUTCOME_UNKNOWN', 'dl-1', at(1))).toBe(true);
    expect(await repo.get('acme', key)).toMatchObject({
      state: 'in_doubt',
      deadLetterId: 'dl-1',
      lastErrorCode: 'WRITE_OUTCOME_UNKNOWN',
    });
    for (const now of [at(2), at(86_400_000), at(30 * 86_400_000)]) {
      expect((await claim(key, 'c', { now })).outcome).toBe('settled');
    }
    // Neither a newer version (contacts) nor a replay reset frees it while undecided.
    expect((await claim(key, 'd', { version: 5, now: at(3) })).outcome).toBe('settled');
    await repo.resetForReplay('acme', key, at(4));
    expect((await repo.get('acme', key))?.state).toBe('in_doubt');
    // A plain needs_update (from submitted) does not apply to it; the outcome-unknown verdict does.
    expect(await repo.markNeedsUpdate('acme', key, at(5))).toBe(false);
    expect(await repo.markNeedsUpdate('acme', key, at(5), 'outcome_unknown_not_found')).toBe(true);
    expect(await repo.get('acme', key)).toMatchObject({
      state: 'needs_update',
      needsUpdateReason: 'outcome_unknown_not_found',
    });
    expect((await claim(key, 'e', { now: at(6) })).outcome).toBe('settled');
    // The operator's replay frees it once.
    await repo.resetForReplay('acme', key, at(7));
    const reset = await repo.get('acme', key);
    expect(reset?.state).toBe('pending');
    expect(reset?.needsUpdateReason).toBeUndefined();
    expect((await claim(key, 'f', { now: at(8) })).outcome).toBe('claimed');
  });

  it('a confirmation of an in-doubt record reports the state it left', async () => {
    const key = 'gift#Stripe#pi_doubt_confirmed';
    await claim(key, 'a');
    await repo.markInDoubt('acme', key, 'a', 'WRITE_OUTCOME_UNKNOWN', 'dl-2', at(1));
    const confirmed = await repo.confirm('acme', key, 4242, at(2));
    expect(confirmed).toMatchObject({ changed: true, previousState: 'in_doubt' });
    expect(confirmed?.record).toMatchObject({ state: 'confirmed', virtuousId: 4242, deadLetterId: 'dl-2' });
    expect((await repo.confirm('acme', key, 4242, at(3)))?.previousState).toBe('confirmed');
    // A plain needs_update record (Virtuous parked it) is not reset by a replay: only failed and outcome-unknown are.
    const parked = 'gift#Stripe#pi_parked';
    await claim(parked, 'a');
    await repo.markSubmitted('acme', parked, 'a', at(1));
    expect(await repo.markNeedsUpdate('acme', parked, at(2))).toBe(true);
    await repo.resetForReplay('acme', parked, at(3));
    expect((await repo.get('acme', parked))?.state).toBe('needs_update');
  });

  it("in_doubt is reset for replay only for a refund, and only on the operator's `checked`", async () => {
    const gift = 'gift#Stripe#pi_doubt_checked';
    await claim(gift, 'a');
    expect(await repo.markInDoubt('acme', gift, 'a', 'WRITE_OUTCOME_UNKNOWN', 'dl-g', at(1))).toBe(true);
    await repo.resetForReplay('acme', gift, at(2), { inDoubtChecked: true });
    // Gifts are decided by reconciliation's lookup, never by an operator's word.
    expect((await repo.get('acme', gift))?.state).toBe('in_doubt');

    const refund = 'refund#Stripe#ch_doubt_checked';
    await claim(refund, 'a', { kind: 'refund', sourceId: 'ch_doubt_checked' });
    expect(await repo.markInDoubt('acme', refund, 'a', 'WRITE_OUTCOME_UNKNOWN', refund, at(1))).toBe(true);
    await repo.resetForReplay('acme', refund, at(2));
    expect((await repo.get('acme', refund))?.state).toBe('in_doubt');
    await repo.resetForReplay('acme', refund, at(3), { inDoubtChecked: true });
    const reset = await repo.get('acme', refund);
    expect(reset?.state).toBe('pending');
    expect(reset?.deadLetterId).toBeUndefined();
    expect((await claim(refund, 'b', { kind: 'refund', sourceId: 'ch_doubt_checked', now: at(4) })).outcome).toBe(
      'claimed',
    );
  });

  it('takes over a claim whose lease lapsed (the holder died), not a live one', async () => {
    expect((await claim('gift#Stripe#pi_l', 'dead')).outcome).toBe('claimed');
    expect((await claim('gift#Stripe#pi_l', 'early', { now: at(30_000) })).outcome).toBe('in_flight');
    const late = await claim('gift#Stripe#pi_l', 'late', { now: at(61_000) });
    expect(late.outcome).toBe('claimed');
    expect(late.record.attempts).toBe(2);
    // The dead holder cannot mark what it no longer holds.
    expect(await repo.markSubmitted('acme', 'gift#Stripe#pi_l', 'dead', at(62_000))).toBe(false);
  });

  it('returns a released claim to pending (retry) or failed (permanent)', async () => {
    await claim('gift#Stripe#pi_r', 'a');
    await repo.release('acme', 'gift#Stripe#pi_r', 'a', 'pending', 'VIRTUOUS_UNAVAILABLE', at(1));
    expect((await repo.get('acme', 'gift#Stripe#pi_r'))?.lastErrorCode).toBe('VIRTUOUS_UNAVAILABLE');
    expect((await claim('gift#Stripe#pi_r', 'b', { now: at(2) })).outcome).toBe('claimed');
    await repo.release('acme', 'gift#Stripe#pi_r', 'b', 'failed', 'VIRTUOUS_CLIENT_ERROR', at(3));
    expect((await claim('gift#Stripe#pi_r', 'c', { now: at(4) })).outcome).toBe('settled');
    await repo.resetForReplay('acme', 'gift#Stripe#pi_r', at(5));
    expect((await claim('gift#Stripe#pi_r', 'd', { now: at(6) })).outcome).toBe('claimed');
  });

  it('submits a contact again only for a newer source version', async () => {
    const contact = (owner: string, version: number, now = t0) =>
      claim('contact#Stripe#cus_v', owner, { kind: 'contact', sourceId: 'cus_v', version, now });
    expect((await contact('a', 100)).outcome).toBe('claimed');
    await repo.markSubmitted('acme', 'contact#Stripe#cus_v', 'a', at(1));
    expect((await contact('b', 100)).outcome).toBe('settled');
    expect((await contact('c', 90)).outcome).toBe('settled');
    expect((await contact('d', 101)).outcome).toBe('claimed');
  });

  it('keeps the submitting delivery with the submitted mark, and a newer claim clears it', async () => {
    const contact = (owner: string, version: number) =>
      claim('contact#Stripe#cus_d', owner, { kind: 'contact', sourceId: 'cus_d', version });
    expect((await contact('a', 100)).outcome).toBe('claimed');
    expect(await repo.markSubmitted('acme', 'contact#Stripe#cus_d', 'a', at(1), 'delivery-a')).toBe(true);
    const settled = await contact('b', 100);
    expect(settled).toMatchObject({ outcome: 'settled', record: { submittedByDelivery: 'delivery-a' } });
    const newer = await contact('c', 101);
    expect(newer.outcome).toBe('claimed');
    expect(newer.record.submittedByDelivery).toBeUndefined();
    // A lost claim does not write the delivery.
    expect(await repo.markSubmitted('acme', 'contact#Stripe#cus_d', 'b', at(2), 'delivery-b')).toBe(false);
    expect((await repo.get('acme', 'contact#Stripe#cus_d'))?.submittedByDelivery).toBeUndefined();
  });

  it('confirms once (changed) and again idempotently', async () => {
    await claim('gift#Stripe#pi_c', 'a');
    const first = await repo.confirm('acme', 'gift#Stripe#pi_c', 77, at(1));
    expect(first?.changed).toBe(true);
    expect(first?.record).toMatchObject({ state: 'confirmed', virtuousId: 77 });
    // The in-flight worker's late mark does not downgrade the confirmation.
    expect(await repo.markSubmitted('acme', 'gift#Stripe#pi_c', 'a', at(2))).toBe(false);
    expect((await repo.confirm('acme', 'gift#Stripe#pi_c', 77, at(3)))?.changed).toBe(false);
  });

  it('records a gift Virtuous already has but we never sent, so its source event can never send it', async () => {
    const confirmed = await repo.confirm('acme', 'gift#Stripe#pi_theirs', 78, at(3));
    expect(confirmed?.changed).toBe(true);
    expect(await repo.get('acme', 'gift#Stripe#pi_theirs')).toMatchObject({
      state: 'confirmed',
      virtuousId: 78,
      kind: 'gift',
      source: 'Stripe',
      sourceId: 'pi_theirs',
      attempts: 0,
    });
    expect((await claim('gift#Stripe#pi_theirs', 'a', { now: at(4) })).outcome).toBe('settled');
    expect(await repo.confirm('acme', 'not-a-record-key', 1, at(5))).toBeUndefined();
  });

  it('links a deferred refund to its gift once, even when the gift is not known yet', async () => {
    const facts = {
      customerId: 'acme',
      recordKey: 'refund#Stripe#ch_1',
      source: 'Stripe',
      sourceId: 'ch_1',
      reversesRecordKey: 'gift#Stripe#pi_later',
      refundDate: '2026-11-29',
      amount: 10,
      currencyCode: 'USD',
      now: t0,
    };
    expect((await repo.deferRefund(facts)).state).toBe('deferred');
    expect((await repo.deferRefund(facts)).state).toBe('deferred');
    const gift = await repo.get('acme', 'gift#Stripe#pi_later');
    expect(gift?.deferredRefunds).toEqual(['refund#Stripe#ch_1']);
    expect((await claim('gift#Stripe#pi_later', 'a')).outcome).toBe('claimed');
    expect((await repo.listByState('acme', ['deferred'])).map((record) => record.recordKey)).toEqual([
      'refund#Stripe#ch_1',
    ]);
  });

  it('marks only submitted records as needing update', async () => {
    await claim('gift#Stripe#pi_n', 'a');
    expect(await repo.markNeedsUpdate('acme', 'gift#Stripe#pi_n', at(1))).toBe(false);
    await repo.markSubmitted('acme', 'gift#Stripe#pi_n', 'a', at(1));
    expect(await repo.markNeedsUpdate('acme', 'gift#Stripe#pi_n', at(2))).toBe(true);
    expect((await claim('gift#Stripe#pi_n', 'b', { now: at(3) })).outcome).toBe('settled');
  });
});

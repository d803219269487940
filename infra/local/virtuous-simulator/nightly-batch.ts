/**
 * The nightly batch: what turns held transactions into records. Contacts first (so a donor created the same day
 * can receive a gift), matched by reference and then by email; gifts matched to a contact the same way, or parked in
 * the needs-update bucket for an admin; reversals last. Each new or changed record becomes a webhook event.
 */
import type { ContactReference, HeldContact, OrganizationState, SimContact, SimGift } from './model.ts';
import { transactionKey } from './model.ts';

export type SimEventName = 'ContactCreate' | 'ContactUpdate' | 'GiftCreate';

export interface SimEvent {
  readonly event: SimEventName;
  readonly recordId: number;
}

export interface BatchSummary {
  readonly organizationId: number;
  contactsCreated: number;
  contactsUpdated: number;
  giftsCreated: number;
  reversalsCreated: number;
  needsUpdate: number;
  duplicatesMerged: number;
}

export interface IdSource {
  nextContactId(): number;
  nextGiftId(): number;
}

function sameEmail(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.trim().toLowerCase() === b.trim().toLowerCase();
}

function findByReference(org: OrganizationState, reference: ContactReference): SimContact | undefined {
  for (const contact of org.contacts.values()) {
    if (contact.references.some((r) => r.source === reference.source && r.id === reference.id)) return contact;
  }
  return undefined;
}

function findByReferenceIdAnySource(org: OrganizationState, referenceId: string): SimContact | undefined {
  for (const contact of org.contacts.values()) {
    if (contact.references.some((r) => r.id === referenceId)) return contact;
  }
  return undefined;
}

function findByEmail(org: OrganizationState, email: string | undefined): SimContact | undefined {
  if (email === undefined) return undefined;
  for (const contact of org.contacts.values()) if (sameEmail(contact.email, email)) return contact;
  return undefined;
}

const CONTACT_FIELDS = [
  'contactType',
  'firstName',
  'lastName',
  'email',
  'phone',
  'address1',
  'city',
  'state',
  'postal',
  'country',
] as const;

function applyContact(contact: SimContact, held: HeldContact): void {
  for (const field of CONTACT_FIELDS) {
    const value = held[field];
    if (value !== undefined) contact[field] = value;
  }
  if (held.tags !== undefined) contact.tags = [...new Set([...(contact.tags ?? []), ...held.tags])];
  const reference = { source: held.referenceSource, id: held.referenceId };
  if (!contact.references.some((r) => r.source === reference.source && r.id === reference.id)) {
    contact.references.push(reference);
  }
}

export function runNightlyBatch(
  org: OrganizationState,
  ids: IdSource,
  nowMs: number,
): { summary: BatchSummary; events: SimEvent[] } {
  const now = new Date(nowMs).toISOString();
  const events: SimEvent[] = [];
  const summary: BatchSummary = {
    organizationId: org.id,
    contactsCreated: 0,
    contactsUpdated: 0,
    giftsCreated: 0,
    reversalsCreated: 0,
    needsUpdate: 0,
    duplicatesMerged: 0,
  };

  for (const held of org.heldContacts) {
    const existing =
      findByReference(org, { source: held.referenceSource, id: held.referenceId }) ?? findByEmail(org, held.email);
    if (existing !== undefined) {
      applyContact(existing, held);
      existing.modifiedDateTimeUtc = now;
      summary.contactsUpdated += 1;
      events.push({ event: 'ContactUpdate', recordId: existing.id });
      continue;
    }
    const contact: SimContact = {
      id: ids.nextContactId(),
      references: [],
      createdDateTimeUtc: now,
      modifiedDateTimeUtc: now,
    };
    applyContact(contact, held);
    org.contacts.set(contact.id, contact);
    summary.contactsCreated += 1;
    events.push({ event: 'ContactCreate', recordId: contact.id });
  }
  org.heldContacts = [];

  const resolvedKeys = new Set<string>();
  for (const gift of org.gifts.values()) {
    if (gift.transactionSource !== undefined && gift.transactionId !== undefined) {
      resolvedKeys.add(transactionKey(gift.transactionSource, gift.transactionId));
    }
  }
  for (const held of org.heldGifts) {
    const key = transactionKey(held.transactionSource, held.transactionId);
    if (resolvedKeys.has(key)) {
      summary.duplicatesMerged += 1;
      org.duplicatesMerged += 1;
      continue;
    }
    const referenceId = held.contact.referenceId;
    const contact =
      (referenceId === undefined
        ? undefined
        : (findByReference(org, { source: held.transactionSource, id: referenceId }) ??
          findByReferenceIdAnySource(org, referenceId))) ?? findByEmail(org, held.contact.email);
    if (contact === undefined) {
      if (!org.needsUpdate.has(key)) summary.needsUpdate += 1;
      org.needsUpdate.set(key, {
        transactionSource: held.transactionSource,
        transactionId: held.transactionId,
        reason: 'contact_not_found',
        receivedAt: held.receivedAt,
      });
      continue;
    }
    org.needsUpdate.delete(key);
    const gift: SimGift = {
      id: ids.nextGiftId(),
      transactionSource: held.transactionSource,
      transactionId: held.transactionId,
      contactId: contact.id,
      amount: held.amount,
      giftDate: held.giftDate,
      giftType: held.giftType,
      ...(held.currencyCode === undefined ? {} : { currencyCode: held.currencyCode }),
      ...(held.designations === undefined ? {} : { designations: held.designations }),
      createdDateTimeUtc: now,
      modifiedDateTimeUtc: now,
    };
    org.gifts.set(gift.id, gift);
    resolvedKeys.add(key);
    summary.giftsCreated += 1;
    events.push({ event: 'GiftCreate', recordId: gift.id });
  }
  org.heldGifts = [];

  const reversed = new Set<number>();
  for (const gift of org.gifts.values()) if (gift.reversedGiftId !== undefined) reversed.add(gift.reversedGiftId);
  for (const held of org.heldReversals) {
    const original = org.gifts.get(held.reversedGiftId);
    if (original === undefined || reversed.has(held.reversedGiftId)) {
      summary.duplicatesMerged += 1;
      org.duplicatesMerged += 1;
      continue;
    }
    const reversal: SimGift = {
      id: ids.nextGiftId(),
      contactId: original.contactId,
      amount: -original.amount,
      giftDate: held.giftDate,
      giftType: 'ReversingTransaction',
      reversedGiftId: original.id,
      ...(original.currencyCode === undefined ? {} : { currencyCode: original.currencyCode }),
      createdDateTimeUtc: now,
      modifiedDateTimeUtc: now,
    };
    org.gifts.set(reversal.id, reversal);
    reversed.add(original.id);
    summary.reversalsCreated += 1;
    events.push({ event: 'GiftCreate', recordId: reversal.id });
  }
  org.heldReversals = [];

  return { summary, events };
}

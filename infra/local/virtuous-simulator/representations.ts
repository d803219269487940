/**
 * How the simulator renders records, matching what clients meet in the wild: nulls for absent fields, a few fields
 * the product does not use, and gift amounts as strings on the read endpoints (some Virtuous answers do that).
 */
import type { SimContact, SimGift, SimWebhook } from './model.ts';

export function giftJson(gift: SimGift, amountsAsStrings: boolean): Record<string, unknown> {
  return {
    id: gift.id,
    transactionSource: gift.transactionSource ?? null,
    transactionId: gift.transactionId ?? null,
    contactId: gift.contactId,
    giftType: gift.giftType,
    giftDate: gift.giftDate,
    amount: amountsAsStrings ? gift.amount.toFixed(2) : gift.amount,
    currencyCode: gift.currencyCode ?? null,
    reversedGiftId: gift.reversedGiftId ?? null,
    batch: null,
    segment: null,
    giftDesignations: (gift.designations ?? []).map((d) => ({
      projectCode: d.code,
      amountDesignated: d.amountDesignated,
    })),
    customFields: [],
    createdDateTimeUtc: gift.createdDateTimeUtc,
    modifiedDateTimeUtc: gift.modifiedDateTimeUtc,
  };
}

export function contactJson(contact: SimContact): Record<string, unknown> {
  const first = contact.references[0];
  return {
    id: contact.id,
    contactType: contact.contactType ?? 'Household',
    referenceSource: first?.source ?? null,
    referenceId: first?.id ?? null,
    contactReferences: contact.references.map((r) => ({ source: r.source, id: r.id })),
    firstName: contact.firstName ?? null,
    lastName: contact.lastName ?? null,
    email: contact.email ?? null,
    phone: contact.phone ?? null,
    address: {
      address1: contact.address1 ?? null,
      city: contact.city ?? null,
      state: contact.state ?? null,
      postal: contact.postal ?? null,
      country: contact.country ?? null,
    },
    tags: contact.tags ?? [],
    customFields: [],
    createdDateTimeUtc: contact.createdDateTimeUtc,
    modifiedDateTimeUtc: contact.modifiedDateTimeUtc,
  };
}

export function webhookJson(webhook: SimWebhook): Record<string, unknown> {
  return { ...webhook };
}

/**
 * The simulator's whole state as versioned plain JSON, so a local runtime can stop and start again without its
 * customers' keys, subscriptions, held transactions and records disappearing. What is deliberately not kept: the
 * hourly rate-limit windows (they start afresh, as after an hour), the request log (inspection only, and up to
 * 100,000 lines) and the fault generator's position (re-seeded from the fault settings' seed).
 *
 * A snapshot holds API keys and webhook secrets: whoever stores it keeps it private (the runtime writes it 0600).
 * Parsing never puts a value from the file into an error message, only the path of the field that is wrong.
 */
import { z } from 'zod';
import { WEBHOOK_EVENT_FLAGS } from '../../../functions/virtuous/api.ts';
import { type OrganizationState, type SimWebhook, transactionKey } from './model.ts';
import { seededRandom } from './prng.ts';

export const SIMULATOR_SNAPSHOT_VERSION = 1;

/** A snapshot that cannot be used; the message names the problem, never a value from the file. */
export class SimulatorSnapshotError extends RangeError {
  override readonly name = 'SimulatorSnapshotError';
}

const id = z.number().int().positive();
const count = z.number().int().nonnegative();
const ratio = z.number().min(0).max(1).optional();
const designation = z.object({ code: z.string(), amountDesignated: z.number() });

/** What a contact holds beyond its identity, alike in a stored contact and in one held for the nightly batch. */
const contactDetails = {
  contactType: z.string().optional(),
  firstName: z.string().optional(),
  lastName: z.string().optional(),
  email: z.string().optional(),
  phone: z.string().optional(),
  address1: z.string().optional(),
  city: z.string().optional(),
  state: z.string().optional(),
  postal: z.string().optional(),
  country: z.string().optional(),
  tags: z.array(z.string()).optional(),
};

const contactSchema = z.object({
  id,
  references: z.array(z.object({ source: z.string(), id: z.string() })),
  ...contactDetails,
  createdDateTimeUtc: z.string(),
  modifiedDateTimeUtc: z.string(),
});

const giftSchema = z.object({
  id,
  transactionSource: z.string().optional(),
  transactionId: z.string().optional(),
  contactId: id,
  amount: z.number(),
  giftDate: z.string(),
  giftType: z.string(),
  currencyCode: z.string().optional(),
  designations: z.array(designation).optional(),
  reversedGiftId: id.optional(),
  createdDateTimeUtc: z.string(),
  modifiedDateTimeUtc: z.string(),
});

const heldContactSchema = z.object({
  referenceSource: z.string(),
  referenceId: z.string(),
  ...contactDetails,
});

const heldGiftSchema = z.object({
  transactionSource: z.string(),
  transactionId: z.string(),
  contact: z.object({
    referenceId: z.string().optional(),
    firstName: z.string().optional(),
    lastName: z.string().optional(),
    email: z.string().optional(),
  }),
  amount: z.number(),
  giftDate: z.string(),
  giftType: z.string(),
  currencyCode: z.string().optional(),
  designations: z.array(designation).optional(),
  receivedAt: z.string(),
});

const webhookSchema = z.object({
  id,
  payloadUrl: z.string(),
  secret: z.string().min(1),
  active: z.boolean(),
  flags: z.object(
    Object.fromEntries(WEBHOOK_EVENT_FLAGS.map((flag) => [flag, z.boolean()])) as Record<
      (typeof WEBHOOK_EVENT_FLAGS)[number],
      z.ZodBoolean
    >,
  ),
});

const deliverySchema = z.object({
  id,
  subscriptionId: id,
  event: z.string(),
  recordId: id,
  attempts: count,
  statuses: z.array(z.number().int()),
  outcome: z.enum(['delivered', 'failed', 'skipped_not_loopback']),
});

const organizationSchema = z.object({
  id,
  name: z.string(),
  timeZone: z.string(),
  isEnabled: z.boolean(),
  userId: id,
  rateLimitPerHour: id,
  rateLimitHeaderStyle: z.enum(['standard', 'variant', 'none']),
  faults: z.object({
    serverErrorRatio: ratio,
    timeoutRatio: ratio,
    cdnErrorRatio: ratio,
    timeoutAfterProcessingRatio: ratio,
    serverErrorAfterProcessingRatio: ratio,
    malformedRatio: ratio,
    throttleRatio: ratio,
    throttleRetryAfterSeconds: z.number().nonnegative().optional(),
    plainTextErrors: z.boolean().optional(),
    seed: z.number().optional(),
  }),
  faultCounts: z.object({
    serverError: count,
    timeout: count,
    timeoutAfterProcessing: count,
    // Absent in snapshots written before this fault existed.
    serverErrorAfterProcessing: count.default(0),
    cdnError: count,
    malformed: count,
    throttle: count,
  }),
  contacts: z.array(contactSchema),
  gifts: z.array(giftSchema),
  heldContacts: z.array(heldContactSchema),
  heldGifts: z.array(heldGiftSchema),
  heldReversals: z.array(z.object({ reversedGiftId: id, giftDate: z.string() })),
  giftSubmissions: z.record(z.string(), count),
  contactSubmissions: z.record(z.string(), count),
  reversalSubmissions: z.record(z.string().regex(/^\d+$/), count),
  needsUpdate: z.array(
    z.object({
      transactionSource: z.string(),
      transactionId: z.string(),
      reason: z.literal('contact_not_found'),
      receivedAt: z.string(),
    }),
  ),
  webhooks: z.array(webhookSchema),
  deliveries: z.array(deliverySchema),
  duplicatesMerged: count,
});

const snapshotSchema = z.object({
  version: z.literal(SIMULATOR_SNAPSHOT_VERSION),
  savedAt: z.string(),
  /** The simulator clock when saved: a restored simulator's clock never goes back behind it. */
  clockNow: z.number().int().nonnegative(),
  counters: z.object({ organization: count, contact: count, gift: count, webhook: count, delivery: count }),
  unauthorizedRequests: count,
  apiKeys: z.array(z.object({ apiKey: z.string().min(1), organizationId: id, revoked: z.boolean() })),
  organizations: z.array(organizationSchema),
});

export type SimulatorSnapshot = z.infer<typeof snapshotSchema>;
export type OrganizationRecord = z.infer<typeof organizationSchema>;
export type SnapshotCounters = SimulatorSnapshot['counters'];

function describeIssues(error: z.ZodError): string {
  const shown = error.issues.slice(0, 3).map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.code}`);
  const more = error.issues.length > 3 ? ` (+${error.issues.length - 3} more)` : '';
  return `${shown.join('; ')}${more}`;
}

/** Every id appears once across the simulator (ids come from global counters) and below its counter. */
function checkIds(kind: string, ids: readonly number[], counter: number): void {
  const seen = new Set<number>();
  for (const value of ids) {
    if (seen.has(value)) throw new SimulatorSnapshotError(`duplicate ${kind} id in the snapshot`);
    seen.add(value);
    if (value > counter) throw new SimulatorSnapshotError(`a ${kind} id is above the saved ${kind} counter`);
  }
}

function checkConsistency(snapshot: SimulatorSnapshot): void {
  const { counters, organizations } = snapshot;
  checkIds(
    'organization',
    organizations.map((org) => org.id),
    counters.organization,
  );
  checkIds(
    'contact',
    organizations.flatMap((org) => org.contacts.map((c) => c.id)),
    counters.contact,
  );
  checkIds(
    'gift',
    organizations.flatMap((org) => org.gifts.map((g) => g.id)),
    counters.gift,
  );
  checkIds(
    'webhook',
    organizations.flatMap((org) => org.webhooks.map((w) => w.id)),
    counters.webhook,
  );
  checkIds(
    'delivery',
    organizations.flatMap((org) => org.deliveries.map((d) => d.id)),
    counters.delivery,
  );
  const orgIds = new Set(organizations.map((org) => org.id));
  const keys = new Set<string>();
  for (const key of snapshot.apiKeys) {
    if (keys.has(key.apiKey)) throw new SimulatorSnapshotError('an API key appears twice in the snapshot');
    keys.add(key.apiKey);
    if (!orgIds.has(key.organizationId)) {
      throw new SimulatorSnapshotError('an API key belongs to an organization missing from the snapshot');
    }
  }
  for (const org of organizations) {
    const contactIds = new Set(org.contacts.map((c) => c.id));
    if (org.gifts.some((gift) => !contactIds.has(gift.contactId))) {
      throw new SimulatorSnapshotError(`a gift of organization ${org.id} names a contact it does not have`);
    }
  }
}

/** Validates a parsed JSON value as a snapshot this simulator can load; throws SimulatorSnapshotError otherwise. */
export function parseSimulatorSnapshot(value: unknown): SimulatorSnapshot {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SimulatorSnapshotError('not a simulator snapshot (expected a JSON object)');
  }
  const version = (value as { version?: unknown }).version;
  if (version !== SIMULATOR_SNAPSHOT_VERSION) {
    const found = typeof version === 'number' && Number.isInteger(version) ? `version ${version}` : 'no version';
    throw new SimulatorSnapshotError(
      `snapshot format has ${found}; this simulator reads version ${SIMULATOR_SNAPSHOT_VERSION}`,
    );
  }
  const parsed = snapshotSchema.safeParse(value);
  if (!parsed.success) throw new SimulatorSnapshotError(`malformed snapshot: ${describeIssues(parsed.error)}`);
  checkConsistency(parsed.data);
  return parsed.data;
}

export function organizationToRecord(org: OrganizationState): OrganizationRecord {
  return structuredClone({
    id: org.id,
    name: org.name,
    timeZone: org.timeZone,
    isEnabled: org.isEnabled,
    userId: org.userId,
    rateLimitPerHour: org.rateLimitPerHour,
    rateLimitHeaderStyle: org.rateLimitHeaderStyle,
    faults: org.faults,
    faultCounts: org.faultCounts,
    contacts: [...org.contacts.values()],
    gifts: [...org.gifts.values()],
    heldContacts: org.heldContacts,
    heldGifts: org.heldGifts,
    heldReversals: org.heldReversals,
    giftSubmissions: Object.fromEntries(org.giftSubmissions),
    contactSubmissions: Object.fromEntries(org.contactSubmissions),
    reversalSubmissions: Object.fromEntries([...org.reversalSubmissions].map(([gift, n]) => [String(gift), n])),
    needsUpdate: [...org.needsUpdate.values()],
    webhooks: [...org.webhooks.values()].map(({ id: webhookId, payloadUrl, secret, active, ...flags }) => ({
      id: webhookId,
      payloadUrl,
      secret,
      active,
      flags,
    })),
    deliveries: org.deliveries,
    duplicatesMerged: org.duplicatesMerged,
  }) as OrganizationRecord;
}

export function organizationFromRecord(record: OrganizationRecord): OrganizationState {
  const copy = structuredClone(record);
  return {
    id: copy.id,
    name: copy.name,
    timeZone: copy.timeZone,
    isEnabled: copy.isEnabled,
    userId: copy.userId,
    rateLimitPerHour: copy.rateLimitPerHour,
    rateLimitHeaderStyle: copy.rateLimitHeaderStyle,
    // Rate windows start afresh; a restart is not worth reproducing an hour's count for a local stand-in.
    rateWindowStart: 0,
    rateWindowCount: 0,
    faults: copy.faults,
    random: seededRandom(copy.faults.seed ?? 1),
    faultCounts: copy.faultCounts,
    contacts: new Map(copy.contacts.map((contact) => [contact.id, contact])),
    gifts: new Map(copy.gifts.map((gift) => [gift.id, gift])),
    heldContacts: copy.heldContacts,
    heldGifts: copy.heldGifts,
    heldReversals: copy.heldReversals,
    giftSubmissions: new Map(Object.entries(copy.giftSubmissions)),
    contactSubmissions: new Map(Object.entries(copy.contactSubmissions)),
    reversalSubmissions: new Map(Object.entries(copy.reversalSubmissions).map(([gift, n]) => [Number(gift), n])),
    needsUpdate: new Map(
      copy.needsUpdate.map((entry) => [transactionKey(entry.transactionSource, entry.transactionId), entry] as const),
    ),
    webhooks: new Map(
      copy.webhooks.map(({ flags, ...webhook }) => [webhook.id, { ...webhook, ...flags } as SimWebhook] as const),
    ),
    deliveries: copy.deliveries,
    requests: [],
    duplicatesMerged: copy.duplicatesMerged,
  };
}

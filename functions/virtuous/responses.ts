/**
 * Tolerant readers for Virtuous answers: numbers may arrive as strings ("12.50"), nulls stand for absent fields,
 * unknown fields are dropped. A body that still does not fit is a TransientError (a CDN or deploy hiccup is the
 * usual cause) whose message names the fields that failed, never their values.
 */
import { z } from 'zod';
import { TransientError } from '../shared/errors.ts';
import {
  type ContactRecord,
  type GiftRecord,
  type OrganizationInfo,
  type QueryPage,
  WEBHOOK_EVENT_FLAGS,
  type WebhookEventFlag,
  type WebhookRecord,
} from './api.ts';

const toNumber = (value: unknown): unknown =>
  typeof value === 'string' && value.trim() !== '' ? Number(value.trim()) : value;
const nullToUndefined = (value: unknown): unknown => (value === null ? undefined : value);

const number = z.preprocess(toNumber, z.number());
const optionalNumber = z.preprocess((v) => toNumber(nullToUndefined(v === '' ? undefined : v)), z.number().optional());
const optionalString = z.preprocess(nullToUndefined, z.string().optional());
const booleanLike = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());
const optionalBoolean = z.preprocess(nullToUndefined, booleanLike.optional());

const organizationSchema = z.object({
  organizationName: z.preprocess((v) => nullToUndefined(v) ?? '', z.string()),
  organizationUserId: z.union([z.number(), z.string()]),
  organizationTimeZone: optionalString,
  isAdministrator: optionalBoolean,
  isEnabled: booleanLike,
});

const flagShape = Object.fromEntries(WEBHOOK_EVENT_FLAGS.map((flag) => [flag, optionalBoolean])) as Record<
  WebhookEventFlag,
  typeof optionalBoolean
>;

const webhookSchema = z.object({
  id: number.pipe(z.number().int()),
  payloadUrl: z.string(),
  // Some API versions do not echo the secret back; callers that replace a subscription always send their own.
  secret: z.preprocess((v) => nullToUndefined(v) ?? '', z.string()),
  active: z.preprocess((v) => nullToUndefined(v) ?? false, booleanLike),
  ...flagShape,
});

const giftSchema = z.object({
  id: number.pipe(z.number().int()),
  transactionSource: optionalString,
  transactionId: optionalString,
  contactId: optionalNumber,
  amount: optionalNumber,
  giftDate: optionalString,
  modifiedDateTimeUtc: optionalString,
});

const contactSchema = z.object({
  id: number.pipe(z.number().int()),
  referenceSource: optionalString,
  referenceId: optionalString,
  modifiedDateTimeUtc: optionalString,
});

function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({
    list: z.preprocess((v) => nullToUndefined(v) ?? [], z.array(item)),
    total: number,
    skip: optionalNumber,
    take: optionalNumber,
  });
}

function parse<T extends z.ZodType>(operation: string, schema: T, body: unknown): z.output<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const fields = [...new Set(result.error.issues.map((issue) => issue.path.join('.') || '(root)'))].slice(0, 10);
  throw new TransientError(
    'VIRTUOUS_MALFORMED_RESPONSE',
    `${operation}: Virtuous answer did not have the expected shape (fields: ${fields.join(', ')})`,
  );
}

/** Parses the raw text as JSON; an unreadable body is the same TransientError as a wrong shape. */
export function parseJsonBody(operation: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new TransientError('VIRTUOUS_MALFORMED_RESPONSE', `${operation}: Virtuous answer was not valid JSON`);
  }
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

export function readOrganization(operation: string, body: unknown): OrganizationInfo {
  return withoutUndefined(parse(operation, organizationSchema, body));
}

export function readWebhook(operation: string, body: unknown): WebhookRecord {
  return withoutUndefined(parse(operation, webhookSchema, body)) as WebhookRecord;
}

export function readGift(operation: string, body: unknown): GiftRecord {
  return withoutUndefined(parse(operation, giftSchema, body));
}

export function readContact(operation: string, body: unknown): ContactRecord {
  return withoutUndefined(parse(operation, contactSchema, body));
}

export function readGiftPage(operation: string, body: unknown, skip: number, take: number): QueryPage<GiftRecord> {
  const page = parse(operation, pageSchema(giftSchema), body);
  return { list: page.list.map(withoutUndefined), total: page.total, skip: page.skip ?? skip, take: page.take ?? take };
}

export function readContactPage(
  operation: string,
  body: unknown,
  skip: number,
  take: number,
): QueryPage<ContactRecord> {
  const page = parse(operation, pageSchema(contactSchema), body);
  return { list: page.list.map(withoutUndefined), total: page.total, skip: page.skip ?? skip, take: page.take ?? take };
}

/**
 * What an operator may see of a customer record: a fixed list of identifiers, statuses and timestamps. Anything not
 * listed (the rotation's task token above all) never leaves, whatever is added to the record later.
 */
import type { CustomerRecord } from './customer.ts';

export interface CustomerSummary {
  readonly customerId: string;
  readonly status: string;
  readonly statusReason?: string;
  readonly sensitivity?: string;
  readonly organizationId?: string;
  readonly webhookSubscriptionId?: number;
  readonly runningWorkflow?: string;
  readonly awaitingToken: boolean;
  readonly previousWebhookSecretValidUntil?: string;
  readonly tokenPromotedAt?: string;
  readonly createdAt?: string;
  readonly updatedAt?: string;
}

export function summarizeCustomer(record: CustomerRecord): CustomerSummary {
  return {
    customerId: record.customerId,
    status: record.status,
    ...(record.statusReason === undefined ? {} : { statusReason: record.statusReason }),
    ...(record.sensitivity === undefined ? {} : { sensitivity: record.sensitivity }),
    ...(record.organizationId === undefined ? {} : { organizationId: String(record.organizationId) }),
    ...(record.webhookSubscriptionId === undefined ? {} : { webhookSubscriptionId: record.webhookSubscriptionId }),
    ...(record.lock === undefined ? {} : { runningWorkflow: record.lock.workflow }),
    awaitingToken: record.awaitingTokenTaskToken !== undefined,
    ...(record.previousWebhookSecretValidUntil === undefined
      ? {}
      : { previousWebhookSecretValidUntil: record.previousWebhookSecretValidUntil }),
    ...(record.tokenPromotedAt === undefined ? {} : { tokenPromotedAt: record.tokenPromotedAt }),
    ...(record.createdAt === undefined ? {} : { createdAt: record.createdAt }),
    ...(record.updatedAt === undefined ? {} : { updatedAt: record.updatedAt }),
  };
}

/** Every customer, in id order. */
export async function summarizeCustomers(customers: { list(): Promise<CustomerRecord[]> }): Promise<CustomerSummary[]> {
  const records = await customers.list();
  records.sort((a, b) => a.customerId.localeCompare(b.customerId));
  return records.map(summarizeCustomer);
}

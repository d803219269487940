/**
 * Deployment settings of the CDK app, read once from CDK context (cdk.json, `-c key=value`). Everything here is a
 * name, a number or a header: no value in context or in a function's environment is ever a secret.
 */
import { isIPv4 } from 'node:net';
import type { Node } from 'constructs';
import { assertEnvironmentName } from '../../functions/shared/identifiers.ts';
import { DEFAULT_HOURLY_REQUEST_BUDGET } from '../../functions/virtuous/rate-budget.ts';
import type { EgressIpAllocation } from './constructs/network.ts';

export type EnvironmentName = 'production' | 'staging';

export interface IntegrationConfig {
  readonly environmentName: EnvironmentName;
  /** Header carrying the Virtuous HMAC; Virtuous lets the subscriber choose it, so a partner may change it. */
  readonly virtuousSignatureHeader: string;
  /** Largest webhook body accepted, enforced identically by WAF (explicit body-size rule) and the verifier (413). */
  readonly maxWebhookBodyBytes: number;
  /** Requests per IP per 5 minutes before WAF blocks the address, on every route except the webhook routes. */
  readonly wafRateLimitPer5Minutes: number;
  /**
   * Webhook deliveries per sender IP and webhook URL (one customer of one provider) per 5 minutes before WAF blocks
   * that pair. Virtuous and Stripe send every customer's webhooks from a few shared addresses, so the webhook routes
   * are never limited per IP alone.
   */
  readonly wafWebhookRateLimitPer5Minutes: number;
  /** API Gateway stage throttling, steady rate (requests/second) and burst. */
  readonly apiRateLimit: number;
  readonly apiBurstLimit: number;
  /** Base URL of the Virtuous API the workers call. */
  readonly virtuousBaseUrl: string;
  /** Requests per customer organization per hour shared by every worker (conservative by default). */
  readonly hourlyRequestBudget: number;
  /** Days a deleted secret stays recoverable (7-30: the Secrets Manager bounds). */
  readonly secretRecoveryWindowDays: number;
  /** Most SQS batches the processor works on at once, so Virtuous sees bounded concurrency. */
  readonly processorMaxConcurrency: number;
  /** E-mail addresses subscribed to the operators topic (optional; subscriptions need confirming). */
  readonly operatorEmails: readonly string[];
  /**
   * Whether the weekly deletion drill runs (its schedule is created disabled otherwise). Turn it on only once the
   * sandbox key is stored under the reserved customer id `deletion-drill` (docs/runbooks/offboarding-and-deletion-
   * verification.md): a run without it fails and alarms.
   */
  readonly deletionDrillEnabled: boolean;
  /**
   * Elastic IPs allocated before this stack, one per availability zone (`[{ "allocationId": "eipalloc-…",
   * "publicIp": "…" }, …]`): a recreated stack keeps the egress addresses customers allowlisted. Absent: the stack
   * allocates its own (docs/runbooks/egress-ip-change.md).
   */
  readonly egressIpAllocations?: readonly EgressIpAllocation[];
}

const DEFAULTS = {
  virtuousSignatureHeader: 'X-Virtuous-Signature',
  maxWebhookBodyBytes: 65_536,
  wafRateLimitPer5Minutes: 2_000,
  // 20 deliveries a second for one customer from one sender, sustained for 5 minutes: above a nightly batch.
  wafWebhookRateLimitPer5Minutes: 6_000,
  apiRateLimit: 50,
  apiBurstLimit: 100,
  virtuousBaseUrl: 'https://api.virtuoussoftware.com',
  hourlyRequestBudget: DEFAULT_HOURLY_REQUEST_BUDGET,
  secretRecoveryWindowDays: 7,
  processorMaxConcurrency: 5,
} as const;

const HEADER_NAME = /^[A-Za-z0-9-]{1,64}$/;

export function readConfig(node: Node): IntegrationConfig {
  const environmentName = assertEnvironmentName(node.tryGetContext('environmentName'));
  if (environmentName !== 'production' && environmentName !== 'staging') {
    throw new Error(`context environmentName must be "production" or "staging", got "${environmentName}"`);
  }
  const virtuousSignatureHeader = stringContext(node, 'virtuousSignatureHeader', DEFAULTS.virtuousSignatureHeader);
  if (!HEADER_NAME.test(virtuousSignatureHeader)) {
    throw new Error('context virtuousSignatureHeader must be an HTTP header name (letters, digits, "-")');
  }
  const virtuousBaseUrl = stringContext(node, 'virtuousBaseUrl', DEFAULTS.virtuousBaseUrl);
  if (!virtuousBaseUrl.startsWith('https://')) {
    throw new Error('context virtuousBaseUrl must be an https:// URL');
  }
  const emails = node.tryGetContext('operatorEmails');
  return {
    environmentName,
    virtuousSignatureHeader,
    virtuousBaseUrl,
    maxWebhookBodyBytes: intContext(node, 'maxWebhookBodyBytes', DEFAULTS.maxWebhookBodyBytes, 1_024, 65_536),
    wafRateLimitPer5Minutes: intContext(node, 'wafRateLimitPer5Minutes', DEFAULTS.wafRateLimitPer5Minutes, 10, 2e9),
    wafWebhookRateLimitPer5Minutes: intContext(
      node,
      'wafWebhookRateLimitPer5Minutes',
      DEFAULTS.wafWebhookRateLimitPer5Minutes,
      100,
      2e9,
    ),
    apiRateLimit: intContext(node, 'apiRateLimit', DEFAULTS.apiRateLimit, 1, 10_000),
    apiBurstLimit: intContext(node, 'apiBurstLimit', DEFAULTS.apiBurstLimit, 1, 5_000),
    hourlyRequestBudget: intContext(node, 'hourlyRequestBudget', DEFAULTS.hourlyRequestBudget, 1, 100_000),
    secretRecoveryWindowDays: intContext(node, 'secretRecoveryWindowDays', DEFAULTS.secretRecoveryWindowDays, 7, 30),
    processorMaxConcurrency: intContext(node, 'processorMaxConcurrency', DEFAULTS.processorMaxConcurrency, 2, 1_000),
    operatorEmails: Array.isArray(emails) ? emails.map(String) : [],
    deletionDrillEnabled: booleanContext(node, 'deletionDrillEnabled'),
    ...egressIpAllocationsContext(node),
  };
}

const ALLOCATION_ID = /^eipalloc-[0-9a-f]{8,17}$/;

/** `egressIpAllocations`: an array in cdk.json, a JSON string with `-c`; every id and address checked, no repeats. */
function egressIpAllocationsContext(node: Node): { egressIpAllocations?: readonly EgressIpAllocation[] } {
  let raw: unknown = node.tryGetContext('egressIpAllocations');
  if (raw === undefined || raw === '') return {};
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw);
    } catch {
      throw new Error('context egressIpAllocations must be a JSON array');
    }
  }
  const shape =
    'context egressIpAllocations must be an array of { "allocationId": "eipalloc-…", "publicIp": "a.b.c.d" }';
  if (!Array.isArray(raw) || raw.length === 0) throw new Error(shape);
  const allocations = raw.map((entry: unknown): EgressIpAllocation => {
    const { allocationId, publicIp } = (entry ?? {}) as Record<string, unknown>;
    if (typeof allocationId !== 'string' || !ALLOCATION_ID.test(allocationId)) throw new Error(shape);
    if (typeof publicIp !== 'string' || !isIPv4(publicIp)) throw new Error(shape);
    return { allocationId, publicIp };
  });
  for (const key of ['allocationId', 'publicIp'] as const) {
    if (new Set(allocations.map((a) => a[key])).size !== allocations.length) {
      throw new Error(`context egressIpAllocations names the same ${key} twice`);
    }
  }
  return { egressIpAllocations: allocations };
}

/** `-c key=true` arrives as a string, cdk.json as a boolean; anything but true/false is refused. */
function booleanContext(node: Node, key: string): boolean {
  const raw = node.tryGetContext(key);
  if (raw === undefined || raw === '' || raw === false || raw === 'false') return false;
  if (raw === true || raw === 'true') return true;
  throw new Error(`context ${key} must be true or false`);
}

function stringContext(node: Node, key: string, fallback: string): string {
  const value = node.tryGetContext(key);
  return value === undefined || value === '' ? fallback : String(value);
}

function intContext(node: Node, key: string, fallback: number, min: number, max: number): number {
  const raw = node.tryGetContext(key);
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`context ${key} must be an integer between ${min} and ${max}`);
  }
  return value;
}

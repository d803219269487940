/**
 * The deletion drill: proves, in a deployed environment, that offboarding leaves nothing behind. It onboards a
 * synthetic customer (`drill-<yyyymmdd>`) against the configured Virtuous sandbox through the same lifecycle API
 * domain a partner uses, offboards it through the same workflow, and then looks for residue with checks of its own:
 * every table that holds customer data (the same per-table inventory offboarding counts with), the customer record
 * (must be the bare offboarded marker), the debug-capture store, and the secret store.
 *
 * Crypto-shredding is checked too: between onboarding and offboarding the drill files a dead letter for the drill
 * customer (a random canary, sealed under the customer's data key like every dead letter; a dead letter, unlike a
 * held message, is never put back on the queue by itself) and keeps a sealed copy
 * of the canary itself. Afterwards the customer's key must be destroyed (a tombstone only), that sealed copy must
 * refuse to open, and, on one machine, the data folder's files must hold no canary plaintext, no key of the
 * customer and no sealed payload that still opens (disk-residue.ts). The secret-access audit rows the workflows
 * wrote for the drill customer stay until their TTL, like every customer's; they must hold identifiers only.
 *
 * The sandbox key is never configuration: the operator stores it as the API token of the reserved customer id
 * `deletion-drill` through the normal secret naming, and the drill reads it from the SecretStore like any token.
 *
 * Bounded: each wait has a budget (the whole drill fits a 15-minute Lambda), each poll a fixed interval. The report
 * carries codes, statuses and counts only.
 */
import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../credentials/audit-log.ts';
import type { CustomerKeyStore } from '../crypto/customer-keys.ts';
import type { PayloadSealer, SealedPayload } from '../crypto/payload-sealer.ts';
import type { CustomerRecord } from '../customers/customer.ts';
import type { DebugCaptureStore } from '../debug-captures/debug-capture-store.ts';
import { ALL_AUDIT_ROWS, nonIdentifierAuditFields } from '../lifecycle/deletion-reach.ts';
import type { CustomerDataStore, ExecutionStatus } from '../lifecycle/ports.ts';
import {
  ApiRefusal,
  type LifecycleApiDeps,
  receiveOnboardingToken,
  startWorkflow,
} from '../lifecycle-api/lifecycle-api.ts';
import { errorCode, isClassified } from '../shared/errors.ts';
import type { TableKey } from '../shared/tables.ts';
import type { DeadLetters } from '../sync/dead-letters.ts';
import type { DiskResidue } from './disk-residue.ts';

/** Reserved customer id whose `api_token` secret is the sandbox organization's key. Never onboarded itself. */
export const DRILL_SANDBOX_CUSTOMER_ID = 'deletion-drill';

/** Fields of the offboarded marker (functions/lifecycle/dynamo-customer-data-store.ts); anything else is residue. */
const MARKER_FIELDS: ReadonlySet<string> = new Set(['customerId', 'status', 'createdAt', 'updatedAt', 'offboardedAt']);

export interface DrillLimits {
  /** How long onboarding may run before the drill gives up on it. */
  readonly onboardingMs: number;
  readonly offboardingMs: number;
  readonly pollMs: number;
}

/** 5 + 7 minutes of waiting leaves room for the checks inside Lambda's 15 minutes. */
export const DEFAULT_DRILL_LIMITS: DrillLimits = { onboardingMs: 5 * 60_000, offboardingMs: 7 * 60_000, pollMs: 5_000 };

export interface DeletionDrillDeps {
  /** The lifecycle API's dependencies: the drill onboards and offboards exactly as a partner would. */
  readonly lifecycle: LifecycleApiDeps;
  readonly customerData: Pick<CustomerDataStore, 'inventory'>;
  readonly debugCaptures: Pick<DebugCaptureStore, 'list'>;
  /** The customer data keys and the sealer of customer payloads: the crypto-shredding check. */
  readonly customerKeys: Pick<CustomerKeyStore, 'describe'>;
  readonly sealer: PayloadSealer;
  /** Where the canary is filed as a dead letter (sealed), so offboarding has real sealed data of the customer to shred. */
  readonly deadLetters: Pick<DeadLetters, 'add'>;
  readonly audit: Pick<AuditLog, 'accessesBetween'>;
  /** One machine only: scans the data folder's files for residue of the customer (disk-residue.ts). */
  readonly scanDisk?: (check: { customerId: string; keyId: string; canary: string }) => Promise<DiskResidue>;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly limits?: Partial<DrillLimits>;
}

export type DrillFailure =
  | 'DRILL_SANDBOX_NOT_CONFIGURED'
  | 'DRILL_ONBOARDING_REFUSED'
  | 'DRILL_ONBOARDING_FAILED'
  | 'DRILL_OFFBOARDING_REFUSED'
  | 'DRILL_OFFBOARDING_FAILED'
  | 'DRILL_RESIDUE'
  | 'DRILL_ERROR';

export interface DrillResidue {
  /** Items left per table (only tables with items). */
  readonly tables: Partial<Record<TableKey, number>>;
  readonly customerRecord: 'offboarded_marker' | 'missing' | 'not_offboarded' | 'extra_fields';
  readonly debugCaptures: number;
  readonly secrets: number;
  /** The customer's data key after offboarding: must be `destroyed`. */
  readonly customerKey: 'destroyed' | 'active' | 'missing';
  /** The canary sealed under that key before offboarding: must be `refused`. */
  readonly sealedCanary: 'refused' | 'opened' | 'not_sealed';
  /** Audit rows kept for the drill customer and whether every one holds identifiers only. */
  readonly auditRows: { readonly kept: number; readonly identifiersOnly: boolean };
  /** One machine: what the data folder's files still hold of the customer. */
  readonly disk?: DiskResidue;
}

export interface DrillReport {
  readonly ok: boolean;
  readonly customerId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly failure?: DrillFailure;
  /** The error code or refusal code behind a failure (never a message). */
  readonly detail?: string;
  readonly onboarding?: ExecutionStatus | 'DRILL_TIMEOUT';
  readonly offboarding?: ExecutionStatus | 'DRILL_TIMEOUT';
  readonly residue?: DrillResidue;
}

export function drillCustomerId(now: Date): string {
  return `drill-${now.toISOString().slice(0, 10).replaceAll('-', '')}`;
}

const TERMINAL: ReadonlySet<ExecutionStatus> = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);

async function waitForExecution(
  deps: DeletionDrillDeps,
  executionId: string,
  budgetMs: number,
  pollMs: number,
  sleep: (ms: number) => Promise<void>,
): Promise<ExecutionStatus | 'DRILL_TIMEOUT'> {
  const maxPolls = Math.ceil(budgetMs / Math.max(1, pollMs)) + 1;
  const deadline = Date.now() + budgetMs;
  for (let poll = 0; poll < maxPolls; poll++) {
    const description = await deps.lifecycle.starter.describe(executionId);
    if (description !== undefined && TERMINAL.has(description.status)) return description.status;
    if (Date.now() >= deadline) break;
    await sleep(pollMs);
  }
  return 'DRILL_TIMEOUT';
}

function recordResidue(record: CustomerRecord | undefined): DrillResidue['customerRecord'] {
  if (record === undefined) return 'missing';
  if (record.status !== 'offboarded') return 'not_offboarded';
  return Object.keys(record).every((field) => MARKER_FIELDS.has(field)) ? 'offboarded_marker' : 'extra_fields';
}

/** What the drill sealed for its customer before offboarding, to prove afterwards that none of it opens. */
export interface DrillCanary {
  readonly text: string;
  readonly sealed: SealedPayload;
}

export const DRILL_CANARY_PURPOSE = 'deletion-drill';
const DRILL_CANARY_DEAD_LETTER_ID = 'deletion-drill-canary';

async function plantCanary(deps: DeletionDrillDeps, customerId: string): Promise<DrillCanary> {
  const text = `deletion-drill-canary-${randomUUID()}`;
  await deps.deadLetters.add(
    {
      customerId,
      deadLetterId: DRILL_CANARY_DEAD_LETTER_ID,
      operation: 'deletion-drill',
      attempts: 0,
      errorCode: 'DELETION_DRILL_CANARY',
      messageBody: JSON.stringify({ canary: text }),
    },
    deps.lifecycle.clock.now(),
  );
  return { text, sealed: await deps.sealer.seal(text, { customerId, purpose: DRILL_CANARY_PURPOSE }) };
}

async function canaryOpens(deps: DeletionDrillDeps, customerId: string, canary: DrillCanary): Promise<boolean> {
  try {
    await deps.sealer.open(canary.sealed, { customerId, purpose: DRILL_CANARY_PURPOSE });
    return true;
  } catch (error) {
    if (isClassified(error) && error.name === 'PermanentError') return false;
    throw error;
  }
}

/** Looks everywhere offboarding deletes from; the secret check comes last because secret access is audited. */
export async function findResidue(
  deps: DeletionDrillDeps,
  customerId: string,
  requestId: string,
  canary?: DrillCanary,
): Promise<DrillResidue> {
  const [inventory, record, captures, key] = await Promise.all([
    deps.customerData.inventory(customerId),
    deps.lifecycle.customers.get(customerId),
    deps.debugCaptures.list(customerId),
    deps.customerKeys.describe(customerId),
  ]);
  const tables = Object.fromEntries(Object.entries(inventory).filter(([, count]) => (count ?? 0) > 0)) as Partial<
    Record<TableKey, number>
  >;
  const sealedCanary =
    canary === undefined ? 'not_sealed' : (await canaryOpens(deps, customerId, canary)) ? 'opened' : 'refused';
  const disk =
    deps.scanDisk !== undefined && canary !== undefined && key !== undefined
      ? await deps.scanDisk({ customerId, keyId: key.keyId, canary: canary.text })
      : undefined;
  // Deleting again is the store's one way to find every secret of a customer (by tag, any kind or source): zero
  // means none was left; anything else is residue (and is gone now, which the report still shows).
  const { deletedSecrets } = await deps.lifecycle.secrets.deleteCustomer(customerId, {
    reason: 'deletion-drill:verify',
    requestId,
  });
  // Audit rows outlive offboarding (until their TTL), this check's own included; they must hold identifiers only.
  const auditRows = await deps.audit.accessesBetween(customerId, ALL_AUDIT_ROWS.from, ALL_AUDIT_ROWS.to);
  return {
    tables,
    customerRecord: recordResidue(record),
    debugCaptures: captures.length,
    secrets: deletedSecrets,
    customerKey: key === undefined ? 'missing' : key.state,
    sealedCanary,
    auditRows: { kept: auditRows.length, identifiersOnly: nonIdentifierAuditFields(auditRows).length === 0 },
    ...(disk === undefined ? {} : { disk }),
  };
}

function hasResidue(residue: DrillResidue): boolean {
  return (
    Object.keys(residue.tables).length > 0 ||
    residue.customerRecord !== 'offboarded_marker' ||
    residue.debugCaptures > 0 ||
    residue.secrets > 0 ||
    residue.customerKey !== 'destroyed' ||
    residue.sealedCanary !== 'refused' ||
    !residue.auditRows.identifiersOnly ||
    (residue.disk !== undefined &&
      (residue.disk.plaintextCopies > 0 || residue.disk.sealedOpened > 0 || residue.disk.keyEntries > 0))
  );
}

export async function runDeletionDrill(deps: DeletionDrillDeps): Promise<DrillReport> {
  const limits = { ...DEFAULT_DRILL_LIMITS, ...deps.limits };
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const started = deps.lifecycle.clock.now();
  const customerId = drillCustomerId(started);
  const base = { customerId, startedAt: started.toISOString() };
  const done = (fields: Omit<DrillReport, 'customerId' | 'startedAt' | 'finishedAt'>): DrillReport => ({
    ...base,
    finishedAt: deps.lifecycle.clock.now().toISOString(),
    ...fields,
  });
  let onboarding: DrillReport['onboarding'];
  let offboarding: DrillReport['offboarding'];
  try {
    const sandboxKey = await deps.lifecycle.secrets.read(
      { customerId: DRILL_SANDBOX_CUSTOMER_ID, kind: 'api_token' },
      'current',
      { reason: 'deletion-drill:sandbox-key' },
    );
    if (sandboxKey === undefined) return done({ ok: false, failure: 'DRILL_SANDBOX_NOT_CONFIGURED' });

    let onboardingId: string;
    try {
      ({ executionId: onboardingId } = await receiveOnboardingToken(deps.lifecycle, {
        customerId,
        token: sandboxKey.value,
        sensitivity: 'standard',
      }));
    } catch (error) {
      if (error instanceof ApiRefusal)
        return done({ ok: false, failure: 'DRILL_ONBOARDING_REFUSED', detail: error.code });
      throw error;
    }
    onboarding = await waitForExecution(deps, onboardingId, limits.onboardingMs, limits.pollMs, sleep);
    // Sealed data of the drill customer for offboarding to shred (only once onboarding has settled).
    const canary = onboarding === 'SUCCEEDED' ? await plantCanary(deps, customerId) : undefined;
    // Offboarding runs whatever onboarding did: a half-onboarded drill customer must not be left behind either.
    let offboardingId: string;
    try {
      ({ executionId: offboardingId } = await startWorkflow(deps.lifecycle, { customerId, workflow: 'offboarding' }));
    } catch (error) {
      if (error instanceof ApiRefusal) {
        return done({ ok: false, failure: 'DRILL_OFFBOARDING_REFUSED', detail: error.code, onboarding });
      }
      throw error;
    }
    offboarding = await waitForExecution(deps, offboardingId, limits.offboardingMs, limits.pollMs, sleep);
    if (offboarding !== 'SUCCEEDED') {
      return done({ ok: false, failure: 'DRILL_OFFBOARDING_FAILED', onboarding, offboarding });
    }
    const residue = await findResidue(deps, customerId, offboardingId, canary);
    if (onboarding !== 'SUCCEEDED') {
      return done({ ok: false, failure: 'DRILL_ONBOARDING_FAILED', onboarding, offboarding, residue });
    }
    if (hasResidue(residue)) return done({ ok: false, failure: 'DRILL_RESIDUE', onboarding, offboarding, residue });
    return done({ ok: true, onboarding, offboarding, residue });
  } catch (error) {
    return done({
      ok: false,
      failure: 'DRILL_ERROR',
      detail: errorCode(error),
      ...(onboarding === undefined ? {} : { onboarding }),
      ...(offboarding === undefined ? {} : { offboarding }),
    });
  }
}

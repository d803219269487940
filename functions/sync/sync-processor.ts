/**
 * The submitter: takes a batch of queue messages (webhook deliveries and bulk-load pages) and brings Virtuous in line
 * with them, each source record at most once. Knows nothing of Lambda: it gets plain records and reports, per
 * message id, which ones must be retried.
 *
 * Per message: route by the customer's status (active/onboarding → process; paused/failed → hold, sealed, until
 * resume; offboarding/offboarded/unknown → discard without keeping content); drop re-deliveries (delivery log);
 * parse; act. Failures: TransientError → retry through the queue until `maxReceiveCount`, then dead letter;
 * PermanentError / ForbiddenInputError → dead letter at once; Virtuous 401 after the client's token re-read
 * (RecoverableError VIRTUOUS_UNAUTHORIZED) or a revoked source grant → pause the customer (alert once) and hold.
 *
 * Exactly once, honestly: Virtuous has no idempotency key and a transaction is invisible until its nightly batch, so
 * the guarantee rests on the sync-state claim. A record is claimed (conditional write, with a lease) before the call
 * and marked submitted after it; no claim is granted for a submitted version, so re-deliveries, replays, concurrent
 * containers and bulk re-runs never send it again. A transaction whose answer was lost (the client's
 * WRITE_OUTCOME_UNKNOWN: timeout after sending, 5xx, 520, reset) is not sent again either: the record goes `in_doubt`
 * (never claimable), its message is kept sealed as a dead letter and acknowledged, and reconciliation decides (found →
 * confirmed; still absent after the batch window → needs_update, reported; the operator may replay it once). What
 * remains is a process that dies between the call and the mark: the lease lapses and the record is sent again.
 */
import type { CustomerRecord, CustomerRepository } from '../customers/customer.ts';
import type { Notifier } from '../notifications/notifier.ts';
import type { InboundMessage } from '../queue/inbound-message.ts';
import { inboundMessageRawBody } from '../queue/inbound-message.ts';
import { parseInboundMessage } from '../queue/parse-inbound-message.ts';
import {
  CredentialRevokedError,
  errorCode,
  ForbiddenInputError,
  isWriteOutcomeUnknown,
  PermanentError,
  RecoverableError,
  TransientError,
  WRITE_OUTCOME_UNKNOWN,
} from '../shared/errors.ts';
import { logger } from '../shared/observability.ts';
import type { VirtuousApi } from '../virtuous/api.ts';
import {
  type BulkMessage,
  bulkEvents,
  bulkUnitId,
  createBulkMessage,
  isBulkMessageJson,
  parseBulkMessage,
} from './bulk-message.ts';
import type { DeadLetters } from './dead-letters.ts';
import type { DeliveryLog } from './delivery-log.ts';
import type { HeldMessages } from './held-messages.ts';
import { discardConfirmedInDoubt } from './in-doubt.ts';
import { commandFromDelivery, commandFromStripeEvent, type SyncCommand } from './inbound-events.ts';
import { mapLimit, SYNC_METRICS, type SyncMetrics } from './sync-metrics.ts';
import { recordKey, type SyncRecord } from './sync-record.ts';
import type { SyncStateRepository } from './sync-state-repository.ts';

export interface QueueRecord {
  readonly messageId: string;
  readonly body: string;
  /** SQS ApproximateReceiveCount: 1 on the first delivery. */
  readonly receiveCount: number;
}

export interface SyncProcessorConfig {
  /** Receives after which a transient failure becomes a dead letter; below the queue's redrive maxReceiveCount. */
  readonly maxReceiveCount: number;
  /** How long a claim stays exclusive; longer than the processor's own timeout, so a live worker never loses it. */
  readonly leaseMs: number;
  /** Identifies this worker's claims (e.g. the Lambda request id plus a random part). */
  readonly workerId: () => string;
  /** Gifts per batch-endpoint call (Virtuous publishes no limit; partners send 100). */
  readonly bulkChunkSize: number;
  /** Records worked on at the same time within a batch. */
  readonly concurrency: number;
}

export const DEFAULT_SYNC_PROCESSOR_CONFIG: Omit<SyncProcessorConfig, 'workerId'> = {
  maxReceiveCount: 4,
  leaseMs: 5 * 60_000,
  bulkChunkSize: 100,
  concurrency: 8,
};

export interface SyncProcessorDeps {
  readonly customers: CustomerRepository;
  readonly syncState: SyncStateRepository;
  readonly deliveries: DeliveryLog;
  readonly deadLetters: DeadLetters;
  readonly held: HeldMessages;
  readonly virtuousFor: (customerId: string) => VirtuousApi;
  readonly notifier: Notifier;
  readonly metrics: SyncMetrics;
  readonly clock: () => Date;
  readonly config: SyncProcessorConfig;
}

/** What happened to one message. Only `retry` makes the queue deliver it again. */
export type MessageOutcome =
  | { readonly status: 'done' }
  | { readonly status: 'duplicate' }
  | { readonly status: 'held' }
  | { readonly status: 'discarded' }
  | { readonly status: 'retry'; readonly error: unknown };

/**
 * `dead_lettered` items leave their delivery unrecorded, so a replay of the dead letter is not taken for a duplicate.
 * `recorded`: done, and the delivery is recorded on the sync record it submitted (no delivery-log write needed).
 * `duplicate`: the delivery was processed before (found on the sync record or in the delivery log); nothing was sent.
 */
type ItemOutcome = 'done' | 'recorded' | 'duplicate' | 'dead_lettered' | 'hold' | { readonly retry: unknown };

/** One unit of work: a webhook delivery, or one event of a bulk page. */
interface WorkItem {
  readonly record: QueueRecord;
  readonly customerId: string;
  readonly command: SyncCommand;
  readonly deadLetterId: string;
  /** The queue body that replays exactly this unit. */
  readonly replayBody: () => string;
  /**
   * A webhook delivery whose one command is a claimed submission (gift, contact): its de-duplication is left to the
   * claim. The delivery log is not read before it runs; its delivery id is written with the `submitted` mark, and a
   * settled claim is checked against it (then against the log) to tell a duplicate.
   */
  readonly claimDeduplicatedDelivery?: string;
}

/** A message that is worked on now: its envelope, de-duplication id and work items. */
interface Routed {
  readonly record: QueueRecord;
  readonly envelope: Envelope;
  readonly unitId: string;
  readonly items: WorkItem[];
}

type Envelope =
  | { readonly kind: 'delivery'; readonly message: InboundMessage }
  | { readonly kind: 'bulk'; readonly message: BulkMessage };

const PAUSE_REASON_VIRTUOUS = 'credential_revoked:virtuous';
/** Dead letters of messages whose envelope could not be read: never a valid customer id, so it collides with none. */
export const UNROUTABLE_CUSTOMER = '_unroutable';
const HOLDING_STATUSES = new Set(['paused', 'failed']);
const PROCESSING_STATUSES = new Set(['active', 'onboarding']);

function isPermanent(error: unknown): boolean {
  return error instanceof PermanentError || error instanceof ForbiddenInputError;
}

function pauseReasonOf(error: unknown): string | undefined {
  if (error instanceof RecoverableError && error.code === 'VIRTUOUS_UNAUTHORIZED') return PAUSE_REASON_VIRTUOUS;
  if (error instanceof CredentialRevokedError) return `credential_revoked:${error.source}`;
  return undefined;
}

function statusCodeOf(error: unknown): number | undefined {
  return (error as { statusCode?: number }).statusCode;
}

function decodeEnvelope(body: string): Envelope {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new ForbiddenInputError('INVALID_INBOUND_MESSAGE', 'queue message is not JSON');
  }
  if (isBulkMessageJson(json)) return { kind: 'bulk', message: parseBulkMessage(json) };
  return { kind: 'delivery', message: parseInboundMessage(body) };
}

export class SyncProcessor {
  readonly #deps: SyncProcessorDeps;

  constructor(deps: SyncProcessorDeps) {
    this.#deps = deps;
  }

  /** Processes a batch; every record gets an outcome, none throws. */
  async processBatch(records: readonly QueueRecord[]): Promise<Map<string, MessageOutcome>> {
    const outcomes = new Map<string, MessageOutcome>();
    const customerCache = new Map<string, Promise<CustomerRecord | undefined>>();
    const customerOf = (customerId: string) => {
      let pending = customerCache.get(customerId);
      if (!pending) {
        pending = this.#deps.customers.get(customerId);
        customerCache.set(customerId, pending);
      }
      return pending;
    };

    const unitsInBatch = new Set<string>();
    const firstOfBatch = (unitId: string) => {
      if (unitsInBatch.has(unitId)) return false;
      unitsInBatch.add(unitId);
      return true;
    };
    const settle = async (routed: Routed, itemOutcomes: ReadonlyMap<WorkItem, ItemOutcome>) => {
      try {
        outcomes.set(routed.record.messageId, await this.#settleMessage(routed, itemOutcomes));
      } catch (error) {
        outcomes.set(routed.record.messageId, { status: 'retry', error });
      }
    };

    // Webhook deliveries run end to end each (no barrier between messages); bulk pages are collected.
    const bulk: Routed[] = [];
    await mapLimit(records, this.#deps.config.concurrency, async (record) => {
      let routed: Routed;
      try {
        const result = await this.#route(record, customerOf, firstOfBatch);
        if ('outcome' in result) {
          outcomes.set(record.messageId, result.outcome);
          return;
        }
        routed = { record, ...result };
      } catch (error) {
        outcomes.set(record.messageId, { status: 'retry', error });
        return;
      }
      if (routed.envelope.kind === 'bulk') {
        bulk.push(routed);
        return;
      }
      const itemOutcomes = new Map<WorkItem, ItemOutcome>();
      for (const item of routed.items) itemOutcomes.set(item, await this.#runItem(item));
      await settle(routed, itemOutcomes);
    });
    if (bulk.length === 0) return outcomes;

    // Bulk gifts of the whole batch go through the batch endpoint together, per customer.
    const pooledGifts = bulk.flatMap(({ items }) => items.filter((item) => item.command.type === 'gift'));
    const pooled = new Set(pooledGifts);
    const itemOutcomes = new Map<WorkItem, ItemOutcome>();
    await Promise.all([
      ...[...Map.groupBy(pooledGifts, (item) => item.customerId).values()].map(async (items) => {
        try {
          for (const [item, outcome] of await this.#submitPooledGifts(items)) itemOutcomes.set(item, outcome);
        } catch (error) {
          // Items without an outcome are retried by their messages (#settleMessage).
          logger.error('bulk submission failed', { customerId: items[0]?.customerId, errorCode: errorCode(error) });
        }
      }),
      mapLimit(
        bulk.flatMap(({ items }) => items.filter((item) => !pooled.has(item))),
        this.#deps.config.concurrency,
        async (item) => {
          itemOutcomes.set(item, await this.#runItem(item));
        },
      ),
    ]);
    await mapLimit(bulk, this.#deps.config.concurrency, (routed) => settle(routed, itemOutcomes));
    return outcomes;
  }

  /** Decides what a message is and whether it is worked on now; returns its work items or a final outcome. */
  async #route(
    record: QueueRecord,
    customerOf: (customerId: string) => Promise<CustomerRecord | undefined>,
    firstOfBatch: (unitId: string) => boolean,
  ): Promise<{ outcome: MessageOutcome } | { envelope: Envelope; unitId: string; items: WorkItem[] }> {
    const deps = this.#deps;
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(record.body);
    } catch (error) {
      await this.#deadLetter({
        customerId: UNROUTABLE_CUSTOMER,
        deadLetterId: `message#${record.messageId}`,
        operation: 'parse',
        error,
        attempts: record.receiveCount,
        messageBody: record.body,
      });
      return { outcome: { status: 'done' } };
    }
    const { customerId } = envelope.message;
    const unitId = envelope.kind === 'bulk' ? bulkUnitId(envelope.message) : envelope.message.deliveryId;
    const customer = await customerOf(customerId);

    if (!customer || !(PROCESSING_STATUSES.has(customer.status) || HOLDING_STATUSES.has(customer.status))) {
      deps.metrics.count(SYNC_METRICS.messagesDiscarded);
      logger.info('message discarded: customer not syncing', { customerId, status: customer?.status ?? 'unknown' });
      return { outcome: { status: 'discarded' } };
    }
    if (HOLDING_STATUSES.has(customer.status)) {
      await this.#hold(customerId, unitId, record.body, customer.statusReason ?? customer.status);
      return { outcome: { status: 'held' } };
    }
    const duplicate = (): { outcome: MessageOutcome } => {
      deps.metrics.count(SYNC_METRICS.duplicateDeliveries);
      return { outcome: { status: 'duplicate' } };
    };
    if (!firstOfBatch(unitId)) return duplicate();

    if (envelope.kind === 'delivery') {
      const message = envelope.message;
      let command: SyncCommand;
      try {
        command = commandFromDelivery(message.provider, inboundMessageRawBody(message));
      } catch (error) {
        // Never recorded as processed, so no earlier copy of it can have been: nothing to look up first.
        await this.#deadLetter({
          customerId,
          deadLetterId: `delivery#${message.deliveryId}`,
          operation: 'parse',
          error,
          attempts: record.receiveCount,
          messageBody: record.body,
        });
        return { outcome: { status: 'done' } };
      }
      // A gift or contact is claimed before anything is sent, and the claim refuses a settled record: the claim
      // de-duplicates it, and the delivery log is read only if the claim finds the record settled.
      const claimDeduplicated = command.type === 'gift' || command.type === 'contact';
      if (!claimDeduplicated && (await deps.deliveries.wasProcessed(customerId, unitId))) return duplicate();
      const item: WorkItem = {
        record,
        customerId,
        command,
        deadLetterId: `delivery#${message.deliveryId}`,
        replayBody: () => record.body,
        ...(claimDeduplicated ? { claimDeduplicatedDelivery: unitId } : {}),
      };
      return { envelope, unitId, items: [item] };
    }

    if (await deps.deliveries.wasProcessed(customerId, unitId)) return duplicate();

    const message = envelope.message;
    let events: unknown[];
    try {
      events = bulkEvents(message);
    } catch (error) {
      await this.#deadLetter({
        customerId,
        deadLetterId: `bulk#${unitId}`,
        operation: 'parse',
        error,
        attempts: record.receiveCount,
        messageBody: record.body,
      });
      return { outcome: { status: 'done' } };
    }
    const items: WorkItem[] = [];
    for (const [index, event] of events.entries()) {
      const item = message.item ?? index;
      const single = () =>
        JSON.stringify(
          createBulkMessage({ customerId, loadId: message.loadId, page: message.page, item, events: [event] }),
        );
      const deadLetterId = `bulk#${message.loadId}:${message.page}:${item}`;
      try {
        items.push({ record, customerId, command: commandFromStripeEvent(event), deadLetterId, replayBody: single });
      } catch (error) {
        await this.#deadLetter({
          customerId,
          deadLetterId,
          operation: 'parse',
          error,
          attempts: record.receiveCount,
          messageBody: single(),
        });
      }
    }
    return { envelope, unitId, items };
  }

  async #settleMessage(routed: Routed, itemOutcomes: ReadonlyMap<WorkItem, ItemOutcome>): Promise<MessageOutcome> {
    const { record, envelope, unitId, items } = routed;
    const { customerId } = envelope.message;
    const outcomes = items.map((item) => itemOutcomes.get(item) ?? { retry: new TransientError('NOT_RUN', 'not run') });
    if (outcomes.includes('hold')) {
      // Settled items of the message are skipped by their claims when the held message comes back.
      await this.#hold(customerId, unitId, record.body, 'paused_during_processing');
      return { status: 'held' };
    }
    const retry = outcomes.find((outcome): outcome is { retry: unknown } => typeof outcome === 'object');
    if (retry) return { status: 'retry', error: retry.retry };
    if (outcomes.length > 0 && outcomes.every((outcome) => outcome === 'duplicate')) {
      this.#deps.metrics.count(SYNC_METRICS.duplicateDeliveries);
      return { status: 'duplicate' };
    }
    const finished = (outcome: ItemOutcome) => outcome === 'done' || outcome === 'recorded' || outcome === 'duplicate';
    if (outcomes.every(finished) && outcomes.some((outcome) => outcome === 'done')) {
      await this.#deps.deliveries.recordProcessed(customerId, unitId, this.#deps.clock());
    }
    return { status: 'done' };
  }

  async #hold(customerId: string, unitId: string, body: string, reason: string): Promise<void> {
    await this.#deps.held.hold(customerId, unitId, body, reason, this.#deps.clock());
    this.#deps.metrics.count(SYNC_METRICS.messagesHeld);
    logger.info('message held for paused customer', { customerId });
  }

  async #runItem(item: WorkItem): Promise<ItemOutcome> {
    try {
      return await this.#execute(item);
    } catch (error) {
      return this.#settleFailure(item, error);
    }
  }

  /** Classifies a failure; if even that fails (state store or KMS down), the message is simply retried. */
  async #settleFailure(item: WorkItem, error: unknown): Promise<ItemOutcome> {
    try {
      return await this.#onItemFailure(item, error);
    } catch (handlingError) {
      logger.error('failure handling failed, message will be retried', {
        customerId: item.customerId,
        errorCode: errorCode(error),
        handlingErrorCode: errorCode(handlingError),
      });
      return { retry: handlingError };
    }
  }

  async #onItemFailure(item: WorkItem, error: unknown): Promise<ItemOutcome> {
    const pauseReason = pauseReasonOf(error);
    if (pauseReason) {
      await this.#pauseCustomer(item.customerId, pauseReason);
      return 'hold';
    }
    const operation = item.command.type;
    // Its dead letter is kept already (under the refund's own id); the message itself is done.
    if (error instanceof RefundKeptInDoubt) return 'dead_lettered';
    if (isWriteOutcomeUnknown(error)) {
      await this.#keepInDoubt(item, error);
      return 'dead_lettered';
    }
    if (!isPermanent(error) && item.record.receiveCount < this.#deps.config.maxReceiveCount) {
      logger.warn('sync attempt failed, will retry', {
        customerId: item.customerId,
        operation,
        errorCode: errorCode(error),
        statusCode: statusCodeOf(error),
        receiveCount: item.record.receiveCount,
      });
      return { retry: error };
    }
    await this.#deadLetter({
      customerId: item.customerId,
      deadLetterId: item.deadLetterId,
      operation,
      recordKey: recordKeyOf(item.command),
      error,
      attempts: item.record.receiveCount,
      messageBody: item.replayBody(),
    });
    return 'dead_lettered';
  }

  /**
   * Keeps the message of an in-doubt record sealed as a dead letter (replay is refused until reconciliation reports
   * the record not found) and acknowledges it: a re-delivery would find the record in_doubt and send nothing anyway.
   * Not counted as DeadLettersCreated: most in-doubt writes are confirmed by the next batch; WritesInDoubt counts them.
   */
  async #keepInDoubt(item: WorkItem, error: unknown): Promise<void> {
    const key = recordKeyOf(item.command);
    const statusCode = statusCodeOf(error);
    await this.#deps.deadLetters.add(
      {
        customerId: item.customerId,
        deadLetterId: item.deadLetterId,
        operation: item.command.type,
        ...(key === undefined ? {} : { recordKey: key }),
        ...(statusCode === undefined ? {} : { statusCode }),
        attempts: item.record.receiveCount,
        errorCode: errorCode(error),
        messageBody: item.replayBody(),
      },
      this.#deps.clock(),
    );
    logger.warn('write outcome unknown, record kept in doubt for reconciliation', {
      customerId: item.customerId,
      deadLetterId: item.deadLetterId,
      operation: item.command.type,
      recordKey: key,
      statusCode,
    });
  }

  async #deadLetter(input: {
    customerId: string;
    deadLetterId: string;
    operation: string;
    recordKey?: string | undefined;
    error: unknown;
    attempts: number;
    messageBody: string;
  }): Promise<void> {
    const statusCode = statusCodeOf(input.error);
    const created = await this.#deps.deadLetters.add(
      {
        customerId: input.customerId,
        deadLetterId: input.deadLetterId,
        operation: input.operation,
        ...(input.recordKey === undefined ? {} : { recordKey: input.recordKey }),
        ...(statusCode === undefined ? {} : { statusCode }),
        attempts: input.attempts,
        errorCode: errorCode(input.error),
        messageBody: input.messageBody,
      },
      this.#deps.clock(),
    );
    if (created) this.#deps.metrics.count(SYNC_METRICS.deadLettersCreated);
    logger.warn('dead letter recorded', {
      customerId: input.customerId,
      deadLetterId: input.deadLetterId,
      operation: input.operation,
      recordKey: input.recordKey,
      errorCode: errorCode(input.error),
      statusCode,
      attempts: input.attempts,
    });
  }

  /** Pauses the customer once: only the worker whose conditional update moved it to paused alerts. */
  async #pauseCustomer(customerId: string, reason: string): Promise<void> {
    const { customers, notifier, metrics } = this.#deps;
    try {
      await customers.update(
        customerId,
        { status: 'paused', statusReason: reason },
        { expectedStatus: ['active', 'onboarding'] },
      );
    } catch (error) {
      const current = await customers.get(customerId);
      if (current && HOLDING_STATUSES.has(current.status)) return;
      throw error;
    }
    metrics.count(SYNC_METRICS.customersPaused);
    logger.warn('customer paused', { customerId, reason });
    await notifier.notifyCustomer({ customerId, type: 'sync_paused', details: { reason } });
    await notifier.alertOperators({ customerId, code: 'CUSTOMER_PAUSED', severity: 'warning', details: { reason } });
  }

  /** Runs one work item; `recorded` and `duplicate` only for a claim-de-duplicated delivery (see WorkItem). */
  async #execute(item: WorkItem): Promise<'done' | 'recorded' | 'duplicate'> {
    const { command, customerId } = item;
    const deliveryId = item.claimDeduplicatedDelivery;
    switch (command.type) {
      case 'gift':
        return this.#submitOne(customerId, {
          recordKey: recordKey('gift', command.gift.transactionSource, command.gift.transactionId),
          kind: 'gift',
          source: command.gift.transactionSource,
          sourceId: command.gift.transactionId,
          version: 0,
          amount: command.gift.amount,
          ...(command.gift.currencyCode === undefined ? {} : { currencyCode: command.gift.currencyCode }),
          deadLetterId: item.deadLetterId,
          ...(deliveryId === undefined ? {} : { deliveryId }),
          call: (api) => api.submitGift(command.gift),
        });
      case 'contact':
        return this.#submitOne(customerId, {
          recordKey: recordKey('contact', command.contact.referenceSource, command.contact.referenceId),
          kind: 'contact',
          source: command.contact.referenceSource,
          sourceId: command.contact.referenceId,
          version: command.version,
          deadLetterId: item.deadLetterId,
          ...(deliveryId === undefined ? {} : { deliveryId }),
          call: (api) => api.submitContact(command.contact),
        });
      case 'refund':
        await this.#refund(customerId, command, item);
        return 'done';
      case 'gift_confirmation':
        await this.#confirmGift(customerId, command.transactionSource, command.transactionId, command.giftId, item);
        return 'done';
      case 'contact_confirmation': {
        const key = recordKey('contact', command.referenceSource, command.referenceId);
        const result = await this.#deps.syncState.confirm(customerId, key, command.contactId, this.#deps.clock());
        if (result?.changed) this.#deps.metrics.count(SYNC_METRICS.recordsConfirmed);
        await discardConfirmedInDoubt(this.#deps.deadLetters, result, this.#deps.clock());
        return 'done';
      }
      case 'ignored':
        return 'done';
      case 'partial_refund':
        // A reversing transaction reverses the whole gift; a partial refund is left to the customer's admin.
        this.#deps.metrics.count(SYNC_METRICS.partialRefundsSkipped);
        logger.info('partial refund not reversed', { customerId, chargeId: command.chargeId });
        return 'done';
      case 'unknown':
        this.#deps.metrics.count(SYNC_METRICS.unknownEvents);
        logger.info('unknown event acknowledged', { customerId, eventType: command.eventType.slice(0, 64) });
        return 'done';
    }
  }

  async #submitOne(
    customerId: string,
    spec: {
      recordKey: string;
      kind: 'gift' | 'contact' | 'refund';
      source: string;
      sourceId: string;
      version: number;
      amount?: number;
      currencyCode?: string;
      call: (api: VirtuousApi) => Promise<void>;
      /** A call whose effect is final (reversal of a known gift) goes straight to confirmed. */
      final?: boolean;
      /** The work item's dead letter id: where an in-doubt record's payload is kept. */
      deadLetterId?: string;
      /** A claim-de-duplicated delivery (WorkItem.claimDeduplicatedDelivery). */
      deliveryId?: string;
    },
  ): Promise<'done' | 'recorded' | 'duplicate'> {
    const { syncState, clock, config, metrics } = this.#deps;
    const owner = config.workerId();
    const claim = await syncState.claim({
      customerId,
      recordKey: spec.recordKey,
      kind: spec.kind,
      source: spec.source,
      sourceId: spec.sourceId,
      version: spec.version,
      owner,
      now: clock(),
      leaseMs: config.leaseMs,
      ...(spec.amount === undefined ? {} : { amount: spec.amount }),
      ...(spec.currencyCode === undefined ? {} : { currencyCode: spec.currencyCode }),
    });
    if (claim.outcome === 'settled') {
      // Our own message again after keeping its payload failed: keep it now (nothing is sent).
      if (isOwnInDoubt(claim.record, spec.deadLetterId)) throw inDoubtAgain(spec.kind);
      if (spec.deliveryId === undefined) return 'done';
      const processedBefore =
        claim.record.submittedByDelivery === spec.deliveryId ||
        (await this.#deps.deliveries.wasProcessed(customerId, spec.deliveryId));
      return processedBefore ? 'duplicate' : 'done';
    }
    if (claim.outcome === 'in_flight') {
      throw new TransientError('RECORD_IN_FLIGHT', `${spec.kind} record is being submitted by another worker`);
    }
    try {
      await spec.call(this.#deps.virtuousFor(customerId));
    } catch (error) {
      if (isWriteOutcomeUnknown(error) && spec.deadLetterId !== undefined) {
        await this.#markInDoubt(customerId, spec.recordKey, owner, spec.deadLetterId);
        throw error;
      }
      await syncState.release(
        customerId,
        spec.recordKey,
        owner,
        isPermanent(error) ? 'failed' : 'pending',
        errorCode(error),
        clock(),
      );
      throw error;
    }
    const marked = spec.final
      ? await syncState.markApplied(customerId, spec.recordKey, owner, clock())
      : await syncState.markSubmitted(customerId, spec.recordKey, owner, clock(), spec.deliveryId);
    if (spec.kind === 'refund') metrics.count(SYNC_METRICS.refundsApplied);
    else metrics.count(SYNC_METRICS.recordsSubmitted);
    if (!marked) await this.#reportLostMark(customerId, spec.recordKey);
    return marked && spec.deliveryId !== undefined ? 'recorded' : 'done';
  }

  /** submitting → in_doubt: never claimed again; reconciliation or a webhook decides. */
  async #markInDoubt(customerId: string, key: string, owner: string, deadLetterId: string): Promise<void> {
    const { syncState, clock, metrics } = this.#deps;
    const marked = await syncState.markInDoubt(customerId, key, owner, WRITE_OUTCOME_UNKNOWN, deadLetterId, clock());
    if (marked) metrics.count(SYNC_METRICS.writesInDoubt);
    else await this.#reportLostMark(customerId, key);
  }

  async #reportLostMark(customerId: string, key: string): Promise<void> {
    const current = await this.#deps.syncState.get(customerId, key);
    if (current?.state === 'confirmed') return;
    // Our lease lapsed during the call: another worker may have sent the record too. Visible, not silent.
    logger.error('claim lost during submission', {
      customerId,
      recordKey: key,
      state: current?.state,
      errorCode: 'LEASE_LOST',
    });
  }

  async #confirmGift(
    customerId: string,
    source: string,
    transactionId: string,
    giftId: number,
    item: WorkItem,
  ): Promise<void> {
    const { syncState, clock, metrics } = this.#deps;
    const result = await syncState.confirm(customerId, recordKey('gift', source, transactionId), giftId, clock());
    if (!result) return;
    if (result.changed) metrics.count(SYNC_METRICS.recordsConfirmed);
    await discardConfirmedInDoubt(this.#deps.deadLetters, result, clock());
    let inDoubt: RefundKeptInDoubt | undefined;
    for (const refundKey of result.record.deferredRefunds ?? []) {
      try {
        // Each refund keeps its own dead letter: the confirmation's message replays whichever one is reset.
        await this.applyDeferredRefund(customerId, refundKey, giftId, {
          deadLetterId: refundKey,
          replayBody: item.replayBody,
          attempts: item.record.receiveCount,
        });
      } catch (error) {
        // One reversal in doubt must not hold back the gift's other refunds.
        if (!(error instanceof RefundKeptInDoubt)) throw error;
        inDoubt = error;
      }
    }
    if (inDoubt) throw inDoubt;
  }

  async #refund(customerId: string, command: Extract<SyncCommand, { type: 'refund' }>, item: WorkItem): Promise<void> {
    const { syncState, clock, metrics } = this.#deps;
    const giftKey = recordKey('gift', command.source, command.paymentIntentId);
    const refundKey = recordKey('refund', command.source, command.chargeId);
    const refund = await syncState.deferRefund({
      customerId,
      recordKey: refundKey,
      source: command.source,
      sourceId: command.chargeId,
      reversesRecordKey: giftKey,
      refundDate: command.refundDate,
      amount: command.amount,
      currencyCode: command.currencyCode,
      now: clock(),
    });
    const origin = { deadLetterId: item.deadLetterId, replayBody: item.replayBody, attempts: item.record.receiveCount };
    if (isOwnInDoubt(refund, item.deadLetterId)) {
      // This very message put the reversal in doubt and may have failed to keep its dead letter: keep it, send nothing.
      await this.#keepRefundInDoubt(customerId, refund, origin, inDoubtAgain('refund'));
    }
    if (refund.state !== 'deferred' && refund.state !== 'pending') return;
    const gift = await syncState.get(customerId, giftKey);
    if (gift?.state === 'confirmed' && gift.virtuousId !== undefined) {
      await this.applyDeferredRefund(customerId, refundKey, gift.virtuousId, origin);
      return;
    }
    // Kept, not retried hot: the gift's confirmation (webhook or reconciliation) applies it.
    metrics.count(SYNC_METRICS.refundsDeferred);
  }

  /**
   * Sends the reversing transaction of a refund whose gift now has a Virtuous id. A reversal whose answer was lost is
   * never sent again by us: the refund goes `in_doubt`, a dead letter (id `origin.deadLetterId`, else the refund's
   * record key; payload the triggering message, none when reconciliation sent it) is kept, and the operator is alerted.
   * Virtuous offers no lookup of a reversal by our reference, so only an operator who looked in Virtuous may replay
   * it (`checked`). Throws RefundKeptInDoubt (a WRITE_OUTCOME_UNKNOWN TransientError) once that is recorded.
   */
  async applyDeferredRefund(
    customerId: string,
    refundKey: string,
    giftVirtuousId: number,
    origin?: RefundOrigin,
  ): Promise<void> {
    const refund = await this.#deps.syncState.get(customerId, refundKey);
    if (!refund?.refundDate || (refund.state !== 'deferred' && refund.state !== 'pending')) return;
    const refundDate = refund.refundDate;
    const deadLetterId = origin?.deadLetterId ?? refundKey;
    try {
      await this.#submitOne(customerId, {
        recordKey: refundKey,
        kind: 'refund',
        source: refund.source,
        sourceId: refund.sourceId,
        version: 0,
        final: true,
        deadLetterId,
        call: (api) =>
          api.reverseGift({
            reversedGiftId: giftVirtuousId,
            giftDate: refundDate,
            notes: `${refund.source} refund ${refund.sourceId}`,
          }),
      });
    } catch (error) {
      if (!isWriteOutcomeUnknown(error)) throw error;
      await this.#keepRefundInDoubt(customerId, { ...refund, deadLetterId }, origin, error);
    }
  }

  /** Keeps an in-doubt reversal's dead letter and asks an operator to decide; always throws RefundKeptInDoubt. */
  async #keepRefundInDoubt(
    customerId: string,
    refund: SyncRecord,
    origin: RefundOrigin | undefined,
    error: TransientError,
  ): Promise<never> {
    const deadLetterId = refund.deadLetterId ?? refund.recordKey;
    const statusCode = statusCodeOf(error);
    const kept = await this.#deps.deadLetters.add(
      {
        customerId,
        deadLetterId,
        operation: 'refund',
        recordKey: refund.recordKey,
        ...(statusCode === undefined ? {} : { statusCode }),
        attempts: origin?.attempts ?? 1,
        errorCode: WRITE_OUTCOME_UNKNOWN,
        ...(origin === undefined ? {} : { messageBody: origin.replayBody() }),
      },
      this.#deps.clock(),
    );
    if (kept) {
      logger.warn('reversal outcome unknown, refund kept in doubt for an operator', {
        customerId,
        deadLetterId,
        recordKey: refund.recordKey,
        statusCode,
      });
      await this.#deps.notifier.alertOperators({
        customerId,
        code: REFUND_OUTCOME_UNKNOWN,
        severity: 'warning',
        details: { recordKey: refund.recordKey, deadLetterId },
      });
    }
    throw new RefundKeptInDoubt(refund.recordKey, error);
  }

  /**
   * Bulk gifts of one customer: claim each, send the claimed ones through the batch endpoint in chunks, mark them.
   */
  async #submitPooledGifts(items: readonly WorkItem[]): Promise<Map<WorkItem, ItemOutcome>> {
    const { syncState, clock, config, metrics } = this.#deps;
    const outcomes = new Map<WorkItem, ItemOutcome>();
    const customerId = (items[0] as WorkItem).customerId;
    const owner = config.workerId();
    const giftOf = (item: WorkItem) => (item.command as Extract<SyncCommand, { type: 'gift' }>).gift;
    const keyOf = (item: WorkItem) => recordKey('gift', giftOf(item).transactionSource, giftOf(item).transactionId);

    const claimed: WorkItem[] = [];
    const seen = new Set<string>();
    await mapLimit(items, config.concurrency, async (item) => {
      const gift = giftOf(item);
      const key = keyOf(item);
      if (seen.has(key)) {
        // The same gift twice in one batch: the first copy speaks for both.
        outcomes.set(item, 'done');
        return;
      }
      seen.add(key);
      try {
        const claim = await syncState.claim({
          customerId,
          recordKey: key,
          kind: 'gift',
          source: gift.transactionSource,
          sourceId: gift.transactionId,
          version: 0,
          owner,
          now: clock(),
          leaseMs: config.leaseMs,
          amount: gift.amount,
          ...(gift.currencyCode === undefined ? {} : { currencyCode: gift.currencyCode }),
        });
        if (claim.outcome === 'claimed') claimed.push(item);
        else if (isOwnInDoubt(claim.record, item.deadLetterId))
          outcomes.set(item, await this.#settleFailure(item, inDoubtAgain('gift')));
        else if (claim.outcome === 'settled') outcomes.set(item, 'done');
        else
          outcomes.set(item, {
            retry: new TransientError('RECORD_IN_FLIGHT', 'gift is being submitted by another worker'),
          });
      } catch (error) {
        outcomes.set(item, await this.#settleFailure(item, error));
      }
    });

    const markSent = async (chunk: readonly WorkItem[]) => {
      metrics.count(SYNC_METRICS.recordsSubmitted, chunk.length);
      await mapLimit(chunk, config.concurrency, async (item) => {
        const marked = await syncState.markSubmitted(customerId, keyOf(item), owner, clock());
        if (!marked) await this.#reportLostMark(customerId, keyOf(item));
        outcomes.set(item, 'done');
      });
    };

    /**
     * One batch-endpoint call for the chunk. A chunk refused as a whole (permanent) is halved and each half sent
     * again, so one bad gift among 100 costs about 2·log2(100) extra calls instead of 100, and only it fails. A chunk
     * whose outcome is unknown is never sent again: every gift of it not known to be sent goes in_doubt.
     */
    const submitChunk = async (source: string, chunk: readonly WorkItem[]): Promise<void> => {
      // The client may split the chunk further: what it reports sent is marked even if a later part fails.
      const sent = new Set<string>();
      try {
        await this.#deps.virtuousFor(customerId).submitGifts(source, chunk.map(giftOf), {
          onChunkSubmitted: (gifts) => {
            for (const gift of gifts) sent.add(gift.transactionId);
          },
        });
      } catch (error) {
        const sentItems = chunk.filter((item) => sent.has(giftOf(item).transactionId));
        const rest = chunk.filter((item) => !sent.has(giftOf(item).transactionId));
        if (sentItems.length > 0) await markSent(sentItems);
        if (isPermanent(error) && rest.length > 1) {
          const middle = Math.ceil(rest.length / 2);
          await submitChunk(source, rest.slice(0, middle));
          await submitChunk(source, rest.slice(middle));
          return;
        }
        await mapLimit(rest, config.concurrency, async (item) => {
          try {
            if (isWriteOutcomeUnknown(error))
              await this.#markInDoubt(customerId, keyOf(item), owner, item.deadLetterId);
            else
              await syncState.release(
                customerId,
                keyOf(item),
                owner,
                isPermanent(error) ? 'failed' : 'pending',
                errorCode(error),
                clock(),
              );
          } catch (releaseError) {
            // The lease lapses on its own; the record is claimable again after it.
            outcomes.set(item, { retry: releaseError });
            return;
          }
          outcomes.set(item, await this.#settleFailure(item, error));
        });
        return;
      }
      await markSent(chunk);
    };

    for (const [source, sourceItems] of Map.groupBy(claimed, (item) => giftOf(item).transactionSource)) {
      for (let start = 0; start < sourceItems.length; start += config.bulkChunkSize) {
        await submitChunk(source, sourceItems.slice(start, start + config.bulkChunkSize));
      }
    }
    return outcomes;
  }
}

/** Operator alert: a reversing transaction may or may not be in Virtuous; only a person can tell. */
export const REFUND_OUTCOME_UNKNOWN = 'REFUND_OUTCOME_UNKNOWN';

/** Where a reversal was triggered from: names the dead letter that keeps it when its outcome is unknown. */
export interface RefundOrigin {
  readonly deadLetterId: string;
  /** The queue body that, once the refund is reset, sends the reversal again. */
  readonly replayBody: () => string;
  readonly attempts: number;
}

/** A reversal in doubt whose dead letter and alert are recorded: the work item is done, nothing is retried. */
class RefundKeptInDoubt extends TransientError {
  constructor(refundKey: string, cause: unknown) {
    super(WRITE_OUTCOME_UNKNOWN, `refund ${refundKey}: reversal outcome unknown, kept for an operator`, { cause });
  }
}

/** The record is in doubt from this very work item: its payload may not have been kept yet. */
function isOwnInDoubt(record: SyncRecord, deadLetterId: string | undefined): boolean {
  return record.state === 'in_doubt' && deadLetterId !== undefined && record.deadLetterId === deadLetterId;
}

function inDoubtAgain(kind: string): TransientError {
  return new TransientError(WRITE_OUTCOME_UNKNOWN, `${kind} record is in doubt: its message is kept, not sent again`);
}

function recordKeyOf(command: SyncCommand): string | undefined {
  switch (command.type) {
    case 'gift':
      return recordKey('gift', command.gift.transactionSource, command.gift.transactionId);
    case 'contact':
      return recordKey('contact', command.contact.referenceSource, command.contact.referenceId);
    case 'refund':
      return recordKey('refund', command.source, command.chargeId);
    default:
      return undefined;
  }
}

/**
 * The processor Lambda: an SQS batch in, partial batch failures out (Powertools batch). Everything else is the sync
 * engine (functions/sync/sync-processor.ts); this file parses the event, runs the batch and maps outcomes.
 * Only messages that must be retried are reported as failures: held, discarded, duplicate and dead-lettered
 * messages are acknowledged, so the queue's own redrive never sees a message the engine decided about.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { TransientError } from '../shared/errors.ts';
import { logger } from '../shared/observability.ts';
import { createAwsSyncDependencies } from '../sync/aws-wiring.ts';
import { flushPowertoolsMetrics } from '../sync/powertools-metrics.ts';
import { type QueueRecord, SyncProcessor, type SyncProcessorDeps } from '../sync/sync-processor.ts';

export interface ProcessorHandlerDeps extends SyncProcessorDeps {
  /** Publishes the batch's metrics (Powertools EMF on AWS; a no-op where metrics are counted in memory). */
  readonly flushMetrics?: () => void;
}

export type ProcessorHandler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

function toQueueRecord(record: SQSRecord): QueueRecord {
  const receiveCount = Number.parseInt(record.attributes?.ApproximateReceiveCount ?? '1', 10);
  return {
    messageId: record.messageId,
    body: record.body,
    receiveCount: Number.isFinite(receiveCount) ? receiveCount : 1,
  };
}

export function createProcessorHandler(deps: ProcessorHandlerDeps): ProcessorHandler {
  const engine = new SyncProcessor(deps);
  const batch = new BatchProcessor(EventType.SQS);
  return async (event, context) => {
    const outcomes = await engine.processBatch(event.Records.map(toQueueRecord));
    try {
      return await processPartialResponse(
        event,
        async (record: SQSRecord) => {
          const outcome = outcomes.get(record.messageId);
          if (outcome === undefined) throw new TransientError('NO_OUTCOME', 'message was not processed');
          if (outcome.status === 'retry') throw outcome.error;
          return outcome.status;
        },
        batch,
        { ...(context === undefined ? {} : { context }), throwOnFullBatchFailure: false },
      );
    } finally {
      deps.flushMetrics?.();
    }
  };
}

let awsHandler: Promise<ProcessorHandler> | undefined;

/** The AWS entry: dependencies built on the first call from the environment (functions/shared/environment.ts). */
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  awsHandler ??= createAwsSyncDependencies(process.env, { functionName: context.functionName }).then(
    (deps) => createProcessorHandler({ ...deps, flushMetrics: flushPowertoolsMetrics }),
    (error: unknown) => {
      // A deployment fault (missing setting): the next invocation tries again instead of failing forever.
      awsHandler = undefined;
      throw error;
    },
  );
  return (await awsHandler)(event, context);
};

/**
 * Where verified deliveries go. AWS: SQS (sqs-inbound-queue.ts, also the local implementation via endpoint
 * configuration). A failed send is a TransientError: the verifier answers 503 so the sender retries the delivery.
 */
import type { InboundMessage } from './inbound-message.ts';

export interface InboundQueue {
  /** Durably enqueues one message; resolves only once the queue has accepted it. */
  send(message: InboundMessage): Promise<void>;
}

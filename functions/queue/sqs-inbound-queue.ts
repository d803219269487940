/**
 * InboundQueue on SQS. Works unchanged against local-aws-sqs by endpoint configuration, so it is also the
 * one-machine implementation. Any failure to send is a TransientError: the verifier answers 503 and the sender
 * retries, so a delivery is never acknowledged without being on the queue.
 */
import { type MessageAttributeValue, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { TransientError } from '../shared/errors.ts';
import { INBOUND_MESSAGE_ATTRIBUTES, type InboundMessage, serializeInboundMessage } from './inbound-message.ts';
import type { InboundQueue } from './inbound-queue.ts';

export interface SqsInboundQueueOptions {
  /** Upper bound for one send, SDK retries included. */
  readonly timeoutMs?: number;
}

export function inboundMessageAttributes(message: InboundMessage): Record<string, MessageAttributeValue> {
  const text = (value: string): MessageAttributeValue => ({ DataType: 'String', StringValue: value });
  return {
    [INBOUND_MESSAGE_ATTRIBUTES.version]: { DataType: 'Number', StringValue: String(message.version) },
    [INBOUND_MESSAGE_ATTRIBUTES.deliveryId]: text(message.deliveryId),
    [INBOUND_MESSAGE_ATTRIBUTES.customerId]: text(message.customerId),
    [INBOUND_MESSAGE_ATTRIBUTES.provider]: text(message.provider),
  };
}

export class SqsInboundQueue implements InboundQueue {
  private readonly timeoutMs: number;

  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
    options: SqsInboundQueueOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 5_000;
  }

  async send(message: InboundMessage): Promise<void> {
    const command = new SendMessageCommand({
      QueueUrl: this.queueUrl,
      MessageBody: serializeInboundMessage(message),
      MessageAttributes: inboundMessageAttributes(message),
    });
    try {
      const result = await this.client.send(command, { abortSignal: AbortSignal.timeout(this.timeoutMs) });
      if (result.MessageId === undefined) {
        throw new TransientError('QUEUE_SEND_UNCONFIRMED', 'the queue did not confirm the message');
      }
    } catch (error) {
      if (error instanceof TransientError) throw error;
      throw new TransientError('QUEUE_UNAVAILABLE', 'the inbound queue did not accept the message', { cause: error });
    }
  }
}

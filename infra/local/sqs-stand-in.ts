/**
 * SQS on one machine: local-aws-sqs (in memory) with the inbound queue and its dead-letter queue, redrive after
 * `maxReceiveCount` receives, as on AWS. The names follow the deployed ones: `virtuous-{env}-inbound[-dlq]`.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createSqsServer } from 'local-aws-sqs';
import { ForbiddenInputError } from '../../functions/shared/errors.ts';
import { localClientConfig } from './aws-environment.ts';
import { closeServer } from './net.ts';

/** The inbound message carries a Base64 body of up to 256 KiB raw: above SQS's old 256 KiB default (see inbound-message.ts). */
const MAXIMUM_MESSAGE_SIZE = 1_048_576;

export interface QueueUrls {
  readonly inboundUrl: string;
  readonly deadLetterUrl: string;
}

export interface SqsStandIn {
  readonly endpoint: string;
  readonly port: number;
  readonly queues: QueueUrls;
  close(): Promise<void>;
}

export function inboundQueueName(environment: string): string {
  return `virtuous-${environment}-inbound`;
}

export async function startSqs(options: {
  host: string;
  port: number;
  environment: string;
  visibilityTimeoutSeconds: number;
  maxReceiveCount: number;
}): Promise<SqsStandIn> {
  let server: Server;
  try {
    server = await createSqsServer({
      port: options.port,
      hostname: options.host,
      emulateQueueCreationLifecycle: false,
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      throw new ForbiddenInputError('PORT_UNAVAILABLE', `SQS (local-aws-sqs): port ${options.port} is not available`);
    }
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  const endpoint = `http://${options.host}:${port}`;
  const client = new SQSClient(localClientConfig(endpoint));
  try {
    const queues = await ensureQueues(client, options);
    return { endpoint, port, queues, close: () => closeServer(server) };
  } catch (error) {
    await closeServer(server);
    throw error;
  } finally {
    client.destroy();
  }
}

export async function ensureQueues(
  client: SQSClient,
  options: { environment: string; visibilityTimeoutSeconds: number; maxReceiveCount: number },
): Promise<QueueUrls> {
  const name = inboundQueueName(options.environment);
  const deadLetter = await client.send(
    new CreateQueueCommand({
      QueueName: `${name}-dlq`,
      Attributes: { MaximumMessageSize: String(MAXIMUM_MESSAGE_SIZE), MessageRetentionPeriod: '1209600' },
    }),
  );
  const deadLetterUrl = deadLetter.QueueUrl as string;
  const attributes = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: deadLetterUrl, AttributeNames: ['QueueArn'] }),
  );
  const inbound = await client.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        MaximumMessageSize: String(MAXIMUM_MESSAGE_SIZE),
        MessageRetentionPeriod: '1209600',
        VisibilityTimeout: String(options.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: attributes.Attributes?.QueueArn,
          maxReceiveCount: options.maxReceiveCount,
        }),
      },
    }),
  );
  return { inboundUrl: inbound.QueueUrl as string, deadLetterUrl };
}

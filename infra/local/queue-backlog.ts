/**
 * Keeps queued messages across restarts. local-aws-sqs holds messages in memory only, so on a clean stop (after the
 * poller has stopped and its in-flight batches have finished) the runtime drains both queues through the SQS API
 * into `<dataDir>/sqs-backlog.json`, and on the next start sends them back before the poller starts.
 *
 * The file holds what the queue held: verified webhook bodies, which may contain donor data. It is written with mode
 * 0600 inside the git-ignored data folder, replaced atomically (write + rename), and deleted once restored.
 * What it cannot keep: a message's receive count (SQS assigns a new one on send), so a restored message gets up to
 * `maxReceiveCount` fresh attempts; attempts stay bounded.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ChangeMessageVisibilityBatchCommand,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { PermanentError } from '../../functions/shared/errors.ts';
import type { QueueUrls } from './sqs-stand-in.ts';

const BACKLOG_FILE = 'sqs-backlog.json';
const BACKLOG_VERSION = 1;
/** Long enough that nothing drained comes back visible while the drain is still running. */
const DRAIN_VISIBILITY_SECONDS = 600;
/** A bound on the drain loop; far above anything a local queue holds. */
const MAX_DRAIN_BATCHES = 100_000;

interface SavedMessage {
  readonly body: string;
  readonly attributes: Record<string, { DataType: string; StringValue?: string }>;
}

interface BacklogFile {
  readonly version: typeof BACKLOG_VERSION;
  readonly savedAt: string;
  readonly inbound: SavedMessage[];
  readonly deadLetter: SavedMessage[];
}

export function backlogPath(dataDir: string): string {
  return join(dataDir, BACKLOG_FILE);
}

/** Makes messages that a stopped consumer still held visible again, so the drain sees them. */
async function releaseReceived(client: SQSClient, queueUrl: string, receiptHandles: readonly string[]) {
  for (let index = 0; index < receiptHandles.length; index += 10) {
    const chunk = receiptHandles.slice(index, index + 10);
    await client.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((handle, position) => ({
          Id: String(position),
          ReceiptHandle: handle,
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
}

async function drainQueue(client: SQSClient, queueUrl: string): Promise<SavedMessage[]> {
  const saved: SavedMessage[] = [];
  for (let batch = 0; batch < MAX_DRAIN_BATCHES; batch += 1) {
    const { Messages = [] } = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: DRAIN_VISIBILITY_SECONDS,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) return saved;
    for (const message of Messages) {
      const attributes: SavedMessage['attributes'] = {};
      for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
        if (value.DataType && value.StringValue !== undefined) {
          attributes[name] = { DataType: value.DataType, StringValue: value.StringValue };
        }
      }
      saved.push({ body: message.Body ?? '', attributes });
    }
  }
  throw new PermanentError('BACKLOG_TOO_LARGE', 'queue drain did not finish within its bound');
}

/**
 * Drains both queues into the backlog file; returns the counts. The queues are left empty (the server is stopping).
 * `heldReceiptHandles`: messages a stopped consumer received and did not delete; they are made visible first.
 */
export async function saveBacklog(
  client: SQSClient,
  queues: QueueUrls,
  dataDir: string,
  heldReceiptHandles: readonly string[] = [],
): Promise<{ inbound: number; deadLetter: number }> {
  // Releasing and draining count as receives (local-aws-sqs even counts a visibility change): with the redrive
  // policy in place, a message one failure short of the limit would move to the DLQ by the act of saving it.
  // The queue is going away; its redrive policy is no longer needed.
  await client.send(new SetQueueAttributesCommand({ QueueUrl: queues.inboundUrl, Attributes: { RedrivePolicy: '' } }));
  await releaseReceived(client, queues.inboundUrl, heldReceiptHandles);
  const inbound = await drainQueue(client, queues.inboundUrl);
  const deadLetter = await drainQueue(client, queues.deadLetterUrl);
  const path = backlogPath(dataDir);
  if (inbound.length === 0 && deadLetter.length === 0) {
    rmSync(path, { force: true });
    return { inbound: 0, deadLetter: 0 };
  }
  const file: BacklogFile = { version: BACKLOG_VERSION, savedAt: new Date().toISOString(), inbound, deadLetter };
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(file), { mode: 0o600 });
  renameSync(temporary, path);
  return { inbound: inbound.length, deadLetter: deadLetter.length };
}

async function sendAll(client: SQSClient, queueUrl: string, messages: readonly SavedMessage[]): Promise<void> {
  for (let index = 0; index < messages.length; index += 10) {
    const chunk = messages.slice(index, index + 10);
    const result = await client.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((message, position) => ({
          Id: String(position),
          MessageBody: message.body,
          MessageAttributes: message.attributes as Record<string, MessageAttributeValue>,
        })),
      }),
    );
    if ((result.Failed ?? []).length > 0) {
      throw new PermanentError('BACKLOG_RESTORE_FAILED', `${result.Failed?.length} saved messages were refused`);
    }
  }
}

/**
 * Sends a saved backlog back to the queues. The file is removed only after every message was accepted, so a crash
 * during the restore loses nothing (it may re-send some messages: the processor de-duplicates by delivery id).
 */
export async function restoreBacklog(
  client: SQSClient,
  queues: QueueUrls,
  dataDir: string,
): Promise<{ inbound: number; deadLetter: number }> {
  const path = backlogPath(dataDir);
  if (!existsSync(path)) return { inbound: 0, deadLetter: 0 };
  let file: BacklogFile;
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as BacklogFile;
  } catch {
    throw new PermanentError(
      'BACKLOG_UNREADABLE',
      `queue backlog file ${path} is not valid JSON; move it away to start`,
    );
  }
  if (file.version !== BACKLOG_VERSION || !Array.isArray(file.inbound) || !Array.isArray(file.deadLetter)) {
    throw new PermanentError('BACKLOG_UNREADABLE', `queue backlog file ${path} has an unknown format`);
  }
  await sendAll(client, queues.inboundUrl, file.inbound);
  await sendAll(client, queues.deadLetterUrl, file.deadLetter);
  rmSync(path, { force: true });
  return { inbound: file.inbound.length, deadLetter: file.deadLetter.length };
}

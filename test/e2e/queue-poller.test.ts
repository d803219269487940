// The runtime's SQS event source stand-in against local-aws-sqs: real batches of up to 10, partial batch failures
// honoured (only successes deleted, failures redelivered and finally redriven to the DLQ), and the stop/save/restore
// cycle that keeps a backlog across restarts, including messages the poller still held.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backlogPath, restoreBacklog, saveBacklog } from '../../infra/local/queue-backlog.ts';
import { QueuePoller, queueArn, queueDepth } from '../../infra/local/queue-poller.ts';
import { type LocalAws, startLocalAws } from '../support/local-aws.ts';

async function send(aws: LocalAws, bodies: readonly string[]): Promise<void> {
  for (let index = 0; index < bodies.length; index += 10) {
    await aws.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: aws.queues.inboundUrl,
        Entries: bodies.slice(index, index + 10).map((body, position) => ({
          Id: String(position),
          MessageBody: body,
          MessageAttributes: { customerId: { DataType: 'String', StringValue: 'acme' } },
        })),
      }),
    );
  }
}

async function until(condition: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

describe('queue poller and backlog', () => {
  let aws: LocalAws;
  let dataDir: string;

  beforeAll(async () => {
    aws = await startLocalAws({ maxReceiveCount: 2, visibilityTimeoutSeconds: 1 });
    dataDir = mkdtempSync(join(tmpdir(), 'virtuous-backlog-'));
  });

  afterAll(async () => {
    await aws.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('delivers batches of at most 10, deletes only successes, and lets failures go to the DLQ after their receives', async () => {
    const seen = new Map<string, number>();
    const batchSizes: number[] = [];
    const poller = new QueuePoller({
      client: aws.sqs,
      queueUrl: aws.queues.inboundUrl,
      queueArn: await queueArn(aws.sqs, aws.queues.inboundUrl),
      functionName: 'test-processor',
      waitTimeSeconds: 0,
      visibilityTimeoutSeconds: 1,
      handler: async (event: SQSEvent) => {
        batchSizes.push(event.Records.length);
        const failures = [];
        for (const record of event.Records) {
          seen.set(record.body, (seen.get(record.body) ?? 0) + 1);
          expect(record.eventSource).toBe('aws:sqs');
          expect(record.messageAttributes.customerId?.stringValue).toBe('acme');
          if (record.body.startsWith('fail-')) failures.push({ itemIdentifier: record.messageId });
        }
        return { batchItemFailures: failures };
      },
    });
    const bodies = [...Array.from({ length: 22 }, (_, index) => `ok-${index}`), 'fail-1', 'fail-2'];
    await send(aws, bodies);
    poller.start();
    const drained = await until(async () => {
      const depth = await queueDepth(aws.sqs, aws.queues.inboundUrl);
      return depth.visible === 0 && depth.inFlight === 0 && !poller.processing;
    }, 15_000);
    await poller.stop();
    expect(drained).toBe(true);
    expect(Math.max(...batchSizes)).toBeLessThanOrEqual(10);
    expect(bodies.filter((body) => body.startsWith('ok-')).every((body) => seen.get(body) === 1)).toBe(true);
    // Each failure was received maxReceiveCount (2) times, then redriven instead of deleted.
    expect(seen.get('fail-1')).toBe(2);
    expect(seen.get('fail-2')).toBe(2);
    // Left on the DLQ (not received here): the next test's save must find them there.
    expect(await queueDepth(aws.sqs, aws.queues.deadLetterUrl)).toEqual({ visible: 2, inFlight: 0 });
  });

  it('saves what is queued and what a stopped consumer still held, and restores it exactly once', async () => {
    await send(aws, ['queued-1', 'queued-2', 'queued-3', 'held-1', 'held-2']);
    // A consumer that took two messages and stopped before deciding about them.
    const { Messages = [] } = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: aws.queues.inboundUrl, MaxNumberOfMessages: 2, VisibilityTimeout: 600 }),
    );
    expect(Messages).toHaveLength(2);
    // Received once already: with maxReceiveCount 2, one more counted receive would redrive them if the save let it.
    const held = Messages.map((message) => message.ReceiptHandle as string);
    const saved = await saveBacklog(aws.sqs, aws.queues, dataDir, held);
    // The two redriven in the previous test wait on the DLQ and are saved too, as dead-lettered.
    expect(saved).toEqual({ inbound: 5, deadLetter: 2 });
    expect(statSync(backlogPath(dataDir)).mode & 0o777).toBe(0o600);
    const file = JSON.parse(readFileSync(backlogPath(dataDir), 'utf8'));
    expect(file.inbound).toHaveLength(5);
    expect(file.deadLetter.map((message: { body: string }) => message.body).sort()).toEqual(['fail-1', 'fail-2']);

    // A fresh queue (the next start): the backlog comes back once, attributes included, and the file is gone.
    const next = await startLocalAws({ environment: 'restored' });
    try {
      expect(await restoreBacklog(next.sqs, next.queues, dataDir)).toEqual({ inbound: 5, deadLetter: 2 });
      expect(await restoreBacklog(next.sqs, next.queues, dataDir)).toEqual({ inbound: 0, deadLetter: 0 });
      const bodies: string[] = [];
      for (let round = 0; round < 5 && bodies.length < 5; round += 1) {
        const answer = await next.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: next.queues.inboundUrl,
            MaxNumberOfMessages: 10,
            MessageAttributeNames: ['All'],
          }),
        );
        for (const message of answer.Messages ?? []) {
          bodies.push(message.Body as string);
          expect(message.MessageAttributes?.customerId?.StringValue).toBe('acme');
        }
      }
      expect(bodies.sort()).toEqual(['held-1', 'held-2', 'queued-1', 'queued-2', 'queued-3']);
    } finally {
      await next.stop();
    }
  });
});

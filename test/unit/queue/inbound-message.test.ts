import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createInboundMessage,
  inboundMessageRawBody,
  serializeInboundMessage,
} from '../../../functions/queue/inbound-message.ts';
import { parseInboundMessage } from '../../../functions/queue/parse-inbound-message.ts';
import { SqsInboundQueue } from '../../../functions/queue/sqs-inbound-queue.ts';
import { deliveryId } from '../../../functions/webhooks/delivery-id.ts';
import { DONOR } from '../../support/canaries.ts';

const rawBody = Buffer.concat([
  Buffer.from(JSON.stringify({ event: 'GiftCreate', contact: DONOR })),
  Buffer.from([0xff, 0x00, 0x22]),
]);
const message = createInboundMessage({
  deliveryId: deliveryId('virtuous', 'acme', rawBody),
  customerId: 'acme',
  provider: 'virtuous',
  receivedAt: new Date('2026-11-29T12:00:00.000Z'),
  rawBody,
});

describe('inbound message', () => {
  it('serializes to JSON that parses back to the same message and the exact raw bytes', () => {
    const text = serializeInboundMessage(message);
    expect(JSON.parse(text)).toEqual(message);
    const parsed = parseInboundMessage(text);
    expect(parsed).toEqual(message);
    expect(inboundMessageRawBody(parsed).equals(rawBody)).toBe(true);
  });

  it.each([
    ['not JSON', 'nope{'],
    ['a wrong version', serializeInboundMessage({ ...message, version: 2 as 1 })],
    ['a malformed delivery id', serializeInboundMessage({ ...message, deliveryId: 'abc' })],
    ['a malformed customer id', serializeInboundMessage({ ...message, customerId: DONOR.email })],
    ['an unknown provider', JSON.stringify({ ...message, provider: 'mailchimp' })],
    ['a body that is not Base64', JSON.stringify({ ...message, body: DONOR.address1 })],
    ['a missing receivedAt', JSON.stringify({ ...message, receivedAt: undefined })],
  ])('refuses %s as ForbiddenInput, naming fields but never their content', (_name, text) => {
    let caught: unknown;
    try {
      parseInboundMessage(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ name: 'ForbiddenInputError', code: 'INVALID_INBOUND_MESSAGE' });
    const description = `${(caught as Error).message} ${JSON.stringify(caught)}`;
    for (const value of Object.values(DONOR)) expect(description).not.toContain(value);
  });
});

describe('inbound message receivedAt', () => {
  const receivedAtOf = (receivedAt: Date) =>
    createInboundMessage({
      deliveryId: message.deliveryId,
      customerId: 'acme',
      provider: 'virtuous',
      receivedAt,
      rawBody,
    }).receivedAt;

  it('is exactly toISOString for every representable instant, including years it pads or signs', () => {
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (time) => {
        expect(receivedAtOf(new Date(time))).toBe(new Date(time).toISOString());
      }),
      { numRuns: 2000 },
    );
    for (const iso of [
      '0999-12-31T23:59:59.999Z',
      '1000-01-01T00:00:00.000Z',
      '2026-01-09T03:04:05.006Z',
      '2026-11-29T12:00:00.050Z',
      '9999-12-31T23:59:59.999Z',
      '+010000-01-01T00:00:00.000Z',
      '-000001-06-15T10:20:30.400Z',
    ]) {
      expect(receivedAtOf(new Date(iso))).toBe(iso);
    }
  });

  it('refuses an invalid date like toISOString does', () => {
    expect(() => receivedAtOf(new Date(Number.NaN))).toThrow(RangeError);
  });
});

describe('SqsInboundQueue', () => {
  const sqs = mockClient(SQSClient);
  afterEach(() => sqs.reset());

  it('sends one message with the body and the routing attributes', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    await new SqsInboundQueue(new SQSClient({ region: 'us-east-1' }), 'https://sqs.example/q').send(message);
    const calls = sqs.commandCalls(SendMessageCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({
      QueueUrl: 'https://sqs.example/q',
      MessageBody: serializeInboundMessage(message),
      MessageAttributes: {
        version: { DataType: 'Number', StringValue: '1' },
        deliveryId: { DataType: 'String', StringValue: message.deliveryId },
        customerId: { DataType: 'String', StringValue: 'acme' },
        provider: { DataType: 'String', StringValue: 'virtuous' },
      },
    });
  });

  it('turns any send failure, or an unconfirmed send, into a TransientError', async () => {
    const queue = new SqsInboundQueue(new SQSClient({ region: 'us-east-1' }), 'https://sqs.example/q');
    sqs.on(SendMessageCommand).rejects(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }));
    await expect(queue.send(message)).rejects.toMatchObject({ name: 'TransientError', code: 'QUEUE_UNAVAILABLE' });
    sqs.on(SendMessageCommand).resolves({});
    await expect(queue.send(message)).rejects.toMatchObject({ name: 'TransientError', code: 'QUEUE_SEND_UNCONFIRMED' });
  });
});

/** SQS records as Lambda's event source mapping hands them to a handler, for driving queue consumers in tests. */
import type { SQSRecord } from 'aws-lambda';

export interface SqsRecordFields {
  readonly messageId: string;
  readonly body: string;
  readonly receiptHandle?: string;
  /** As SQS reports it: a string, '1' on first delivery. */
  readonly receiveCount?: string;
}

export function sqsRecord(fields: SqsRecordFields): SQSRecord {
  return {
    messageId: fields.messageId,
    receiptHandle: fields.receiptHandle ?? 'r',
    body: fields.body,
    attributes: { ApproximateReceiveCount: fields.receiveCount ?? '1' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:inbound',
    awsRegion: 'us-east-1',
  } as unknown as SQSRecord;
}

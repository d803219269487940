/** A history export (JSON Lines) in S3, read once with a timeout and served in pages (the bulk loader's AWS source). */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { TransientError } from '../shared/errors.ts';
import { type HistorySource, jsonlHistorySource } from './bulk-load.ts';

export function s3JsonlHistorySource(s3: S3Client, bucket: string, key: string, timeoutMs = 60_000): HistorySource {
  let loaded: Promise<HistorySource> | undefined;
  const load = async (): Promise<HistorySource> => {
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), {
        abortSignal: AbortSignal.timeout(timeoutMs),
      });
      return jsonlHistorySource((await object.Body?.transformToString('utf8')) ?? '');
    } catch (cause) {
      loaded = undefined;
      throw new TransientError('HISTORY_UNAVAILABLE', 'the history export could not be read', { cause });
    }
  };
  return {
    async page(cursor) {
      loaded ??= load();
      return (await loaded).page(cursor);
    },
  };
}

import {
  DeleteObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { S3CaptureStore } from '../../../functions/debug-captures/s3-capture-store.ts';

const s3 = mockClient(S3Client);

afterEach(() => s3.reset());

describe('S3CaptureStore', () => {
  it("lists every page under the customer's prefix and deletes every version in batches of at most 1000", async () => {
    const keys = Array.from({ length: 1500 }, (_, i) => `captures/acme/2026-11-29/${String(i).padStart(4, '0')}.json`);
    s3.on(ListObjectsV2Command, { ContinuationToken: undefined })
      .resolves({
        Contents: keys.slice(0, 1000).map((Key) => ({ Key })),
        IsTruncated: true,
        NextContinuationToken: 't2',
      })
      .on(ListObjectsV2Command, { ContinuationToken: 't2' })
      .resolves({ Contents: keys.slice(1000).map((Key) => ({ Key })), IsTruncated: false });
    // The bucket is versioned: each capture has its current version, some an older one, and an earlier deletion
    // left a delete marker in front of a noncurrent version (a capture hidden, not gone).
    s3.on(ListObjectVersionsCommand, { KeyMarker: undefined })
      .resolves({
        Versions: keys.slice(0, 1000).map((Key) => ({ Key, VersionId: `v1-${Key}` })),
        IsTruncated: true,
        NextKeyMarker: 'k2',
        NextVersionIdMarker: 'v2',
      })
      .on(ListObjectVersionsCommand, { KeyMarker: 'k2', VersionIdMarker: 'v2' })
      .resolves({
        Versions: [
          ...keys.slice(1000).map((Key) => ({ Key, VersionId: `v1-${Key}` })),
          { Key: keys[0], VersionId: 'v0-older' },
          { Key: 'captures/acme/2026-11-01/hidden.json', VersionId: 'v0-hidden' },
        ],
        DeleteMarkers: [{ Key: 'captures/acme/2026-11-01/hidden.json', VersionId: 'marker' }],
        IsTruncated: false,
      });
    s3.on(DeleteObjectsCommand).resolves({ Errors: [] });

    const store = new S3CaptureStore(new S3Client({}), 'debug-bucket');
    expect(await store.list('acme')).toHaveLength(1500);
    expect(s3.commandCalls(ListObjectsV2Command)[0]?.args[0].input).toMatchObject({
      Bucket: 'debug-bucket',
      Prefix: 'captures/acme/',
    });
    await expect(store.deleteCustomer('acme')).resolves.toEqual({ deleted: 1500 });
    expect(s3.commandCalls(ListObjectVersionsCommand)[0]?.args[0].input).toMatchObject({
      Bucket: 'debug-bucket',
      Prefix: 'captures/acme/',
    });
    const deletes = s3.commandCalls(DeleteObjectsCommand).map((call) => call.args[0].input.Delete?.Objects ?? []);
    expect(deletes.map((objects) => objects.length)).toEqual([1000, 503]);
    // Every version by id (none left as a noncurrent copy), the delete marker too.
    expect(deletes.flat().every((object) => object.VersionId !== undefined)).toBe(true);
    expect(deletes.flat().map((object) => object.VersionId)).toEqual(
      expect.arrayContaining(['v0-older', 'v0-hidden', 'marker', `v1-${keys[1499]}`]),
    );
  });

  it('reports a partial deletion as transient so the workflow retries it', async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'captures/acme/a.json' }], IsTruncated: false });
    s3.on(ListObjectVersionsCommand).resolves({
      Versions: [{ Key: 'captures/acme/a.json', VersionId: 'v1' }],
      IsTruncated: false,
    });
    s3.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: 'captures/acme/a.json', Code: 'SlowDown' }] });
    const store = new S3CaptureStore(new S3Client({}), 'debug-bucket');
    await expect(store.deleteCustomer('acme')).rejects.toMatchObject({ name: 'TransientError' });
  });

  it('refuses a customer id that would widen the prefix', async () => {
    const store = new S3CaptureStore(new S3Client({}), 'debug-bucket');
    await expect(store.list('')).rejects.toMatchObject({ name: 'ForbiddenInputError' });
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(0);
  });

  it("puts a capture under the customer's dated prefix, encrypted by the bucket's own KMS default", async () => {
    s3.on(PutObjectCommand).resolves({});
    const store = new S3CaptureStore(new S3Client({}), 'debug-bucket');
    const id = 'ab'.repeat(32);
    const { key } = await store.write({
      customerId: 'acme',
      deliveryId: id,
      provider: 'virtuous',
      outcome: 'accepted',
      capturedAt: new Date('2026-11-29T12:00:00.000Z'),
      headers: { 'content-type': 'application/json' },
      rawBody: Buffer.from('{"a":1}'),
    });
    expect(key).toBe(`2026-11-29/${id}.accepted.json`);
    const input = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(input).toMatchObject({ Bucket: 'debug-bucket', Key: `captures/acme/2026-11-29/${id}.accepted.json` });
    // No SSE header: `aws:kms` without a key id would switch to the AWS-managed key instead of the bucket's.
    expect(input?.ServerSideEncryption).toBeUndefined();
    expect(JSON.parse(String(input?.Body))).toMatchObject({ rawBodyBase64: Buffer.from('{"a":1}').toString('base64') });
  });
});

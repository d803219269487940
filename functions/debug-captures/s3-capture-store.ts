import {
  DeleteObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  type ObjectIdentifier,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { TransientError } from '../shared/errors.ts';
import { assertCustomerId } from '../shared/identifiers.ts';
import {
  captureCustomerPrefix,
  captureKey,
  type DebugCapture,
  type DebugCaptureStore,
  type DebugCaptureWriter,
  serializeCapture,
} from './debug-capture-store.ts';

/** S3 allows at most 1000 keys per DeleteObjects call. */
const DELETE_BATCH = 1000;
const MAX_PAGES = 10_000;
/** A capture must never hold up the delivery it copies for long. */
const WRITE_TIMEOUT_MS = 2_000;

/** AWS: captures are objects under `captures/{customerId}/` in the debug bucket (lifecycle rule expires them). */
export class S3CaptureStore implements DebugCaptureStore, DebugCaptureWriter {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async list(customerId: string): Promise<string[]> {
    const prefix = captureCustomerPrefix(assertCustomerId(customerId));
    const keys: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const answer = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of answer.Contents ?? []) {
        if (object.Key !== undefined) keys.push(object.Key.slice(prefix.length));
      }
      token = answer.IsTruncated ? answer.NextContinuationToken : undefined;
      if (token === undefined) return keys;
    }
    throw new TransientError('CAPTURE_LISTING_TOO_LONG', `listing captures of ${customerId} did not finish`);
  }

  /**
   * SSE-KMS under the bucket's own key: no SSE header is sent, because `aws:kms` without a key id would pick the
   * AWS-managed key instead of the bucket default (the data key, with an S3 bucket key).
   */
  async write(capture: DebugCapture): Promise<{ key: string }> {
    const key = captureKey(capture);
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: `${captureCustomerPrefix(assertCustomerId(capture.customerId))}${key}`,
        Body: serializeCapture(capture),
        ContentType: 'application/json',
      }),
      { abortSignal: AbortSignal.timeout(WRITE_TIMEOUT_MS) },
    );
    return { key };
  }

  /**
   * The bucket is versioned (a compliance requirement): deleting a key only puts a delete marker in front of it and
   * keeps the capture as a noncurrent version. So every version and every delete marker under the customer's prefix
   * is deleted by version id: no copy of a capture (raw bodies, donor data) outlives offboarding. Returns how many
   * captures (current objects) there were; a repeated call finds nothing and deletes nothing.
   */
  async deleteCustomer(customerId: string): Promise<{ deleted: number }> {
    const captures = (await this.list(customerId)).length;
    const versions = await this.versions(captureCustomerPrefix(assertCustomerId(customerId)));
    for (let start = 0; start < versions.length; start += DELETE_BATCH) {
      const answer = await this.s3.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: versions.slice(start, start + DELETE_BATCH), Quiet: true },
        }),
      );
      if ((answer.Errors ?? []).length > 0) {
        throw new TransientError('CAPTURE_DELETE_INCOMPLETE', `some captures of ${customerId} were not deleted`);
      }
    }
    return { deleted: captures };
  }

  private async versions(prefix: string): Promise<ObjectIdentifier[]> {
    const found: ObjectIdentifier[] = [];
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const answer = await this.s3.send(
        new ListObjectVersionsCommand({
          Bucket: this.bucket,
          Prefix: prefix,
          KeyMarker: keyMarker,
          VersionIdMarker: versionIdMarker,
        }),
      );
      for (const entry of [...(answer.Versions ?? []), ...(answer.DeleteMarkers ?? [])]) {
        if (entry.Key !== undefined) found.push({ Key: entry.Key, VersionId: entry.VersionId });
      }
      if (!answer.IsTruncated) return found;
      keyMarker = answer.NextKeyMarker;
      versionIdMarker = answer.NextVersionIdMarker;
    }
    throw new TransientError('CAPTURE_LISTING_TOO_LONG', `listing capture versions under ${prefix} did not finish`);
  }
}

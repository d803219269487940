/**
 * The protections every bucket and queue of the stack carries, declared once so a new one cannot quietly miss one
 * (the cdk-nag packs would flag it, but only at synth). Each helper returns props to spread, so callers keep their
 * own construct ids and the template does not change.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import {
  BlockPublicAccess,
  BucketEncryption,
  type BucketProps,
  type IBucket,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { QueueEncryption, type QueueProps } from 'aws-cdk-lib/aws-sqs';

/** No public access, TLS only, no ACLs, versioned (the compliance packs require it), kept when the stack goes. */
export const PRIVATE_BUCKET: BucketProps = {
  blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
  enforceSSL: true,
  objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
  versioned: true,
  removalPolicy: RemovalPolicy.RETAIN,
};

/** A private bucket encrypted with the data key whose access is logged to `accessLogBucket` under `logPrefix`. */
export function dataKeyBucket(dataKey: IKey, accessLogBucket: IBucket, logPrefix: string): BucketProps {
  return {
    ...PRIVATE_BUCKET,
    encryption: BucketEncryption.KMS,
    encryptionKey: dataKey,
    bucketKeyEnabled: true,
    serverAccessLogsBucket: accessLogBucket,
    serverAccessLogsPrefix: logPrefix,
  };
}

/** A queue encrypted with the data key, TLS only; an hour of data-key reuse keeps KMS calls (and cost) low. */
export function dataKeyQueue(dataKey: IKey): QueueProps {
  return {
    encryption: QueueEncryption.KMS,
    encryptionMasterKey: dataKey,
    dataKeyReuse: Duration.hours(1),
    enforceSSL: true,
  };
}

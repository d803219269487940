/**
 * Which history a bulk-load event names: an export in the imports bucket (`export: {bucket, key}`) or the customer's
 * connected Stripe account (`source: 'stripe-connect'`, OAuth through the SourceTokenManager). Exactly one of them.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { SourceTokenManager } from '../credentials/source-tokens.ts';
import { ForbiddenInputError } from '../shared/errors.ts';
import type { HistorySource } from '../sync/bulk-load.ts';
import { s3JsonlHistorySource } from '../sync/s3-history-source.ts';
import { STRIPE_OAUTH_SOURCE, stripeHistorySource } from '../sync/stripe-history-source.ts';

export const STRIPE_CONNECT = 'stripe-connect';

export interface HistoryRequest {
  readonly customerId: string;
  readonly export?: { readonly bucket: string; readonly key: string };
  readonly source?: string;
}

export interface StripeConnectSettings {
  readonly tokens: Pick<SourceTokenManager, 'accessToken' | 'invalidate' | 'resume'>;
  readonly apiBaseUrl?: string;
  /** Local mode and tests only. */
  readonly allowLoopbackHttp?: boolean;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
  readonly maxAttempts?: number;
  readonly backoffMs?: number;
}

export interface HistorySourceSettings {
  readonly s3?: () => S3Client;
  readonly stripeConnect?: () => StripeConnectSettings;
}

/**
 * The handler calls this after it found the customer active or onboarding, so a block this container remembers
 * from an earlier revocation is stale (the customer re-authorized and was resumed): it is lifted before the load.
 */
export function historySourceSelector(settings: HistorySourceSettings): (request: HistoryRequest) => HistorySource {
  return (request) => {
    if (request.export !== undefined && request.source !== undefined) {
      throw new ForbiddenInputError('AMBIGUOUS_HISTORY', 'the event names both an export and a source');
    }
    if (request.source !== undefined) {
      if (request.source !== STRIPE_CONNECT || settings.stripeConnect === undefined) {
        throw new ForbiddenInputError('UNKNOWN_HISTORY_SOURCE', 'the event names a history source this loader lacks');
      }
      const { tokens, ...options } = settings.stripeConnect();
      tokens.resume(request.customerId, STRIPE_OAUTH_SOURCE);
      return stripeHistorySource({ ...options, customerId: request.customerId, tokens });
    }
    const location = request.export;
    if (location === undefined || settings.s3 === undefined) {
      throw new ForbiddenInputError('MISSING_EXPORT', 'the event names no history export');
    }
    if (typeof location.bucket !== 'string' || typeof location.key !== 'string') {
      throw new ForbiddenInputError('MISSING_EXPORT', 'the history export needs a bucket and a key');
    }
    return s3JsonlHistorySource(settings.s3(), location.bucket, location.key);
  };
}

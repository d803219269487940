/** The verifier's settings, with the defaults the issue fixes; read from the environment by the AWS wiring. */
import { ENV, integerSetting } from '../shared/environment.ts';
import { DEFAULT_STRIPE_TOLERANCE_SECONDS } from '../webhooks/stripe-signature.ts';
import { DEFAULT_VIRTUOUS_SIGNATURE_HEADER } from '../webhooks/virtuous-signature.ts';

export interface WebhookVerifierConfig {
  /** Header carrying Virtuous's signature (not published by Virtuous, hence configurable). */
  readonly virtuousSignatureHeader: string;
  /** Largest accepted raw body; larger answers 413. */
  readonly maxBodyBytes: number;
  readonly stripeToleranceSeconds: number;
  /** How long a customer's webhook secrets are reused from memory. */
  readonly secretCacheTtlMs: number;
  /** Longest a debug capture may hold up its delivery before the verifier answers without it. */
  readonly debugCaptureTimeoutMs: number;
}

export const DEFAULT_MAX_WEBHOOK_BODY_BYTES = 256 * 1024;
/** Base64 of the body must fit one SQS message (1 MiB) with its envelope. */
export const MAX_WEBHOOK_BODY_BYTES_LIMIT = 512 * 1024;

export const DEFAULT_CONFIG: WebhookVerifierConfig = {
  virtuousSignatureHeader: DEFAULT_VIRTUOUS_SIGNATURE_HEADER,
  maxBodyBytes: DEFAULT_MAX_WEBHOOK_BODY_BYTES,
  stripeToleranceSeconds: DEFAULT_STRIPE_TOLERANCE_SECONDS,
  secretCacheTtlMs: 60_000,
  debugCaptureTimeoutMs: 2_500,
};

const HEADER_NAME = /^[A-Za-z0-9-]{1,64}$/;

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): WebhookVerifierConfig {
  const header = env[ENV.virtuousSignatureHeader];
  return {
    ...DEFAULT_CONFIG,
    virtuousSignatureHeader: header === undefined || header === '' ? DEFAULT_VIRTUOUS_SIGNATURE_HEADER : header,
    maxBodyBytes: integerSetting(
      ENV.maxWebhookBodyBytes,
      DEFAULT_MAX_WEBHOOK_BODY_BYTES,
      { min: 1, max: MAX_WEBHOOK_BODY_BYTES_LIMIT },
      env,
    ),
  };
}

export function validHeaderName(name: string): boolean {
  return HEADER_NAME.test(name);
}

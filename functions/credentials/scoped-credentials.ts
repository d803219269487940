/**
 * Per-customer scoping: a worker never reads customer secrets with its own execution role. For customer X it
 * assumes its customer-secrets role with the session tags `customer_id=X` and `purpose=<its purpose>`, and a session
 * policy naming only X's secrets for that purpose (secret-purposes.ts). The role's trust policy lets each execution
 * role ask for its own purpose only; the role's policy allows secrets named for `${aws:PrincipalTag/customer_id}` and
 * tagged with the same id. So X's session cannot touch Y's secrets, and a session opened for one purpose (webhook
 * verification) cannot read the secrets of another (API tokens, refresh tokens).
 *
 * Sessions are cached per customer until five minutes before they expire, and concurrent first calls for one
 * customer share a single AssumeRole.
 */
import { AssumeRoleCommand, type AssumeRoleCommandOutput, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import { PermanentError, TransientError } from '../shared/errors.ts';
import { assertCustomerId } from '../shared/identifiers.ts';
import {
  assertSecretPurpose,
  CUSTOMER_TAG,
  PURPOSE_TAG,
  type SecretPurpose,
  type SessionPolicyScope,
  sessionPolicy,
} from './secret-purposes.ts';

export interface CustomerSession {
  readonly customerId: string;
  readonly credentials: AwsCredentialIdentity & { readonly expiration: Date };
  /** The assumed-role session ARN (`arn:aws:sts::<account>:assumed-role/<role>/<session>`): the audit accessor. */
  readonly accessor: string;
}

export interface CustomerSessions {
  forCustomer(customerId: string): Promise<CustomerSession>;
}

export interface StsCustomerSessionsOptions {
  readonly roleArn: string;
  /** Goes into RoleSessionName so CloudTrail shows which function acted; AWS_LAMBDA_FUNCTION_NAME on Lambda. */
  readonly functionName: string;
  /** Why this function opens sessions: the purpose tag, and the secrets its session policy names. */
  readonly purpose: SecretPurpose;
  /** Where the customer's secrets are (environment, secrets key): what the session policy is built from. */
  readonly scope: SessionPolicyScope;
  readonly sts?: STSClient;
  /** 900-3600; the role's maximum session duration caps it. */
  readonly durationSeconds?: number;
  readonly refreshBeforeExpiryMs?: number;
  readonly now?: () => number;
}

export const SESSION_REFRESH_MARGIN_MS = 5 * 60_000;

export function defaultStsClient(): STSClient {
  return new STSClient({
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
  });
}

export class StsCustomerSessions implements CustomerSessions {
  private readonly sts: STSClient;
  private readonly sessions = new Map<string, CustomerSession>();
  private readonly inFlight = new Map<string, Promise<CustomerSession>>();
  private readonly now: () => number;
  private readonly margin: number;

  constructor(private readonly options: StsCustomerSessionsOptions) {
    this.sts = options.sts ?? defaultStsClient();
    this.now = options.now ?? Date.now;
    this.margin = options.refreshBeforeExpiryMs ?? SESSION_REFRESH_MARGIN_MS;
    assertSecretPurpose(options.purpose);
  }

  async forCustomer(customerId: string): Promise<CustomerSession> {
    assertCustomerId(customerId);
    const cached = this.sessions.get(customerId);
    if (cached !== undefined && cached.credentials.expiration.getTime() - this.margin > this.now()) return cached;
    const running = this.inFlight.get(customerId);
    if (running !== undefined) return running;
    const started = this.assume(customerId).finally(() => this.inFlight.delete(customerId));
    this.inFlight.set(customerId, started);
    return started;
  }

  private async assume(customerId: string): Promise<CustomerSession> {
    // Built before the call: a scope that cannot make a policy is a deployment fault, not a passing STS failure.
    const policy = sessionPolicy(this.options.purpose, customerId, this.options.scope);
    let response: AssumeRoleCommandOutput;
    try {
      response = await this.sts.send(
        new AssumeRoleCommand({
          RoleArn: this.options.roleArn,
          RoleSessionName: sessionName(customerId, this.options.functionName),
          DurationSeconds: this.options.durationSeconds ?? 3600,
          Tags: [
            { Key: CUSTOMER_TAG, Value: customerId },
            { Key: PURPOSE_TAG, Value: this.options.purpose },
          ],
          // Keeps the tags on a chained session, so a role assumed from this one stays scoped the same way.
          TransitiveTagKeys: [CUSTOMER_TAG, PURPOSE_TAG],
          // Bound to the customer this call names, whatever the tags say: the session can never reach further.
          Policy: policy,
        }),
      );
    } catch (error) {
      const name = (error as { name?: string }).name ?? '';
      if (name === 'AccessDenied' || name === 'AccessDeniedException' || name === 'MalformedPolicyDocument') {
        throw new PermanentError('SCOPED_ROLE_DENIED', 'assuming the customer-secrets role was denied', {
          cause: error,
        });
      }
      throw new TransientError('SCOPED_ROLE_UNAVAILABLE', 'assuming the customer-secrets role failed', {
        cause: error,
      });
    }
    const c = response.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new TransientError('SCOPED_ROLE_INCOMPLETE', 'AssumeRole returned no complete credentials');
    }
    const session: CustomerSession = {
      customerId,
      credentials: {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiration: new Date(c.Expiration),
      },
      accessor:
        response.AssumedRoleUser?.Arn ??
        `${this.options.roleArn}/${sessionName(customerId, this.options.functionName)}`,
    };
    this.sessions.set(customerId, session);
    return session;
  }
}

/** `<customer>@<function>`, cut to STS's 64 characters of `[\w+=,.@-]` (the customer id is never cut). */
export function sessionName(customerId: string, functionName: string): string {
  const fn = functionName.replace(/[^\w+=,.@-]/g, '-');
  return `${customerId}@${fn}`.slice(0, 64);
}

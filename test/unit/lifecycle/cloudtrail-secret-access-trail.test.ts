import { CloudTrailClient, type Event, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  CLOUDTRAIL_DELIVERY_LAG_MINUTES,
  CloudTrailSecretAccessTrail,
} from '../../../functions/lifecycle/cloudtrail-secret-access-trail.ts';
import { analyseTrail } from '../../../functions/lifecycle/secret-access-trail.ts';

const cloudTrail = mockClient(CloudTrailClient);
const ACCOUNT = '123456789012';
/** Another account that reaches the secret through a cross-account call. */
const OTHER_ACCOUNT = '222222222222';
const WRITER_ROLE = `arn:aws:iam::${ACCOUNT}:role/VirtuousIntegration-prod-CustomerSecretsWriter`;
const OWN_SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/VirtuousIntegration-prod-CustomerSecretsWriter/acme@tasks`;
const FOREIGN = `arn:aws:sts::${ACCOUNT}:assumed-role/DeveloperAccess/alice`;
const ACME_TOKEN = 'virtuous/prod/acme/api_token';
const ACME_TOKEN_ARN = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:${ACME_TOKEN}-Ab12Cd`;
const FROM = '2026-11-29T00:00:00.000Z';
const TO = '2026-11-30T00:00:00.000Z';
const NOW = Date.parse('2026-11-30T00:00:00.000Z');

/** One LookupEvents event as CloudTrail returns it: the record itself is a JSON string. */
function event(options: {
  at: string;
  principal?: string;
  secretId?: string;
  resourceArn?: string;
  errorCode?: string;
  identity?: Record<string, string>;
}): Event {
  const record = {
    eventName: 'GetSecretValue',
    userIdentity: options.identity ?? { type: 'AssumedRole', arn: options.principal, accountId: ACCOUNT },
    requestParameters: options.secretId === undefined ? null : { secretId: options.secretId },
    ...(options.errorCode === undefined ? {} : { errorCode: options.errorCode, errorMessage: 'denied' }),
    ...(options.resourceArn === undefined
      ? {}
      : { resources: [{ accountId: ACCOUNT, type: 'AWS::SecretsManager::Secret', ARN: options.resourceArn }] }),
  };
  return {
    EventId: `e-${options.at}`,
    EventName: 'GetSecretValue',
    EventTime: new Date(options.at),
    Resources:
      options.resourceArn === undefined
        ? undefined
        : [{ ResourceType: 'AWS::SecretsManager::Secret', ResourceName: options.resourceArn }],
    CloudTrailEvent: JSON.stringify(record),
  };
}

function trail(options: { maxPages?: number; now?: number } = {}) {
  const waits: number[] = [];
  const clock = { at: options.now ?? NOW };
  const reader = new CloudTrailSecretAccessTrail({
    client: new CloudTrailClient({ region: 'us-east-1' }),
    environment: 'prod',
    now: () => clock.at,
    sleep: async (ms) => {
      waits.push(ms);
      clock.at += ms;
    },
    ...(options.maxPages === undefined ? {} : { maxPages: options.maxPages }),
  });
  return { reader, waits };
}

beforeEach(() => {
  cloudTrail.reset();
});

describe('CloudTrailSecretAccessTrail', () => {
  it("pages through GetSecretValue events of the window and keeps the customer's secrets, denied calls included", async () => {
    cloudTrail
      .on(LookupEventsCommand)
      .resolvesOnce({
        Events: [
          event({ at: '2026-11-29T10:00:00Z', principal: OWN_SESSION, resourceArn: ACME_TOKEN_ARN }),
          // Another customer's secret and another environment's: not this incident's.
          event({
            at: '2026-11-29T10:01:00Z',
            principal: FOREIGN,
            resourceArn: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:virtuous/prod/globex/api_token-Zz99Yy`,
          }),
          event({ at: '2026-11-29T10:02:00Z', principal: FOREIGN, secretId: 'virtuous/staging/acme/api_token' }),
          // Denied: no resources, only the id the caller asked for.
          event({ at: '2026-11-29T11:00:00Z', principal: FOREIGN, secretId: ACME_TOKEN, errorCode: 'AccessDenied' }),
        ],
        NextToken: 'page-2',
      })
      .resolvesOnce({
        Events: [
          event({ at: '2026-11-29T12:00:00Z', principal: FOREIGN, resourceArn: ACME_TOKEN_ARN }),
          event({
            at: '2026-11-29T12:05:00Z',
            identity: { type: 'AWSAccount', accountId: OTHER_ACCOUNT },
            secretId: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:stripe/prod/acme/refresh_token`,
          }),
        ],
      });
    const { reader, waits } = trail();

    const read = await reader.readAccesses({ customerId: 'acme', from: FROM, to: TO });

    const calls = cloudTrail.commandCalls(LookupEventsCommand);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.args[0].input).toMatchObject({
      LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'GetSecretValue' }],
      StartTime: new Date(FROM),
      EndTime: new Date(TO),
      MaxResults: 50,
    });
    expect(calls[1]?.args[0].input.NextToken).toBe('page-2');
    // Paced to LookupEvents' 2 requests a second.
    expect(waits).toEqual([500]);
    expect(read).toEqual({
      coveredFrom: FROM,
      coveredTo: TO,
      truncated: false,
      events: [
        { at: '2026-11-29T10:00:00.000Z', principal: OWN_SESSION, secretName: ACME_TOKEN },
        { at: '2026-11-29T11:00:00.000Z', principal: FOREIGN, secretName: ACME_TOKEN, errorCode: 'AccessDenied' },
        { at: '2026-11-29T12:00:00.000Z', principal: FOREIGN, secretName: ACME_TOKEN },
        {
          at: '2026-11-29T12:05:00.000Z',
          principal: `AWSAccount:${OTHER_ACCOUNT}`,
          secretName: 'stripe/prod/acme/refresh_token',
        },
      ],
    });
  });

  it('turns a denied call and a foreign accessor into findings; our own session for the customer is none', async () => {
    const { reader } = trail();
    cloudTrail.on(LookupEventsCommand).resolves({
      Events: [
        event({ at: '2026-11-29T10:00:00Z', principal: OWN_SESSION, resourceArn: ACME_TOKEN_ARN }),
        event({ at: '2026-11-29T10:30:00Z', principal: OWN_SESSION, secretId: ACME_TOKEN, errorCode: 'AccessDenied' }),
        event({ at: '2026-11-29T11:00:00Z', principal: FOREIGN, resourceArn: ACME_TOKEN_ARN }),
        event({ at: '2026-11-29T11:10:00Z', principal: FOREIGN, resourceArn: ACME_TOKEN_ARN }),
        // Our role, but a session named for another customer.
        event({
          at: '2026-11-29T11:20:00Z',
          principal: OWN_SESSION.replace('/acme@', '/globex@'),
          resourceArn: ACME_TOKEN_ARN,
        }),
      ],
    });
    const read = await reader.readAccesses({ customerId: 'acme', from: FROM, to: TO });
    const findings = analyseTrail(read, reader, {
      customerId: 'acme',
      expectedAccessors: [WRITER_ROLE],
      hourlyThreshold: 100,
    });

    expect(findings).toMatchObject({
      source: 'cloudtrail',
      status: 'checked',
      coveredFrom: FROM,
      coveredTo: TO,
      deliveryLagMinutes: CLOUDTRAIL_DELIVERY_LAG_MINUTES,
      completeUntil: '2026-11-29T23:45:00.000Z',
      totalCalls: 5,
      deniedCalls: 1,
      foreignCalls: 3,
      foreignPrincipals: [FOREIGN, OWN_SESSION.replace('/acme@', '/globex@')].sort(),
      findingsTruncated: false,
    });
    expect(findings.findings).toEqual([
      {
        kind: 'foreign_accessor',
        principal: FOREIGN,
        secretName: ACME_TOKEN,
        calls: 2,
        firstAt: '2026-11-29T11:00:00.000Z',
        lastAt: '2026-11-29T11:10:00.000Z',
      },
      {
        kind: 'access_denied',
        principal: OWN_SESSION,
        secretName: ACME_TOKEN,
        calls: 1,
        firstAt: '2026-11-29T10:30:00.000Z',
        lastAt: '2026-11-29T10:30:00.000Z',
        errorCode: 'AccessDenied',
      },
      {
        kind: 'foreign_accessor',
        principal: OWN_SESSION.replace('/acme@', '/globex@'),
        secretName: ACME_TOKEN,
        calls: 1,
        firstAt: '2026-11-29T11:20:00.000Z',
        lastAt: '2026-11-29T11:20:00.000Z',
      },
    ]);
  });

  it('stops at its page budget and says the read is truncated', async () => {
    cloudTrail.on(LookupEventsCommand).resolves({
      Events: [event({ at: '2026-11-29T10:00:00Z', principal: OWN_SESSION, resourceArn: ACME_TOKEN_ARN })],
      NextToken: 'more',
    });
    const { reader } = trail({ maxPages: 3 });
    const read = await reader.readAccesses({ customerId: 'acme', from: FROM, to: TO });
    expect(cloudTrail.commandCalls(LookupEventsCommand)).toHaveLength(3);
    expect(read.truncated).toBe(true);
    expect(read.events).toHaveLength(3);
  });

  it('moves a window start older than the 90 days CloudTrail keeps up, and says so', async () => {
    cloudTrail.on(LookupEventsCommand).resolves({ Events: [] });
    const { reader } = trail();
    const read = await reader.readAccesses({ customerId: 'acme', from: '2026-01-01T00:00:00.000Z', to: TO });
    const start = cloudTrail.commandCalls(LookupEventsCommand)[0]?.args[0].input.StartTime as Date;
    expect(start.getTime()).toBeGreaterThan(NOW - 90 * 24 * 3_600_000);
    expect(read.coveredFrom).toBe(start.toISOString());
  });

  it('leaves throttling that outlasted its retries to the workflow, and refuses a missing grant for good', async () => {
    const { reader } = trail();
    cloudTrail
      .on(LookupEventsCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))
      .rejectsOnce(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
    await expect(reader.readAccesses({ customerId: 'acme', from: FROM, to: TO })).rejects.toMatchObject({
      name: 'TransientError',
      code: 'CLOUDTRAIL_UNAVAILABLE',
    });
    await expect(reader.readAccesses({ customerId: 'acme', from: FROM, to: TO })).rejects.toMatchObject({
      name: 'PermanentError',
      code: 'CLOUDTRAIL_LOOKUP_REFUSED',
    });
  });

  it('uses the adaptive retry mode with bounded attempts when it builds its own client', async () => {
    const reader = new CloudTrailSecretAccessTrail({ environment: 'prod' });
    const client = (reader as unknown as { client: CloudTrailClient }).client;
    expect(await client.config.maxAttempts()).toBe(4);
    expect(((await client.config.retryStrategy()) as { mode?: string }).mode).toBe('adaptive');
  });
});

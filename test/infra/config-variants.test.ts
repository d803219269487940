// biome-ignore-all lint/suspicious/noExplicitAny: CloudFormation template JSON is untyped
/**
 * What context changes: the environment name (production protections), the Virtuous signature header, and the
 * refusal of settings that would weaken the stack. Small stacks of single constructs keep this file fast.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { TABLE_KEYS } from '../../functions/shared/tables.ts';
import { readConfig } from '../../infra/aws/config.ts';
import { Ingress } from '../../infra/aws/constructs/ingress.ts';
import { State } from '../../infra/aws/constructs/state.ts';

function stack(): Stack {
  return new Stack(new App(), 'Variant', { env: { account: '111111111111', region: 'us-east-1' } });
}

function config(context: Record<string, unknown>) {
  const app = new App({ context });
  return readConfig(app.node);
}

describe('environment name', () => {
  it('production tables have deletion protection and are retained; staging ones are not', () => {
    for (const environmentName of ['production', 'staging'] as const) {
      const s = stack();
      new State(s, 'State', {
        environmentName,
        dataKey: new Key(s, 'Key', { enableKeyRotation: true }),
        processorTimeout: Duration.seconds(60),
        accessLogBucket: new Bucket(s, 'Logs'),
      });
      const tables = Object.values(Template.fromStack(s).findResources('AWS::DynamoDB::Table'));
      expect(tables).toHaveLength(TABLE_KEYS.length);
      for (const table of tables) {
        expect(table.Properties.DeletionProtectionEnabled).toBe(environmentName === 'production');
        expect(table.DeletionPolicy).toBe(environmentName === 'production' ? 'Retain' : 'Delete');
        expect(table.Properties.TableName).toMatch(new RegExp(`^virtuous-${environmentName}-`));
      }
    }
  });

  it('accepts only production or staging', () => {
    expect(config({ environmentName: 'production' }).environmentName).toBe('production');
    expect(() => config({ environmentName: 'prod' })).toThrow(/production" or "staging/);
    expect(() => config({})).toThrow();
    expect(() => config({ environmentName: '../x' })).toThrow();
  });
});

describe('webhook settings', () => {
  it('uses the signature header named in context for the Virtuous route, Stripe-Signature for Stripe', () => {
    const s = stack();
    const fn = (id: string) =>
      new LambdaFunction(s, id, { runtime: Runtime.NODEJS_24_X, handler: 'index.handler', code: Code.fromInline('x') });
    new Ingress(s, 'Ingress', {
      environmentName: 'staging',
      logKey: new Key(s, 'Key', { enableKeyRotation: true }),
      webhookVerifier: fn('Verifier'),
      lifecycleApi: fn('Lifecycle'),
      virtuousSignatureHeader: 'X-Partner-Signature',
      maxWebhookBodyBytes: 32_768,
      wafRateLimitPer5Minutes: 500,
      wafWebhookRateLimitPer5Minutes: 9_000,
      apiRateLimit: 20,
      apiBurstLimit: 40,
    });
    const template = Template.fromStack(s);
    const headers = Object.values(template.findResources('AWS::ApiGateway::Method')).flatMap((m) =>
      Object.keys(m.Properties.RequestParameters ?? {}),
    );
    expect(headers).toContain('method.request.header.X-Partner-Signature');
    expect(headers).toContain('method.request.header.Stripe-Signature');
    expect(headers).not.toContain('method.request.header.X-Virtuous-Signature');
    const [acl] = Object.values(template.findResources('AWS::WAFv2::WebACL'));
    const rules = acl?.Properties.Rules as { Name: string; Statement: Record<string, any> }[];
    expect(rules.find((r) => r.Name === 'BodySizeLimit')?.Statement.SizeConstraintStatement.Size).toBe(32_768);
    expect(rules.find((r) => r.Name === 'RatePerIp')?.Statement.RateBasedStatement.Limit).toBe(500);
    expect(rules.find((r) => r.Name === 'WebhookRatePerSenderAndCustomer')?.Statement.RateBasedStatement.Limit).toBe(
      9_000,
    );
    // WAF logs redact the configured header (lower-case, as WAF matches it).
    template.hasResourceProperties('AWS::WAFv2::LoggingConfiguration', {
      RedactedFields: [
        { SingleHeader: { Name: 'x-partner-signature' } },
        { SingleHeader: { Name: 'stripe-signature' } },
        { SingleHeader: { Name: 'authorization' } },
      ],
    });
  });

  it('refuses settings that would weaken the stack', () => {
    const base = { environmentName: 'staging' };
    expect(() => config({ ...base, virtuousSignatureHeader: 'X Bad: header' })).toThrow(/header name/);
    expect(() => config({ ...base, virtuousBaseUrl: 'http://api.virtuoussoftware.com' })).toThrow(/https/);
    expect(() => config({ ...base, maxWebhookBodyBytes: 10_000_000 })).toThrow(/maxWebhookBodyBytes/);
    expect(() => config({ ...base, secretRecoveryWindowDays: 0 })).toThrow(/secretRecoveryWindowDays/);
    expect(config(base)).toMatchObject({
      virtuousSignatureHeader: 'X-Virtuous-Signature',
      maxWebhookBodyBytes: 65_536,
      virtuousBaseUrl: 'https://api.virtuoussoftware.com',
    });
  });
});

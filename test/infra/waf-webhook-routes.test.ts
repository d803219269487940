// biome-ignore-all lint/suspicious/noExplicitAny: CloudFormation template JSON is untyped; these helpers and assertions walk it structurally
/**
 * What the web ACL does to each route of the synthesized API. Virtuous and Stripe send every customer's webhooks
 * from a few shared addresses, so no rule may limit the webhook routes per IP alone, and no managed rule that
 * blocks ordinary signed JSON (free text, no User-Agent) may block them; the lifecycle API keeps all of it.
 *
 * The routes come from the template's API Gateway resources, and the rules' scope-down statements are evaluated
 * for each of them (URI path regex, not/and/or, label match: the statements this web ACL uses).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { STAGE_NAME, WEBHOOK_COUNTED_CORE_RULES } from '../../infra/aws/constructs/ingress.ts';
import { projectContext } from '../../infra/aws/project-context.ts';
import { resourcesOfType, type Synthesized, synthesize } from './synth.ts';

interface Request {
  readonly path: string;
  /** Labels earlier rules (the core rule set) added to the request. */
  readonly labels: readonly string[];
}

let synth: Synthesized;
let rules: any[];
let routes: { path: string; webhook: boolean }[];

beforeAll(() => {
  synth = synthesize({}, { nag: false });
  const [[, acl]] = resourcesOfType(synth.json, 'AWS::WAFv2::WebACL') as [[string, any]];
  rules = acl.Properties.Rules;
  routes = apiRoutes();
}, 180_000);

/** Every method's path as a caller sends it (`/v1/...`), with sample values for the path parameters. */
function apiRoutes(): { path: string; webhook: boolean }[] {
  const resources = Object.fromEntries(resourcesOfType(synth.json, 'AWS::ApiGateway::Resource'));
  const pathOf = (id: string): string => {
    const resource = resources[id];
    const parent = resource.Properties.ParentId;
    const prefix = parent.Ref ? pathOf(parent.Ref) : '';
    return `${prefix}/${resource.Properties.PathPart}`;
  };
  return resourcesOfType(synth.json, 'AWS::ApiGateway::Method')
    .filter(([, method]) => method.Properties.ResourceId?.Ref)
    .map(([, method]) => {
      const template = pathOf(method.Properties.ResourceId.Ref);
      const path = `/${STAGE_NAME}${template.replace('{customerId}', 'acme-7').replace('{proxy+}', 'customers/acme-7')}`;
      return { path, webhook: template.startsWith('/webhooks/') };
    });
}

function matches(statement: any, request: Request): boolean {
  if (statement.RegexMatchStatement) {
    const { RegexString, FieldToMatch, TextTransformations } = statement.RegexMatchStatement;
    expect(FieldToMatch).toEqual({ UriPath: {} });
    expect(TextTransformations).toEqual([{ Priority: 0, Type: 'NONE' }]);
    return new RegExp(RegexString).test(request.path);
  }
  if (statement.NotStatement) return !matches(statement.NotStatement.Statement, request);
  if (statement.AndStatement) return statement.AndStatement.Statements.every((s: any) => matches(s, request));
  if (statement.OrStatement) return statement.OrStatement.Statements.some((s: any) => matches(s, request));
  if (statement.LabelMatchStatement) {
    expect(statement.LabelMatchStatement.Scope).toBe('LABEL');
    return request.labels.includes(statement.LabelMatchStatement.Key);
  }
  throw new Error(`statement not modelled by this test: ${Object.keys(statement).join(',')}`);
}

/** Whether a rate-based rule counts (and so may block) this request. */
function rateRuleCovers(rule: any, request: Request): boolean {
  const scope = rule.Statement.RateBasedStatement.ScopeDownStatement;
  return scope === undefined || matches(scope, request);
}

const rateRules = () => rules.filter((rule) => rule.Statement.RateBasedStatement);
const keysOf = (rule: any): string[] => {
  const rate = rule.Statement.RateBasedStatement;
  if (rate.AggregateKeyType === 'IP' || rate.AggregateKeyType === 'FORWARDED_IP') return ['IP'];
  return (rate.CustomKeys ?? []).flatMap((key: any) => Object.keys(key));
};
const labelsOf = (rule: string) =>
  `awswaf:managed:aws:core-rule-set:${WEBHOOK_COUNTED_CORE_RULES[rule as keyof typeof WEBHOOK_COUNTED_CORE_RULES]}`;

describe('web ACL on the webhook routes', () => {
  it('finds both webhook routes and the lifecycle API in the template', () => {
    expect(routes.filter((r) => r.webhook).map((r) => r.path)).toEqual(
      expect.arrayContaining([`/${STAGE_NAME}/webhooks/virtuous/acme-7`, `/${STAGE_NAME}/webhooks/stripe/acme-7`]),
    );
    expect(routes.some((r) => !r.webhook && r.path.startsWith(`/${STAGE_NAME}/lifecycle/`))).toBe(true);
  });

  it('never limits a webhook route per IP alone: the shared sender addresses are not blocked for everyone', () => {
    for (const route of routes) {
      const perIpOnly = rateRules().filter((rule) => keysOf(rule).join() === 'IP');
      expect(perIpOnly.length).toBeGreaterThan(0);
      for (const rule of perIpOnly) {
        expect(rateRuleCovers(rule, { path: route.path, labels: [] }), `${rule.Name} on ${route.path}`).toBe(
          !route.webhook,
        );
      }
    }
  });

  it('limits each webhook route per sender IP and webhook URL, with a limit of its own', () => {
    for (const route of routes.filter((r) => r.webhook)) {
      const covering = rateRules().filter((rule) => rateRuleCovers(rule, { path: route.path, labels: [] }));
      expect(covering.map((rule) => rule.Name)).toEqual(['WebhookRatePerSenderAndCustomer']);
      const [rule] = covering;
      expect(rule.Action).toEqual({ Block: {} });
      expect(keysOf(rule).sort()).toEqual(['IP', 'UriPath']);
      expect(rule.Statement.RateBasedStatement.Limit).toBe(Number(projectContext().wafWebhookRateLimitPer5Minutes));
    }
    // A customer id is part of the path: two customers' deliveries from the same sender never share a counter.
    for (const route of routes.filter((r) => !r.webhook)) {
      const covering = rateRules().filter((rule) => rateRuleCovers(rule, { path: route.path, labels: [] }));
      expect(covering.map((rule) => rule.Name)).toEqual(['RatePerIp']);
    }
  });

  it('lets signed JSON through on the webhook routes and keeps those core rules blocking everywhere else', () => {
    const common = rules.find((r) => r.Statement.ManagedRuleGroupStatement?.Name === 'AWSManagedRulesCommonRuleSet');
    const counted = common.Statement.ManagedRuleGroupStatement.RuleActionOverrides.map((o: any) => {
      expect(o.ActionToUse).toEqual({ Count: {} });
      return o.Name;
    });
    expect(counted.sort()).toEqual(['SizeRestrictions_BODY', ...Object.keys(WEBHOOK_COUNTED_CORE_RULES)].sort());
    const blockingByLabel = rules.filter((rule) => rule.Action?.Block && JSON.stringify(rule).includes('LabelMatch'));
    for (const rule of blockingByLabel) expect(rule.Priority).toBeGreaterThan(common.Priority);
    for (const coreRule of Object.keys(WEBHOOK_COUNTED_CORE_RULES)) {
      for (const route of routes) {
        const request = { path: route.path, labels: [labelsOf(coreRule)] };
        const blocked = blockingByLabel.some((rule) => matches(rule.Statement, request));
        expect(blocked, `${coreRule} on ${route.path}`).toBe(!route.webhook);
      }
    }
    // Without a label nothing is blocked by those rules: they only re-apply what the core rule set found.
    for (const route of routes) {
      expect(blockingByLabel.some((rule) => matches(rule.Statement, { path: route.path, labels: [] }))).toBe(false);
    }
  });

  it('matches only the exact webhook paths, with or without the stage, never a lifecycle path that mentions one', () => {
    const [rule] = rateRules().filter((r) => r.Name === 'WebhookRatePerSenderAndCustomer');
    const covers = (path: string) => rateRuleCovers(rule, { path, labels: [] });
    expect(covers('/webhooks/stripe/acme-7')).toBe(true);
    expect(covers(`/${STAGE_NAME}/webhooks/virtuous/acme-7/`)).toBe(true);
    expect(covers(`/${STAGE_NAME}/lifecycle/webhooks/virtuous/acme-7`)).toBe(false);
    expect(covers(`/${STAGE_NAME}/webhooks/virtuous/acme-7/extra`)).toBe(false);
    expect(covers(`/${STAGE_NAME}/webhooks/other/acme-7`)).toBe(false);
  });
});

/**
 * The internet-facing surface: a regional REST API behind a WAFv2 web ACL.
 *
 * - `POST /webhooks/virtuous/{customerId}` and `POST /webhooks/stripe/{customerId}` → webhook verifier (Lambda proxy).
 *   Callers are authenticated by the HMAC signature the verifier checks over the raw body, so the methods carry no
 *   IAM/Cognito authorizer; API Gateway still rejects requests without the path parameter, Content-Type or the
 *   signature header before they cost a Lambda invocation.
 * - `ANY /lifecycle/{proxy+}` → lifecycle API, AWS_IAM (SigV4) only: partner platform backends call it.
 *
 * Raw bytes: `binaryMediaTypes: ['*\/*']` makes API Gateway hand every body to Lambda base64-encoded
 * (`isBase64Encoded: true`) exactly as received. Without it a text body is re-encoded as UTF-8 on the way, which can
 * change bytes (invalid sequences, BOMs) and break an HMAC computed by the sender over the original bytes. The
 * functions decode `isBase64Encoded` bodies; responses are JSON text with `isBase64Encoded: false`.
 */
import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  AuthorizationType,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  RequestValidator,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { CfnLoggingConfiguration, CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { LOG_RETENTION } from './secure-function.ts';

export const STAGE_NAME = 'v1';
export const STRIPE_SIGNATURE_HEADER = 'Stripe-Signature';
export const WEBHOOK_PROVIDER_ROUTES = ['virtuous', 'stripe'] as const;

/**
 * The webhook routes' URI paths as WAF sees them: `/v1/webhooks/{provider}/{customerId}` on the execute-api URL, or
 * without the stage on a custom domain mapped at its root. Anchored, so no lifecycle path can look like one.
 */
export const WEBHOOK_PATH_REGEX = `^(/${STAGE_NAME})?/webhooks/(${WEBHOOK_PROVIDER_ROUTES.join('|')})/[^/]+/?$`;

/**
 * Core rule set rules that inspect what a legitimate webhook carries and would block it: donor free text (notes,
 * descriptions, addresses) in signed JSON can look like script, a path or a URL with an IP address, and Virtuous
 * does not promise a User-Agent header. On the webhook routes they only count: the body is authenticated by its
 * HMAC before anything reads it, is never rendered or interpolated into a query, and the verifier refuses anything
 * unsigned. On every other route the label they leave is blocked by `CommonRuleSetOutsideWebhooks`.
 * SizeRestrictions_BODY (8 KB) counts everywhere instead: `BodySizeLimit` enforces the product's own limit.
 */
export const WEBHOOK_COUNTED_CORE_RULES = {
  NoUserAgent_HEADER: 'NoUserAgent_Header',
  CrossSiteScripting_BODY: 'CrossSiteScripting_Body',
  GenericLFI_BODY: 'GenericLFI_Body',
  GenericRFI_BODY: 'GenericRFI_Body',
} as const;
const CORE_RULE_SET_LABEL = 'awswaf:managed:aws:core-rule-set';

export interface IngressProps {
  readonly environmentName: string;
  readonly logKey: IKey;
  readonly webhookVerifier: IFunction;
  readonly lifecycleApi: IFunction;
  readonly virtuousSignatureHeader: string;
  readonly maxWebhookBodyBytes: number;
  /** Requests per client IP per 5 minutes on every route except the webhook routes. */
  readonly wafRateLimitPer5Minutes: number;
  /** Requests per sender IP and webhook URL (one customer of one provider) per 5 minutes on the webhook routes. */
  readonly wafWebhookRateLimitPer5Minutes: number;
  readonly apiRateLimit: number;
  readonly apiBurstLimit: number;
}

export class Ingress extends Construct {
  readonly api: RestApi;
  readonly webAcl: CfnWebACL;
  readonly accessLogGroup: LogGroup;

  constructor(scope: Construct, id: string, props: IngressProps) {
    super(scope, id);
    const prefix = `virtuous-${props.environmentName}`;

    this.accessLogGroup = new LogGroup(this, 'AccessLogs', {
      retention: LOG_RETENTION,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // Method-level limits below the stage limit: one noisy route cannot starve the other.
    const webhookThrottle = {
      throttlingRateLimit: Math.max(1, Math.floor(props.apiRateLimit / 2)),
      throttlingBurstLimit: Math.max(1, Math.floor(props.apiBurstLimit / 2)),
    };
    this.api = new RestApi(this, 'Api', {
      restApiName: `${prefix}-ingress`,
      description: 'Virtuous integration: webhook receiver and lifecycle API',
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      binaryMediaTypes: ['*/*'],
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      disableExecuteApiEndpoint: false,
      deployOptions: {
        stageName: STAGE_NAME,
        tracingEnabled: true,
        // Execution logs at ERROR without data tracing: request/response bodies (donor data) never reach logs.
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        throttlingRateLimit: props.apiRateLimit,
        throttlingBurstLimit: props.apiBurstLimit,
        accessLogDestination: new LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields({
          caller: false,
          httpMethod: true,
          ip: true,
          protocol: true,
          requestTime: true,
          resourcePath: true,
          responseLength: true,
          status: true,
          user: false,
        }),
        methodOptions: {
          '/webhooks/virtuous/{customerId}/POST': webhookThrottle,
          '/webhooks/stripe/{customerId}/POST': webhookThrottle,
        },
      },
    });
    // API Gateway creates its execution log group on first use, without retention; owning it here sets retention.
    new LogGroup(this, 'ExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${this.api.restApiId}/${STAGE_NAME}`,
      retention: LOG_RETENTION,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const validator = new RequestValidator(this, 'HeadersAndPath', {
      restApi: this.api,
      requestValidatorName: `${prefix}-headers-and-path`,
      validateRequestParameters: true,
      validateRequestBody: false,
    });
    const verifier = new LambdaIntegration(props.webhookVerifier, { proxy: true });
    const webhooks = this.api.root.addResource('webhooks');
    const routes: Record<(typeof WEBHOOK_PROVIDER_ROUTES)[number], string> = {
      virtuous: props.virtuousSignatureHeader,
      stripe: STRIPE_SIGNATURE_HEADER,
    };
    for (const provider of WEBHOOK_PROVIDER_ROUTES) {
      const signatureHeader = routes[provider];
      webhooks
        .addResource(provider)
        .addResource('{customerId}')
        .addMethod('POST', verifier, {
          authorizationType: AuthorizationType.NONE,
          requestValidator: validator,
          requestParameters: {
            'method.request.path.customerId': true,
            'method.request.header.Content-Type': true,
            [`method.request.header.${signatureHeader}`]: true,
          },
        });
    }

    this.api.root
      .addResource('lifecycle')
      .addResource('{proxy+}')
      .addMethod('ANY', new LambdaIntegration(props.lifecycleApi, { proxy: true }), {
        authorizationType: AuthorizationType.IAM,
        requestValidator: validator,
        requestParameters: { 'method.request.path.proxy': true },
      });

    this.webAcl = new CfnWebACL(this, 'WebAcl', {
      name: `${prefix}-ingress`,
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility(`${prefix}-ingress`),
      // Inspect bodies up to 64 KB so the explicit size rule compares against the real limit, not WAF's 16 KB default.
      associationConfig: { requestBody: { API_GATEWAY: { defaultSizeInspectionLimit: 'KB_64' } } },
      rules: [
        managedRule('AmazonIpReputationList', 0, 'AWSManagedRulesAmazonIpReputationList'),
        {
          // Per client IP on the lifecycle API and anything else that is not a webhook. Not on the webhook routes:
          // Virtuous and Stripe deliver every customer's webhooks from a few shared addresses, so a per-IP limit
          // would drop their deliveries and retries for all customers at once.
          name: 'RatePerIp',
          priority: 1,
          action: { block: {} },
          statement: {
            rateBasedStatement: {
              limit: props.wafRateLimitPer5Minutes,
              aggregateKeyType: 'IP',
              evaluationWindowSec: 300,
              scopeDownStatement: { notStatement: { statement: webhookPath() } },
            },
          },
          visibilityConfig: visibility('RatePerIp'),
        },
        {
          // Webhook routes: per sender IP AND webhook URL (one customer of one provider). A sender's traffic for one
          // customer never counts against another customer, and a flood aimed at one customer's URL from one
          // address is cut without touching the legitimate sender's deliveries to the same URL.
          name: 'WebhookRatePerSenderAndCustomer',
          priority: 2,
          action: { block: {} },
          statement: {
            rateBasedStatement: {
              limit: props.wafWebhookRateLimitPer5Minutes,
              aggregateKeyType: 'CUSTOM_KEYS',
              customKeys: [{ ip: {} }, { uriPath: { textTransformations: [{ priority: 0, type: 'NONE' }] } }],
              evaluationWindowSec: 300,
              scopeDownStatement: webhookPath(),
            },
          },
          visibilityConfig: visibility('WebhookRatePerSenderAndCustomer'),
        },
        {
          // The product's body limit, identical to the verifier's 413 threshold. Bodies beyond what WAF inspects
          // count as oversize (MATCH), so nothing larger slips through uninspected.
          name: 'BodySizeLimit',
          priority: 3,
          action: { block: {} },
          statement: {
            sizeConstraintStatement: {
              fieldToMatch: { body: { oversizeHandling: 'MATCH' } },
              comparisonOperator: 'GT',
              size: props.maxWebhookBodyBytes,
              textTransformations: [{ priority: 0, type: 'NONE' }],
            },
          },
          visibilityConfig: visibility('BodySizeLimit'),
        },
        // SizeRestrictions_BODY blocks bodies over 8 KB, below legitimate Stripe event sizes; it is set to COUNT
        // because BodySizeLimit above enforces the product's own limit (the same value the verifier answers 413 for).
        // The rules that would block legitimate webhooks count too, and are blocked again below outside the webhook
        // routes (see WEBHOOK_COUNTED_CORE_RULES).
        managedRule('CommonRuleSet', 4, 'AWSManagedRulesCommonRuleSet', [
          'SizeRestrictions_BODY',
          ...Object.keys(WEBHOOK_COUNTED_CORE_RULES),
        ]),
        {
          name: 'CommonRuleSetOutsideWebhooks',
          priority: 5,
          action: { block: {} },
          statement: {
            andStatement: {
              statements: [
                {
                  orStatement: {
                    statements: Object.values(WEBHOOK_COUNTED_CORE_RULES).map((label) => ({
                      labelMatchStatement: { scope: 'LABEL', key: `${CORE_RULE_SET_LABEL}:${label}` },
                    })),
                  },
                },
                { notStatement: { statement: webhookPath() } },
              ],
            },
          },
          visibilityConfig: visibility('CommonRuleSetOutsideWebhooks'),
        },
        managedRule('KnownBadInputs', 6, 'AWSManagedRulesKnownBadInputsRuleSet'),
      ],
    });

    new CfnWebACLAssociation(this, 'StageAssociation', {
      resourceArn: this.api.deploymentStage.stageArn,
      webAclArn: this.webAcl.attrArn,
    });

    // WAF requires the aws-waf-logs- prefix. Signature headers are redacted: they are not secrets, but they are
    // per-delivery credentials nobody needs to read back.
    const wafLogs = new LogGroup(this, 'WafLogs', {
      logGroupName: `aws-waf-logs-${prefix}`,
      retention: LOG_RETENTION,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const logging = new CfnLoggingConfiguration(this, 'WafLogging', {
      resourceArn: this.webAcl.attrArn,
      logDestinationConfigs: [
        Stack.of(this).formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: wafLogs.logGroupName,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
      redactedFields: [
        { singleHeader: { Name: props.virtuousSignatureHeader.toLowerCase() } },
        { singleHeader: { Name: STRIPE_SIGNATURE_HEADER.toLowerCase() } },
        { singleHeader: { Name: 'authorization' } },
      ],
    });
    logging.node.addDependency(wafLogs);
  }

  /**
   * Public base URL built from the API id alone: referencing the stage would make every function that needs the
   * URL depend on the deployment, which depends on the methods — a cycle through the lifecycle API.
   */
  publicBaseUrl(): string {
    const stack = Stack.of(this);
    return `https://${this.api.restApiId}.execute-api.${stack.region}.${stack.urlSuffix}/${STAGE_NAME}`;
  }
}

/** Matches the webhook routes by URI path (WEBHOOK_PATH_REGEX). */
function webhookPath(): CfnWebACL.StatementProperty {
  return {
    regexMatchStatement: {
      regexString: WEBHOOK_PATH_REGEX,
      fieldToMatch: { uriPath: {} },
      textTransformations: [{ priority: 0, type: 'NONE' }],
    },
  };
}

function visibility(metricName: string): CfnWebACL.VisibilityConfigProperty {
  return { cloudWatchMetricsEnabled: true, metricName, sampledRequestsEnabled: true };
}

function managedRule(
  name: string,
  priority: number,
  ruleGroup: string,
  countOnly: readonly string[] = [],
): CfnWebACL.RuleProperty {
  return {
    name,
    priority,
    overrideAction: { none: {} },
    statement: {
      managedRuleGroupStatement: {
        vendorName: 'AWS',
        name: ruleGroup,
        ruleActionOverrides:
          countOnly.length > 0 ? countOnly.map((rule) => ({ name: rule, actionToUse: { count: {} } })) : undefined,
      },
    },
    visibilityConfig: visibility(name),
  };
}

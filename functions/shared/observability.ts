/**
 * One configured logger and one metrics emitter for every function (Powertools for AWS Lambda).
 *
 * Logs are structured JSON with identifiers only: customer id, Virtuous contact or gift id, partner record id,
 * request id, error code. Never a name, email, phone, address, amount tied to a person, request body, token or
 * secret. Code passes identifiers explicitly; there is no "log the object" shortcut.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

export const SERVICE_NAME = 'virtuous-integration';
export const METRICS_NAMESPACE = 'VirtuousIntegration';

export const logger = new Logger({ serviceName: SERVICE_NAME });

export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });

export { MetricUnit };

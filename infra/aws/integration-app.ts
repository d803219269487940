/**
 * Builds the CDK app: one IntegrationStack for the environment named in context, the cdk-nag packs and the AWS
 * Control Tower proactive controls (cfn-guard) as policy-validation plugins. Used by the CLI entry (app.ts),
 * `npm run synth` (synth-report.ts) and the infra tests.
 */
import { App, type Environment, Validations } from 'aws-cdk-lib';
import { readConfig } from './config.ts';
import { IntegrationStack } from './integration-stack.ts';
import { createControlTowerValidator } from './nag/control-tower.ts';
import { type AcknowledgedFinding, createNagPacks } from './nag/packs.ts';

export interface IntegrationAppOptions {
  readonly outdir?: string;
  /** Context as in cdk.json (an App built in code does not read cdk.json or cdk.context.json itself). */
  readonly context?: Record<string, unknown>;
  /**
   * Register the policy-validation plugins: the cdk-nag packs and the Control Tower controls (default). Only tests
   * of unrelated variants turn this off to save time.
   */
  readonly nag?: boolean;
}

export interface IntegrationApp {
  readonly app: App;
  readonly stack: IntegrationStack;
  readonly acknowledged: AcknowledgedFinding[];
}

export function stackName(environmentName: string): string {
  return `VirtuousIntegration-${environmentName}`;
}

export function buildIntegrationApp(options: IntegrationAppOptions = {}): IntegrationApp {
  const app = new App({ outdir: options.outdir, context: options.context });
  const config = readConfig(app.node);
  const env: Environment = {
    account: process.env.CDK_DEFAULT_ACCOUNT ?? stringContext(app, 'account'),
    region: process.env.CDK_DEFAULT_REGION ?? stringContext(app, 'region'),
  };
  const stack = new IntegrationStack(app, stackName(config.environmentName), {
    env,
    config,
    description: `Virtuous CRM+ partner integration (${config.environmentName})`,
    terminationProtection: config.environmentName === 'production',
  });
  if (options.nag === false) return { app, stack, acknowledged: [] };
  const { packs, acknowledged } = createNagPacks(app);
  Validations.of(app).addPlugins(...packs, createControlTowerValidator());
  return { app, stack, acknowledged };
}

function stringContext(app: App, key: string): string {
  const value = app.node.tryGetContext(key);
  if (typeof value !== 'string' || value === '') {
    throw new Error(`set CDK_DEFAULT_${key.toUpperCase()} or context "${key}"`);
  }
  return value;
}

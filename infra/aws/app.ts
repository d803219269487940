/**
 * CDK CLI entry (`npx cdk synth|deploy -c environmentName=production`). The CLI passes cdk.json and
 * cdk.context.json context in through the environment, which `new App()` reads.
 */
import { buildIntegrationApp } from './integration-app.ts';

const { app } = buildIntegrationApp();
app.synth();

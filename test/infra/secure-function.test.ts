/**
 * The secure-defaults construct on its own: a real esbuild bundle of a small entry, and the guard that keeps
 * undeclared (possibly secret-carrying) environment variables out of every function.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { afterAll, describe, expect, it } from 'vitest';
import { ENV } from '../../functions/shared/environment.ts';
import { SecureFunction } from '../../infra/aws/constructs/secure-function.ts';

const outdir = mkdtempSync(join(tmpdir(), 'secure-function-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

function stackWith(environment: Record<string, string>): { app: App; stack: Stack; fn: SecureFunction } {
  const app = new App({ outdir });
  const stack = new Stack(app, 'Probe', { env: { account: '111111111111', region: 'us-east-1' } });
  const fn = new SecureFunction(stack, 'Probe', {
    entry: 'test/infra/fixtures/bundle-probe.ts',
    description: 'bundle probe',
    memorySize: 256,
    timeout: Duration.seconds(5),
    logKey: new Key(stack, 'Key', { enableKeyRotation: true }),
    environment,
  });
  return { app, stack, fn };
}

describe('SecureFunction', () => {
  it('bundles a minified ESM .mjs with the createRequire banner and secure function settings', () => {
    const { app, stack } = stackWith({ [ENV.environmentName]: 'staging' });
    const assembly = app.synth();
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 256,
      Timeout: 5,
      TracingConfig: { Mode: 'Active' },
      Environment: { Variables: { ENVIRONMENT_NAME: 'staging' } },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    // The role starts with its own log stream only (plus X-Ray): no managed policies.
    for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
    const assetDirs = readdirSync(assembly.directory).filter((name) => name.startsWith('asset.'));
    const bundles = assetDirs.flatMap((dir) =>
      readdirSync(join(assembly.directory, dir))
        .filter((file) => file.endsWith('.mjs'))
        .map((file) => join(assembly.directory, dir, file)),
    );
    expect(bundles.map((path) => path.split('/').pop())).toEqual(['index.mjs']);
    const code = readFileSync(bundles[0] as string, 'utf8');
    expect(code.startsWith('import { createRequire as __createRequire }')).toBe(true);
    expect(code).toMatch(/export\s*\{/);
    // Minified: the probe's parameter and helper names do not survive.
    expect(code).not.toContain('event.text');
    expect(code.split('\n').length).toBeLessThan(5);
  }, 60_000);

  it('refuses an environment variable that functions/shared does not declare', () => {
    expect(() => stackWith({ VIRTUOUS_API_TOKEN: 'x' })).toThrow(/VIRTUOUS_API_TOKEN is not declared/);
    expect(() => stackWith({ STATE_MACHINE_ARN_ONBOARDING: 'arn:aws:states:::x', TABLE_CUSTOMERS: 't' })).not.toThrow();
  });
});

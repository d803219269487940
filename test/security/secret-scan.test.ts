/**
 * Secret scanning as CI evidence: the repository (tracked files plus new untracked ones) carries no secret
 * (the synthesized template is scanned by template-scan.test.ts). The scanner is proven live first: a file seeded
 * with freshly generated fake secrets must be caught.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { registerSecret } from '../support/canaries.ts';
import { describeFindings, REPOSITORY_ROOT, repositoryFiles, scanFiles, scanText } from './secret-scanner.ts';
import { entropy, lambdaEnvironmentFindings, looksLikeSecret } from './template-secrets.ts';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random characters from `alphabet`, so no fake secret is ever written into the repository itself. */
function randomFrom(alphabet: string, length: number): string {
  return [...randomBytes(length)].map((byte) => alphabet[byte % alphabet.length]).join('');
}

const scratch = mkdtempSync(join(tmpdir(), 'secret-scan-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the scanner catches seeded secrets', () => {
  // Built at run time from pieces: the literal prefixes alone are not secrets, the assembled values are.
  const githubToken = registerSecret(`gh${'p'}_${randomFrom(ALPHANUMERIC, 36)}`);
  const awsSecretKey = registerSecret(randomFrom(`${ALPHANUMERIC}/+`, 40));
  const stripeKey = registerSecret(`sk_${'live'}_${randomFrom(ALPHANUMERIC, 24)}`);
  const privateKey = registerSecret(
    generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
  );

  it('reports each seeded secret in a file by rule and line, without the value', async () => {
    const seeded = join(scratch, 'config.ts');
    writeFileSync(
      seeded,
      [
        'export const settings = {',
        `  githubToken: '${githubToken}',`,
        `  aws_secret_access_key: '${awsSecretKey}',`,
        `  stripe: '${stripeKey}',`,
        '};',
        privateKey,
      ].join('\n'),
    );
    const findings = await scanFiles([seeded]);
    const rules = new Set(findings.map((finding) => finding.ruleId));
    expect(rules).toContain('@secretlint/secretlint-rule-github');
    expect(rules).toContain('@secretlint/secretlint-rule-aws');
    expect(rules).toContain('@secretlint/secretlint-rule-pattern');
    expect(rules).toContain('@secretlint/secretlint-rule-privatekey');
    expect(findings.find((finding) => finding.ruleId === '@secretlint/secretlint-rule-github')?.line).toBe(2);
    const report = JSON.stringify(findings);
    for (const secret of [githubToken, awsSecretKey, stripeKey]) expect(report).not.toContain(secret);
  });

  it('reports nothing for the same file without the secrets', async () => {
    const clean = join(scratch, 'clean.ts');
    writeFileSync(clean, "export const settings = { githubToken: process.env.GITHUB_TOKEN ?? '' };\n");
    expect(await scanFiles([clean])).toEqual([]);
  });

  it('catches a secret in a template-shaped document', async () => {
    const template = JSON.stringify({ Resources: { Fn: { Properties: { Code: { ZipFile: `k='${githubToken}'` } } } } });
    expect((await scanText(template, 'seeded.template.json')).map((f) => f.ruleId)).toContain(
      '@secretlint/secretlint-rule-github',
    );
  });
});

describe('the repository', () => {
  it('holds no secret in any tracked or new file', async () => {
    const files = repositoryFiles();
    // A checkout has at least its own package.json and this file; an empty list means the listing is broken.
    expect(files).toContain(join(REPOSITORY_ROOT, 'package.json'));
    expect(files).toContain(join(REPOSITORY_ROOT, 'test/security/secret-scan.test.ts'));
    const findings = await scanFiles(files);
    console.info(`secret scan: ${files.length} repository files, ${findings.length} finding(s)`);
    expect(findings, `secrets found (file:line rule):\n${describeFindings(findings)}`).toEqual([]);
  });
});

describe('the Lambda environment check', () => {
  it('flags a random secret and a credential-named literal, and passes names, ARNs and references', () => {
    const randomSecret = registerSecret(randomBytes(32).toString('base64'));
    expect(entropy(randomSecret)).toBeGreaterThan(4);
    expect(looksLikeSecret(randomSecret)).toBe(true);
    expect(looksLikeSecret(randomBytes(32).toString('hex'))).toBe(true);
    expect(looksLikeSecret('a'.repeat(40))).toBe(false);
    for (const harmless of [
      'virtuous-staging-reconciliation-log',
      'https://api.virtuoussoftware.com',
      'X-Virtuous-Signature',
      'arn:aws:iam::111111111111:role/customer-secrets',
      'production',
    ]) {
      expect(looksLikeSecret(harmless), harmless).toBe(false);
    }
    const { findings, functionsChecked, variablesChecked } = lambdaEnvironmentFindings({
      Resources: {
        Verifier: {
          Type: 'AWS::Lambda::Function',
          Properties: {
            Environment: {
              Variables: {
                TABLE_CUSTOMERS: 'virtuous-staging-customers',
                CUSTOMER_SECRETS_ROLE_ARN: { 'Fn::GetAtt': ['Role', 'Arn'] },
                SECRETS_KMS_KEY_ARN: 'arn:aws:kms:us-east-1:111111111111:key/abc',
                SECRET_RECOVERY_WINDOW_DAYS: '7',
                API_TOKEN: '12345678',
                WEBHOOK_SECRET: 'not-an-arn',
                EXTRA: randomSecret,
              },
            },
          },
        },
        Topic: { Type: 'AWS::SNS::Topic' },
      },
    });
    expect(functionsChecked).toBe(1);
    expect(variablesChecked).toBe(7);
    expect(findings.map((finding) => finding.variable).sort()).toEqual(['API_TOKEN', 'EXTRA', 'WEBHOOK_SECRET']);
  });
});

/**
 * The synthesized CloudFormation template carries no secret, and no Lambda environment variable holds a secret-like
 * value. The template comes from the shared synthesis helper (the same app `cdk synth` builds); any template a previous
 * `npm run synth` / `npx cdk synth` left in cdk.out is scanned too.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { synthesize } from '../infra/synth.ts';
import { describeFindings, REPOSITORY_ROOT, scanText } from './secret-scanner.ts';
import { lambdaEnvironmentFindings } from './template-secrets.ts';

/** One synthesis costs several seconds (more on a loaded machine): done once for the file. */
const SYNTH_TIMEOUT_MS = 120_000;

function leftoverTemplates(): { file: string; body: string }[] {
  const outdir = join(REPOSITORY_ROOT, 'cdk.out');
  if (!existsSync(outdir)) return [];
  return readdirSync(outdir)
    .filter((name) => name.endsWith('.template.json'))
    .map((name) => ({ file: `cdk.out/${name}`, body: readFileSync(join(outdir, name), 'utf8') }));
}

describe('the synthesized template', () => {
  it(
    'holds no secret and no secret-like Lambda environment value',
    async () => {
      // The cdk-nag packs do not change the template (the infra tests run them); leaving them out saves seconds.
      const { json } = synthesize({}, { nag: false });
      const body = JSON.stringify(json, null, 1);
      const findings = await scanText(body, 'synthesized.template.json');
      expect(findings, describeFindings(findings)).toEqual([]);

      const environment = lambdaEnvironmentFindings(json);
      console.info(
        `template scan: ${Object.keys(json.Resources ?? {}).length} resources, ${environment.functionsChecked} functions, ` +
          `${environment.variablesChecked} environment variables, ${environment.findings.length} finding(s)`,
      );
      // A stack without functions would make the environment check vacuous.
      expect(environment.functionsChecked).toBeGreaterThan(0);
      expect(environment.findings).toEqual([]);
    },
    SYNTH_TIMEOUT_MS,
  );

  const leftovers = leftoverTemplates();
  it.skipIf(leftovers.length === 0)('templates left in cdk.out hold no secret either', async () => {
    for (const { file, body } of leftovers) {
      const findings = await scanText(body, file);
      expect(findings, describeFindings(findings)).toEqual([]);
      expect(lambdaEnvironmentFindings(JSON.parse(body)).findings, file).toEqual([]);
    }
  });
});

/**
 * README says the AGPL-licensed IAM simulator (`@cloud-copilot/iam-simulate`) is used only by the tests and that
 * nothing deployed includes it. This holds the claim to the code: every Lambda entry of the stack is bundled the way
 * NodejsFunction bundles it (ESM, node24, `@aws-sdk/*` left to the runtime), and no package in any bundle may carry
 * a GPL-family copyleft licence (AGPL, GPL; LGPL is not matched). The simulator must stay a devDependency.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { WORKER_SPECS } from '../../infra/aws/constructs/workers.ts';
import { REPOSITORY_ROOT } from './secret-scanner.ts';

const COPYLEFT = /\b(A?GPL)(-\d|\b)/i;

interface PackageJson {
  readonly name?: string;
  readonly license?: string | { readonly type?: string };
  readonly dependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
}

function readPackageJson(path: string): PackageJson {
  return JSON.parse(readFileSync(path, 'utf8')) as PackageJson;
}

/** `node_modules/@scope/name/lib/x.js` → `node_modules/@scope/name` (the innermost node_modules, for nested copies). */
function packageRootOf(input: string): string | undefined {
  const marker = 'node_modules/';
  const at = input.lastIndexOf(marker);
  if (at < 0) return undefined;
  const rest = input.slice(at + marker.length).split('/');
  const name = rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  return `${input.slice(0, at + marker.length)}${name}`;
}

function licenceOf(packageRoot: string): string {
  const manifest = join(REPOSITORY_ROOT, packageRoot, 'package.json');
  if (!existsSync(manifest)) return 'UNKNOWN';
  const { license } = readPackageJson(manifest);
  return (typeof license === 'string' ? license : license?.type) ?? 'UNKNOWN';
}

describe('licence boundary of what is deployed', () => {
  it('keeps the AGPL IAM simulator a devDependency', () => {
    const manifest = readPackageJson(join(REPOSITORY_ROOT, 'package.json'));
    expect(manifest.devDependencies).toHaveProperty('@cloud-copilot/iam-simulate');
    expect(manifest.dependencies ?? {}).not.toHaveProperty('@cloud-copilot/iam-simulate');
    // The guard below must be able to see it: the simulator's own licence is one it refuses.
    expect(licenceOf('node_modules/@cloud-copilot/iam-simulate')).toMatch(COPYLEFT);
  });

  it('bundles no copyleft package into any Lambda of the stack', async () => {
    const entries = [...new Set(Object.values(WORKER_SPECS).map((spec) => spec.entry))];
    expect(entries.length).toBeGreaterThanOrEqual(6);
    const result = await build({
      absWorkingDir: REPOSITORY_ROOT,
      entryPoints: entries,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node24',
      mainFields: ['module', 'main'],
      external: ['@aws-sdk/*'],
      outdir: 'out',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const packages = new Set(
      Object.keys(result.metafile.inputs)
        .map(packageRootOf)
        .filter((root): root is string => root !== undefined),
    );
    // A bundle without the runtime libraries would mean the metafile was not read as intended.
    expect([...packages].some((root) => root.endsWith('@aws-lambda-powertools/logger'))).toBe(true);
    const copyleft = [...packages]
      .map((root) => ({ root, licence: licenceOf(root) }))
      .filter(({ licence }) => COPYLEFT.test(licence) || licence === 'UNKNOWN');
    expect(copyleft).toEqual([]);
  }, 60_000);
});

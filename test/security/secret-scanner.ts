/**
 * Secret scanning with secretlint's recommended preset, configured once in `.secretlintrc.json` at the repository
 * root. Findings carry the file, line and rule only: the matched value never leaves this module, so a report can be
 * printed without re-leaking what it found.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine } from '@secretlint/node';

export const REPOSITORY_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface SecretFinding {
  readonly file: string;
  readonly line: number;
  readonly ruleId: string;
}

interface SecretlintJsonResult {
  readonly filePath: string;
  readonly messages: ReadonlyArray<{ readonly ruleId: string; readonly loc?: { readonly start?: { line?: number } } }>;
}

async function engine() {
  return createEngine({
    cwd: REPOSITORY_ROOT,
    configFilePath: join(REPOSITORY_ROOT, '.secretlintrc.json'),
    formatter: 'json',
    color: false,
    maskSecrets: true,
  });
}

function toFindings(output: string): SecretFinding[] {
  const results = JSON.parse(output) as SecretlintJsonResult[];
  return results.flatMap((result) =>
    result.messages.map((message) => ({
      file: relative(REPOSITORY_ROOT, result.filePath),
      line: message.loc?.start?.line ?? 0,
      ruleId: message.ruleId,
    })),
  );
}

export async function scanFiles(paths: readonly string[]): Promise<SecretFinding[]> {
  if (paths.length === 0) return [];
  const { output } = await (await engine()).executeOnFiles({ filePathList: [...paths] });
  return toFindings(output);
}

/** Scans text that is not a file of the repository (a synthesized template, a Lambda environment value). */
export async function scanText(content: string, label: string): Promise<SecretFinding[]> {
  const { output } = await (await engine()).executeOnContent({ content, filePath: label });
  return toFindings(output);
}

/**
 * Files git tracks plus new files it would track (untracked, not ignored), so a secret is caught before it is
 * committed. Paths deleted in the working tree and anything that is not a regular file are left out.
 */
export function repositoryFiles(): string[] {
  let listing: string;
  try {
    listing = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: REPOSITORY_ROOT,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      timeout: 30_000,
    });
  } catch (cause) {
    throw new Error('secret scan needs a git checkout: `git ls-files` failed in the repository root', { cause });
  }
  return listing
    .split('\0')
    .filter((path) => path !== '')
    .map((path) => join(REPOSITORY_ROOT, path))
    .filter((path) => existsSync(path) && statSync(path).isFile());
}

export function describeFindings(findings: readonly SecretFinding[]): string {
  return findings.map((finding) => `${finding.file}:${finding.line} ${finding.ruleId}`).join('\n');
}

/**
 * Keeps the docs honest where it is cheap: generated sections must equal what the generators produce from the code
 * now, and the files the threat model cites as evidence must exist.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TABLE_KEYS, tableName } from '../../functions/shared/tables.ts';
import { WORKFLOWS_DOC, workflowsMarkdown } from '../../statemachines/diagrams.ts';
import {
  citedTests,
  markMissingTests,
  normalizeMarkdown,
  readSection,
  replaceSection,
  retentionTable,
} from './doc-sections.ts';
import { REPOSITORY_ROOT } from './secret-scanner.ts';

const REGENERATE = 'run `npx tsx test/security/update-docs.ts` and commit the result';

function doc(path: string): string {
  return readFileSync(join(REPOSITORY_ROOT, path), 'utf8');
}

describe('docs/customer-setup.md', () => {
  const setup = doc('docs/customer-setup.md');

  it('has the retention table generated from functions/shared/tables.ts and the log retention', () => {
    const section = readSection(setup, 'retention');
    expect(section, 'docs/customer-setup.md lost its generated:retention markers').toBeDefined();
    expect(normalizeMarkdown(section ?? ''), `retention table is stale: ${REGENERATE}`).toBe(
      normalizeMarkdown(retentionTable()),
    );
  });

  it('names every table, so a new table cannot be left out of the customer documentation', () => {
    const section = readSection(setup, 'retention') ?? '';
    for (const key of TABLE_KEYS) expect(section).toContain(`\`${tableName('{environment}', key)}\``);
  });

  it('marks unpublished Virtuous permission groups as to be confirmed', () => {
    expect(setup).toMatch(/to be confirmed with Virtuous/);
    for (const endpoint of ['/api/Organization/Current', '/api/Webhook', '/api/v2/Gift/Transaction']) {
      expect(setup).toContain(endpoint);
    }
  });
});

describe('generated sections', () => {
  it("compares tables by content, not by the formatter's padding", () => {
    const padded = '| Data   | Kept    |\n| ------ | ------- |\n| `a\\|b` | 1 year  |';
    expect(normalizeMarkdown(padded)).toBe(normalizeMarkdown('| Data | Kept |\n| --- | --- |\n| `a\\|b` | 1 year |'));
    expect(normalizeMarkdown(padded)).not.toBe(
      normalizeMarkdown('| Data | Kept |\n| --- | --- |\n| `a\\|b` | 2 years |'),
    );
  });

  it('replaceSection then readSection round-trips, and a missing section is reported', () => {
    const document = 'intro\n<!-- generated:x -->\nold\n<!-- /generated:x -->\noutro\n';
    const updated = replaceSection(document, 'x', '| a |\n| b |');
    expect(readSection(updated, 'x')).toBe('| a |\n| b |');
    expect(updated.startsWith('intro\n')).toBe(true);
    expect(updated.endsWith('outro\n')).toBe(true);
    expect(readSection(document, 'y')).toBeUndefined();
    expect(() => replaceSection(document, 'y', '')).toThrow(/no generated section/);
  });
});

describe('docs/workflows.md', () => {
  it('is exactly what the diagram generator produces from the ASL files now', () => {
    expect(existsSync(WORKFLOWS_DOC), `docs/workflows.md is missing: ${REGENERATE}`).toBe(true);
    expect(
      readFileSync(WORKFLOWS_DOC, 'utf8') === workflowsMarkdown(),
      `docs/workflows.md is stale: ${REGENERATE}`,
    ).toBe(true);
  });
});

describe('README.md', () => {
  const readme = doc('README.md');
  const opening = readme.slice(0, readme.indexOf('\n## '));

  it('opens with the two commands and the tour, and leaves the workflow diagrams to docs/workflows.md', () => {
    expect(opening).toContain('npm ci && npm start');
    expect(opening).toContain('npm ci && npm test');
    expect(opening).toContain('<!-- tour -->');
    expect(opening).toMatch(/sim key create 1 \| npm run cli -- onboard acme/);
    expect(readme).not.toContain('```mermaid\nflowchart TD');
    expect(readme).not.toContain('generated:readme-workflows');
    expect(readme).toContain('[docs/workflows.md](docs/workflows.md)');
  });

  it('says where a Virtuous API key comes from, for the simulator and for a real organization', () => {
    expect(opening).toMatch(/`sim key create <organization>`/);
    expect(opening).toMatch(/Settings → Connectivity → API Keys/);
  });

  it('every file the tour passes to a command exists', () => {
    const files = [...opening.matchAll(/--file (\S+)/g)].map((match) => match[1] as string);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(existsSync(join(REPOSITORY_ROOT, file)), file).toBe(true);
  });
});

describe('npm ci on a fresh machine', () => {
  const manifest = JSON.parse(doc('package.json')) as { allowScripts?: Record<string, boolean> };
  const lock = JSON.parse(doc('package-lock.json')) as {
    packages: Record<string, { version?: string; hasInstallScript?: boolean }>;
  };
  const withInstallScripts = Object.entries(lock.packages)
    .filter(([, entry]) => entry.hasInstallScript === true)
    .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));

  it('has an allowScripts decision for every dependency with an install script, so npm warns about none', () => {
    expect(withInstallScripts.length).toBeGreaterThan(0);
    const decided = Object.keys(manifest.allowScripts ?? {}).map((key) => key.replace(/(?<=.)@[^@]*$/, ''));
    expect(withInstallScripts.filter((name) => !decided.includes(name))).toEqual([]);
  });

  it("runs the node package's install script (it fetches the Node.js 24 binary every npm script runs on)", () => {
    expect(manifest.allowScripts?.node).toBe(true);
  });

  it('README names the EBADENGINE warnings next to the two commands', () => {
    const readme = doc('README.md');
    expect(readme.slice(0, readme.indexOf('### A short tour'))).toMatch(/EBADENGINE/);
  });
});

describe('docs/threat-model.md', () => {
  const threatModel = doc('docs/threat-model.md');
  const cited = citedTests(threatModel);

  it('cites test evidence', () => {
    expect(cited.length).toBeGreaterThan(10);
  });

  it('marks as not yet present every cited test that does not exist, and only those', () => {
    const exists = (path: string) => existsSync(join(REPOSITORY_ROOT, path));
    const missing = cited.filter((path) => !exists(path));
    console.info(`threat model: ${cited.length} cited test files, ${missing.length} not yet present`);
    expect(threatModel === markMissingTests(threatModel, exists), `evidence marks are stale: ${REGENERATE}`).toBe(true);
  });

  it('marking adds and removes "(not yet present)" by existence', () => {
    const text = 'a `test/x.test.ts` b `test/y.test.ts` (not yet present) c `test/z.test.ts` (not yet present)';
    expect(markMissingTests(text, (path) => path !== 'test/x.test.ts' && path !== 'test/z.test.ts')).toBe(
      'a `test/x.test.ts` (not yet present) b `test/y.test.ts` c `test/z.test.ts` (not yet present)',
    );
  });
});

function markdownFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? markdownFiles(join(folder, entry.name))
      : entry.name.endsWith('.md')
        ? [join(folder, entry.name)]
        : [],
  );
}

describe('links between documents', () => {
  it('every relative link in docs/ points at a file or folder that exists', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const file of markdownFiles(join(REPOSITORY_ROOT, 'docs'))) {
      const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = (match[1] as string).split('#')[0] as string;
        if (target === '' || /^[a-z]+:/.test(target)) continue;
        checked += 1;
        if (!existsSync(join(dirname(file), target))) broken.push(`${relative(REPOSITORY_ROOT, file)} → ${target}`);
      }
    }
    expect(checked).toBeGreaterThan(20);
    expect(broken, 'broken links').toEqual([]);
  });
});

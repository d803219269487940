/**
 * Rewrites the generated parts of the docs from the code: the retention table in docs/customer-setup.md, the
 * "(not yet present)" marks on the tests docs/threat-model.md cites and the whole of docs/workflows.md (the README
 * links to it). `npx tsx test/security/update-docs.ts`
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { WORKFLOWS_DOC, workflowsMarkdown } from '../../statemachines/diagrams.ts';
import { markMissingTests, replaceSection, retentionTable } from './doc-sections.ts';

const customerSetup = fileURLToPath(new URL('../../docs/customer-setup.md', import.meta.url));
writeFileSync(customerSetup, replaceSection(readFileSync(customerSetup, 'utf8'), 'retention', retentionTable()));
console.info('updated docs/customer-setup.md (retention table)');

const threatModel = fileURLToPath(new URL('../../docs/threat-model.md', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));
writeFileSync(
  threatModel,
  markMissingTests(readFileSync(threatModel, 'utf8'), (path) => existsSync(`${root}${path}`)),
);
console.info('updated docs/threat-model.md (evidence marked present / not yet present)');

try {
  writeFileSync(WORKFLOWS_DOC, workflowsMarkdown());
  console.info('updated docs/workflows.md');
} catch (error) {
  console.error(`docs/workflows.md not updated: ${(error as Error).message}`);
  process.exitCode = 1;
}

// The repository's formatter owns the layout (table padding); `npm run lint` checks it.
const biome = fileURLToPath(new URL('../../node_modules/.bin/biome', import.meta.url));
execFileSync(biome, ['format', '--write', customerSetup, threatModel, WORKFLOWS_DOC], {
  stdio: 'inherit',
  timeout: 60_000,
});

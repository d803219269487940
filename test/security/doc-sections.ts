/**
 * Generated sections of the docs: text between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` markers is
 * produced from the code (the one source of truth) and checked by test/security/docs.test.ts. Run
 * `npx tsx test/security/update-docs.ts` after changing a table, a retention or a workflow file.
 */

import { TABLE_KEYS, TABLES, type TableSchema, tableName } from '../../functions/shared/tables.ts';
import { LOG_RETENTION } from '../../infra/aws/constructs/secure-function.ts';

function markers(name: string): { begin: string; end: string } {
  return { begin: `<!-- generated:${name} -->`, end: `<!-- /generated:${name} -->` };
}

/** The text of a generated section, or undefined when the document has no such section. */
export function readSection(document: string, name: string): string | undefined {
  const { begin, end } = markers(name);
  const start = document.indexOf(begin);
  const stop = document.indexOf(end);
  if (start < 0 || stop < start) return undefined;
  return document
    .slice(start + begin.length, stop)
    .replace(/^\n/, '')
    .replace(/\n$/, '');
}

export function replaceSection(document: string, name: string, content: string): string {
  const { begin, end } = markers(name);
  const start = document.indexOf(begin);
  const stop = document.indexOf(end);
  if (start < 0 || stop < start) throw new Error(`document has no generated section "${name}"`);
  return `${document.slice(0, start + begin.length)}\n${content}\n${document.slice(stop)}`;
}

/**
 * Markdown tables compared by content: Biome formats the docs (padding cells, widening `---` rows), so cell padding
 * and dash counts are not part of what a generated table says.
 */
export function normalizeMarkdown(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const trimmed = line.trimEnd();
      if (!trimmed.startsWith('|')) return trimmed;
      return trimmed
        .split(/(?<!\\)\|/)
        .map((cellText) => cellText.trim().replace(/^:?-+:?$/, '---'))
        .join(' | ')
        .trim();
    })
    .join('\n');
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

/** One row per DynamoDB table (from functions/shared/tables.ts) plus the log groups (LOG_RETENTION in CDK). */
export function retentionTable(): string {
  const rows = TABLE_KEYS.map((key) => {
    const table = TABLES[key];
    const enforcement =
      'timeToLiveAttribute' in table
        ? `DynamoDB TTL on \`${table.timeToLiveAttribute}\``
        : table.holdsCustomerData
          ? 'the offboarding workflow'
          : 'no expiry';
    const schema: TableSchema = table;
    const offboarding =
      key === 'customerKeys'
        ? "the customer's key is destroyed (crypto-shredding; a tombstone keeps key id and fingerprint)"
        : schema.keptAfterOffboarding !== undefined
          ? `kept until expiry, identifiers only: ${cell(schema.keptAfterOffboarding)}`
          : table.holdsCustomerData
            ? "the customer's items are purged and counted"
            : 'kept';
    return `| \`${tableName('{environment}', key)}\` | ${cell(table.retention)} | ${enforcement} | ${offboarding} |`;
  });
  const logDays = Number(LOG_RETENTION);
  rows.push(
    `| CloudWatch log groups (functions, API access, workflows, VPC flow logs) | ${logDays} days | ` +
      'log group retention setting | expire on schedule (they hold identifiers only, never donor data) |',
  );
  return ['| Data | Kept | Enforced by | At offboarding |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

const CITED_TEST = /`(test\/[^`\s]+)`( \(not yet present\))?/g;

/** Every `test/...` path a document cites in backticks. */
export function citedTests(document: string): string[] {
  return [...new Set([...document.matchAll(CITED_TEST)].map((match) => match[1] as string))];
}

/** Marks each cited test that does not exist "(not yet present)" and unmarks each one that does. */
export function markMissingTests(document: string, exists: (path: string) => boolean): string {
  return document.replace(CITED_TEST, (_, path: string) =>
    exists(path) ? `\`${path}\`` : `\`${path}\` (not yet present)`,
  );
}

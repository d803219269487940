/**
 * The context `cdk synth` would use: cdk.json's context plus cdk.context.json (availability zones). An App built in
 * code does not read either file, so `npm run synth` and the infra tests load them here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './constructs/secure-function.ts';

export function projectContext(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  const cached = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.context.json'), 'utf8')) as Record<string, unknown>;
  return { ...(cdkJson.context ?? {}), ...cached, ...overrides };
}

/** `-c key=value` / `--context key=value` pairs, as the CDK CLI accepts them. */
export function contextFromArgs(args: readonly string[]): Record<string, string> {
  const context: Record<string, string> = {};
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index];
    if (arg !== '-c' && arg !== '--context') continue;
    const pair = args[index + 1] ?? '';
    const separator = pair.indexOf('=');
    if (separator <= 0) throw new Error(`expected key=value after ${arg}`);
    context[pair.slice(0, separator)] = pair.slice(separator + 1);
    index += 1;
  }
  return context;
}

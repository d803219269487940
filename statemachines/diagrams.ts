/**
 * Renders each workflow's Amazon States Language file as a Mermaid flowchart, so the diagrams in the docs are drawn
 * from the same files CDK deploys and the tests execute, never by hand.
 *
 * Every state becomes a node (Parallel and Map states a subgraph holding their branches); every transition
 * (Next, Default, each Choice rule, each Catch) becomes an edge; Retry policies are noted on their state.
 *
 * Run `npx tsx statemachines/diagrams.ts` to rewrite docs/workflows.md (a test fails when it is stale).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WorkflowName } from '../functions/customers/customer.ts';
import { readWorkflowDefinition, WORKFLOWS } from './workflows.ts';

export interface AslRetrier {
  readonly ErrorEquals: readonly string[];
  readonly IntervalSeconds?: number;
  readonly MaxAttempts?: number;
  readonly BackoffRate?: number;
}

export interface AslCatcher {
  readonly ErrorEquals: readonly string[];
  readonly Next: string;
}

export type AslChoiceRule = { readonly Next?: string } & Record<string, unknown>;

export interface AslState {
  readonly Type: string;
  readonly Next?: string;
  readonly End?: boolean;
  readonly Default?: string;
  readonly Choices?: readonly AslChoiceRule[];
  readonly Catch?: readonly AslCatcher[];
  readonly Retry?: readonly AslRetrier[];
  readonly Branches?: readonly AslMachine[];
  readonly Iterator?: AslMachine;
  readonly ItemProcessor?: AslMachine;
  readonly Resource?: string;
  readonly Seconds?: number;
  readonly SecondsPath?: string;
  readonly Timestamp?: string;
  readonly TimestampPath?: string;
  readonly Error?: string;
}

export interface AslMachine {
  readonly Comment?: string;
  readonly StartAt: string;
  readonly States: Readonly<Record<string, AslState>>;
}

const START_NODE = 'start_';
// Not `end`: it is a keyword of Mermaid's flowchart grammar, and ids that begin with it can confuse its lexer.
const END_NODE = 'finish_';

/** Mermaid ids allow letters, digits and underscores; state names may hold anything, so ids are derived and unique. */
class NodeIds {
  private readonly byName = new Map<string, string>();
  private readonly taken = new Set<string>([START_NODE, END_NODE]);

  id(stateName: string): string {
    const known = this.byName.get(stateName);
    if (known !== undefined) return known;
    const base = `s_${stateName.replace(/[^A-Za-z0-9_]/g, '_')}`;
    let candidate = base;
    for (let n = 2; this.taken.has(candidate); n += 1) candidate = `${base}_${n}`;
    this.taken.add(candidate);
    this.byName.set(stateName, candidate);
    return candidate;
  }
}

/** Text inside a quoted Mermaid label: quotes and angle brackets as entities, so no state text breaks the syntax. */
export function escapeLabel(text: string): string {
  return text.replaceAll('#', '#35;').replaceAll('"', '#quot;').replaceAll('<', '#lt;').replaceAll('>', '#gt;');
}

const COMPARATORS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^(String|Numeric|Boolean|Timestamp)Equals(Path)?$/, '=='],
  [/^(String|Numeric)LessThan(Path)?$/, '<'],
  [/^(String|Numeric)GreaterThan(Path)?$/, '>'],
  [/^(String|Numeric)LessThanEquals(Path)?$/, '<='],
  [/^(String|Numeric)GreaterThanEquals(Path)?$/, '>='],
  [/^TimestampLessThan(Path)?$/, 'before'],
  [/^TimestampGreaterThan(Path)?$/, 'after'],
  [/^TimestampLessThanEquals(Path)?$/, 'at or before'],
  [/^TimestampGreaterThanEquals(Path)?$/, 'at or after'],
  [/^StringMatches$/, 'matches'],
];

/** A Choice rule as a short condition, e.g. `$.status == "active"` or `$.error is present`. */
export function describeChoiceRule(rule: Record<string, unknown>): string {
  if (Array.isArray(rule.And)) return rule.And.map((r) => `(${describeChoiceRule(r)})`).join(' and ');
  if (Array.isArray(rule.Or)) return rule.Or.map((r) => `(${describeChoiceRule(r)})`).join(' or ');
  if (typeof rule.Not === 'object' && rule.Not !== null) {
    return `not (${describeChoiceRule(rule.Not as Record<string, unknown>)})`;
  }
  const variable = typeof rule.Variable === 'string' ? rule.Variable : '?';
  const operator = Object.keys(rule).find((key) => !['Variable', 'Next', 'Comment'].includes(key));
  if (operator === undefined) return variable;
  const operand = rule[operator];
  if (/^Is(Present|Null|String|Numeric|Boolean|Timestamp)$/.test(operator)) {
    const what = operator.slice(2).toLowerCase();
    const verb = what === 'present' || what === 'null' ? what : `a ${what}`;
    return operand === false ? `${variable} is not ${verb}` : `${variable} is ${verb}`;
  }
  const symbol = COMPARATORS.find(([pattern]) => pattern.test(operator))?.[1] ?? operator;
  const value = operator.endsWith('Path') ? String(operand) : JSON.stringify(operand);
  return `${variable} ${symbol} ${value}`;
}

/** The Lambda invoke errors AWS recommends retrying are listed on every Task; one name keeps diagrams readable. */
export const LAMBDA_SERVICE_ERRORS = 'Lambda service errors';

export function retryErrorNames(errors: readonly string[]): string {
  const lambda = errors.filter((error) => error.startsWith('Lambda.'));
  const named = errors.filter((error) => !error.startsWith('Lambda.'));
  return [...named, ...(lambda.length > 0 ? [`${LAMBDA_SERVICE_ERRORS} (${lambda.length})`] : [])].join(', ');
}

/** One line per retrier, with ASL's defaults made explicit (3 attempts, 1 s, backoff 2). */
function describeRetry(retriers: readonly AslRetrier[]): string[] {
  return retriers.map((retrier) => {
    const attempts = retrier.MaxAttempts ?? 3;
    const interval = retrier.IntervalSeconds ?? 1;
    const backoff = retrier.BackoffRate ?? 2;
    return `↻ retry ${retryErrorNames(retrier.ErrorEquals)}: ${attempts}× from ${interval} s, ×${backoff}`;
  });
}

function stateDetail(state: AslState): string[] {
  const details: string[] = [];
  if (state.Type === 'Task' && state.Resource?.includes('.waitForTaskToken')) details.push('waits for a task token');
  if (state.Type === 'Task' && state.Resource?.includes(':states:startExecution')) {
    details.push(
      state.Resource.includes('.sync') ? 'runs a child workflow and waits for it' : 'starts a child workflow',
    );
  }
  if (state.Type === 'Wait') {
    if (state.Seconds !== undefined) details.push(`wait ${state.Seconds} s`);
    if (state.SecondsPath !== undefined) details.push(`wait the seconds in ${state.SecondsPath}`);
    const until = state.Timestamp ?? state.TimestampPath;
    if (until !== undefined) details.push(`wait until ${until}`);
  }
  if (state.Type === 'Fail' && state.Error !== undefined) details.push(`fails with ${state.Error}`);
  return details;
}

function nodeLabel(name: string, state: AslState): string {
  return [name, ...stateDetail(state), ...describeRetry(state.Retry ?? [])].map(escapeLabel).join('<br/>');
}

function nodeShape(id: string, label: string, type: string): string {
  switch (type) {
    case 'Choice':
      return `${id}{"${label}"}`;
    case 'Wait':
      return `${id}[/"${label}"/]`;
    case 'Succeed':
    case 'Fail':
      return `${id}(["${label}"])`;
    case 'Pass':
      return `${id}>"${label}"]`;
    default:
      return `${id}["${label}"]`;
  }
}

/** One transition of the machine, by state name; `to` is undefined for the end of the top-level machine. */
export interface Transition {
  readonly from: string;
  readonly to: string | undefined;
  readonly kind: 'next' | 'default' | 'choice' | 'catch' | 'end';
  readonly label?: string;
}

/** Every transition out of `state`, in the order ASL lists them. */
export function transitionsOf(name: string, state: AslState): Transition[] {
  const out: Transition[] = [];
  for (const rule of state.Choices ?? []) {
    if (rule.Next !== undefined) {
      out.push({ from: name, to: rule.Next, kind: 'choice', label: describeChoiceRule(rule) });
    }
  }
  if (state.Default !== undefined) out.push({ from: name, to: state.Default, kind: 'default', label: 'Default' });
  if (state.Next !== undefined) out.push({ from: name, to: state.Next, kind: 'next' });
  for (const catcher of state.Catch ?? []) {
    out.push({ from: name, to: catcher.Next, kind: 'catch', label: `catch ${catcher.ErrorEquals.join(', ')}` });
  }
  if (state.End === true || state.Type === 'Succeed') out.push({ from: name, to: undefined, kind: 'end' });
  return out;
}

function nestedMachines(state: AslState): AslMachine[] {
  if (state.Branches !== undefined) return [...state.Branches];
  const processor = state.ItemProcessor ?? state.Iterator;
  return processor === undefined ? [] : [processor];
}

interface RenderContext {
  readonly ids: NodeIds;
  readonly lines: string[];
  readonly failNodes: string[];
}

function renderMachine(machine: AslMachine, context: RenderContext, indent: string, topLevel: boolean): void {
  const { ids, lines } = context;
  for (const [name, state] of Object.entries(machine.States)) {
    const id = ids.id(name);
    const label = nodeLabel(name, state);
    const nested = nestedMachines(state);
    if (nested.length > 0) {
      lines.push(`${indent}subgraph ${id}["${label}<br/>${state.Type}"]`);
      lines.push(`${indent}  direction TB`);
      nested.forEach((branch, index) => {
        const branchId = `b_${id.slice(2)}_${index + 1}`;
        const title = state.Type === 'Map' ? 'each item' : `branch ${index + 1}`;
        lines.push(`${indent}  subgraph ${branchId}["${title}"]`);
        lines.push(
          `${indent}    ${branchId}_start((start))`,
          `${indent}    ${branchId}_start --> ${ids.id(branch.StartAt)}`,
        );
        renderMachine(branch, context, `${indent}    `, false);
        lines.push(`${indent}  end`);
      });
      lines.push(`${indent}end`);
    } else {
      lines.push(`${indent}${nodeShape(id, label, state.Type)}`);
    }
    if (state.Type === 'Fail') context.failNodes.push(id);
    for (const transition of transitionsOf(name, state)) {
      if (transition.to === undefined) {
        // A nested branch ends where its Parallel/Map state continues; only the top level reaches the end node.
        if (topLevel) lines.push(`${indent}${id} --> ${END_NODE}`);
        continue;
      }
      const target = ids.id(transition.to);
      lines.push(
        transition.label === undefined
          ? `${indent}${id} --> ${target}`
          : `${indent}${id} -->|"${escapeLabel(transition.label)}"| ${target}`,
      );
    }
  }
}

/** The Mermaid flowchart of one ASL document. */
export function renderMermaid(machine: AslMachine): string {
  const context: RenderContext = { ids: new NodeIds(), lines: [], failNodes: [] };
  context.lines.push('flowchart TD');
  context.lines.push(`  ${START_NODE}((start))`, `  ${START_NODE} --> ${context.ids.id(machine.StartAt)}`);
  renderMachine(machine, context, '  ', true);
  context.lines.push(`  ${END_NODE}((end))`);
  if (context.failNodes.length > 0) {
    context.lines.push('  classDef failed fill:#fde2e2,stroke:#b91c1c');
    context.lines.push(`  class ${context.failNodes.join(',')} failed`);
  }
  return `${context.lines.join('\n')}\n`;
}

export function parseWorkflow(name: WorkflowName): AslMachine {
  // Placeholders such as ${TasksFunctionArn} sit inside JSON strings, so the file parses as written.
  return JSON.parse(readWorkflowDefinition(name)) as AslMachine;
}

export function workflowDiagram(name: WorkflowName): string {
  return renderMermaid(parseWorkflow(name));
}

/** The whole of docs/workflows.md. */
export function workflowsMarkdown(): string {
  const sections = Object.values(WORKFLOWS).map((workflow) => {
    const machine = parseWorkflow(workflow.name);
    const comment = machine.Comment === undefined ? '' : `${machine.Comment}\n\n`;
    return [
      `## ${workflow.name}`,
      '',
      `${comment}Source: [statemachines/${workflow.file}](../statemachines/${workflow.file}) · task handlers: ` +
        `[${workflow.tasksEntry}](../${workflow.tasksEntry})`,
      '',
      '```mermaid',
      renderMermaid(machine).trimEnd(),
      '```',
      '',
    ].join('\n');
  });
  return [
    '# Lifecycle workflows',
    '',
    '<!-- Generated by `npx tsx statemachines/diagrams.ts` from the ASL files; do not edit by hand.',
    '     test/security/docs.test.ts fails when this file differs from what the generator produces. -->',
    '',
    'Each workflow is one Amazon States Language file, deployed by CDK as a Standard state machine and executed as',
    'is by the workflow tests. Edges are every `Next`, `Default`, Choice rule and `Catch` of the file; `↻` notes a',
    "state's Retry policy (errors, attempts, first interval, backoff rate). Error names are the classes of",
    '[functions/shared/errors.ts](../functions/shared/errors.ts).',
    '',
    ...sections,
  ].join('\n');
}

export const WORKFLOWS_DOC = fileURLToPath(new URL('../docs/workflows.md', import.meta.url));

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(WORKFLOWS_DOC, workflowsMarkdown());
}

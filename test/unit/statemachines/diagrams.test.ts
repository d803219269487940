/**
 * The Mermaid generator against a synthetic machine that uses every construct, and against every workflow file.
 * Expectations are derived here from the ASL JSON by an independent walk, and the Mermaid text is parsed back, so a
 * dropped state, a missing or misdirected edge, or a lost Retry note fails the test.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { WorkflowName } from '../../../functions/customers/customer.ts';
import { type AslMachine, describeChoiceRule, renderMermaid } from '../../../statemachines/diagrams.ts';
import { WORKFLOWS, workflowFilePath } from '../../../statemachines/workflows.ts';

interface JsonState {
  Type: string;
  Next?: string;
  Default?: string;
  Choices?: { Next?: string }[];
  Catch?: { ErrorEquals: string[]; Next: string }[];
  Retry?: { ErrorEquals: string[]; MaxAttempts?: number }[];
  Branches?: JsonMachine[];
  Iterator?: JsonMachine;
  ItemProcessor?: JsonMachine;
}
interface JsonMachine {
  StartAt: string;
  States: Record<string, JsonState>;
}

interface Expected {
  states: Map<string, JsonState>;
  edges: string[];
}

/** Every state (nested ones included) and every transition, as `from -> to`, straight from the JSON. */
function expectedFrom(machine: JsonMachine, into: Expected = { states: new Map(), edges: [] }): Expected {
  for (const [name, state] of Object.entries(machine.States)) {
    into.states.set(name, state);
    const targets = [
      ...(state.Choices ?? []).map((c) => c.Next),
      state.Default,
      state.Next,
      ...(state.Catch ?? []).map((c) => c.Next),
    ].filter((t): t is string => t !== undefined);
    for (const target of targets) into.edges.push(`${name} -> ${target}`);
    for (const nested of [...(state.Branches ?? []), state.Iterator, state.ItemProcessor]) {
      if (nested !== undefined) expectedFrom(nested, into);
    }
  }
  return into;
}

function decodeLabel(label: string): string {
  return label.replaceAll('#quot;', '"').replaceAll('#lt;', '<').replaceAll('#gt;', '>').replaceAll('#35;', '#');
}

interface Parsed {
  /** node id → full label lines */
  nodes: Map<string, string[]>;
  edges: { from: string; to: string; label: string | undefined }[];
}

function parseMermaid(text: string): Parsed {
  const nodes = new Map<string, string[]>();
  const edges: Parsed['edges'] = [];
  const lines = text.split('\n');
  expect(lines[0]).toBe('flowchart TD');
  for (const raw of lines.slice(1)) {
    const line = raw.trim();
    const edge = /^(\w+) -->(?:\|"([^"]*)"\|)? (\w+)$/.exec(line);
    if (edge !== null) {
      edges.push({ from: edge[1] as string, to: edge[3] as string, label: edge[2] });
      continue;
    }
    const node = /^(?:subgraph )?(s_\w+)(?:\{|\[\/|\(\[|>|\[)"([^"]*)"/.exec(line);
    if (node !== null) {
      expect(nodes.has(node[1] as string), `node ${node[1]} declared twice`).toBe(false);
      nodes.set(node[1] as string, (node[2] as string).split('<br/>').map(decodeLabel));
    }
  }
  return { nodes, edges };
}

function checkDiagram(machine: JsonMachine): Parsed {
  const text = renderMermaid(machine as unknown as AslMachine);
  const parsed = parseMermaid(text);
  const expected = expectedFrom(machine);
  const nameOf = new Map([...parsed.nodes].map(([id, label]) => [id, label[0] as string]));

  expect([...nameOf.values()].sort()).toEqual([...expected.states.keys()].sort());

  const drawn = parsed.edges
    .filter((edge) => nameOf.has(edge.from) && nameOf.has(edge.to))
    .map((edge) => `${nameOf.get(edge.from)} -> ${nameOf.get(edge.to)}`);
  expect(drawn.sort()).toEqual([...expected.edges].sort());

  const startEdge = parsed.edges.find((edge) => edge.from === 'start_');
  expect(startEdge && nameOf.get(startEdge.to)).toBe(machine.StartAt);

  for (const [name, state] of expected.states) {
    const id = [...nameOf].find(([, n]) => n === name)?.[0] as string;
    const outgoing = parsed.edges.filter((edge) => edge.from === id);
    for (const catcher of state.Catch ?? []) {
      const target = [...nameOf].find(([, n]) => n === catcher.Next)?.[0];
      // Several catchers may lead to the same state: each must be its own edge, labelled with its errors.
      const label = `catch ${catcher.ErrorEquals.join(', ')}`;
      expect(
        outgoing.some((e) => e.to === target && e.label === label),
        `${name}: no edge "${label}" to ${catcher.Next}`,
      ).toBe(true);
    }
    if (state.Default !== undefined) {
      expect(outgoing.some((e) => e.label === 'Default' && nameOf.get(e.to) === state.Default)).toBe(true);
    }
    for (const retrier of state.Retry ?? []) {
      // Each retrier is one note naming its own errors (Lambda.* invoke errors summarised with their count).
      const named = retrier.ErrorEquals.filter((error) => !error.startsWith('Lambda.'));
      const lambdaCount = retrier.ErrorEquals.length - named.length;
      const note = parsed.nodes
        .get(id)
        ?.find(
          (line) =>
            line.startsWith('↻ retry ') &&
            named.every((error) => line.includes(error)) &&
            (lambdaCount === 0 || line.includes(`Lambda service errors (${lambdaCount})`)),
        );
      expect(note, `${name} retry note for ${retrier.ErrorEquals.join(', ')}`).toContain(
        `${retrier.MaxAttempts ?? 3}×`,
      );
    }
  }
  return parsed;
}

const SYNTHETIC: JsonMachine = {
  StartAt: 'Take "lock" <now>',
  States: {
    'Take "lock" <now>': {
      Type: 'Task',
      Next: 'Route',
      Retry: [
        { ErrorEquals: ['TransientError'], MaxAttempts: 5 },
        { ErrorEquals: ['States.Timeout', 'Lambda.ServiceException', 'Lambda.SdkClientException'] },
      ],
      Catch: [
        { ErrorEquals: ['PermanentError', 'ForbiddenInputError'], Next: 'Compensate' },
        { ErrorEquals: ['RecoverableError'], Next: 'Failed' },
        { ErrorEquals: ['States.ALL'], Next: 'Failed' },
      ],
    },
    Route: {
      Type: 'Choice',
      Choices: [
        {
          And: [{ Variable: '$.status', StringEquals: 'active' }, { Not: { Variable: '$.paused', IsPresent: true } }],
          Next: 'Fan out',
        } as never,
        { Variable: '$.count', NumericGreaterThanPath: '$.limit', Next: 'Wait a while' } as never,
      ],
      Default: 'Per item',
    },
    'Wait a while': { Type: 'Wait', SecondsPath: '$.overlapSeconds', Next: 'Fan out' } as JsonState,
    'Fan out': {
      Type: 'Parallel',
      Branches: [
        { StartAt: 'Left', States: { Left: { Type: 'Pass', End: true } as JsonState } },
        {
          StartAt: 'Right',
          States: {
            Right: { Type: 'Task', Next: 'Right done', Retry: [{ ErrorEquals: ['TransientError'], MaxAttempts: 2 }] },
            'Right done': { Type: 'Succeed' },
          },
        },
      ],
      Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Compensate' }],
      Next: 'Done',
    },
    'Per item': {
      Type: 'Map',
      ItemProcessor: { StartAt: 'Handle item', States: { 'Handle item': { Type: 'Task', End: true } as JsonState } },
      Next: 'Done',
    },
    Compensate: { Type: 'Task', Next: 'Failed' },
    Failed: { Type: 'Fail', Error: 'WorkflowFailed' } as JsonState,
    Done: { Type: 'Succeed' },
  },
};

describe('Mermaid generator on a machine using every construct', () => {
  it('draws every state once and every transition as an edge, with labels and retry notes', () => {
    const parsed = checkDiagram(SYNTHETIC);
    expect(parsed.nodes.size).toBe(12);
    expect(parsed.edges.length).toBe(18);
    // Succeed at top level reaches the end node; nested branch ends do not.
    expect(parsed.edges.filter((e) => e.to === 'finish_').length).toBe(1);
  });

  it('labels Choice rules with their conditions', () => {
    const parsed = parseMermaid(renderMermaid(SYNTHETIC as unknown as AslMachine));
    const labels = parsed.edges.map((e) => (e.label === undefined ? undefined : decodeLabel(e.label)));
    expect(labels).toContain('($.status == "active") and (not ($.paused is present))');
    expect(labels).toContain('$.count > $.limit');
  });

  it('describes comparison and type-test rules', () => {
    expect(describeChoiceRule({ Variable: '$.n', NumericLessThanEquals: 3 })).toBe('$.n <= 3');
    expect(describeChoiceRule({ Variable: '$.t', TimestampGreaterThan: '2026-01-01T00:00:00Z' })).toBe(
      '$.t after "2026-01-01T00:00:00Z"',
    );
    expect(describeChoiceRule({ Variable: '$.x', IsNull: false })).toBe('$.x is not null');
    expect(describeChoiceRule({ Variable: '$.x', IsString: true })).toBe('$.x is a string');
    expect(
      describeChoiceRule({
        Or: [
          { Variable: '$.a', BooleanEquals: true },
          { Variable: '$.b', StringMatches: 'x*' },
        ],
      }),
    ).toBe('($.a == true) or ($.b matches "x*")');
  });

  it('fails the check when the generator would drop an edge', () => {
    const broken = renderMermaid(SYNTHETIC as unknown as AslMachine).replace(/^.*-->\|"catch PermanentError.*$/m, '');
    const drawn = parseMermaid(broken).edges.length;
    const full = parseMermaid(renderMermaid(SYNTHETIC as unknown as AslMachine)).edges.length;
    expect(drawn).toBe(full - 1);
  });
});

describe('every workflow file renders completely', () => {
  it.each(Object.keys(WORKFLOWS) as WorkflowName[])('%s', async (name) => {
    const path = workflowFilePath(name);
    expect(existsSync(path), `${WORKFLOWS[name].file} is listed in statemachines/workflows.ts but missing`).toBe(true);
    const { readFileSync } = await import('node:fs');
    const machine = JSON.parse(readFileSync(path, 'utf8')) as JsonMachine;
    const parsed = checkDiagram(machine);
    expect(parsed.nodes.size).toBe(expectedFrom(machine).states.size);
  });
});

import { createRequire } from 'node:module';
import type { Document, Node, Scalar } from 'yaml';
import type { Diagnostic, DiagnosticCode, Position } from './diagnostic.js';
import { MAX_NESTING, exceedsNesting, findDeepPath } from '../shared/nesting.js';
import { loadYamlFast } from './yaml-fast-path.js';

type YamlLibrary = typeof import('yaml');
let yamlLibrary: YamlLibrary | undefined;

/** `yaml`, loaded on first use: a valid file read by the fast path never needs it, and start-up is shorter without it. */
function loadYamlLibrary(): YamlLibrary {
  return (yamlLibrary ??= createRequire(import.meta.url)('yaml') as YamlLibrary);
}

/** Aliases expanded while building the value; more is treated as a YAML bomb. */
const MAX_ALIAS_COUNT = 1000;

const STACK_OVERFLOW = 'Maximum call stack size exceeded';

export type PathSegment = string | number;

/** A parsed YAML file that can answer "where is this value" for any path into it. */
export interface YamlSource {
  file: string;
  value: unknown;
  diagnostics: Diagnostic[];
  /** Where the value at `path` starts; with `key`, where its key starts (for unknown or misspelt fields). */
  positionOf(path: readonly PathSegment[], at?: 'key' | 'value'): Position;
  diagnose(code: DiagnosticCode, message: string, path: readonly PathSegment[], at?: 'key' | 'value'): Diagnostic;
}

/**
 * Parses one YAML document. A valid file goes through js-yaml, about ten times faster than `yaml`;
 * `yaml`, which keeps source positions, parses it too only when a position is asked for. Anything
 * the fast path cannot vouch for, bad input included, is parsed with positions straight away.
 */
export function parseYamlSource(file: string, text: string): YamlSource {
  const fast = loadYamlFast(text, MAX_ALIAS_COUNT);
  if (!fast) return parseYamlSourceWithPositions(file, text);
  let located: Locator | undefined;
  const positionOf = (path: readonly PathSegment[], at: 'key' | 'value' = 'value'): Position =>
    (located ??= locate(text)).positionOf(path, at);
  const diagnose = diagnoseWith(file, positionOf);
  const tooDeep = findTooDeep(fast.value, text);
  if (tooDeep) return { file, value: undefined, diagnostics: [diagnoseTooDeep(diagnose, tooDeep)], positionOf, diagnose };
  return { file, value: fast.value, diagnostics: [], positionOf, diagnose };
}

/** The value and diagnostics from `yaml` alone: the fallback of parseYamlSource, and its reference in tests. */
export function parseYamlSourceWithPositions(file: string, text: string): YamlSource {
  const { doc, toPosition, positionOf } = locate(text);
  const diagnose = diagnoseWith(file, positionOf);
  const diagnostics: Diagnostic[] = [];

  // `yaml` reports its own stack overflow as an error at the place it happened: the nesting is the problem.
  const overflow = doc.errors.find((error) => error.message.includes(STACK_OVERFLOW));
  if (overflow) {
    const deep = findDeepNode(doc);
    const at = deep?.range ? toPosition(deep.range[0]) : (overflow.linePos?.[0] ?? toPosition(overflow.pos[0]));
    return { file, value: undefined, diagnostics: [{ ...diagnoseTooDeep(diagnose, []), ...at }], positionOf, diagnose };
  }

  for (const error of doc.errors) {
    const pos = error.linePos?.[0] ?? toPosition(error.pos[0]);
    diagnostics.push({ code: 'RB1001', severity: 'error', message: `${firstLine(error.message)}; fix the YAML syntax here`, file, ...pos });
  }

  const { duplicates, collections } = findKeyProblems(doc);
  for (const key of collections) {
    diagnostics.push({
      code: 'RB1103',
      severity: 'error',
      message: `a key here is a ${loadYamlLibrary().isSeq(key) ? 'list' : 'mapping'}; keys must be plain names: check the indentation and the \`?\` and \`:\` around it`,
      file,
      ...toPosition(key.range?.[0] ?? 0),
    });
  }
  for (const { key, first } of duplicates) {
    const { line } = toPosition(first);
    diagnostics.push({
      code: 'RB1002',
      severity: 'error',
      message: `duplicate key \`${String(key.value)}\` (first on line ${line}); each key may appear once in a mapping: remove or rename the second one`,
      file,
      ...toPosition(key.range?.[0] ?? 0),
    });
  }
  diagnostics.sort((a, b) => a.line - b.line || a.col - b.col);

  let value: unknown = undefined;
  if (diagnostics.length === 0) {
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (error) {
      diagnostics.push({
        code: 'RB1004',
        severity: 'error',
        message: `${(error as Error).message}; use fewer aliases (at most ${MAX_ALIAS_COUNT} expansions)`,
        file,
        ...toPosition(firstContentOffset(doc)),
      });
    }
    const tooDeep = findTooDeep(value, text);
    if (tooDeep) return { file, value: undefined, diagnostics: [diagnoseTooDeep(diagnose, tooDeep)], positionOf, diagnose };
  }
  return { file, value, diagnostics, positionOf, diagnose };
}

function diagnoseTooDeep(diagnose: YamlSource['diagnose'], path: readonly PathSegment[]): Diagnostic {
  return diagnose('RB1007', `lists and mappings are nested more than ${MAX_NESTING} levels deep here; flatten the document`, path);
}

/**
 * The path to a list or mapping nested deeper than MAX_NESTING in `value`, without recursion. When
 * `text` may hold aliases, which share an object among several places, an object is walked again
 * only when reached deeper than before: the walk stays linear in the document (times MAX_NESTING
 * at worst) even when expanding the aliases would not be.
 */
function findTooDeep(value: unknown, text: string): PathSegment[] | undefined {
  const shared = text.includes('*');
  // The common case walks cheaply; the path is worked out only once there is one to name.
  return exceedsNesting(value, shared) ? findDeepPath(value) : undefined;
}

interface Locator {
  doc: Document;
  toPosition(offset: number): Position;
  positionOf(path: readonly PathSegment[], at?: 'key' | 'value'): Position;
}

function locate(text: string): Locator {
  const yaml = loadYamlLibrary();
  const lineCounter = new yaml.LineCounter();
  // yaml's own duplicate-key check compares each key with every earlier one (quadratic: a second
  // for a 10,000-host inventory); findKeyProblems does the same job with a set per mapping.
  // Merge keys (`<<: *step`) let a runbook repeat a step for another role without copying it.
  const doc = yaml.parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: false, strict: true, merge: true });
  const toPosition = (offset: number): Position => lineCounter.linePos(offset);
  const positionOf = (path: readonly PathSegment[], at: 'key' | 'value' = 'value'): Position => {
    const found = findNode(doc, path, at);
    return toPosition(found?.range?.[0] ?? firstContentOffset(doc));
  };
  return { doc, toPosition, positionOf };
}

function diagnoseWith(file: string, positionOf: YamlSource['positionOf']): YamlSource['diagnose'] {
  return (code, message, path, at = 'value') => ({ code, severity: 'error', message, file, ...positionOf(path, at) });
}

/**
 * Scalar keys repeated within one mapping (with the offset of their first occurrence), and keys that
 * are lists or mappings, which no format has and which would become "[object Object]" in JavaScript.
 */
function findKeyProblems(doc: Document): { duplicates: Array<{ key: Scalar; first: number }>; collections: Node[] } {
  const duplicates: Array<{ key: Scalar; first: number }> = [];
  const collections: Node[] = [];
  const { isMap, isScalar, isSeq, visit } = loadYamlLibrary();
  visit(doc, {
    Map(_, map) {
      const seen = new Map<unknown, number>();
      for (const pair of map.items) {
        if (isMap(pair.key) || isSeq(pair.key)) collections.push(pair.key);
        if (!isScalar(pair.key)) continue;
        const first = seen.get(pair.key.value);
        if (first === undefined) seen.set(pair.key.value, pair.key.range?.[0] ?? 0);
        else duplicates.push({ key: pair.key, first });
      }
    },
  });
  return { duplicates, collections };
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

function firstContentOffset(doc: Document): number {
  return doc.contents?.range?.[0] ?? 0;
}

/** The first list or mapping of the document nested deeper than MAX_NESTING, without recursion. */
function findDeepNode(doc: Document): Node | undefined {
  const { isMap, isSeq } = loadYamlLibrary();
  const stack: Array<{ node: unknown; depth: number }> = [{ node: doc.contents, depth: 1 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (!isMap(node) && !isSeq(node)) continue;
    if (depth > MAX_NESTING) return node;
    for (const item of node.items) {
      if (isSeq(node)) stack.push({ node: item, depth: depth + 1 });
      else stack.push({ node: (item as { key: unknown }).key, depth: depth + 1 }, { node: (item as { value: unknown }).value, depth: depth + 1 });
    }
  }
  return undefined;
}

/** The deepest node that exists along `path`, so a missing field points at its parent. */
function findNode(doc: Document, path: readonly PathSegment[], at: 'key' | 'value'): Node | undefined {
  const { isMap, isPair, isScalar, isSeq } = loadYamlLibrary();
  let node: unknown = doc.contents;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i]!;
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) return node;
      if (last && at === 'key' && isScalar(pair.key)) return pair.key;
      if (!pair.value) return isScalar(pair.key) ? pair.key : node;
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(segment)];
      if (!item) return node;
      node = item;
    } else {
      return node as Node | undefined;
    }
  }
  return node as Node | undefined;
}

import { createRequire } from 'node:module';
import type { Document, Node, Scalar } from 'yaml';
import type { Diagnostic, DiagnosticCode, Position } from './diagnostic.js';
import { loadYamlFast } from './yaml-fast-path.js';

type YamlLibrary = typeof import('yaml');
let yamlLibrary: YamlLibrary | undefined;

/** `yaml`, loaded on first use: a valid file read by the fast path never needs it, and start-up is shorter without it. */
function loadYamlLibrary(): YamlLibrary {
  return (yamlLibrary ??= createRequire(import.meta.url)('yaml') as YamlLibrary);
}

/** Aliases expanded while building the value; more is treated as a YAML bomb. */
const MAX_ALIAS_COUNT = 1000;

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
  return { file, value: fast.value, diagnostics: [], positionOf, diagnose: diagnoseWith(file, positionOf) };
}

/** The value and diagnostics from `yaml` alone: the fallback of parseYamlSource, and its reference in tests. */
export function parseYamlSourceWithPositions(file: string, text: string): YamlSource {
  const { doc, toPosition, positionOf } = locate(text);
  const diagnostics: Diagnostic[] = [];

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
  }
  return { file, value, diagnostics, positionOf, diagnose: diagnoseWith(file, positionOf) };
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

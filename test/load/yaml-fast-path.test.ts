import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { generateFabricHosts, renderFabricInventory } from '../../bench/lib/fabric.js';
import { loadDocument } from '../../engine/load/load-document.js';
import { loadYamlFast } from '../../engine/load/yaml-fast-path.js';
import { parseYamlSource, parseYamlSourceWithPositions, type PathSegment, type YamlSource } from '../../engine/load/yaml-source.js';

// parseYamlSource reads valid files with js-yaml and falls back to `yaml` (parseYamlSourceWithPositions)
// for everything else. The fallback is only as good as the fast path's refusals: whenever js-yaml
// gives a value, it must be exactly `yaml`'s, and `yaml` must have found nothing wrong.

// Counts the positional parses, to see that a valid file never pays for one: yaml-source loads `yaml`
// with `require` when it first needs it, and this is the same module object.
const positional = vi.spyOn(createRequire(import.meta.url)('yaml') as typeof import('yaml'), 'parseDocument');

const ROOT = join(import.meta.dirname, '..', '..');
const MAX_ALIAS_COUNT = 1000;

/**
 * A value written out with everything `toEqual` overlooks: key order, -0, NaN, own `__proto__`
 * keys, prototypes, and which objects are shared (an alias is the anchored object itself).
 */
function describeValue(value: unknown): string {
  const seen = new Map<object, number>();
  const walk = (v: unknown): string => {
    if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
    if (typeof v === 'string') return JSON.stringify(v);
    if (v === null || typeof v !== 'object') return `${typeof v} ${String(v)}`;
    const id = seen.get(v);
    if (id !== undefined) return `*${id}`;
    seen.set(v, seen.size);
    const anchor = `&${seen.size - 1}`;
    if (Array.isArray(v)) return `${anchor}[${v.map(walk).join(', ')}]`;
    const prototype = Object.getPrototypeOf(v) === Object.prototype ? '' : '(not a plain object)';
    const entries = Reflect.ownKeys(v).map((key) => {
      const property = Object.getOwnPropertyDescriptor(v, key)!;
      return `${String(key)}${property.enumerable ? '' : '(hidden)'}: ${walk(property.value)}`;
    });
    return `${anchor}${prototype}{${entries.join(', ')}}`;
  };
  return walk(value);
}

interface Comparison {
  fast: boolean;
  reference: YamlSource;
  source: YamlSource;
}

/** Parses `text` both ways and expects the same value and diagnostics. */
function expectSameParse(text: string): Comparison {
  const reference = parseYamlSourceWithPositions('f.yaml', text);
  const source = parseYamlSource('f.yaml', text);
  const label = JSON.stringify(text).slice(0, 200);
  expect(describeValue(source.value), label).toBe(describeValue(reference.value));
  expect(source.diagnostics, label).toEqual(reference.diagnostics);
  return { fast: loadYamlFast(text, MAX_ALIAS_COUNT) !== undefined, reference, source };
}

/** Every path to a node of `value`, the root included. */
function pathsOf(value: unknown, path: PathSegment[] = []): PathSegment[][] {
  const paths = [path];
  if (Array.isArray(value)) value.forEach((item, i) => paths.push(...pathsOf(item, [...path, i])));
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) paths.push(...pathsOf(item, [...path, key]));
  }
  return paths;
}

function listYamlFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((name) => /\.ya?ml$/.test(name))
    .map((name) => join(folder, name))
    .sort();
}

const REPOSITORY_FILES = ['runbooks', 'inventories', 'profiles', join('test', 'fixtures')].flatMap(listYamlFiles);

describe('the YAML files of the repository', () => {
  it('include the runbooks, inventories, profiles and the invalid corpus', () => {
    for (const folder of ['runbooks/', 'inventories/', 'profiles/', 'test/fixtures/valid/', 'test/fixtures/invalid/']) {
      expect(REPOSITORY_FILES.some((file) => file.startsWith(folder)), folder).toBe(true);
    }
  });

  it.each(REPOSITORY_FILES)('%s parses to the same value and diagnostics, at the same positions', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const { fast, reference, source } = expectSameParse(text);
    // Every document here that `yaml` reads without complaint is one the fast path can vouch for
    // (a file of comments only holds no document: js-yaml finds nothing to vouch for).
    const hasDocument = /^[ \t]*[^#\s]/m.test(text);
    expect(fast).toBe(hasDocument && reference.diagnostics.length === 0);
    // Diagnostics name existing paths (a wrong value) and missing ones (a missing field, under its parent).
    for (const existing of pathsOf(reference.value)) {
      for (const path of [existing, [...existing, 'missing'], [...existing, 99]]) {
        for (const at of ['key', 'value'] as const) expect(source.positionOf(path, at), `${path.join('.')} (${at})`).toEqual(reference.positionOf(path, at));
      }
    }
  });
});

// Plain scalars each schema reads its own way: YAML 1.1 booleans and octals, dates, numbers in all
// forms and beyond a double's range, and the indicators that make a plain scalar invalid.
const TRICKY_WORDS = [
  '~', 'null', 'Null', 'NULL', 'nULL', 'true', 'True', 'TRUE', 'tRUE', 'false', 'False', 'FALSE', 'yes', 'no', 'on', 'off', 'y', 'n', 'Yes', 'NO',
  '0', '-0', '+0', '00', '017', '0o17', '0o8', '-0o17', '0x1F', '0X1F', '0xg', '-0x1', '0b101', '1_000', '+1', '-1', '+12', '1,000',
  '.5', '-.5', '+.5', '1.', '-1.', '1.0', '1.50', '1e3', '1E3', '1e+3', '1.5e-3', '.5e3', '1e', 'e3', '1.e3', '0.1.2', '6.02e23',
  '.inf', '-.inf', '+.inf', '.Inf', '.INF', '.iNF', '.nan', '.NaN', '.NAN', '-.nan', '.Nan', 'inf', 'nan', 'NaN', 'Infinity',
  '1e400', '-1e400', '1e-400', '9'.repeat(25), '9'.repeat(400), `0x${'f'.repeat(300)}`, `0o${'7'.repeat(400)}`, `${'1'.repeat(320)}.5`,
  '2024-01-01', '2024-01-01T10:00:00Z', '2024-1-1', '12:30', '1:20:30', '190:20:30.5', '$1', '<<', '=', '-', '--', '---', '...', '?', ':', ',',
  'a b', 'a  b', 'a: b', 'a :b', 'a #b', 'a#b', '#a', "it's", '"q"', '\\', '\\n', 'tab\there', '', ' lead', 'trail ', 'ünï', '😀',
  'multi\nline', 'a\n\nb', 'x\n', '\n', '{{ quote x }}', '[a]', '{a}', '*a', '&a', '!a', '%a', '@a', '`a', '|', '>', '-a', 'a,b', '__proto__',
];

const KEYS = ['a', 'b', 'id', 'run', 'name', 'a b', '<<', '1', '01', '1.0', '0x1', 'true', 'null', '~', '', '__proto__', 'constructor', 'toString', 'x: y', '-', '?', 'ü'];

type Style = 'plain' | 'single' | 'double' | 'literal' | 'folded';
const STYLES: Style[] = ['plain', 'single', 'double', 'literal', 'folded'];

type Tree =
  | { kind: 'scalar'; text: string; style: Style; header: string; anchor: string | undefined }
  | { kind: 'alias'; name: string }
  | { kind: 'seq'; items: Tree[]; flow: boolean; anchor: string | undefined }
  | { kind: 'map'; entries: Array<{ key: string; keyStyle: Style; keyAnchor: string | undefined; value: Tree }>; flow: boolean; anchor: string | undefined };

const ANCHORS = ['a1', 'a2', 'a3'];
const anchorArb = fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...ANCHORS) });
const textArb = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...TRICKY_WORDS) },
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(...'ab01289.-+_:#\'"\\\t\n eExo~,[]{}&*!|>%@`?'), maxLength: 8 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
);

const { tree: treeArb } = fc.letrec<{ tree: Tree; scalar: Tree; seq: Tree; map: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 4, arbitrary: tie('scalar') },
    { weight: 2, arbitrary: tie('seq') },
    { weight: 2, arbitrary: tie('map') },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('alias' as const), name: fc.constantFrom(...ANCHORS) }) },
  ),
  scalar: fc.record({
    kind: fc.constant('scalar' as const),
    text: textArb,
    style: fc.constantFrom<Style>(...STYLES, 'plain', 'plain'),
    header: fc.constantFrom('', '', '-', '+', '2', '1-', '+2'),
    anchor: anchorArb,
  }),
  seq: fc.record({ kind: fc.constant('seq' as const), items: fc.array(tie('tree'), { maxLength: 4 }), flow: fc.boolean(), anchor: anchorArb }),
  map: fc.record({
    kind: fc.constant('map' as const),
    entries: fc.array(
      fc.record({ key: fc.oneof(fc.constantFrom(...KEYS), textArb), keyStyle: fc.constantFrom<Style>('plain', 'plain', 'single', 'double'), keyAnchor: anchorArb, value: tie('tree') }),
      { maxLength: 4 },
    ),
    flow: fc.boolean(),
    anchor: anchorArb,
  }),
}));

/** A scalar in one style; multi-line text keeps its breaks as the style folds them. */
function renderScalar(text: string, style: Style, header: string, indent: number, inFlow: boolean): string {
  const pad = ' '.repeat(indent);
  switch (style) {
    case 'plain':
      return text.replaceAll('\n', `\n${pad}`);
    case 'single':
      return `'${text.replaceAll("'", "''").replaceAll('\n', `\n${pad}`)}'`;
    case 'double': {
      // Escapes from JSON, and the line breaks either escaped or folded.
      const escaped = JSON.stringify(text).slice(1, -1);
      return `"${text.includes(' ') ? escaped.replace(' ', `\n${pad}`) : escaped}"`;
    }
    case 'literal':
    case 'folded': {
      if (inFlow) return JSON.stringify(text);
      const lines = text.split('\n').map((line) => (line === '' ? '' : `${pad}  ${line}`));
      return `${style === 'literal' ? '|' : '>'}${header}\n${lines.join('\n')}`;
    }
  }
}

function renderNode(node: Tree, indent: number, inFlow: boolean): string {
  const anchor = node.kind !== 'alias' && node.anchor ? `&${node.anchor} ` : '';
  switch (node.kind) {
    case 'alias':
      return `*${node.name}`;
    case 'scalar':
      return `${anchor}${renderScalar(node.text, node.style, node.header, indent, inFlow)}`;
    case 'seq':
      if (node.flow || inFlow || node.items.length === 0) return `${anchor}[${node.items.map((item) => renderNode(item, indent + 2, true)).join(', ')}]`;
      return `${anchor}\n${node.items.map((item) => `${' '.repeat(indent)}- ${renderNode(item, indent + 2, false).replace(/^\n\s*/, '')}`).join('\n')}`;
    case 'map': {
      const key = (entry: { key: string; keyStyle: Style; keyAnchor: string | undefined }) =>
        `${entry.keyAnchor ? `&${entry.keyAnchor} ` : ''}${renderScalar(entry.key, entry.keyStyle, '', indent, true)}`;
      if (node.flow || inFlow || node.entries.length === 0) {
        return `${anchor}{${node.entries.map((entry) => `${key(entry)}: ${renderNode(entry.value, indent + 2, true)}`).join(', ')}}`;
      }
      const lines = node.entries.map((entry) => {
        const value = renderNode(entry.value, indent + 2, false);
        return `${' '.repeat(indent)}${key(entry)}:${value.startsWith('\n') ? '' : ' '}${value}`;
      });
      return `${anchor}\n${lines.join('\n')}`;
    }
  }
}

/** Anchored steps and merges of them, the way runbooks repeat a step for another role. */
const mergeDocumentArb = fc
  .record({
    bases: fc.array(fc.dictionary(fc.constantFrom('id', 'run', 'on', 'timeout', 'x'), treeArb, { maxKeys: 3 }), { minLength: 1, maxLength: 3 }),
    merges: fc.array(
      fc.record({
        from: fc.array(fc.nat(2), { minLength: 1, maxLength: 3 }),
        asList: fc.boolean(),
        own: fc.dictionary(fc.constantFrom('id', 'run', 'x', 'y'), fc.constantFrom('1', 'z', '~', 'true'), { maxKeys: 2 }),
        ownFirst: fc.boolean(),
        flow: fc.boolean(),
        // An anchor on the `<<` key itself, aliased at the end.
        anchored: fc.boolean(),
      }),
      { maxLength: 3 },
    ),
  })
  .map(({ bases, merges }) => {
    const lines = ['steps:'];
    bases.forEach((base, i) => {
      const body = Object.entries(base).map(([k, v]) => `${k}: ${renderNode(v, 6, true)}`);
      lines.push(`  - &s${i} {${body.join(', ')}}`);
    });
    const anchoredKeys: string[] = [];
    merges.forEach((merge, m) => {
      const sources = merge.from.map((i) => `*s${i % bases.length}`);
      if (merge.anchored) anchoredKeys.push(`*k${m}`);
      const mergeEntry = `${merge.anchored ? `&k${m} ` : ''}<<: ${merge.asList ? `[${sources.join(', ')}]` : sources[0]}`;
      const own = Object.entries(merge.own).map(([k, v]) => `${k}: ${v}`);
      const entries = merge.ownFirst ? [...own, mergeEntry] : [mergeEntry, ...own];
      if (merge.flow) lines.push(`  - {${entries.join(', ')}}`);
      else lines.push(`  - ${entries.join('\n    ')}`);
    });
    if (anchoredKeys.length > 0) lines.push(`keys: [${anchoredKeys.join(', ')}]`);
    return `${lines.join('\n')}\n`;
  });

/** Whole documents, with the noise around them: comments, blank lines, markers, CRLF, stray characters. */
const documentArb = fc
  .record({
    body: fc.oneof({ weight: 3, arbitrary: treeArb.map((tree) => renderNode(tree, 0, false).replace(/^\n/, '')) }, { weight: 1, arbitrary: mergeDocumentArb }),
    start: fc.constantFrom('', '', '---\n', '--- # start\n', '# comment\n', '\n'),
    end: fc.constantFrom('', '\n', '\n...\n', '\n# end\n', '  \n'),
    comments: fc.boolean(),
    crlf: fc.boolean(),
    strays: fc.oneof(fc.constant([]), fc.array(fc.record({ at: fc.nat(), text: fc.constantFrom(' ', '  ', '\t', '\n', '\n  ', '#', ' #', ':', ': ', '- ', '-', '?', '|', '>', '"', "'", '&a1 ', '*a1', '[', ']', '{', '}', ',', '\\', '<<: ') }), { minLength: 1, maxLength: 2 })),
  })
  .map(({ body, start, end, comments, crlf, strays }) => {
    let text = `${start}${comments ? body.replace(/\n(?=\s*\w+:)/g, ' # note\n') : body}${end}`;
    for (const stray of strays) {
      const at = stray.at % (text.length + 1);
      text = text.slice(0, at) + stray.text + text.slice(at);
    }
    return crlf ? text.replaceAll('\n', '\r\n') : text;
  });

describe('any document', () => {
  it('parses to the same value and diagnostics through the fast path as through `yaml`', () => {
    let fast = 0;
    let runs = 0;
    fc.assert(
      fc.property(documentArb, (text) => {
        runs++;
        if (expectSameParse(text).fast) fast++;
      }),
      { numRuns: 1500 },
    );
    // Without valid documents among them, the comparison would prove nothing about the fast path.
    expect(fast).toBeGreaterThan(runs / 10);
  });
});

describe('any edit of a file of the repository', () => {
  const valid = REPOSITORY_FILES.filter((file) => !file.includes('invalid')).map((file) => readFileSync(join(ROOT, file), 'utf8'));
  type Edit = { op: 'insert'; at: number; text: string } | { op: 'delete'; at: number; length: number } | { op: 'lines'; copy: boolean; a: number; b: number };
  const editArb: fc.Arbitrary<Edit> = fc.oneof(
    fc.record({
      op: fc.constant('insert' as const),
      at: fc.nat(),
      text: fc.oneof(fc.constantFrom(' ', '  ', '\t', '\n', '#', ': ', '- ', '?', '|', '|+', '>', '"', "'", '&a ', '*a', '[', '{', '}', ',', '\\', '<<: ', '~', '...', '---', '\r', '%', '!'), fc.string({ maxLength: 3 })),
    }),
    fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 6 }) }),
    // A line swapped with another, or copied before it.
    fc.record({ op: fc.constant('lines' as const), copy: fc.boolean(), a: fc.nat(), b: fc.nat() }),
  );
  const applyEdit = (text: string, edit: Edit): string => {
    if (edit.op === 'lines') {
      const lines = text.split('\n');
      const [a, b] = [edit.a % lines.length, edit.b % lines.length];
      if (edit.copy) lines.splice(b, 0, lines[a]!);
      else [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      return lines.join('\n');
    }
    const at = edit.at % (text.length + 1);
    return edit.op === 'insert' ? text.slice(0, at) + edit.text + text.slice(at) : text.slice(0, at) + text.slice(at + edit.length);
  };

  it('parses to the same value and diagnostics through the fast path as through `yaml`', () => {
    let fast = 0;
    fc.assert(
      fc.property(fc.nat(valid.length - 1), fc.array(editArb, { minLength: 1, maxLength: 4 }), (index, edits) => {
        if (expectSameParse(edits.reduce(applyEdit, valid[index]!)).fast) fast++;
      }),
      { numRuns: 500 },
    );
    expect(fast).toBeGreaterThan(50);
  });
});

// Each case is where the two libraries disagreed, or might: see engine/load/yaml-fast-path.ts.
const TRICKY_DOCUMENTS = [
  ...TRICKY_WORDS.map((word) => `a: ${word.replaceAll('\n', '\n  ')}\n`),
  ...TRICKY_WORDS.map((word) => `- ${word.replaceAll('\n', '\n  ')}\n`),
  ...TRICKY_WORDS.map((word) => `${word.replaceAll('\n', ' ')}: x\n`),
  ...TRICKY_WORDS.map((word) => `[${word.replaceAll('\n', ' ')}]\n`),
  // keys
  '1: a', 'true: a', 'null: a', '~: a', ': a', '1.5: a', '[a]: b', '{a: 1}: b', '? a\n: b', '? [a]\n: b', "'1': a\n\"true\": b",
  'a: 1\na: 2', 'a: 1\n"a": 2', '1: a\n"1": b', '1: a\n1.0: b', '__proto__: {x: 1}', 'constructor: 1\ntoString: 2\nhasOwnProperty: 3',
  `${'x'.repeat(1020)}: 1`, `${'x'.repeat(1100)}: 1`, `"${'x'.repeat(1100)}": 1`, `&aa ${'x'.repeat(1019)}: 1`, `- ${'x'.repeat(1100)}: 1`,
  `[${'x'.repeat(1100)}: 1]`, `{${'x'.repeat(1100)}: 1}`, `x${' '.repeat(1100)}: 1`, `? ${'x'.repeat(1100)}\n: 1`,
  '"a\n b": 1', "'a\n b': 1", '{"a\n b": 1}', '["a\n b": 1]', '[a\n b: 1]', '{a\n b: 1}', 'a\n b: 1',
  // anchors, aliases and merges
  'a: &x 1\nb: *x', 'a: &x [1, 2]\nb: *x', 'a: &x {k: [1]}\nb: {<<: *x, z: 1}', 'a: &x {k: 1}\nb: &y {k: 2, j: 3}\nc: {<<: [*x, *y]}',
  'a: &x {k: 1}\nb:\n  k: 0\n  <<: *x', 'a: &x {k: 1}\nb:\n  <<: *x\n  k: 0', 'a: &x {k: 1}\nb:\n  <<: *x\n  <<: {k: 2, m: 3}', 'b:\n  <<: {k: 2}\n  "<<": 3',
  'a: <<\nb: [<<]', 'a: &x [1]\nb: {<<: *x}', 'a: &x 1\nb: {<<: *x}', 'b: {<<: ~}', 'b: {<<: }', 'a: &x {k: 1}\nb: [<<: *x]', 'b: {<<: {<<: {a: 1}, b: 2}}',
  'a: &x {k: &y [1]}\nb: {<<: *x}\nc: *y', 'a: &x {k: *y}', 'a: &x [*x]', 'a: *nope', 'a: &x {k: 1}\nb: &x {k: 2}\nc: *x', 'a: &x {__proto__: 1}\nb: {<<: *x}',
  'a: &x {p: {q: 1}}\nb: {<<: *x}\nc: *x', 'a: &x {p: [1, {q: 2}]}\nb:\n  <<: *x\nc:\n  <<: *x', 'a: &x\n  b: 1\nc: *x', 'a: &x\nb: *x',
  '&x a: 1\n*x : 2', '&x a: 1\nb: *x', 'a: &x b\n*x : 1', '*x : 1', 'a: &x b\n? *x\n: 1', 'a: &x,y 1', 'a: [&x 1, *x]', 'a: &a1 [&a2 1]\nb: *a2',
  'a: &x [1]\nb: &y[1]', 'a: &x{k: 1}', 'a: [&x, *x]', 'a: &x: 1', 'a: &x:y 1\nb: *x:y', 'a: &x 1\nb: [*x]', 'a: &x 1\nb: {c: *x}', 'a: &x 1\nb: *x:',
  `a: &x 1\nb: [${Array(999).fill('*x').join(', ')}]`, `a: &x 1\nb: [${Array(1000).fill('*x').join(', ')}]`, `a: &x []\nb: [${Array(1000).fill('*x').join(', ')}]`,
  `a: &x [1]\nb: &y [2]\nc: [${Array(600).fill('*x').join(', ')}, ${Array(600).fill('*y').join(', ')}]`,
  `a: &x {k: 1}\nb: {<<: [${Array(101).fill('*x').join(', ')}]}`,
  // documents, directives, tags
  '', '# only comment', '---', '--- a', '---\na: 1\n...', 'a: 1\n---\nb: 2', '%YAML 1.2\n---\na: 1', '%YAML 1.1\n---\na: yes', '%TAG !e! tag:e.com:\n---\na: !e!x 1',
  'a: !!str 1', 'a: !foo x', 'a: ! 1', '!!map {a: 1}', 'a: !!binary aGVsbG8=', 'a: !!set {x}', 'a: !!float 1', '--- a: 1', '--- - a', '--- [a]', '---a: 1',
  'a: b\n--- c', '...\na: 1', 'a: 1\n...\nb: 2', 'a: b\n...\n', 'a: b\n... # c\n', 'a: b\n---\n', '--- |\n  x', '--- >\n x', '--- # c\na: 1',
  // line breaks and white space
  '\ufeffa: 1', 'a: 1\r\nb: 2\r\n', 'a: |\r\n  x\r\n  y\r\n', 'a: b\rc: d', 'a: "b\rc"', 'a:\n\t- x', 'a: \tb', 'a:\tb', 'a: b\t', 'a:\n  - x\n\t- y',
  'a: [1,\t2]', 'a: \t\n  b', 'a:\n\tb', 'a:\n  b:\t1', 'a:\n  \tb: 1', 'a: [\tb]', '- \ta', '-\ta', 'a: |\n\tx', 'a: |\n  x\n\ty', 'a: "\tx"',
  'a: \u0085', 'a: \u2028x', 'a: x\u0001', 'a: "x\u0001"', 'a: x\u00a0y', 'a: \u00a0', 'a: \u3000b', '\u3000a: b', 'a: \ufeffb', 'a: b\n\ufeffc: d',
  // quoted and block scalars
  'a: "\\x41\\u0042\\U00000043\\N\\_\\L\\P\\/\\t\\ \\e\\0\\a\\b\\v\\f"', 'a: "\\q"', 'a: "\\x4"', 'a: "\\uD800"', 'a: "\\uD83D\\uDE00"', 'a: "\\uFEFF"',
  "a: 'it''s'", "a: 'multi\n  line\n\n  para'", 'a: "multi\n  line\\\n  cont"', 'a: "a\\\n\n  b"', 'a: "a \n  b"', 'a: "a\t\n  b"', "a: 'a \n\n  b '",
  'a: plain\n  multi\n\n  line', 'a: a  \n  b', 'a: a\t\n  b', 'a: x\n  # c\n  y', 'a: x\n# c\n  y', 'a: "x"\n  y', '- x\n  y', "- 'x'\n  y", "a: 'x\n'",
  'a: |+\n  x\n\n', 'a: |-\n  x\n', 'a: >\n  x\n   y\n  z\n\n  w', 'a: |2\n   x', 'a: >-\n\n  x', 'a: |\n', 'a: >\n  \n  x', 'a: |\n    \n  x',
  'a: |\n  \n    x', 'a: >\n   \n  x\n', 'a: |#c\n  x', 'a: | #c\n  x', 'a: |1\n  x', 'a: |0\n x', 'a: |10\n x', 'a: >+\n', 'a: |\n x\n  y\n z',
  'a: |2-\n   x\n', 'a: |+2\n   x\n\n', 'a: >-2\n   x', 'a: |-2\n  x', 'a: |9\n         x', 'a: |1-\n x', 'a: >\n x\n  y\n', 'a: |\n  x\n b: 1', '- |\n x\n- y',
  // comments and indicators
  'a: b # c', 'a: b#c', 'a: "b"#c', 'a: [b]#c', "a: 'b' #c", '#c\na: 1 #d\n#e', 'a: 1 # c\n  # d\nb: 2', 'a:\n  # c\n  b: 1', 'a: # c\n  b', '- # c\n  a',
  'a: @x', 'a: `x', 'a: %x', '%a: b', 'a: !x', 'a: |x', 'a: *', 'a: &', 'a: -x', 'a: - x', 'a: b: c', '- a: b: c', 'a: ?b', 'a: ? b', 'a: [? b : c]', 'a: {? b : c}',
  // found by the generated documents below
  '>1-\n   ', '|2\n  nULL\n', 'a: |1\n     x\n  \n# e\n', '- >2-\n    \n\n', 'a: |3\n     x\n    \nz: 1\n', '--- # start\r\n>1-\r\n  ---\r\n# end\r\n', '---\n&a1 |+\n\n\n  ', 'a:\n  b: |+\n  ', '- |+\n  \n    ', 'a: |\n  x',
  '# comment\n\t_\n# end\n', '---\n\t_\t', '  ---\n+.5  \n', ' ---\n- &a3 +1\n- *a3', '  ---\na: 1', ' --- a', '# c\n  --- a', '\ufeff---\na: 1',
  "---\n&a2 \n'k': &a3 2024-01-01<<: T10:00:00Z", 'a: &x b: c', "a: &x 'b': c", 'a: &x b:', '- a: &x b: c', '- &x b: c\n- *x', '&x a: b\nc: *x', 'a: &x\n  b: c\nd: *x',
  '[{}, [&a3 \n    , 190:20:30.5]]', 'a: [&x , b]', 'a: {&x : b}', '[&x]', '-\t&a x', '- \t&a x', '? \t&a k\n: v', 'a:\n  - \t&x b', "- \t&a2 '2024-\t1-1'\n# end\n",
  'steps:\n  - &s0 <<: {}\n  - {:<<: *s0}\n', '- &s0 <<: {}\n- *s0', 'a: &x <<\nb: *x', '- {&x <<: {a: 1}}\n- *x', '? &x <<\n: {a: 1}\nb: *x', '- >\n\n# end\n', '---\n  &a3 >\n\n# end\n',
  // flow and block collections
  '- - a\n  - b', '- a: 1\n  b: 2', 'a:\n- b', 'a: {b: 1, c}', 'a: {b, c}', 'a: [b: 1]', 'a: [b: 1, c: 2]', 'a: [1, 2,]', 'a: {b: 1,}', 'a: [,]', '[a,,b]',
  'a: {"b":1}', 'a: {b:1}', '{a: 1}', '[1, 2]', 'a', '1', '~', "'x'", 'a: [\n1,\n2\n]', 'a: {\nb: 1\n}', 'a:\n  [1,\n  2]', 'a:\n  [1,\n2]', '- [a,\nb]',
  'a:\n  b: 1\n c: 2', 'a:\n    b: 1\n  c: 2', '  a: 1\n  b: 2', '  a: 1\nb: 2', '- a\n - b', ' - a\n- b', 'a: -\nb: 1', '- \n- x', '-\n-', '? \n: ',
  'a: {b: c}d', 'a: [b]c', 'a: "b"c', 'a: b, c', '[a, b]: c', 'a: {[b]: c}', 'a :b', 'a : b', 'a\t: b', '- a\n-b', '-a', 'a:b',
];

describe('the hand-written tricky documents', () => {
  it.each(TRICKY_DOCUMENTS.map((text) => [JSON.stringify(text).slice(0, 60), text]))('%s parses the same both ways', (_, text) => {
    expectSameParse(text);
  });

  it('go through the fast path when they are plain valid YAML', () => {
    const fast = (text: string) => loadYamlFast(text, MAX_ALIAS_COUNT) !== undefined;
    for (const text of ['a: 1', 'a: &x {k: 1}\nb: {<<: *x, z: 1}', "'1': a", 'a: "\\x41"', 'a: |+\n  x\n\n', `a: &x 1\nb: [${Array(999).fill('*x').join(', ')}]`]) {
      expect(fast(text), text.slice(0, 40)).toBe(true);
    }
    // Non-string keys, tags, directives, several documents, nested anchors, 1000 aliases (`yaml`
    // counts the anchor too, and refuses more than 1000): `yaml`.
    for (const text of ['1: a', 'a: !!str 1', '%YAML 1.2\n---\na: 1', 'a: 1\n---\nb: 2', 'a: &x {k: &y [1]}', `a: &x 1\nb: [${Array(1000).fill('*x').join(', ')}]`]) {
      expect(fast(text), text.slice(0, 40)).toBe(false);
    }
  });
});

describe('a large valid inventory', () => {
  const text = renderFabricInventory(generateFabricHosts(2_000));
  beforeEach(() => {
    positional.mockClear();
  });

  it('is loaded without the positional parser', () => {
    const loaded = loadDocument('inventories/fabric.yaml', text, 'Inventory');
    expect(loaded.diagnostics).toEqual([]);
    expect(loaded.ok && loaded.kind === 'Inventory' && Object.keys(loaded.value.hosts)).toHaveLength(2_000);
    expect(positional).not.toHaveBeenCalled();
  });

  it('still tells where a value is, parsing with positions once, on the first question', () => {
    const source = parseYamlSource('inventories/fabric.yaml', text);
    expect(positional).not.toHaveBeenCalled();
    const lines = text.split('\n');
    const line = lines.indexOf('  p040-leaf07:') + 1;
    expect(line).toBeGreaterThan(0);
    expect(source.positionOf(['hosts', 'p040-leaf07'], 'key')).toEqual({ line, col: 3 });
    expect(source.positionOf(['hosts', 'p040-leaf07', 'address'])).toEqual({ line: line + 1, col: 14 });
    expect(source.diagnose('RB1104', 'm', ['hosts', 'p040-leaf07', 'labels', 'rack'])).toEqual({
      code: 'RB1104',
      severity: 'error',
      message: 'm',
      file: 'inventories/fabric.yaml',
      line: line + 3,
      col: lines[line + 2]!.indexOf('r04') + 1,
    });
    expect(positional).toHaveBeenCalledTimes(1);
  });

  it('with a mistake is reported where `yaml` alone reports it', () => {
    const broken = text.replace('    role: leaf\n', '    role: leaf\n    rol: leaf\n');
    const loaded = loadDocument('inventories/fabric.yaml', broken, 'Inventory');
    expect(loaded.diagnostics.map((d) => `${d.code} ${d.line}:${d.col}`)).toEqual([`RB1101 ${broken.split('\n').indexOf('    rol: leaf') + 1}:5`]);
  });
});

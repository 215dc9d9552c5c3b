import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CODES, formatDiagnostic, type Diagnostic } from '../../engine/load/diagnostic.js';
import { loadDocument } from '../../engine/load/load-document.js';

const INVALID = join(import.meta.dirname, '..', 'fixtures', 'invalid');
const VALID = join(import.meta.dirname, '..', 'fixtures', 'valid');

interface Expectation {
  /** `CODE line:col`, one per expected diagnostic, in file order. */
  diagnostics: string[];
  /** Text each of which some diagnostic's message must contain. */
  messages: string[];
}

/** Reads the `# expect: RB1101 13:5` and `# message: ...` header comments of a corpus file. */
function readExpectation(text: string): Expectation {
  const header = text.split('\n').filter((line) => line.startsWith('# '));
  const valueOf = (prefix: string) => header.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length).trim());
  return { diagnostics: valueOf('# expect:'), messages: valueOf('# message:') };
}

const describeDiagnostic = (d: Diagnostic) => `${d.code} ${d.line}:${d.col}`;

const corpus = readdirSync(INVALID)
  .filter((name) => name.endsWith('.yaml'))
  .sort();

describe('the invalid corpus', () => {
  it('holds at least 30 files, each declaring what it expects', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(30);
    for (const name of corpus) {
      const { diagnostics } = readExpectation(readFileSync(join(INVALID, name), 'utf8'));
      expect(diagnostics, `${name} has no \`# expect: CODE line:col\` header`).not.toHaveLength(0);
      for (const d of diagnostics) expect(d, name).toMatch(/^RB\d{4} \d+:\d+$/);
    }
  });

  it.each(corpus)('%s is refused with the code, line and column it declares', (name) => {
    const text = readFileSync(join(INVALID, name), 'utf8');
    const expected = readExpectation(text);
    const file = `fixtures/invalid/${name}`;
    const loaded = loadDocument(file, text);

    expect(loaded.ok).toBe(false);
    expect(loaded.diagnostics.map(describeDiagnostic)).toEqual(expected.diagnostics);
    for (const d of loaded.diagnostics) {
      expect(d.file).toBe(file);
      expect(d.severity).toBe('error');
      expect(Object.keys(CODES)).toContain(d.code);
    }
    const messages = loaded.diagnostics.map((d) => d.message);
    for (const fragment of expected.messages) {
      expect(messages.some((m) => m.includes(fragment)), `no message contains "${fragment}" in ${messages.join(' | ')}`).toBe(true);
    }
  });
});

describe('the valid fixtures', () => {
  it.each(readdirSync(VALID).filter((name) => name.endsWith('.yaml')))('%s loads without diagnostics', (name) => {
    const loaded = loadDocument(name, readFileSync(join(VALID, name), 'utf8'));
    expect(loaded.diagnostics.map(formatDiagnostic)).toEqual([]);
    expect(loaded.ok).toBe(true);
  });
});

describe('reporting every problem at once', () => {
  // Three separate mistakes: an unknown field and a bad duration (schema), an undeclared param (rule).
  const threeMistakes = [
    'apiVersion: runbook/v1',
    'kind: Runbook',
    'metadata:',
    '  name: three-mistakes',
    '  version: 1.0.0',
    'targets: { group: fabric }',
    'steps:',
    '  - id: install',
    '    kind: install',
    "    run: 'onie-install -a -i {{quote params.image}}'",
    '    retires: 2',
    '    timeout: 20 minutes',
    '',
  ].join('\n');

  it('gives three positioned errors for three mistakes of different layers', () => {
    const loaded = loadDocument('three.yaml', threeMistakes);
    expect(loaded.ok).toBe(false);
    expect(loaded.diagnostics.map(formatDiagnostic)).toEqual([
      'three.yaml:10:10: error RB1202 `params.image` is not declared in step `install`; declare it under `params`',
      'three.yaml:11:5: error RB1101 unknown field `retires` in step `install`; did you mean `retries`?',
      'three.yaml:12:14: error RB1104 `timeout` in step `install` must be a duration like 30s, 10m or 1h (or a number of milliseconds)',
    ]);
  });

  it('sorts the problems by position whatever layer found them', () => {
    // Rule problems (duplicate id, bad regex) come before and after schema problems in the file.
    const text = [
      'apiVersion: runbook/v1',
      'kind: Runbook',
      'metadata:',
      '  name: Not_A_Name',
      '  version: 1.0.0',
      'targets: { group: fabric }',
      'steps:',
      '  - id: a',
      "    run: 'echo {{later}}'",
      '    retries: 6',
      '  - id: a',
      "    run: 'true'",
      "    expect: [{ match: '(' }]",
      '    capture: { later: { regex: x } }',
      '    onFailure: explode',
      '',
    ].join('\n');
    const loaded = loadDocument('many.yaml', text);
    const found = loaded.diagnostics.map(describeDiagnostic);
    expect(found).toEqual(['RB1104 4:9', 'RB1203 9:10', 'RB1105 10:14', 'RB1201 11:9', 'RB1205 13:23', 'RB1104 15:16']);
    const positions = loaded.diagnostics.map((d) => [d.line, d.col] as const);
    const sorted = [...positions].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    expect(positions).toEqual(sorted);
  });

  it('refuses severity on a changing step, a previousAttempts pre-check with a command or an unknown step, and a put with a command', () => {
    const text = [
      'apiVersion: runbook/v1',
      'kind: Runbook',
      'metadata: { name: rules, version: 1.0.0 }',
      'targets: { group: fabric }',
      'prechecks:',
      '  - id: before',
      '    run: hostname',
      '    previousAttempts: { steps: [install, nope] }',
      'steps:',
      '  - { id: install, kind: install, run: x, severity: warning }',
      '  - { id: back, kind: put, run: x, remote: /tmp/x, artifact: a }',
      '  - { id: get, kind: fetch, remote: /tmp/y, file: z }',
      '',
    ].join('\n');
    const found = loadDocument('rules.yaml', text).diagnostics.map((d) => `${d.code} ${d.line}`);
    expect(found).toEqual(expect.arrayContaining(['RB1251 7', 'RB1251 8', 'RB1250 10', 'RB1246 11', 'RB1252 12']));
  });

  it('reports every YAML problem of a file that does not parse, not only the first', () => {
    const text = 'apiVersion: runbook/v1\nkind: Runbook\nsteps:\n\t- id: a\nmetadata:\n  name: x\n  name: y\n';
    const loaded = loadDocument('yaml.yaml', text);
    expect(loaded.diagnostics.map(describeDiagnostic)).toEqual(['RB1001 4:1', 'RB1002 7:3']);
  });
});

describe('messages', () => {
  const load = (text: string) => loadDocument('m.yaml', text).diagnostics.map(formatDiagnostic);
  const runbook = (stepLines: string[]) =>
    ['apiVersion: runbook/v1', 'kind: Runbook', 'metadata: { name: m, version: 1.0.0 }', 'targets: { group: fabric }', 'steps:', ...stepLines, ''].join(
      '\n',
    );

  it('suggest the field that was meant', () => {
    expect(load(runbook(['  - id: a', '    run: x', '    retires: 2']))).toEqual([
      'm.yaml:8:5: error RB1101 unknown field `retires` in step `a`; did you mean `retries`?',
    ]);
  });

  it('list the allowed fields when nothing is close', () => {
    expect(load(runbook(['  - id: a', '    run: x', '    zzz: 2']))[0]).toMatch(
      /^m\.yaml:8:5: error RB1101 unknown field `zzz` in step `a`; allowed fields: id, kind, description, run, /,
    );
  });

  it('show what a duration looks like', () => {
    expect(load(runbook(['  - id: a', '    run: x', '    timeout: 20 minutes']))).toEqual([
      'm.yaml:8:14: error RB1104 `timeout` in step `a` must be a duration like 30s, 10m or 1h (or a number of milliseconds)',
    ]);
  });

  it('name the object a required field is missing from', () => {
    const text = 'apiVersion: runbook/v1\nkind: Runbook\nmetadata:\n  name: m\ntargets: { group: fabric }\nsteps: [{ id: a, run: x }]\n';
    expect(load(text)).toEqual(['m.yaml:4:3: error RB1102 missing field `version` in `metadata`; add it']);
  });

  it('refuse a literal password and say what to use instead', () => {
    const text = 'apiVersion: runbook/v1\nkind: Inventory\nhosts:\n  leaf01:\n    auth: { password: hunter2 }\n';
    expect(load(text)).toEqual([
      'm.yaml:5:13: error RB1106 literal credential `password` in host `leaf01` is not allowed: put it in an environment variable and use `passwordEnv`, or use `keyFile` or `agent`',
    ]);
  });

  it('say which kinds exist when the kind is wrong, and what to add when it is missing', () => {
    expect(load('apiVersion: runbook/v1\nkind: Playbook\n')).toEqual([
      'm.yaml:2:7: error RB1003 `kind: Playbook` is not one of Runbook, Inventory or Profile here; fix the kind',
    ]);
    expect(load('apiVersion: runbook/v1\n')).toEqual(['m.yaml:1:1: error RB1003 no `kind` field; add `kind: Runbook` (with `apiVersion: runbook/v1`)']);
  });

  it('say which kind was expected when the caller asked for one', () => {
    const loaded = loadDocument('i.yaml', 'apiVersion: runbook/v1\nkind: Inventory\nhosts: { a: {} }\n', 'Runbook');
    expect(loaded.diagnostics.map(formatDiagnostic)).toEqual([
      'i.yaml:2:7: error RB1003 `kind: Inventory` is not a Runbook here; pass a file of kind Runbook',
    ]);
  });

  it('refuse a YAML bomb without expanding it', () => {
    const levels = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]'];
    for (let i = 1; i < 12; i++) {
      const previous = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(10).fill(`*${previous}`).join(', ')}]`);
    }
    // 10^12 strings if expanded: only the alias limit lets this return at all.
    expect(load(`${levels.join('\n')}\n`)).toEqual([
      'm.yaml:1:1: error RB1004 Excessive alias count indicates a resource exhaustion attack; use fewer aliases (at most 1000 expansions)',
    ]);
  });
});

describe('any input', () => {
  const validText = readFileSync(join(VALID, 'fabric-upgrade.yaml'), 'utf8');

  const assertWellFormed = (text: string) => {
    const loaded = loadDocument('fuzz.yaml', text);
    expect(typeof loaded.ok).toBe('boolean');
    for (const d of loaded.diagnostics) {
      expect(d.code).toMatch(/^RB\d{4}$/);
      expect(Number.isInteger(d.line) && d.line >= 1, formatDiagnostic(d)).toBe(true);
      expect(Number.isInteger(d.col) && d.col >= 1, formatDiagnostic(d)).toBe(true);
      expect(d.message.length).toBeGreaterThan(0);
    }
    // A document is accepted exactly when it has no error.
    expect(loaded.ok).toBe(loaded.diagnostics.every((d) => d.severity !== 'error'));
  };

  it('gets well-formed diagnostics for random text, never an exception', () => {
    const yamlish = fc.constantFrom(...'abc:- \n\t{}[],&*!|>\'"#%@`?{{}}0123456789.\\'.split(''));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: yamlish, maxLength: 200 })), (text) => assertWellFormed(text)),
      { numRuns: 300 },
    );
  });

  it('gets well-formed diagnostics for mutations of a valid runbook, never an exception', () => {
    type Mutation = { op: 'insert'; at: number; text: string } | { op: 'delete'; at: number; length: number } | { op: 'swap'; a: number; b: number };
    const mutation: fc.Arbitrary<Mutation> = fc.oneof(
      fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ maxLength: 4 }) }),
      fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 6 }) }),
      fc.record({ op: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
    );
    const apply = (text: string, m: Mutation): string => {
      if (m.op === 'swap') {
        const lines = text.split('\n');
        const a = m.a % lines.length;
        const b = m.b % lines.length;
        [lines[a], lines[b]] = [lines[b]!, lines[a]!];
        return lines.join('\n');
      }
      const at = m.at % (text.length + 1);
      return m.op === 'insert' ? text.slice(0, at) + m.text + text.slice(at) : text.slice(0, at) + text.slice(at + m.length);
    };
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 8 }), (mutations) => {
        assertWellFormed(mutations.reduce(apply, validText));
      }),
      { numRuns: 300 },
    );
  });
});

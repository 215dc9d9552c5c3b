import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { main } from '../../engine/cli.js';
import { RunbookError } from '../../engine/errors.js';
import { loadDocument } from '../../engine/load/load-document.js';
import { makePlan } from '../../engine/plan/make-plan.js';
import { parseParamArgs } from '../../engine/plan/params.js';
import { MissingValueError, renderTemplate } from '../../engine/plan/template.js';
import { createManualClock } from '../../engine/run/clock.js';
import { executePlan } from '../../engine/run/execute-plan.js';
import type { Inventory } from '../../engine/schema/inventory.js';
import type { Runbook, Step } from '../../engine/schema/runbook.js';
import { createLocalTransport } from '../../engine/transport/local.js';
import { createTempRepository, type TempRepository } from '../git/temp-repository.js';
import { runCliProcess } from '../helpers/cli-process.js';

// Issue 12, item 10: values that used to pass validate and plan and then crash apply with
// "internal error" (a host left running, its lock kept), or render Object's own properties.

const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;

const LOCAL_INVENTORY: Inventory = { apiVersion: 'runbook/v1', kind: 'Inventory', hosts: { h1: { transport: 'local', groups: ['all'] } } };

function createRunbook(steps: Step[], params: Runbook['params'] = {}): Runbook {
  return { apiVersion: 'runbook/v1', kind: 'Runbook', metadata: { name: 'values', version: '1.0.0' }, params, targets: { group: 'all' }, steps };
}

function plan(runbook: Runbook, params: Record<string, string> = {}, inventory: Inventory = LOCAL_INVENTORY) {
  return makePlan({
    runbook,
    inventory,
    files: { runbook: { path: 'r.yaml', sha256: '0'.repeat(64) }, inventory: { path: 'i.yaml', sha256: '1'.repeat(64) } },
    params,
    commit: null,
    engineVersion: 'test',
  });
}

function refusal(make: () => unknown): RunbookError {
  try {
    make();
  } catch (error) {
    if (error instanceof RunbookError) return error;
    throw error;
  }
  throw new Error('not refused');
}

async function runMain(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe('a param value holding a control character', () => {
  const runbook = createRunbook([{ id: 'show', kind: 'check', run: 'printf %s {{quote params.x}}' }], { x: { type: 'string' } });

  it.each(['a\u0000b', 'a\nreboot', 'a\rb', '\u001b[2J', 'a\u007fb', 'a\u009bb', 'a\u0001'])('%j is refused at plan time, shown escaped', (value) => {
    const error = refusal(() => plan(runbook, { x: value }));
    expect(error).toMatchObject({ code: 'RB2007', exitCode: 2 });
    expect(error.message).toMatch(/^param `x` holds the control character U\+[0-9A-F]{4} \(at position \d+ of "/);
    expect(error.message).not.toMatch(CONTROL);
  });

  it('names the character and where it is', () => {
    expect(refusal(() => plan(runbook, { x: 'ab\u0000c' })).message).toBe(
      'param `x` holds the control character U+0000 (at position 3 of "ab\\u0000c"); a param is one line of text without control characters (a tab is allowed): remove it',
    );
  });

  it('a tab is allowed', () => {
    expect(plan(runbook, { x: 'a\tb' }).hostPlans.h1!.steps[0]!.command).toBe("printf %s 'a\tb'");
  });

  it('is refused in a default built from it, and in a number param before its type is checked', () => {
    const derived = createRunbook([{ id: 'show', kind: 'check', run: 'echo {{quote params.y}}' }], { x: { type: 'string' }, y: { type: 'string', default: 'v-{{params.x}}' } });
    expect(refusal(() => plan(derived, { x: 'a\u001bb' })).code).toBe('RB2007');
    const number = createRunbook([{ id: 'show', kind: 'check', run: 'echo {{params.n}}' }], { n: { type: 'integer' } });
    const error = refusal(() => plan(number, { n: '1\u001b[2J' }));
    expect(error.code).toBe('RB2007');
    expect(error.message).not.toMatch(CONTROL);
  });

  it('`runbook plan --param` exits 2, the escape sequence never echoed', async () => {
    const work = mkdtempSync(join(tmpdir(), 'runbook-values-'));
    try {
      writeFileSync(join(work, 'runbook.yaml'), stringify(runbook));
      writeFileSync(join(work, 'inventory.yaml'), stringify(LOCAL_INVENTORY));
      const out = await runMain(['plan', join(work, 'runbook.yaml'), '-i', join(work, 'inventory.yaml'), '--param', 'x=a\u001b]0;owned\u0007b', '--out', join(work, 'plan.json')]);
      expect(out.code).toBe(2);
      expect(out.stderr).toContain('error RB2007: param `x` holds the control character U+001B (at position 2 of "a\\u001b]0;owned\\u0007b")');
      // Nothing printed holds a control character but line breaks.
      expect(out.stderr + out.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
      expect(existsSync(join(work, 'plan.json'))).toBe(false);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('`runbook plan --out FOLDER` exits 2 and leaves no temporary file (it was "internal error: EISDIR")', async () => {
    const work = mkdtempSync(join(tmpdir(), 'runbook-values-'));
    try {
      writeFileSync(join(work, 'runbook.yaml'), stringify(runbook));
      writeFileSync(join(work, 'inventory.yaml'), stringify(LOCAL_INVENTORY));
      mkdirSync(join(work, 'plans'));
      const out = await runMain(['plan', join(work, 'runbook.yaml'), '-i', join(work, 'inventory.yaml'), '--param', 'x=1', '--out', join(work, 'plans')]);
      expect(out.stderr).toBe(`error RB2009: --out ${join(work, 'plans')}: the plan cannot be written there (EISDIR); give the path of a file in a folder you can write to\n`);
      expect(out.code).toBe(2);
      expect(readdirSync(work).sort()).toEqual(['inventory.yaml', 'plans', 'runbook.yaml']);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('in a malformed or unknown --param, is shown escaped too', () => {
    expect(refusal(() => parseParamArgs(['a\u001bb'])).message).toBe('--param "a\\u001bb" is not of the form name=value');
    expect(refusal(() => plan(runbook, parseParamArgs(['y\u001b=1']))).message).toMatch(/^unknown param "y\\u001b"; /);
  });

  it('in a param default is a validation error at its position', () => {
    const text = [
      'apiVersion: runbook/v1',
      'kind: Runbook',
      'metadata: { name: values, version: 1.0.0 }',
      'params:',
      '  x: { type: string, default: "a\\0b" }',
      'targets: { group: all }',
      'steps:',
      "  - { id: show, kind: check, run: 'printf %s {{quote params.x}}' }",
      '',
    ].join('\n');
    const loaded = loadDocument('r.yaml', text, 'Runbook');
    expect(loaded.ok).toBe(false);
    expect(loaded.diagnostics).toEqual([
      expect.objectContaining({
        code: 'RB1212',
        line: 5,
        col: 31,
        message: 'the default of param `x` holds the control character U+0000 (at position 2 of "a\\u0000b"); a param is one line of text without control characters (a tab is allowed)',
      }),
    ]);
  });
});

describe('a NUL that reaches a command', () => {
  it('from an inventory value, even quoted, is refused at plan time', () => {
    const runbook = createRunbook([{ id: 'show', kind: 'check', run: 'printf %s {{quote host.labels.note}}' }]);
    const inventory: Inventory = { ...LOCAL_INVENTORY, hosts: { h1: { transport: 'local', groups: ['all'], labels: { note: 'a\u0000b' } } } };
    const error = refusal(() => plan(runbook, {}, inventory));
    expect(error).toMatchObject({ code: 'RB2004', exitCode: 2 });
    expect(error.message).toBe('step `show` on host `h1`: `{{host.labels.note}}` holds a NUL character (U+0000 in "a\\u0000b"), which no command can carry, quoted or not; change the value');
  });

  it('written in the command itself is refused at plan time', () => {
    const error = refusal(() => plan(createRunbook([{ id: 'show', kind: 'check', run: 'printf a\u0000b' }])));
    expect(error.message).toBe('step `show` on host `h1`: the command holds a NUL character (U+0000), which no command can carry; remove it');
  });

  it('from a value captured at run time fails that step, and the run ends normally', async () => {
    const runbook = createRunbook([
      { id: 'read', kind: 'check', run: "printf 'a\\000b'", capture: { raw: { regex: '^(.*)$' } } },
      { id: 'use', kind: 'check', run: 'printf %s {{quote raw}}' },
    ]);
    const local = createLocalTransport();
    const result = await executePlan(
      plan(runbook),
      { clock: createManualClock(0), emit: () => {}, connect: (host) => local.connect({ name: host, transport: 'local', port: 0 }), approve: async () => true },
      { runId: 'nul' },
    );
    expect(result.hosts.h1).toMatchObject({ state: 'failed' });
    expect(result.hosts.h1!.steps.map((s) => [s.id, s.status])).toEqual([
      ['read', 'succeeded'],
      ['use', 'failed'],
    ]);
    expect(result.hosts.h1!.steps[1]!.message).toContain('`{{raw}}` holds a NUL character');
  });
});

describe('`runbook apply` of a runbook whose param default holds a NUL', () => {
  let repo: TempRepository;
  beforeEach(async () => {
    repo = await createTempRepository();
  });
  afterEach(() => repo.remove());

  it('exits 2 before taking any lock or starting a run (it used to die with "internal error", the host left running)', async () => {
    repo.write('runbook.yaml', stringify(createRunbook([{ id: 'show', kind: 'check', run: 'printf %s {{quote params.x}}' }], { x: { type: 'string', default: 'a\u0000b' } })));
    repo.write('inventory.yaml', stringify(LOCAL_INVENTORY));
    await repo.commitAll('values');
    const out = await runCliProcess(['apply', 'runbook.yaml', '-i', 'inventory.yaml', '--yes', '--no-progress', '--no-commit'], { cwd: repo.root });
    expect(out.stderr).not.toContain('internal error');
    expect(out.stderr).toContain('error RB1212 the default of param `x` holds the control character U+0000');
    expect(out.code).toBe(2);
    const state = join(repo.root, '.runbook');
    expect(existsSync(state) ? readdirSync(state, { recursive: true }) : []).toEqual([]);
  });
});

describe('names that Object.prototype also has', () => {
  const NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];

  it.each(NAMES)('a param named %s has its own value, given or defaulted', (name) => {
    const runbook = createRunbook([{ id: 'show', kind: 'check', run: `echo {{quote params.${name}}} {{quote params.other}}` }], {
      [name]: { type: 'string', default: 'fallback' },
      other: { type: 'string', default: `d-{{params.${name}}}` },
    });
    expect(plan(runbook).hostPlans.h1!.steps[0]!.command).toBe('echo fallback d-fallback');
    expect(plan(runbook, parseParamArgs([`${name}=given`])).hostPlans.h1!.steps[0]!.command).toBe('echo given d-given');
    expect(plan(runbook, parseParamArgs([`${name}=given`])).params[name]).toBe('given');
  });

  it.each(NAMES)('{{params.%s}}, with no such param declared, is refused by validation, and renders nothing rather than Object\'s', (name) => {
    const runbook = createRunbook([{ id: 'show', kind: 'check', run: `echo {{quote params.${name}}}` }], { x: { type: 'string', default: 'x' } });
    const loaded = loadDocument('r.yaml', stringify(runbook), 'Runbook');
    expect(loaded.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([`RB1202 \`params.${name}\` is not declared in step \`show\`; declare it under \`params\``]);
    const warn = vi.spyOn(console, 'warn');
    const error = vi.spyOn(console, 'error');
    try {
      expect(renderTemplate(`echo {{quote params.${name}}} {{params.${name}}}`, { params: { x: 'x' }, host: {}, run: {}, captures: {} })).toBe("echo '' ");
      // Handlebars prints a warning when its own guard has to stop a prototype lookup.
      expect(warn).not.toHaveBeenCalled();
      expect(error).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
      error.mockRestore();
    }
  });

  it.each(NAMES)('{{%s}}, captured by no step, is a missing value', (name) => {
    expect(() => renderTemplate(`echo {{quote ${name}}}`, { params: {}, host: {}, run: {}, captures: {} })).toThrow(MissingValueError);
    expect(() => renderTemplate(`echo {{quote ${name}}}`, { params: {}, host: {}, run: {}, captures: {} })).toThrow(`\`{{${name}}}\` has no value`);
  });

  it('--param constructor=x is not "given twice"', () => {
    expect(parseParamArgs(['constructor=x', 'toString=y'])).toEqual({ constructor: 'x', toString: 'y' });
  });

  it('a label named constructor selects and renders its own value', () => {
    const runbook = createRunbook([{ id: 'show', kind: 'check', run: 'echo {{quote host.labels.constructor}} {{quote host.labels.toString}}' }]);
    const inventory: Inventory = { ...LOCAL_INVENTORY, hosts: { h1: { transport: 'local', groups: ['all'], labels: { zeta: 'z', constructor: 'c' } } } };
    expect(plan(runbook, {}, inventory).hostPlans.h1!.steps[0]!.command).toBe("echo c ''");
  });

  it('captures named constructor and __proto__ hold their values at run time', async () => {
    // A computed key: `__proto__:` in an object literal would set the prototype, as YAML never does.
    const capture = { constructor: { regex: '^(\\S+)' }, ['__proto__']: { regex: '(\\S+)$' } };
    const runbook = createRunbook([
      { id: 'read', kind: 'check', run: 'echo one two', capture },
      { id: 'use', kind: 'check', run: 'echo {{constructor}}-{{__proto__}}', expect: [{ match: '^one-two$' }] },
      { id: 'json', kind: 'check', run: 'echo \'{"a":1}\'', expect: [{ json: { path: 'constructor', equals: null } }] },
    ]);
    const local = createLocalTransport();
    const result = await executePlan(
      plan(runbook),
      { clock: createManualClock(0), emit: () => {}, connect: (host) => local.connect({ name: host, transport: 'local', port: 0 }), approve: async () => true },
      { runId: 'proto' },
    );
    const steps = result.hosts.h1!.steps;
    expect(steps.map((s) => [s.id, s.status])).toEqual([
      ['read', 'succeeded'],
      ['use', 'succeeded'],
      ['json', 'failed'],
    ]);
    expect(steps[1]!.command).toBe('echo one-two');
    // A JSON path reads the output's own keys: `constructor` is missing, not Object's function.
    expect(steps[2]!.message).toBe('`constructor` is undefined, expected null');
  });
});

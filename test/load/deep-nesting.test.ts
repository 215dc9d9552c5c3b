import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../engine/cli.js';
import { loadDocument } from '../../engine/load/load-document.js';
import { parseYamlSource, parseYamlSourceWithPositions } from '../../engine/load/yaml-source.js';
import { makePlan } from '../../engine/plan/make-plan.js';
import { createManualClock } from '../../engine/run/clock.js';
import { executePlan } from '../../engine/run/execute-plan.js';
import { MAX_NESTING } from '../../engine/shared/nesting.js';
import { createLocalTransport } from '../../engine/transport/local.js';

// Issue 12, item 10: deeply nested YAML (or JSON, which is YAML too) ended in "Maximum call stack
// size exceeded", reported as a YAML syntax error at wherever the stack ran out, or thrown past the
// loader. Nesting deeper than MAX_NESTING is refused with RB1007 at the first node too deep, by
// both parsers; the files are generated here.

const HEAD = 'apiVersion: runbook/v1\nkind: Runbook\nmetadata: { name: deep, version: 1.0.0 }\ntargets: { group: all }\nsteps:\n  - { id: a, run: x }\n';
const RB1007 = `lists and mappings are nested more than ${MAX_NESTING} levels deep here; flatten the document`;

/** Flow lists `depth` deep as the value of `extra:` (line 7, the first `[` at column 8). */
const flowLists = (depth: number) => `${HEAD}extra: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
/** Block mappings `depth` deep under `extra:`, one key per line, each indented one more space. */
const blockMappings = (depth: number) => `${HEAD}extra:\n${Array.from({ length: depth - 1 }, (_, i) => `${' '.repeat(i + 1)}a:`).join('\n')}\n`;
const jsonObjects = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

function expectRefused(text: string, at: { line: number; col: number }) {
  const loaded = loadDocument('deep.yaml', text, 'Runbook');
  expect(loaded.ok).toBe(false);
  expect(loaded.diagnostics).toEqual([{ code: 'RB1007', severity: 'error', message: RB1007, file: 'deep.yaml', ...at }]);
  // The fast path and the positional parser agree, as for every other document.
  expect(parseYamlSource('deep.yaml', text).diagnostics).toEqual(parseYamlSourceWithPositions('deep.yaml', text).diagnostics);
}

describe('a document nested too deep', () => {
  it.each([101, 150, 700, 2_000, 100_000])('%i flow lists: RB1007 at the first list too deep', (depth) => {
    // The document is level 1, `extra` level 2: the 100th `[` is level 101.
    expectRefused(flowLists(depth), { line: 7, col: 8 + MAX_NESTING - 1 });
  });

  it.each([150, 5_000])('%i block mappings: RB1007 at the first mapping too deep', (depth) => {
    expectRefused(blockMappings(depth), { line: 7 + MAX_NESTING, col: MAX_NESTING + 1 });
  });

  it('nesting up to the limit is an ordinary document', () => {
    const loaded = loadDocument('deep.yaml', flowLists(MAX_NESTING - 2), 'Runbook');
    expect(loaded.diagnostics.map((d) => d.code)).toEqual(['RB1101']);
  });

  it('aliases that nest an anchored list deeper are refused at the alias', () => {
    const text = `${HEAD}extra:\n  a: &x ${'['.repeat(60)}${']'.repeat(60)}\n  b: ${'['.repeat(50)}*x${']'.repeat(50)}\n`;
    expectRefused(text, { line: 9, col: 6 + 50 });
  });

  it('as a JSON plan file, `runbook apply` exits 2 naming it', async () => {
    const work = mkdtempSync(join(tmpdir(), 'runbook-deep-'));
    try {
      const path = join(work, 'plan.json');
      writeFileSync(path, jsonObjects(100_000));
      let stderr = '';
      const code = await main(['apply', path], { stdout: () => {}, stderr: (t) => (stderr += t) });
      expect(stderr).not.toContain('internal error');
      expect(stderr).not.toContain('call stack');
      expect(stderr).toContain(`plan.json:1:${5 * MAX_NESTING + 1}: error RB1007 ${RB1007}`);
      expect(stderr).toContain('error RB3001:');
      expect(code).toBe(2);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('as an inventory, `runbook plan` exits 2 naming it', async () => {
    const work = mkdtempSync(join(tmpdir(), 'runbook-deep-'));
    try {
      writeFileSync(join(work, 'runbook.yaml'), HEAD);
      writeFileSync(join(work, 'inventory.yaml'), `apiVersion: runbook/v1\nkind: Inventory\nhosts:\n  h1: { transport: local, labels: ${'{a: '.repeat(50_000)}`);
      let stderr = '';
      const code = await main(['plan', join(work, 'runbook.yaml'), '-i', join(work, 'inventory.yaml')], { stdout: () => {}, stderr: (t) => (stderr += t) });
      expect(stderr).toMatch(/inventory\.yaml:4:\d+: error RB1007 /);
      expect(stderr).not.toContain('call stack');
      expect(code).toBe(2);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('a device printing deeply nested JSON', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'runbook-deep-output-'));
    writeFileSync(join(work, 'deep.json'), `${'['.repeat(100_000)}${']'.repeat(100_000)}`);
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('fails the step that reads it (json expectation or capture); the run ends normally', async () => {
    const plan = makePlan({
      runbook: {
        apiVersion: 'runbook/v1',
        kind: 'Runbook',
        metadata: { name: 'deep', version: '1.0.0' },
        targets: { group: 'all' },
        steps: [
          { id: 'expect', kind: 'check', run: `cat ${join(work, 'deep.json')}`, expect: [{ json: { path: '$', equals: 1 } }], onFailure: 'continue' },
          { id: 'capture', kind: 'check', run: `cat ${join(work, 'deep.json')}`, capture: { all: { json: '$' } } },
        ],
      },
      inventory: { apiVersion: 'runbook/v1', kind: 'Inventory', hosts: { h1: { transport: 'local', groups: ['all'] } } },
      files: { runbook: { path: 'r.yaml', sha256: '0'.repeat(64) }, inventory: { path: 'i.yaml', sha256: '1'.repeat(64) } },
      params: {},
      commit: null,
      engineVersion: 'test',
    });
    const local = createLocalTransport();
    const result = await executePlan(
      plan,
      { clock: createManualClock(0), emit: () => {}, connect: (host) => local.connect({ name: host, transport: 'local', port: 0 }), approve: async () => true },
      { runId: 'deep' },
    );
    expect(result.hosts.h1!.steps.map((s) => [s.id, s.status, s.message])).toEqual([
      ['expect', 'failed', `output is JSON nested more than ${MAX_NESTING} levels deep`],
      ['capture', 'failed', `capture \`all\`: output is JSON nested more than ${MAX_NESTING} levels deep`],
    ]);
  });
});


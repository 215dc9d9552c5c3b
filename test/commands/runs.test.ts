import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_META_FILE, readRunMeta, readRunJournal, runRuns, summariseRuns, type RunMeta } from '../../engine/commands/runs.js';
import { RunbookError } from '../../engine/errors.js';
import { JOURNAL_FILE, openJournal, runFolder } from '../../engine/io/journal.js';
import { makePlan } from '../../engine/plan/make-plan.js';
import { createManualClock } from '../../engine/run/clock.js';
import { executePlan } from '../../engine/run/execute-plan.js';
import { createLocalTransport } from '../../engine/transport/local.js';
import { runCliProcess } from '../helpers/cli-process.js';

// Issue 12, item 10: one damaged run folder (run.json, or a journal with garbage in it) made
// `runbook runs` fail with "internal error" for every run. It is listed as unreadable, with the file
// and the reason, and the other runs are listed as before.

let top: string;
/** A real run's folder: its run.json and the journal its executor wrote. */
let goodRun: string;

async function recordRun(folder: string, runId: string): Promise<void> {
  const plan = makePlan({
    runbook: { apiVersion: 'runbook/v1', kind: 'Runbook', metadata: { name: 'listed', version: '1.0.0' }, targets: { group: 'all' }, steps: [{ id: 'hello', kind: 'check', run: 'echo hello' }] },
    inventory: { apiVersion: 'runbook/v1', kind: 'Inventory', hosts: { h1: { transport: 'local', groups: ['all'] } } },
    files: { runbook: { path: 'r.yaml', sha256: '0'.repeat(64) }, inventory: { path: 'i.yaml', sha256: '1'.repeat(64) } },
    params: {},
    commit: null,
    engineVersion: 'test',
  });
  const meta: RunMeta = { runId, planHash: plan.hash, runbook: 'listed', inventoryDir: folder, machine: hostname(), pid: 1 << 30, user: 'tester', startedAt: '2026-01-01T00:00:00.000Z' };
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, RUN_META_FILE), JSON.stringify(meta));
  const journal = openJournal(folder);
  const local = createLocalTransport();
  await executePlan(
    plan,
    { clock: createManualClock(0), emit: (e) => journal.append(e), connect: (host) => local.connect({ name: host, transport: 'local', port: 0 }), approve: async () => true },
    { runId },
  );
  await journal.close();
}

beforeAll(async () => {
  top = mkdtempSync(join(tmpdir(), 'runbook-runs-'));
  goodRun = join(top, 'template');
  await recordRun(goodRun, 'template');
});
afterAll(() => rmSync(top, { recursive: true, force: true }));

/** A state folder holding a good run `a-good` and, as `b-bad`, a copy of it damaged by `damage`. */
function stateWithDamagedRun(name: string, damage: (folder: string) => void): string {
  const stateDir = join(top, name, '.runbook');
  for (const runId of ['a-good', 'b-bad']) cpSync(goodRun, runFolder(stateDir, runId), { recursive: true });
  damage(runFolder(stateDir, 'b-bad'));
  return stateDir;
}

function listRuns(stateDir: string, format: 'text' | 'json') {
  let out = '';
  const code = runRuns({ stateDir, machine: hostname(), format, write: (t) => (out += t) });
  return { code, out };
}

const journalLines = () => readFileSync(join(goodRun, JOURNAL_FILE), 'utf8').trimEnd().split('\n');

const DAMAGES: Array<[string, (folder: string) => void, string, RegExp]> = [
  ['run.json is not JSON', (f) => writeFileSync(join(f, RUN_META_FILE), '{"runId": "b-bad",'), RUN_META_FILE, /^it is not JSON \(/],
  ['run.json is an array', (f) => writeFileSync(join(f, RUN_META_FILE), '[]'), RUN_META_FILE, /^it is not a JSON object$/],
  ['run.json lacks fields', (f) => writeFileSync(join(f, RUN_META_FILE), '{"runId":"b-bad","pid":"12"}'), RUN_META_FILE, /^it lacks `planHash` \(a string\), `runbook` \(a string\), .*`pid` \(a number\)/],
  ['run.json is missing', (f) => rmSync(join(f, RUN_META_FILE)), RUN_META_FILE, /^it is missing$/],
  ['a journal line in the middle is garbage', (f) => writeFileSync(join(f, JOURNAL_FILE), [journalLines()[0], 'garbage', ...journalLines().slice(1)].join('\n')), JOURNAL_FILE, /^line 2 is not JSON$/],
  ['a journal line is JSON but no event', (f) => writeFileSync(join(f, JOURNAL_FILE), [journalLines()[0], 'null', ...journalLines().slice(1)].join('\n')), JOURNAL_FILE, /^line 2 is not a run event$/],
  ['an event has the wrong shape', (f) => writeFileSync(join(f, JOURNAL_FILE), [journalLines()[0], '{"type":"step.finished","host":"h1"}'].join('\n')), JOURNAL_FILE, /^an event has not the form runbook writes \(/],
];

describe('`runbook runs` with a damaged run folder', () => {
  it.each(DAMAGES)('%s: that run is unreadable, naming the file and the reason; the others are listed', (name, damage, file, reason) => {
    const stateDir = stateWithDamagedRun(name.replace(/\W+/g, '-'), damage);
    const json = listRuns(stateDir, 'json');
    expect(json.code).toBe(0);
    const runs = JSON.parse(json.out) as Array<Record<string, unknown>>;
    expect(runs).toEqual([
      { runId: 'a-good', runbook: 'listed', planHash: expect.stringMatching(/^sha256:/), status: 'succeeded', startedAt: '2026-01-01T00:00:00.000Z', hosts: { succeeded: 1 } },
      { runId: 'b-bad', status: 'unreadable', path: expect.stringMatching(new RegExp(`b-bad/${file.replace('.', '\\.')}$`)), reason: expect.stringMatching(reason) },
    ]);
    const text = listRuns(stateDir, 'text');
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/^a-good\s+listed\s+succeeded\s/m);
    expect(text.out).toMatch(/^b-bad\s+\?\s+unreadable\s/m);
    expect(text.out).toContain(`run b-bad is unreadable: ${runs[1]!.path as string}: ${runs[1]!.reason as string}\n`);
  });

  it('a last journal line cut off by a crash is no damage: the run is listed as before', () => {
    const stateDir = stateWithDamagedRun('cut-off', (f) => writeFileSync(join(f, JOURNAL_FILE), [...journalLines().slice(0, 3), '{"type":"step.sta'].join('\n')));
    expect(summariseRuns(stateDir, hostname()).map((r) => [r.runId, r.status])).toEqual([
      ['a-good', 'succeeded'],
      ['b-bad', 'crashed'],
    ]);
  });

  it('any bytes in run.json or the journal leave `runs` listing the good run', () => {
    fc.assert(
      fc.property(fc.constantFrom(RUN_META_FILE, JOURNAL_FILE), fc.uint8Array({ maxLength: 200 }), fc.boolean(), (file, bytes, append) => {
        const stateDir = stateWithDamagedRun('fuzz', (f) => {
          const path = join(f, file);
          writeFileSync(path, append ? Buffer.concat([readFileSync(path), Buffer.from(bytes)]) : bytes);
        });
        const runs = summariseRuns(stateDir, hostname());
        expect(runs[0]).toMatchObject({ runId: 'a-good', status: 'succeeded' });
        expect(runs.length).toBeLessThanOrEqual(2);
        expect(listRuns(stateDir, 'text').code).toBe(0);
        rmSync(join(stateDir, '..'), { recursive: true, force: true });
      }),
      { numRuns: 150 },
    );
  });

  it('`apply --resume` of a run whose run.json is damaged is an input error naming the file', () => {
    const stateDir = stateWithDamagedRun('resume', DAMAGES[0]![1]);
    expect(() => readRunMeta(runFolder(stateDir, 'b-bad'))).toThrow(RunbookError);
    expect(() => readRunMeta(runFolder(stateDir, 'b-bad'))).toThrow(/b-bad\/run\.json is unreadable: it is not JSON \(.*\); this run cannot be resumed/);
  });

  it.each(DAMAGES.filter(([, , file]) => file === JOURNAL_FILE))('`apply --resume` of a run whose journal is damaged (%s) is an input error naming the file', (name, damage) => {
    const stateDir = stateWithDamagedRun(`resume-${name.replace(/\W+/g, '-')}`, damage);
    expect(readRunJournal(runFolder(stateDir, 'a-good')).state).toMatchObject({ finished: { outcome: 'succeeded' } });
    expect(() => readRunJournal(runFolder(stateDir, 'b-bad'))).toThrow(RunbookError);
    expect(() => readRunJournal(runFolder(stateDir, 'b-bad'))).toThrow(/b-bad\/journal\.jsonl is unreadable: .*; this run cannot be resumed/);
  });

  it('the CLI lists them too (it used to exit 1 with "internal error")', async () => {
    const stateDir = stateWithDamagedRun('cli', DAMAGES[0]![1]);
    const out = await runCliProcess(['runs'], { cwd: join(stateDir, '..') });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^a-good\s+listed\s+succeeded/m);
    expect(out.stdout).toMatch(/^run b-bad is unreadable: \.runbook\/runs\/b-bad\/run\.json: it is not JSON/m);
  });
});

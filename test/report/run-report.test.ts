import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeRunCommit } from '../../engine/git/commit-report.js';
import { makePlan } from '../../engine/plan/make-plan.js';
import { buildRunReport, type RunReportMeta } from '../../engine/report/build-report.js';
import { excerptOutput } from '../../engine/report/excerpt.js';
import { escapeMermaid, renderGantt } from '../../engine/report/gantt.js';
import { collectSecrets, redact } from '../../engine/report/redact.js';
import { renderRunReportMarkdown } from '../../engine/report/render-markdown.js';
import { writeRunReport } from '../../engine/report/write-report.js';
import { createManualClock } from '../../engine/run/clock.js';
import { executePlan, type RunResult } from '../../engine/run/execute-plan.js';
import type { Inventory } from '../../engine/schema/inventory.js';
import type { Plan } from '../../engine/schema/plan.js';
import type { RunReport } from '../../engine/schema/report.js';
import type { Runbook } from '../../engine/schema/runbook.js';
import type { SnapshotDiff } from '../../engine/schema/snapshot.js';
import { renderDiffMarkdown } from '../../engine/snapshot/render-diff.js';
import { createLocalTransport } from '../../engine/transport/local.js';

// Reports are built from real runs: the executor runs the runbook's shell commands on local hosts.

const REPORT_SCHEMA = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'schemas', 'report.schema.json'), 'utf8')) as object;
const validateReport = new Ajv2020({ strict: false, allErrors: true }).compile(REPORT_SCHEMA);
const PASSWORD = 'hunter2-pw';
const TOKEN = 's3cr3t-t0ken-value';

const RUNBOOK: Runbook = {
  apiVersion: 'runbook/v1',
  kind: 'Runbook',
  metadata: { name: 'fabric-upgrade', version: '1.3.0', description: 'Rolling upgrade' },
  targets: { group: 'fabric' },
  strategy: { order: ['spine', 'leaf'], batchSize: 1, maxFailures: 1, rollbackOnFailure: true },
  prechecks: [
    { id: 'release', run: 'echo DISTRIB_RELEASE=4.3.0', capture: { current: { regex: 'DISTRIB_RELEASE=(\\S+)' } }, severity: 'error', hint: 'Stay within one major release.' },
    { id: 'token', run: `echo TOKEN=${TOKEN}`, capture: { token: { regex: 'TOKEN=(\\S+)', secret: true } } },
    { id: 'image-space', run: 'echo "only 2% free" && exit 3', severity: 'warning', hint: 'Free space in /var/images.' },
  ],
  steps: [
    { id: 'backup-config', kind: 'backup', run: `echo "login ${PASSWORD}" && seq 1 500` },
    { id: 'install', kind: 'install', run: 'echo "installing with {{token}}" && test {{host.name}} != leaf02' },
    { id: 'services-up', kind: 'verify', run: 'echo active', expect: [{ match: '^active$' }] },
  ],
  rollback: [{ id: 'restore', run: 'echo "restoring {{current}}"' }],
};

const INVENTORY: Inventory = {
  apiVersion: 'runbook/v1',
  kind: 'Inventory',
  defaults: { transport: 'local', groups: ['fabric'], auth: { passwordEnv: 'FABRIC_PASSWORD' } },
  hosts: { spine01: { role: 'spine' }, leaf01: { role: 'leaf' }, leaf02: { role: 'leaf' }, border01: {} },
};

async function runFabric(): Promise<{ plan: Plan; result: RunResult }> {
  const plan = makePlan({
    runbook: RUNBOOK,
    inventory: INVENTORY,
    files: { runbook: { path: 'runbooks/fabric.yaml', sha256: 'a'.repeat(64) }, inventory: { path: 'inventories/fabric.yaml', sha256: 'b'.repeat(64) } },
    params: {},
    commit: 'c'.repeat(40),
    engineVersion: 'test',
  });
  const transport = createLocalTransport();
  const result = await executePlan(
    plan,
    { clock: createManualClock(Date.UTC(2026, 10, 24, 9, 0, 0)), emit: () => {}, connect: (host) => transport.connect({ name: host, transport: 'local', port: 0 }), approve: async () => true },
    { runId: '20261124-090000-fabric-upgrade-abcd' },
  );
  return { plan, result };
}

function createMeta(plan: Plan, result: RunResult, extra: Partial<RunReportMeta> = {}): RunReportMeta {
  return {
    commit: 'd'.repeat(40),
    runBy: { user: 'ops', machine: 'jump01', gitName: 'Olivia Ops', gitEmail: 'olivia@example.com' },
    approvals: [{ planHash: plan.hash, commit: 'e'.repeat(40), approver: 'Bob Reviewer', approvedAt: '2026-11-24T08:00:00.000Z', runbook: { name: 'fabric-upgrade', version: '1.3.0' } }],
    secrets: collectSecrets(plan, { FABRIC_PASSWORD: PASSWORD }),
    ...extra,
  };
}

const SNAPSHOT_DIFF: SnapshotDiff = {
  apiVersion: 'runbook/v1',
  kind: 'SnapshotDiff',
  before: { name: '20261124-090000-fabric-upgrade-abcd-before', createdAt: '2026-11-24T09:00:00.000Z' },
  after: { name: '20261124-090000-fabric-upgrade-abcd-after', createdAt: '2026-11-24T09:10:00.000Z' },
  options: { defaultExclusions: true, exclude: [], tolerances: {} },
  elements: {
    node: {
      status: 'compared',
      counts: { before: 4, after: 4, added: 0, removed: 0, changed: 1, unchanged: 3, tolerated: 0 },
      excluded: ['uptime'],
      added: [],
      removed: [],
      changed: [{ key: { host: 'spine01' }, fields: [{ field: 'version', before: '4.3.0', after: '4.4.0' }] }],
      notCompared: [],
      duplicates: [],
    },
  },
  totals: { added: 0, removed: 0, changed: 1, notCollected: [], duplicates: 0 },
};

describe('buildRunReport', () => {
  it('makes a report valid against the published schema, with hosts in stage order and every outcome', async () => {
    const { plan, result } = await runFabric();
    const report = buildRunReport(plan, result, createMeta(plan, result));
    expect(validateReport(report), JSON.stringify(validateReport.errors)).toBe(true);
    expect(Object.keys(report.hosts)).toEqual(['spine01', 'leaf01', 'leaf02', 'border01']);
    expect(report.outcome).toBe('failed');
    // leaf02 failed and was rolled back; that used up maxFailures 1, so border01 was never started... unless it was:
    expect(report.hosts.leaf02).toMatchObject({ state: 'rolled-back', stage: 'leaf', batch: 1 });
    expect(report.hosts.leaf02!.rollback.map((s) => [s.id, s.status])).toEqual([['restore', 'succeeded']]);
    expect(report.summary).toEqual({ succeeded: 3, 'rolled-back': 1 });
    expect(report.hosts.border01!.stage).toBe('(no role)');
    const warning = report.hosts.spine01!.prechecks.find((s) => s.id === 'image-space')!;
    expect(warning).toMatchObject({ status: 'failed', severity: 'warning', hint: 'Free space in /var/images.', exitCode: 3 });
    expect(report.approvals[0]!.approver).toBe('Bob Reviewer');
    expect(report.durationMs).toBe(Date.parse(report.finishedAt) - Date.parse(report.startedAt));
  });

  it('redacts passwordEnv values and secret captures from outputs, commands and messages', async () => {
    const { plan, result } = await runFabric();
    // The executor redacts secret captures itself; the password, printed by a command, is the report's to hide.
    expect(JSON.stringify(result)).toContain(PASSWORD);
    const report = buildRunReport(plan, result, createMeta(plan, result));
    const text = `${JSON.stringify(report)}\n${renderRunReportMarkdown(report)}`;
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(TOKEN);
    expect(report.hosts.spine01!.steps[1]!.command).toBe('echo "installing with ***" && test spine01 != leaf02');
    expect(report.hosts.spine01!.prechecks[1]!.stdout!.text).toBe('TOKEN=***');
  });

  it('keeps the last lines of long outputs and says how much there was', async () => {
    const { plan, result } = await runFabric();
    const report = buildRunReport(plan, result, createMeta(plan, result, { outputLimits: { lines: 10, bytes: 4096 } }));
    const backup = report.hosts.spine01!.steps[0]!.stdout!;
    expect(backup).toMatchObject({ truncated: true, totalLines: 501 });
    expect(backup.text.split('\n')).toEqual(Array.from({ length: 10 }, (_, i) => String(491 + i)));
    expect(report.limits).toEqual({ outputLines: 10, outputBytes: 4096 });
  });

  it('summarises a snapshot comparison', async () => {
    const { plan, result } = await runFabric();
    const report = buildRunReport(plan, result, createMeta(plan, result, { snapshotDiff: SNAPSHOT_DIFF }));
    expect(validateReport(report), JSON.stringify(validateReport.errors)).toBe(true);
    expect(report.snapshots.comparison).toEqual({
      before: SNAPSHOT_DIFF.before.name,
      after: SNAPSHOT_DIFF.after.name,
      totals: { added: 0, removed: 0, changed: 1 },
      notCollected: [],
      elements: { node: { status: 'compared', before: 4, after: 4, added: 0, removed: 0, changed: 1 } },
    });
  });
});

describe('renderRunReportMarkdown', () => {
  let report: RunReport;
  beforeEach(async () => {
    const { plan, result } = await runFabric();
    report = buildRunReport(plan, result, createMeta(plan, result, { snapshotDiff: SNAPSHOT_DIFF }));
  });

  it('puts the summary table first, then every host and every step, collapsed', () => {
    const markdown = renderRunReportMarkdown(report);
    const lines = markdown.split('\n');
    expect(lines[0]).toBe('# ❌ fabric-upgrade 1.3.0 failed on 4 hosts');
    expect(markdown.indexOf('| Run | `20261124-090000-fabric-upgrade-abcd` |')).toBeLessThan(markdown.indexOf('## Hosts'));
    expect(markdown).toContain(`| Plan | \`${report.planHash}\`, made at commit \`cccccccccccc\` |`);
    expect(markdown).toContain('| Approved by | Bob Reviewer at 2026-11-24T08:00:00.000Z (commit eeeeeeeeeeee) |');
    expect(markdown).toContain('| Run by | ops on jump01 (git: Olivia Ops &lt;olivia@example.com&gt;) |');
    expect(markdown).toContain('| Hosts | 4: 3 succeeded, 1 rolled back |');
    for (const host of ['spine01', 'leaf01', 'leaf02', 'border01']) {
      expect(markdown).toContain(`| \`${host}\` |`);
      expect(markdown).toContain(`<b>${host}</b>`);
    }
    for (const step of ['release', 'token', 'image-space', 'backup-config', 'install', 'services-up', 'restore']) expect(markdown).toContain(`| \`${step}\` |`);
    expect(markdown).toContain('| `leaf02` | leaf | ↩️ rolled back |');
    expect(markdown.match(/<details( open)?>/g)!.length).toBe(markdown.match(/<\/details>/g)!.length);
    // A failed step's output is open: it is what a reader expands the host for.
    expect(markdown).toContain('<details open>\n<summary>install: failed, exit 1</summary>\n\n_command_');
    expect(markdown).not.toMatch(/\[object Object\]|undefined/);
    expect(markdown).toMatch(/\| `spine01` \| `image-space` \| warning \| .* \| Free space in \/var\/images\. \|/);
  });

  it('draws a Mermaid Gantt chart with a section per host and a bar per step', () => {
    const markdown = renderRunReportMarkdown(report);
    const block = markdown.slice(markdown.indexOf('```mermaid'), markdown.indexOf('```', markdown.indexOf('```mermaid') + 3) + 3);
    expect(block.split('\n').slice(0, 5)).toEqual(['```mermaid', 'gantt', '    title fabric-upgrade 1.3.0 run 20261124-090000-fabric-upgrade-abcd', '    dateFormat x', '    axisFormat %H:%M:%S']);
    expect(block).toContain('    section leaf · leaf02');
    expect(block).toMatch(/ {4}install :crit, \d+, \d+/);
    expect(block).toMatch(/ {4}rollback restore :active, \d+, \d+/);
    expect(block).toMatch(/ {4}services-up :done, \d+, \d+/);
  });

  it('shows the snapshot comparison: the counts from the report, or the section given', () => {
    const fromCounts = renderRunReportMarkdown(report);
    expect(fromCounts).toContain(`## Snapshot comparison: \`${SNAPSHOT_DIFF.before.name}\` → \`${SNAPSHOT_DIFF.after.name}\``);
    expect(fromCounts).toContain('| node | 4 | 4 | 0 | 0 | 1 |');

    const rendered = renderRunReportMarkdown(report, { snapshotSection: renderDiffMarkdown(SNAPSHOT_DIFF) });
    expect(rendered).toContain(renderDiffMarkdown(SNAPSHOT_DIFF).trim());
    expect(rendered.indexOf('## Snapshot comparison')).toBeLessThan(rendered.indexOf('## Timeline'));
  });

  it('keeps hostile output inside its code block', () => {
    const host = report.hosts.spine01!;
    host.steps[0]!.stdout = { text: '\u001b[31mred\u001b[0m\n```\n</details>\n| a | b |', truncated: false, totalLines: 4, totalBytes: 40 };
    host.steps[0]!.message = 'pipes | and <b>tags</b>\nacross lines';
    const markdown = renderRunReportMarkdown(report);
    expect(markdown).toContain('_stdout, 4 lines_\n\n````text\nred\n```\n</details>\n| a | b |\n````');
    expect(markdown).not.toContain('\u001b');
    expect(markdown).toContain('pipes \\| and &lt;b&gt;tags&lt;/b&gt;<br>across lines');
  });
});

describe('renderGantt', () => {
  it('replaces characters Mermaid reads as syntax', () => {
    expect(escapeMermaid('sw:1;a#b %%c')).toBe('sw 1 a b c');
    expect(escapeMermaid(':::')).toBe('_');
  });

  it('falls back to one bar per host when the run has more step bars than the cap', async () => {
    const { plan, result } = await runFabric();
    const report = buildRunReport(plan, result, createMeta(plan, result));
    const full = renderGantt(report);
    expect(full.note).toBe('');
    const capped = renderGantt(report, 5);
    expect(capped.bars).toBe(4);
    expect(capped.note).toContain('one bar per host');
    expect(capped.block).toContain('    section leaf\n');
    const tiny = renderGantt(report, 2);
    expect(tiny.bars).toBe(2);
    expect(tiny.note).toContain('the first 2 hosts');
  });
});

describe('redact and excerptOutput', () => {
  it('hides every secret, longest first, trimmed or not, and ignores empty values', () => {
    expect(redact('pw=abc123 again abc123\nkey=abc123456', ['abc123', 'abc123456', ''])).toBe('pw=*** again ***\nkey=***');
    expect(redact('token ghp_x', ['ghp_x\n'])).toBe('token ***');
  });

  it('keeps the last lines and bytes without splitting a character', () => {
    expect(excerptOutput('a\nb\nc\n', { lines: 2, bytes: 100 })).toEqual({ text: 'b\nc', truncated: true, totalLines: 3, totalBytes: 6 });
    expect(excerptOutput('one\ntwo', { lines: 10, bytes: 100 })).toEqual({ text: 'one\ntwo', truncated: false, totalLines: 2, totalBytes: 7 });
    const accented = excerptOutput('éééé', { lines: 10, bytes: 5 });
    expect(accented.text).toBe('éé');
    expect(accented.truncated).toBe(true);
    expect(excerptOutput('first line\nsecond', { lines: 10, bytes: 12 }).text).toBe('second');
  });
});

describe('writeRunReport and the commit message', () => {
  let folder: string;
  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'runbook-report-'));
  });
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  it('writes the JSON and the Markdown, with no temporary file left', async () => {
    const { plan, result } = await runFabric();
    const report = buildRunReport(plan, result, createMeta(plan, result));
    const written = writeRunReport(join(folder, 'reports', 'runs'), report);
    expect(readdirSync(join(folder, 'reports', 'runs')).sort()).toEqual([`${report.runId}.json`, `${report.runId}.md`]);
    expect(JSON.parse(readFileSync(written.jsonPath, 'utf8'))).toEqual(report);
    expect(readFileSync(written.markdownPath, 'utf8')).toBe(renderRunReportMarkdown(report));
    expect(() => writeRunReport(folder, { ...report, runId: '../escape' })).toThrow(/cannot name a file/);
    expect(existsSync(join(folder, '..', 'escape.json'))).toBe(false);
  });

  it('names the runbook, outcome, host count and run id, and lists hosts with their states', async () => {
    const { plan, result } = await runFabric();
    const report = buildRunReport(plan, result, createMeta(plan, result));
    const { subject, body } = describeRunCommit(report, ['reports/runs/x.json']);
    expect(subject).toBe('runbook: fabric-upgrade 1.3.0 failed on 4 hosts (run 20261124-090000-fabric-upgrade-abcd)');
    expect(body).toContain('  spine01: succeeded\n');
    expect(body).toMatch(/ {2}leaf02: rolled-back \(step install failed: .*\)/);
    expect(body).toContain('Files:\n  reports/runs/x.json');
  });
});

import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../helpers/cli-process.js';
import { LAB_PASSWORD_ENV, startTestLab, type TestLab } from '../helpers/lab-apply.js';
import { commitRepository } from '../helpers/run-repository.js';
import { run } from '../helpers/ssh-client.js';

// What the document's snapshots offer and the project had to add: a note, a snapshot as of a past
// time (from the git history of reports/snapshots/, this project's time series), `live`, and the
// selection of hosts by group without a line per element for hosts the profile does not cover.

let testLab: TestLab;
beforeAll(async () => {
  testLab = await startTestLab();
  commitRepository(testLab.dir);
});
afterAll(async () => {
  await testLab.stop();
});

async function runbook(...args: string[]) {
  const cli = spawnCli(args, { cwd: testLab.dir, env: LAB_PASSWORD_ENV });
  const code = await cli.exit;
  return { code, output: cli.output() };
}

function commitAt(date: string, message: string): string {
  const env = { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date };
  execFileSync('git', ['add', '-A'], { cwd: testLab.dir });
  execFileSync('git', ['commit', '-q', '-m', message], { cwd: testLab.dir, env });
  return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: testLab.dir }).toString().trim();
}

describe('snapshots: notes, past times, live, groups', () => {
  it('selects a group, and says in one line which hosts a profile does not cover', async () => {
    const all = await runbook('snapshot', 'create', 'everything', '-i', testLab.inventoryPath);
    expect(all.code).toBe(0);
    const notes = all.output.split('\n').filter((line) => line.startsWith('note:'));
    expect(notes).toEqual([expect.stringMatching(/^note: profile fabric has no collector for the platform of 8 host\(s\), so nothing was collected there: qumulo1 \(qumulo\), .*bd01 \(exos\)$/)]);
    const fabric = await runbook('snapshot', 'create', 'fabric-only', '-i', testLab.inventoryPath, '--group', 'fabric', '--note', 'the fabric alone');
    expect(fabric.code).toBe(0);
    expect(fabric.output).toContain('6 host(s)');
    expect(fabric.output).not.toContain('note:');
    expect((await runbook('snapshot', 'list')).output).toMatch(/^fabric-only .*the fabric alone$/m);
  }, 60_000);

  it('compares with a snapshot as committed at a past time, with @TIME, and with live; --exit-code fails on a difference', async () => {
    expect((await runbook('snapshot', 'create', 'baseline', '-i', testLab.inventoryPath, '--group', 'fabric', '--note', 'before the rename')).code).toBe(0);
    const first = commitAt('2026-01-01T10:00:00Z', 'baseline');
    // A change to the fabric: leaf01 takes another name, which its neighbours see over LLDP.
    expect((await run({ host: testLab.lab.device('leaf01').address, port: testLab.lab.device('leaf01').port }, 'hostnamectl set-hostname leaf01-renamed')).code).toBe(0);
    expect((await runbook('snapshot', 'delete', 'baseline')).code).toBe(0);
    expect((await runbook('snapshot', 'create', 'baseline', '-i', testLab.inventoryPath, '--group', 'fabric', '--note', 'after the rename')).code).toBe(0);
    commitAt('2026-01-02T10:00:00Z', 'baseline again');

    const past = await runbook('diff', 'baseline@2026-01-01T12:00:00Z', 'baseline', '--element', 'lldp', '--format', 'json');
    expect(past.code).toBe(0);
    const diff = JSON.parse(past.output) as {
      before: { note?: string; commit?: string };
      after: { note?: string };
      elements: { lldp: { changed: Array<{ key: { host: string }; fields: Array<{ field: string; before: unknown; after: unknown }> }> } };
    };
    expect(diff.before).toMatchObject({ note: 'before the rename', commit: first });
    expect(diff.after.note).toBe('after the rename');
    expect(diff.elements.lldp.changed.flatMap((c) => c.fields.filter((f) => f.field === 'peerHostname').map((f) => `${c.key.host} ${String(f.before)} -> ${String(f.after)}`)).sort()).toEqual([
      // leaf02 sees leaf01 on both ports of the peer link.
      'leaf02 leaf01 -> leaf01-renamed',
      'leaf02 leaf01 -> leaf01-renamed',
      'spine01 leaf01 -> leaf01-renamed',
      'spine02 leaf01 -> leaf01-renamed',
    ]);
    // @TIME: whatever snapshot was newest then; the Markdown names where it came from.
    const newest = await runbook('diff', '@2026-01-01T12:00:00Z', 'baseline', '--element', 'node', '--exit-code');
    expect(newest.code).toBe(1);
    expect(newest.output).toContain(`as committed in ${first.slice(0, 12)}`);
    expect((await runbook('snapshot', 'show', 'baseline@2026-01-01T12:00:00Z', '--element', 'node')).output).toContain(`as committed in ${first}\nnote: before the rename`);

    // live: captured now on the hosts of the other side, never stored; nothing changed since.
    const live = await runbook('diff', 'baseline', 'live', '-i', testLab.inventoryPath, '--element', 'bgp,lldp,node', '--exit-code');
    expect(live.output).toContain('captured live (not stored)');
    expect(live.code).toBe(0);
    const stale = await runbook('diff', 'baseline@2026-01-01T12:00:00Z', 'live', '-i', testLab.inventoryPath, '--element', 'lldp', '--only', 'changed', '--host', 'spine01', '--exit-code');
    expect(stale.code).toBe(1);
    expect(stale.output).toContain('Filtered: only changed of `spine01`');

    const tooEarly = await runbook('diff', '@2000-01-01T00:00:00Z', 'baseline');
    expect(tooEarly.code).toBe(2);
    expect(tooEarly.output).toContain('no snapshot was committed');
    const notATime = await runbook('diff', 'baseline@yesterday-ish', 'baseline');
    expect(notATime.code).toBe(2);
    expect(notATime.output).toContain('is not a time');
    const noInventory = await runbook('diff', 'baseline', 'live');
    expect(noInventory.code).toBe(2);
    expect(noInventory.output).toContain('-i INVENTORY');
  }, 120_000);
});

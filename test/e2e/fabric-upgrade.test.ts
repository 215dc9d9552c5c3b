import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../engine/io/snapshot-store.js';
import { compareSnapshots } from '../../engine/snapshot/compare.js';
import { applyRunbook, startTestLab, type TestLab } from '../helpers/lab-apply.js';

// The NetQ-style fabric upgrade against the lab's Cumulus switches, over real SSH, with the
// snapshots before and after stored in the test's folder.

const SWITCHES = ['spine01', 'spine02', 'leaf01', 'leaf02', 'leaf03', 'leaf04'];
let testLab: TestLab;
beforeEach(async () => {
  testLab = await startTestLab();
});
afterEach(async () => {
  await testLab.stop();
});

const versions = () => Object.fromEntries(SWITCHES.map((name) => [name, testLab.lab.state(name).version]));
const snapshotsFolder = () => join(testLab.dir, 'reports', 'snapshots');

describe('fabric-upgrade', () => {
  it('upgrades every switch, spines first and one MLAG peer at a time, with snapshots before and after', async () => {
    const run = await applyRunbook('fabric-upgrade.yaml', testLab.inventoryPath, ['targetVersion=4.4.0'], { root: testLab.dir });
    expect(run.stderr).toMatch(/run \S+ succeeded/);
    expect(run.exitCode).toBe(0);
    expect(versions()).toEqual(Object.fromEntries(SWITCHES.map((name) => [name, '4.4.0'])));
    // The two peers of an MLAG pair never reboot at once.
    const reboots = testLab.lab.commandLog().filter((e) => e.command === 'reboot').map((e) => e.host);
    expect(reboots.slice(0, 2).sort()).toEqual(['spine01', 'spine02']);
    expect(reboots.slice(2, 4).sort()).toEqual(['leaf01', 'leaf03']);
    expect(reboots.slice(4).sort()).toEqual(['leaf02', 'leaf04']);
    const started = run.events.find((e) => e.type === 'run.started');
    const runId = started?.type === 'run.started' ? started.runId : '';
    const files = readdirSync(snapshotsFolder()).sort();
    expect(files).toEqual([`${runId}-after.json`, `${runId}-before.json`]);
    const report = readFileSync(join(testLab.dir, 'reports', 'runs', `${runId}.md`), 'utf8');
    for (const name of SWITCHES) expect(report).toContain(name);
    expect(report).toContain('gantt');
  });

  it('rolls a leaf whose install fails back to its original version while the others finish', async () => {
    // The install fails on all three attempts (retries: 2); the rollback's reinstall works.
    await testLab.lab.injectFault('leaf03', { kind: 'installFails', times: 3 });
    const run = await applyRunbook('fabric-upgrade.yaml', testLab.inventoryPath, ['targetVersion=4.4.0'], { root: testLab.dir });
    expect(run.exitCode).toBe(1);
    expect(run.states).toEqual({ spine01: 'succeeded', spine02: 'succeeded', leaf01: 'succeeded', leaf03: 'rolled-back', leaf02: 'succeeded', leaf04: 'succeeded' });
    expect(versions()).toEqual({ spine01: '4.4.0', spine02: '4.4.0', leaf01: '4.4.0', leaf02: '4.4.0', leaf03: '4.3.0', leaf04: '4.4.0' });
    const install = run.steps.leaf03!.find((s) => s.id === 'install')!;
    expect(install).toMatchObject({ status: 'failed', attempts: 3 });
    expect(run.steps.leaf03!.filter((s) => s.section === 'rollback').map((s) => [s.id, s.status])).toEqual([
      ['reinstall-previous', 'succeeded'],
      ['reboot-previous', 'succeeded'],
      ['previous-version', 'succeeded'],
    ]);
  });

  it('stops before any change when a pre-check fails: no upgrade across a major release', async () => {
    const run = await applyRunbook('fabric-upgrade.yaml', testLab.inventoryPath, ['targetVersion=5.9.1'], { root: testLab.dir });
    expect(run.exitCode).toBe(1);
    expect(Object.values(run.states)).toEqual(SWITCHES.map(() => 'skipped'));
    expect(run.stderr).toContain('pre-checks failed');
    const same = run.steps.spine01!.find((s) => s.id === 'same-major')!;
    expect(same).toMatchObject({ status: 'failed', severity: 'error', hint: expect.stringContaining('fresh install') });
    expect(testLab.lab.commandLog().filter((e) => /onie-install|reboot|tar /.test(e.command))).toEqual([]);
    expect(existsSync(snapshotsFolder())).toBe(false);
  });

  it('fails and rolls back a switch that lost a BGP session, which the comparison shows as exactly that session removed', async () => {
    await testLab.lab.injectFault('leaf01', { kind: 'bgpSessionDrop', peer: 'spine01' });
    const run = await applyRunbook('fabric-upgrade.yaml', testLab.inventoryPath, ['targetVersion=4.4.0'], { root: testLab.dir });
    expect(run.exitCode).toBe(1);
    expect(run.states.leaf01).toBe('rolled-back');
    const verify = run.steps.leaf01!.find((s) => s.id === 'nothing-lost')!;
    expect(verify.status).toBe('failed');
    expect(verify.message).toMatch(/bgp: .*removed/);
    const started = run.events.find((e) => e.type === 'run.started');
    const runId = started?.type === 'run.started' ? started.runId : '';
    const diff = compareSnapshots(loadSnapshot(snapshotsFolder(), `${runId}-before`), loadSnapshot(snapshotsFolder(), `${runId}-after`));
    const bgp = diff.elements.bgp!;
    expect(bgp.removed.map((r) => [r.host, r.peerHostname]).sort()).toEqual([['leaf01', 'spine01'], ['spine01', 'leaf01']]);
    expect(bgp.removed).toHaveLength(2);
    expect(bgp.added).toHaveLength(0);
  });
});

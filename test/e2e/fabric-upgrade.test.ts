import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../engine/io/snapshot-store.js';
import { compareSnapshots } from '../../engine/snapshot/compare.js';
import type { RunEvent, StepRecord } from '../../engine/run/events.js';
import { renderPlanMarkdown } from '../../engine/plan/render-plan-markdown.js';
import type { Plan } from '../../engine/schema/plan.js';
import type { DeviceEvent } from '../../lab/index.js';
import { applyInProcess } from '../helpers/apply-in-process.js';
import { LAB_PASSWORD_ENV, REPO_ROOT, startTestLab, type TestLab } from '../helpers/lab-apply.js';
import { commitRepository } from '../helpers/run-repository.js';

// The fabric upgrade as the vendor's document has it (shared/seeds/000_4b255f1ae4f79528.txt,
// "Cumulus Linux Upgrade"), applied from a git repository to the lab's Cumulus switches over real
// SSH, after a committed network snapshot that gives the planner the fabric's LLDP neighbours.

const SPINES = ['spine01', 'spine02'];
const LEAVES = ['leaf01', 'leaf02', 'leaf03', 'leaf04'];
const SWITCHES = [...SPINES, ...LEAVES];
let testLab: TestLab;
beforeEach(async () => {
  testLab = await startTestLab({ topology: { storageNodes: 0, nso: false, chassis: false } });
  mkdirSync(join(testLab.dir, 'runbooks'));
  for (const name of ['fabric-upgrade.yaml', 'network-snapshot.yaml']) cpSync(join(REPO_ROOT, 'runbooks', name), join(testLab.dir, 'runbooks', name));
  commitRepository(testLab.dir);
});
afterEach(async () => {
  await testLab.stop();
});

async function apply(runbook: string, params: string[], onEvent?: (event: RunEvent) => void) {
  const run = await applyInProcess({
    ...(onEvent ? { onEvent } : {}),
    target: join(testLab.dir, 'runbooks', runbook),
    inventory: testLab.inventoryPath,
    params,
    env: LAB_PASSWORD_ENV,
    root: testLab.dir,
    commit: true,
  });
  const steps: Record<string, StepRecord[]> = {};
  for (const e of run.events) if (e.type === 'step.finished') (steps[e.host] ??= []).push(e.record);
  const finished = run.events.find((e) => e.type === 'run.finished');
  const started = run.events.find((e): e is Extract<RunEvent, { type: 'run.started' }> => e.type === 'run.started');
  return { ...run, steps, runId: started?.runId ?? '', started, states: finished?.type === 'run.finished' ? finished.hosts : {} };
}

/** The network snapshot the README shows, committed: the topology the upgrade is planned by. */
async function takeBaseline() {
  const baseline = await apply('network-snapshot.yaml', ['name=baseline']);
  expect(baseline.stderr).toMatch(/succeeded/);
  expect(baseline.exitCode).toBe(0);
}

/**
 * From the lab's own event log: the moments at which each leaf had no spine carrying traffic (a
 * spine is out from `down` until it serves again after its configuration is restored).
 */
function isolatedLeaves(events: readonly DeviceEvent[]): string[] {
  const out = new Set<string>();
  const found: string[] = [];
  for (const event of events) {
    if (!SPINES.includes(event.host)) continue;
    if (event.event === 'down' || event.event === 'not-serving') out.add(event.host);
    if (event.event === 'serving') out.delete(event.host);
    if (SPINES.every((spine) => out.has(spine))) found.push(`${event.time}: both spines out`);
  }
  return found;
}

const versions = () => Object.fromEntries(SWITCHES.map((name) => [name, testLab.lab.state(name).version]));
const configured = (name: string) => {
  const state = testLab.lab.state(name);
  return { hostname: state.hostname, configured: state.configured, frr: state.frr, clag: state.clag };
};
const expectedConfig = (name: string) => ({ hostname: name, configured: true, frr: true, clag: LEAVES.includes(name) });

describe('fabric-upgrade', () => {
  it('upgrades every switch one spine at a time, backs the configuration up off the switch and restores it, and loses nothing', async () => {
    await takeBaseline();
    const run = await apply('fabric-upgrade.yaml', ['targetVersion=4.4.0']);
    expect(run.stderr).toMatch(/run \S+ succeeded/);
    expect(run.exitCode).toBe(0);
    // From the lab's own event log: no leaf ever had both spines out at once.
    expect(isolatedLeaves(testLab.lab.eventLog())).toEqual([]);
    // The planner read the committed snapshot's LLDP links and split the spines.
    expect(run.started?.stages).toEqual([
      { name: 'spine', batches: [['spine01'], ['spine02']] },
      { name: 'leaf', batches: [['leaf01', 'leaf03'], ['leaf02', 'leaf04']] },
    ]);
    const plan = JSON.parse(readFileSync(join(testLab.dir, '.runbook', 'runs', run.runId, 'plan.json'), 'utf8')) as Plan;
    expect(plan.topology).toMatchObject({ snapshot: 'baseline' });
    // Two spines to four leaves, and the two MLAG peer links; servers and the management switch are not hosts.
    expect(renderPlanMarkdown(plan)).toMatch(/LLDP of snapshot `baseline` taken \S+ \(10 links\)/);

    expect(versions()).toEqual(Object.fromEntries(SWITCHES.map((name) => [name, '4.4.0'])));
    for (const name of SWITCHES) {
      expect(configured(name)).toEqual(expectedConfig(name));
      // Each switch had a fresh install (its /etc wiped) and came back serving from its backup.
      expect(testLab.lab.eventLog(name).map((e) => e.event)).toEqual(['down', 'up', 'fresh-install', 'not-serving', 'serving']);
      // The backup left the switch before the install, with its checksum in the run.
      const fetched = run.steps[name]!.find((s) => s.id === 'fetch-backup')!;
      expect(fetched.status).toBe('succeeded');
      expect(existsSync(join(testLab.dir, '.runbook', 'runs', run.runId, 'artifacts', name, 'config.tgz'))).toBe(true);
      expect(run.steps[name]!.filter((s) => s.severity === 'warning' && s.status === 'failed')).toEqual([]);
    }

    const folder = join(testLab.dir, 'reports', 'snapshots');
    const diff = compareSnapshots(loadSnapshot(folder, `${run.runId}-before`), loadSnapshot(folder, `${run.runId}-after`));
    expect(diff.elements.bgp!.removed).toEqual([]);
    expect(diff.elements.lldp!.removed).toEqual([]);
    expect(diff.elements.clag!.removed).toEqual([]);
    expect(diff.elements.node!.changed.length).toBe(SWITCHES.length);
  });

  it('rolls a leaf whose install keeps failing back to its original version with its configuration, and the next run warns about it', async () => {
    await takeBaseline();
    // Every one of the five attempts fails; the rollback's reinstall of 4.3.0 works.
    await testLab.lab.injectFault('leaf03', { kind: 'installFails', times: 5 });
    const run = await apply('fabric-upgrade.yaml', ['targetVersion=4.4.0']);
    expect(run.exitCode).toBe(1);
    expect(run.states).toMatchObject({ spine01: 'succeeded', spine02: 'succeeded', leaf01: 'succeeded', leaf03: 'rolled-back' });
    expect(testLab.lab.state('leaf03').version).toBe('4.3.0');
    expect(run.steps.leaf03!.find((s) => s.id === 'install')).toMatchObject({ status: 'failed', attempts: 5 });
    expect(run.steps.leaf03!.filter((s) => s.section === 'rollback').map((s) => [s.id, s.status])).toEqual([
      ['reinstall-previous', 'succeeded'],
      ['reboot-previous', 'succeeded'],
      ['put-backup-previous', 'succeeded'],
      ['restore-config-previous', 'succeeded'],
      ['previous-version', 'succeeded'],
    ]);
    // The reinstall wiped /etc; the backup fetched before the install brought the configuration back.
    expect(testLab.lab.eventLog('leaf03').map((e) => e.event)).toEqual(['down', 'up', 'fresh-install', 'not-serving', 'serving']);
    expect(configured('leaf03')).toEqual(expectedConfig('leaf03'));
    expect(isolatedLeaves(testLab.lab.eventLog())).toEqual([]);

    // The failed run is committed; the next one warns about leaf03 before changing anything, naming that run.
    await testLab.lab.clearFaults('leaf03');
    const again = await apply('fabric-upgrade.yaml', ['targetVersion=4.4.0']);
    const warned = again.steps.leaf03!.find((s) => s.id === 'previous-upgrade')!;
    expect(warned).toMatchObject({ status: 'failed', severity: 'warning' });
    expect(warned.message).toContain(run.runId);
    expect(warned.message).toContain('`install` failed');
    expect(again.steps.leaf01!.find((s) => s.id === 'previous-upgrade')).toMatchObject({ status: 'succeeded' });
    expect(again.steps.leaf03!.find((s) => s.id === 'previous-backup')).toMatchObject({ status: 'succeeded' });
    expect(again.exitCode).toBe(0);
    expect(testLab.lab.state('leaf03').version).toBe('4.4.0');
  });

  it('does not roll back a switch whose backup failed: nothing was installed, and a reinstall would wipe a configuration no one kept', async () => {
    await takeBaseline();
    // leaf03 stops answering as it starts to fetch its backup.
    const run = await apply('fabric-upgrade.yaml', ['targetVersion=4.4.0'], (event) => {
      if (event.type === 'step.started' && event.host === 'leaf03' && event.stepId === 'fetch-backup') void testLab.lab.injectFault('leaf03', { kind: 'unreachable' });
    });
    expect(run.exitCode).toBe(1);
    expect(run.states.leaf03).toBe('failed');
    expect(run.steps.leaf03!.find((s) => s.id === 'fetch-backup')).toMatchObject({ status: 'failed' });
    expect(run.steps.leaf03!.filter((s) => s.section === 'rollback')).toEqual([]);
    await testLab.lab.clearFaults('leaf03');
    expect(testLab.lab.commandLog('leaf03').filter((e) => /^onie-install|^reboot/.test(e.command))).toEqual([]);
    expect(testLab.lab.state('leaf03').version).toBe('4.3.0');
    expect(configured('leaf03')).toEqual(expectedConfig('leaf03'));
  });

  it('stops before any change when a pre-check fails: no image for the platform in the repository', async () => {
    await testLab.stop();
    // The repository has 4.4.0 for Mellanox only: the leaves (Broadcom) have no image.
    testLab = await startTestLab({
      topology: { storageNodes: 0, nso: false, chassis: false },
      cumulus: { images: ['4.3.0', 'cumulus-linux-4.4.0-mlx-amd64.bin'] },
    });
    mkdirSync(join(testLab.dir, 'runbooks'));
    cpSync(join(REPO_ROOT, 'runbooks', 'fabric-upgrade.yaml'), join(testLab.dir, 'runbooks', 'fabric-upgrade.yaml'));
    commitRepository(testLab.dir);
    const run = await apply('fabric-upgrade.yaml', ['targetVersion=4.4.0']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain('pre-checks failed');
    expect(run.steps.spine01!.find((s) => s.id === 'image-present')).toMatchObject({ status: 'succeeded' });
    const missing = run.steps.leaf01!.find((s) => s.id === 'image-present')!;
    expect(missing).toMatchObject({ status: 'failed', severity: 'error', hint: expect.stringContaining('upload it') });
    expect(testLab.lab.commandLog().filter((e) => /onie-install|reboot|tar /.test(e.command))).toEqual([]);
  });

  it('refuses an upgrade across a major release, and needs the restoration image', async () => {
    await testLab.stop();
    testLab = await startTestLab({ topology: { storageNodes: 0, nso: false, chassis: false }, cumulus: { images: ['4.4.0', '5.9.1'] } });
    mkdirSync(join(testLab.dir, 'runbooks'));
    cpSync(join(REPO_ROOT, 'runbooks', 'fabric-upgrade.yaml'), join(testLab.dir, 'runbooks', 'fabric-upgrade.yaml'));
    commitRepository(testLab.dir);
    const major = await apply('fabric-upgrade.yaml', ['targetVersion=5.9.1']);
    expect(major.exitCode).toBe(1);
    expect(major.steps.spine01!.find((s) => s.id === 'same-major')).toMatchObject({ status: 'failed', hint: expect.stringContaining('fresh ONIE install') });
    const minor = await apply('fabric-upgrade.yaml', ['targetVersion=4.4.0']);
    expect(minor.exitCode).toBe(1);
    expect(minor.steps.spine01!.find((s) => s.id === 'restoration-image-present')).toMatchObject({ status: 'failed', severity: 'error' });
    expect(testLab.lab.commandLog().filter((e) => /onie-install|reboot|tar /.test(e.command))).toEqual([]);
  });
});

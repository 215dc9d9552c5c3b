import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LabOptions } from '../../lab/index.js';
import { applyRunbook, startTestLab, type TestLab } from '../helpers/lab-apply.js';
import { createNsoApplication } from '../helpers/nso-application.js';
import { connect, exec } from '../helpers/ssh-client.js';

// The HA upgrade against the lab's NSO cluster, through real SSH, with an application writing to the
// primary before every command the runbook sends: what it was told was committed must survive.
// The order followed is seed 002's "NSO HA Version Upgrade" (../shared/seeds/002_05ac0b52f447c85e.txt).

const OLD_ORDER = join(import.meta.dirname, '..', 'fixtures', 'runbooks', 'ha-pair-upgrade-old-order.yaml');
const NSO_ONLY = { spines: 0, leaves: 0, storageNodes: 0, chassis: false, nsoStandalone: false };

interface NodeState {
  runningVersion: string | null;
  ha: { enabled: boolean; mode: string; readOnly: boolean; connectedTo: string | null };
  cdb: { entries: Record<string, string>; discarded: string[] };
}

let testLab: TestLab | undefined;
let application: ReturnType<typeof createNsoApplication> | undefined;
afterEach(async () => {
  await application?.close();
  await testLab?.stop();
  testLab = undefined;
  application = undefined;
});

async function startWithApplication(nodes: string[], options: LabOptions = {}): Promise<TestLab> {
  application = createNsoApplication(nodes);
  const write = application.beforeCommand;
  const extra = options.nso?.beforeCommand;
  const beforeCommand = async (node: string, line: string) => {
    await write(node, line);
    await extra?.(node, line);
  };
  testLab = await startTestLab({ ...options, topology: { ...NSO_ONLY, ...options.topology }, nso: { ...options.nso, beforeCommand } });
  application.attach(testLab.lab);
  return testLab;
}

const nodeState = (name: string) => testLab!.lab.state(name) as unknown as NodeState;
const accepted = () => application!.writes.filter((write) => write.accepted);

describe('the order ha-pair-upgrade had before (kept as a fixture)', () => {
  it('succeeds, yet loses writes the promoted secondary acknowledged', async () => {
    const lab = await startWithApplication(['nso1', 'nso2']);
    const run = await applyRunbook(OLD_ORDER, lab.inventoryPath, ['targetVersion=6.1.7'], { root: lab.dir });
    expect(run.exitCode, run.stderr).toBe(0);
    const lost = application!.missingOn('nso1');
    expect(lost.length).toBeGreaterThan(0);
    expect(lost[0]).toMatchObject({ node: 'nso2', accepted: true });
    expect(application!.missingOn('nso2')).toEqual(lost);
    expect(nodeState('nso2').cdb.discarded.length).toBeGreaterThan(0);
  });
});

describe('ha-pair-upgrade, in the document\'s order', () => {
  it('a major upgrade keeps every acknowledged write on both nodes, and the primary takes writes again at the end', async () => {
    const lab = await startWithApplication(['nso1', 'nso2']);
    const run = await applyRunbook('ha-pair-upgrade.yaml', lab.inventoryPath, ['targetVersion=6.2.3', 'fromVersion=6.1.4'], { root: lab.dir });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    // The same writes the old order lost reach the nodes: none is missing, on either node.
    expect(application!.missingOn('nso1')).toEqual([]);
    expect(application!.missingOn('nso2')).toEqual([]);
    expect(nodeState('nso1').cdb.discarded).toEqual([]);
    expect(nodeState('nso2').cdb.discarded).toEqual([]);
    // Writes were taken before read-only mode, refused while it lasted, and taken again at the end.
    const writes = application!.writes;
    expect(writes.some((w) => !w.accepted)).toBe(true);
    expect(writes.at(-1)).toMatchObject({ node: 'nso1', accepted: true });
    expect(accepted().every((w) => w.node === 'nso1')).toBe(true);
    expect(Object.keys(nodeState('nso2').cdb.entries).filter((k) => k.startsWith('app write'))).toHaveLength(accepted().length);
    for (const node of ['nso1', 'nso2']) expect(nodeState(node).runningVersion).toBe('6.2.3');
    expect(nodeState('nso1').ha).toMatchObject({ enabled: true, mode: 'primary', readOnly: false });
    expect(nodeState('nso2').ha).toMatchObject({ enabled: true, mode: 'secondary', connectedTo: 'nso1' });
    // The packages were replaced by the ones built for 6.2, on both nodes.
    for (const node of ['nso1', 'nso2']) {
      expect((lab.lab.state(node) as { packages: { loadPath: string[] } }).packages.loadPath.every((file) => file.startsWith('ncs-6.2-'))).toBe(true);
    }
  });

  it('the plan says which kind of upgrade runs: maintenance within a branch leaves the packages alone', async () => {
    const lab = await startWithApplication(['nso1', 'nso2']);
    const run = await applyRunbook('ha-pair-upgrade.yaml', lab.inventoryPath, ['targetVersion=6.1.7', 'fromVersion=6.1.4'], { root: lab.dir });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    const switched = run.steps.nso1!.find((r) => r.id === 'primary-switch-packages');
    expect(switched).toMatchObject({ status: 'skipped' });
    expect((lab.lab.state('nso1') as { packages: { loadPath: string[] } }).packages.loadPath.every((file) => file.startsWith('ncs-6.1-'))).toBe(true);
    expect(application!.missingOn('nso2')).toEqual([]);
  });

  it('with a third node: it leaves HA before the failover, so the promoted secondary stays read-only, and rejoins last', async () => {
    const lab = await startWithApplication(['nso1', 'nso2', 'nso3'], { topology: { nsoThirdNode: true } });
    const run = await applyRunbook('ha-pair-upgrade.yaml', lab.inventoryPath, ['targetVersion=6.2.3', 'fromVersion=6.1.4'], { root: lab.dir });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    // While nso2 served alone it was read-only: the application could not write to it.
    const toNso2 = application!.writes.filter((w) => w.node === 'nso2');
    expect(toNso2.length).toBeGreaterThan(0);
    expect(toNso2.every((w) => !w.accepted)).toBe(true);
    for (const node of ['nso1', 'nso2', 'nso3']) {
      expect(application!.missingOn(node)).toEqual([]);
      expect(nodeState(node).runningVersion).toBe('6.2.3');
    }
    expect(nodeState('nso3').ha).toMatchObject({ mode: 'secondary', connectedTo: 'nso1' });
    const order = run.events.flatMap((e) => (e.type === 'step.finished' && e.record.status === 'succeeded' ? [`${e.host}:${e.record.id}`] : []));
    expect(order.indexOf('nso3:third-node-disable-ha')).toBeLessThan(order.indexOf('nso2:secondary-be-primary'));
    expect(order.indexOf('nso3:third-node-rejoined')).toBeGreaterThan(order.indexOf('nso1:primary-read-write'));
  });

  it('a node on another release than fromVersion stops the run before any change, saying what to pass', async () => {
    const lab = await startWithApplication(['nso1', 'nso2']);
    const run = await applyRunbook('ha-pair-upgrade.yaml', lab.inventoryPath, ['targetVersion=6.2.3', 'fromVersion=6.1.3'], { root: lab.dir });
    expect(run.exitCode).toBe(1);
    const check = run.events.find((e) => e.type === 'step.finished' && e.record.id === 'running-release');
    expect(check?.type === 'step.finished' && check.record.hint).toBe('This node runs NSO 6.1.4, not 6.1.3; plan again with --param fromVersion=6.1.4.');
    expect(nodeState('nso1').ha.readOnly).toBe(false);
  });

  it('a cluster not in its nominal roles (the secondary took over) is refused before any change: the steps target roles', async () => {
    const lab = await startWithApplication(['nso1', 'nso2']);
    const device = lab.lab.device('nso1');
    const client = await connect({ host: device.address, port: device.port });
    expect((await exec(client, "ncs_cli -C -c 'high-availability disable'")).code).toBe(0);
    client.end();
    const secondary = lab.lab.device('nso2');
    const other = await connect({ host: secondary.address, port: secondary.port });
    expect((await exec(other, "ncs_cli -C -c 'high-availability be-primary'")).code).toBe(0);
    other.end();
    const run = await applyRunbook('ha-pair-upgrade.yaml', lab.inventoryPath, ['targetVersion=6.2.3', 'fromVersion=6.1.4'], { root: lab.dir });
    expect(run.exitCode).toBe(1);
    expect(run.states).toEqual({ nso1: 'skipped', nso2: 'skipped' });
    for (const node of ['nso1', 'nso2']) expect(run.steps[node]!.find((r) => r.id === 'ha-in-nominal-role')).toMatchObject({ status: 'failed' });
    expect(lab.lab.commandLog('nso1').some((entry) => entry.command.startsWith('sh '))).toBe(false);
  });

  it('a package built for another release than its name says stops the run before any change, naming the package', async () => {
    const lab = await startWithApplication(['nso1', 'nso2'], { nso: { misbuiltPackages: { 'ncs-6.2-cisco-iosxr-cli-7.52-7.52.1.tar.gz': '6.1' } } });
    const run = await applyRunbook('ha-pair-upgrade.yaml', lab.inventoryPath, ['targetVersion=6.2.3', 'fromVersion=6.1.4'], { root: lab.dir });
    expect(run.exitCode).toBe(1);
    for (const node of ['nso1', 'nso2']) {
      const check = run.steps[node]!.find((r) => r.id === 'packages-built-for-target');
      expect(check?.status).toBe('failed');
      expect(check?.message).toContain('ncs-6.2-cisco-iosxr-cli-7.52-7.52.1.tar.gz:  <ncs-min-version>6.1</ncs-min-version>');
      expect(nodeState(node).ha.readOnly).toBe(false);
    }
    expect(lab.lab.commandLog('nso1').some((entry) => entry.command.startsWith('sh ') || entry.command === 'ncs-backup')).toBe(false);
  });

  it('a failed upgrade of the primary restores both nodes from their backups, in the old release and roles, with every acknowledged write', async () => {
    const lab = await startWithApplication(['nso1', 'nso2'], { nso: { brokenReleases: ['6.2.3'] } });
    const run = await applyRunbook('ha-pair-upgrade.yaml', lab.inventoryPath, ['targetVersion=6.2.3', 'fromVersion=6.1.4'], { root: lab.dir });
    expect(run.exitCode).toBe(1);
    expect(run.states).toEqual({ nso1: 'rolled-back', nso2: 'rolled-back' });
    expect(run.steps.nso1!.find((r) => r.id === 'primary-restart')).toMatchObject({ status: 'failed' });
    for (const node of ['nso1', 'nso2']) {
      expect(nodeState(node).runningVersion).toBe('6.1.4');
      expect(application!.missingOn(node)).toEqual([]);
    }
    expect(nodeState('nso1').ha).toMatchObject({ mode: 'primary', readOnly: false });
    expect(nodeState('nso2').ha).toMatchObject({ mode: 'secondary', connectedTo: 'nso1' });
    const rollback = run.events.flatMap((e) => (e.type === 'step.finished' && e.host === 'nso1' && e.record.section === 'rollback' ? [e.record.id] : []));
    expect(rollback).toEqual(['leave-read-only', 'stop', 'revert-current-link', 'initial-release', 'restore', 'start', 'restored', 'rejoin-ha', 'nominal-role']);
  });

  it('a failed upgrade of the secondary, after the primary was upgraded, restores both to the old release without losing an acknowledged write', async () => {
    // The application writes between command lines, so this also shows the primary is made read-only
    // again in the same command that re-enables its HA: a write taken in between would be restored away.
    // Just before nso2 restarts into 6.2.3 one of its package links disappears: the start refuses to
    // drop the package ("Single Instance Upgrade": a data upgrade fails when a package was removed).
    const removeLink = async (node: string, line: string) => {
      if (node !== 'nso2' || line !== '/etc/init.d/ncs restart-with-package-reload') return;
      const device = testLab!.lab.device('nso2');
      const client = await connect({ host: device.address, port: device.port });
      await exec(client, 'rm /var/opt/ncs/packages/ncs-6.2-resource-manager-4.2.9.tar.gz');
      client.end();
    };
    const lab = await startWithApplication(['nso1', 'nso2'], { nso: { beforeCommand: removeLink } });
    const run = await applyRunbook('ha-pair-upgrade.yaml', lab.inventoryPath, ['targetVersion=6.2.3', 'fromVersion=6.1.4'], { root: lab.dir });
    expect(run.exitCode).toBe(1);
    expect(run.steps.nso2!.find((r) => r.id === 'secondary-restart')).toMatchObject({ status: 'failed' });
    expect(run.steps.nso1!.find((r) => r.id === 'primary-restart')).toMatchObject({ status: 'succeeded' });
    expect(run.states).toEqual({ nso1: 'rolled-back', nso2: 'rolled-back' });
    for (const node of ['nso1', 'nso2']) {
      expect(nodeState(node).runningVersion).toBe('6.1.4');
      expect(application!.missingOn(node)).toEqual([]);
    }
    expect(nodeState('nso1').ha).toMatchObject({ mode: 'primary', readOnly: false });
    expect(nodeState('nso2').ha).toMatchObject({ mode: 'secondary', connectedTo: 'nso1' });
  });

  it('a failed upgrade of the third node, once the pair runs the new release and takes writes, leaves the pair alone', async () => {
    const removeLink = async (node: string, line: string) => {
      if (node !== 'nso3' || line !== '/etc/init.d/ncs restart-with-package-reload') return;
      const device = testLab!.lab.device('nso3');
      const client = await connect({ host: device.address, port: device.port });
      await exec(client, 'rm /var/opt/ncs/packages/ncs-6.2-resource-manager-4.2.9.tar.gz');
      client.end();
    };
    const lab = await startWithApplication(['nso1', 'nso2', 'nso3'], { topology: { nsoThirdNode: true }, nso: { beforeCommand: removeLink } });
    const run = await applyRunbook('ha-pair-upgrade.yaml', lab.inventoryPath, ['targetVersion=6.2.3', 'fromVersion=6.1.4'], { root: lab.dir });
    expect(run.exitCode).toBe(1);
    expect(run.steps.nso3!.find((r) => r.id === 'third-node-restart')).toMatchObject({ status: 'failed' });
    // The pair finished every step it had: it is not rolled back to the old release (its writes since would be lost).
    expect(run.states).toEqual({ nso1: 'succeeded', nso2: 'succeeded', nso3: 'failed' });
    for (const node of ['nso1', 'nso2']) {
      expect(nodeState(node).runningVersion).toBe('6.2.3');
      expect(application!.missingOn(node)).toEqual([]);
    }
    expect(nodeState('nso1').ha).toMatchObject({ mode: 'primary', readOnly: false });
    // Nothing of nso3's rollback applied: it is left as it failed, with its backup, for the operator.
    expect(run.steps.nso3!.filter((r) => r.section === 'rollback').every((r) => r.status === 'skipped')).toBe(true);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import type { LabOptions } from '../../lab/index.js';
import { formatPackageMeta } from '../../lab/devices/nso-packages.js';
import { connect, exec } from '../helpers/ssh-client.js';
import { applyRunbook, startTestLab, type TestLab } from '../helpers/lab-apply.js';

// runbooks/nso-upgrade.yaml against the lab's standalone NSO (nso0), through real SSH. The lab follows
// seed 002 (../shared/seeds/002_05ac0b52f447c85e.txt), "Single Instance Upgrade" and "Recover from a
// Failed Upgrade"; these tests check what the node holds afterwards, not what the runbook says.

const NSO0_ONLY = { spines: 0, leaves: 0, storageNodes: 0, chassis: false, nsoStandalone: true };

interface NodeState {
  running: boolean;
  runningVersion: string | null;
  current: string;
  packages: { inUse: string[]; loadPath: string[] };
  cdb: { version: string; entries: Record<string, string>; writeLog: number };
}

let testLab: TestLab | undefined;
afterEach(async () => {
  await testLab?.stop();
  testLab = undefined;
});

async function start(options: LabOptions = {}): Promise<TestLab> {
  testLab = await startTestLab({ ...options, topology: { ...NSO0_ONLY, ...options.topology } });
  return testLab;
}

const nso0 = () => testLab!.lab.state('nso0') as unknown as NodeState;

async function shell(command: string): Promise<void> {
  const device = testLab!.lab.device('nso0');
  const client = await connect({ host: device.address, port: device.port });
  try {
    expect((await exec(client, command)).code).toBe(0);
  } finally {
    client.end();
  }
}

/** Commits one leaf on nso0 as an operator would, before the run. */
async function write(value: string): Promise<void> {
  const device = testLab!.lab.device('nso0');
  const client = await connect({ host: device.address, port: device.port });
  try {
    const result = await exec(client, 'ncs_cli -C', { stdin: `config\ndevices device ce0 description ${JSON.stringify(value)}\ncommit\nend\n` });
    expect(result.stdout).toContain('Commit complete.');
  } finally {
    client.end();
  }
}

const upgrade = (lab: TestLab, ...params: string[]) => applyRunbook('nso-upgrade.yaml', lab.inventoryPath, params, { root: lab.dir });
const commandsRun = () => testLab!.lab.commandLog('nso0').map((entry) => entry.command);

describe('nso-upgrade (Single Instance Upgrade)', () => {
  it('a major upgrade: backup, install, stop, compaction, links, start with package reload; the data and the packages come along', async () => {
    const lab = await start();
    await write('before the upgrade');
    const run = await upgrade(lab, 'targetVersion=6.2.3', 'fromVersion=6.1.4');
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.steps.nso0!.filter((r) => r.section === 'step').map((r) => `${r.id}:${r.status}`)).toEqual([
      'backup:succeeded',
      'install:succeeded',
      'direct-upgrade:succeeded',
      'stop:succeeded',
      'compact-cdb:succeeded',
      'switch-release:succeeded',
      'update-config:skipped',
      'switch-packages:succeeded',
      'start:succeeded',
      'running-target:succeeded',
      'packages-up:succeeded',
      'same-package-versions:succeeded',
    ]);
    const state = nso0();
    expect(state).toMatchObject({ running: true, runningVersion: '6.2.3', current: '/opt/ncs/ncs-6.2.3' });
    expect(state.cdb).toMatchObject({ version: '6.2.3', writeLog: 0, entries: { 'devices device ce0 description': 'before the upgrade' } });
    expect(state.packages.loadPath).toEqual(['ncs-6.2-cisco-ios-cli-6.100-6.100.2.tar.gz', 'ncs-6.2-cisco-iosxr-cli-7.52-7.52.1.tar.gz', 'ncs-6.2-resource-manager-4.2.9.tar.gz']);
  });

  it('a maintenance upgrade keeps the packages as they are', async () => {
    const lab = await start();
    const run = await upgrade(lab, 'targetVersion=6.1.7', 'fromVersion=6.1.4');
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.steps.nso0!.find((r) => r.id === 'switch-packages')).toMatchObject({ status: 'skipped' });
    expect(nso0()).toMatchObject({ runningVersion: '6.1.7' });
    expect(nso0().packages.loadPath.every((file) => file.startsWith('ncs-6.1-'))).toBe(true);
  });

  it('too little disk space or no installer is found before any change, with what to do', async () => {
    const lab = await start({ nso: { diskAvailableKb: 1_000_000, installers: ['6.1.7'] } });
    const run = await upgrade(lab, 'targetVersion=6.2.3', 'fromVersion=6.1.4');
    expect(run.exitCode).toBe(1);
    const failed = Object.fromEntries(run.steps.nso0!.filter((r) => r.status === 'failed').map((r) => [r.id, r.hint]));
    expect(failed).toEqual({
      'installer-present': 'Copy the NSO installer for 6.2.3 to /tmp/nso-6.2.3.linux.x86_64.installer.bin.',
      'disk-space': 'Only 1000000 KB free under /opt; an install needs about 1.5 GB. Remove releases no longer used from /opt/ncs.',
    });
    expect(commandsRun().some((command) => command.startsWith('ncs-backup'))).toBe(false);
  });

  it('an upgrade type given against the versions is refused before any change', async () => {
    const lab = await start();
    const run = await upgrade(lab, 'targetVersion=6.2.3', 'fromVersion=6.1.4', 'upgrade=maintenance');
    expect(run.exitCode).toBe(1);
    const check = run.steps.nso0!.find((r) => r.id === 'upgrade-type');
    expect(check).toMatchObject({ status: 'failed' });
    expect(check?.hint).toContain('From 6.1.4 to 6.2.3 is not a maintenance upgrade');
    expect(commandsRun().some((command) => command.startsWith('ncs-backup'))).toBe(false);
  });

  it('a package built for another release than its name says stops the run before any change, naming the package', async () => {
    const lab = await start({ nso: { misbuiltPackages: { 'ncs-6.2-resource-manager-4.2.9.tar.gz': '6.1' } } });
    const run = await upgrade(lab, 'targetVersion=6.2.3', 'fromVersion=6.1.4');
    expect(run.exitCode).toBe(1);
    const check = run.events.find((e) => e.type === 'step.finished' && e.record.id === 'packages-built-for-target');
    expect(check?.type === 'step.finished' && check.record.status).toBe('failed');
    expect(check?.type === 'step.finished' && check.record.message).toContain('ncs-6.2-resource-manager-4.2.9.tar.gz:  <ncs-min-version>6.1</ncs-min-version>');
    expect(commandsRun().some((command) => command.startsWith('ncs-backup') || command.startsWith('sh '))).toBe(false);
    expect(nso0()).toMatchObject({ running: true, runningVersion: '6.1.4' });
  });

  it('another version of a package in the target set is a package upgrade mixed in: found after the start, and recovered from', async () => {
    const newer = formatPackageMeta({ name: 'resource-manager', version: '4.3.0', builtFor: '6.2', description: 'Resource allocation for services' });
    const lab = await start({ nso: { files: { '/opt/ncs/packages/ncs-6.2-resource-manager-4.3.0.tar.gz': newer } } });
    await shell('rm /opt/ncs/packages/ncs-6.2-resource-manager-4.2.9.tar.gz');
    const run = await upgrade(lab, 'targetVersion=6.2.3', 'fromVersion=6.1.4');
    expect(run.exitCode).toBe(1);
    const check = run.steps.nso0!.find((r) => r.id === 'same-package-versions');
    expect(check?.status).toBe('failed');
    expect(check?.stdout).toContain('packages package resource-manager package-version 4.3.0');
    expect(run.states.nso0).toBe('rolled-back');
    expect(nso0()).toMatchObject({ running: true, runningVersion: '6.1.4' });
    expect(nso0().packages.inUse).toContain('resource-manager@4.2.9 (built for 6.1)');
  });

  it('a failed data upgrade is recovered as the document orders it: the old release runs again with its data', async () => {
    const lab = await start({ nso: { brokenReleases: ['6.2.3'] } });
    await write('kept by the backup');
    const run = await upgrade(lab, 'targetVersion=6.2.3', 'fromVersion=6.1.4');
    expect(run.exitCode).toBe(1);
    expect(run.states.nso0).toBe('rolled-back');
    expect(run.steps.nso0!.find((r) => r.id === 'start')).toMatchObject({ status: 'failed' });
    const rollback = run.events.flatMap((e) => (e.type === 'step.finished' && e.record.section === 'rollback' ? [`${e.record.id}:${e.record.status}`] : []));
    expect(rollback).toEqual(['stop-nso:succeeded', 'revert-current-link:succeeded', 'initial-release:succeeded', 'restore:succeeded', 'start-nso:succeeded', 'restored:succeeded', 'restored-packages-up:succeeded']);
    const state = nso0();
    expect(state).toMatchObject({ running: true, runningVersion: '6.1.4', current: '/opt/ncs/ncs-6.1.4' });
    expect(state.cdb).toMatchObject({ version: '6.1.4', entries: { 'devices device ce0 description': 'kept by the backup' } });
    expect(state.packages.loadPath.every((file) => file.startsWith('ncs-6.1-'))).toBe(true);
  });

  it('a start that outlasts the init system is waited for, not taken for a failure', async () => {
    const lab = await start({ nso: { slowStartMs: 1_500 } });
    const run = await upgrade(lab, 'targetVersion=6.1.7', 'fromVersion=6.1.4');
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.steps.nso0!.find((r) => r.id === 'start')?.stdout).toContain('because a timeout was exceeded');
    expect(nso0()).toMatchObject({ running: true, runningVersion: '6.1.7' });
  });

  it('a release too old for the target stops before NSO is stopped; nothing needs recovering', async () => {
    const conf = '<ncs-config><load-path><dir>/var/opt/ncs/packages</dir></load-path><encrypted-strings><AES256CFB128><key>00</key></AES256CFB128></encrypted-strings></ncs-config>\n';
    const lab = await start({ nso: { version: '4.7.9', installers: ['6.2.3'], packageReleases: ['4.7', '6.2'], files: { '/tmp/ncs.conf.new': conf } } });
    const run = await upgrade(lab, 'targetVersion=6.2.3', 'fromVersion=4.7.9', 'ncsConf=/tmp/ncs.conf.new');
    expect(run.exitCode).toBe(1);
    expect(run.steps.nso0!.find((r) => r.id === 'direct-upgrade')).toMatchObject({ status: 'failed' });
    expect(commandsRun()).not.toContain('/etc/init.d/ncs stop');
    expect(nso0()).toMatchObject({ running: true, runningVersion: '4.7.9', current: '/opt/ncs/ncs-4.7.9' });
  });

  it('a target that needs an AES-256 key: refused without one, upgraded with a prepared ncs.conf (step 6)', async () => {
    const conf = '<ncs-config>\n  <load-path><dir>/var/opt/ncs/packages</dir></load-path>\n  <encrypted-strings>\n    <AES256CFB128><key>00</key></AES256CFB128>\n  </encrypted-strings>\n</ncs-config>\n';
    const lab = await start({ nso: { version: '5.2.5', installers: ['5.4.7'], packageReleases: ['5.2', '5.4'], files: { '/tmp/ncs.conf.5.4': conf } } });
    const refused = await upgrade(lab, 'targetVersion=5.4.7', 'fromVersion=5.2.5');
    expect(refused.exitCode).toBe(1);
    const check = refused.events.find((e) => e.type === 'step.finished' && e.record.id === 'encryption-keys');
    expect(check?.type === 'step.finished' && check.record.status).toBe('failed');
    const run = await upgrade(lab, 'targetVersion=5.4.7', 'fromVersion=5.2.5', 'ncsConf=/tmp/ncs.conf.5.4');
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.steps.nso0!.find((r) => r.id === 'update-config')).toMatchObject({ status: 'succeeded' });
    expect(nso0()).toMatchObject({ runningVersion: '5.4.7' });
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import type { LabOptions } from '../../lab/index.js';
import { formatPackageMeta } from '../../lab/devices/nso-packages.js';
import { connect, exec, type ExecResult } from '../helpers/ssh-client.js';
import { applyRunbook, startTestLab, type TestLab } from '../helpers/lab-apply.js';

// runbooks/nso-package-upgrade.yaml against the lab's NSO HA pair, through real SSH. The lab follows
// seed 002 (../shared/seeds/002_05ac0b52f447c85e.txt), "Package Upgrade"; the tests check the nodes.

const NSO_PAIR = { spines: 0, leaves: 0, storageNodes: 0, chassis: false, nsoStandalone: false };
const UPDATE = ['package=cisco-ios-cli-6.100', 'packageVersion=6.100.3'];

interface NodeState {
  running: boolean;
  runningVersion: string | null;
  packages: { inUse: string[]; loadPath: string[] };
  ha: { mode: string; readOnly: boolean; connectedTo: string | null };
  cdb: { entries: Record<string, string> };
  commitQueue: number;
}

let testLab: TestLab | undefined;
afterEach(async () => {
  await testLab?.stop();
  testLab = undefined;
});

async function start(options: LabOptions = {}): Promise<TestLab> {
  testLab = await startTestLab({ ...options, topology: { ...NSO_PAIR, ...options.topology } });
  return testLab;
}

const nodeState = (name: string) => testLab!.lab.state(name) as unknown as NodeState;

async function shell(node: string, command: string, stdin?: string): Promise<ExecResult> {
  const device = testLab!.lab.device(node);
  const client = await connect({ host: device.address, port: device.port });
  try {
    return await exec(client, command, stdin === undefined ? {} : { stdin });
  } finally {
    client.end();
  }
}

const upgrade = (lab: TestLab, ...params: string[]) => applyRunbook('nso-package-upgrade.yaml', lab.inventoryPath, [...UPDATE, ...params], { root: lab.dir });

describe('nso-package-upgrade (Package Upgrade, HA)', () => {
  it('replaces the package on both nodes after the commit queue emptied; the queued change reaches the secondary', async () => {
    const lab = await start({ nso: { commitQueueItemMs: 1_500 } });
    const queued = await shell('nso1', 'ncs_cli -C', 'config\ndevices device pe0 description queued\ncommit commit-queue async\nend\n');
    expect(queued.stdout).toContain('commit-queue-id');
    expect(nodeState('nso1').commitQueue).toBe(1);
    const run = await upgrade(lab, 'packageFile=/tmp/packages/ncs-6.1-cisco-ios-cli-6.100-6.100.3.tar.gz');
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.steps.nso1!.find((r) => r.id === 'sync-and-reload')?.stdout).toContain('sync-result {\n    node nso2\n    result true\n}');
    for (const node of ['nso1', 'nso2']) {
      expect(nodeState(node).packages.inUse).toContain('cisco-ios-cli-6.100@6.100.3 (built for 6.1)');
      expect(nodeState(node).cdb.entries['devices device pe0 description']).toBe('queued');
    }
    expect(nodeState('nso1').commitQueue).toBe(0);
    expect(nodeState('nso1').ha).toMatchObject({ mode: 'primary', readOnly: false });
    expect(nodeState('nso2').ha).toMatchObject({ mode: 'secondary', connectedTo: 'nso1' });
    // Every node was backed up first: the action makes no backup.
    const backups = run.events.flatMap((e) => (e.type === 'step.finished' && e.record.id === 'backup' && e.record.status === 'succeeded' ? [e.host] : []));
    expect(backups.sort()).toEqual(['nso1', 'nso2']);
  });

  it('a package built for another release stops the run before any change, naming the package and the release', async () => {
    const lab = await start();
    const run = await upgrade(lab, 'packageFile=/tmp/packages/ncs-6.2-cisco-ios-cli-6.100-6.100.3.tar.gz');
    expect(run.exitCode).toBe(1);
    const check = run.events.find((e) => e.type === 'step.finished' && e.record.id === 'package-built-for-running-release');
    expect(check?.type === 'step.finished' && check.record.status).toBe('failed');
    expect(check?.type === 'step.finished' && check.record.hint).toBe(
      '/tmp/packages/ncs-6.2-cisco-ios-cli-6.100-6.100.3.tar.gz was not compiled for NSO 6.1, the release this cluster runs; obtain the package built for it.',
    );
    expect(lab.lab.commandLog('nso1').some((entry) => entry.command.includes('software packages') || entry.command === 'ncs-backup')).toBe(false);
    for (const node of ['nso1', 'nso2']) expect(nodeState(node).packages.inUse).toContain('cisco-ios-cli-6.100@6.100.2 (built for 6.1)');
  });

  it('is refused while an NSO upgrade is under way: the package and NSO upgrades stay separate', async () => {
    const lab = await start();
    const staged = await shell('nso2', 'sh /tmp/nso-6.1.7.linux.x86_64.installer.bin --system-install && rm -f /opt/ncs/current && ln -s /opt/ncs/ncs-6.1.7 /opt/ncs/current');
    expect(staged.code, staged.stderr).toBe(0);
    const run = await upgrade(lab, 'packageFile=/tmp/packages/ncs-6.1-cisco-ios-cli-6.100-6.100.3.tar.gz');
    expect(run.exitCode).toBe(1);
    const check = run.events.find((e) => e.type === 'step.finished' && e.host === 'nso2' && e.record.id === 'runs-installed-release');
    expect(check?.type === 'step.finished' && check.record.status).toBe('failed');
  });

  it('a package of another name is not a replacement: a new NED ID needs the migrate procedure', async () => {
    const newNed = formatPackageMeta({ name: 'cisco-ios-cli-6.200', version: '6.200.1', builtFor: '6.1', description: 'NED package for Cisco IOS' });
    const lab = await start({ nso: { files: { '/tmp/packages/ncs-6.1-cisco-ios-cli-6.200-6.200.1.tar.gz': newNed } } });
    const run = await applyRunbook(
      'nso-package-upgrade.yaml',
      lab.inventoryPath,
      ['package=cisco-ios-cli-6.200', 'packageVersion=6.200.1', 'packageFile=/tmp/packages/ncs-6.1-cisco-ios-cli-6.200-6.200.1.tar.gz'],
      { root: lab.dir },
    );
    expect(run.exitCode).toBe(1);
    const failed = run.events.flatMap((e) => (e.type === 'step.finished' && e.record.status === 'failed' ? [e.record.id] : []));
    expect(failed).toEqual(['replaces-loaded-package']);
    expect(lab.lab.commandLog('nso1').some((entry) => entry.command.includes('software packages'))).toBe(false);
  });

  it('a sync that cannot start (the load paths differ) restores each node from its backup and leaves the primary read-write', async () => {
    const otherLoadPath = '<ncs-config><load-path><dir>/srv/packages</dir></load-path><encrypted-strings><AES256CFB128><key>00</key></AES256CFB128></encrypted-strings></ncs-config>\n';
    const lab = await start({ nso: { files: { '/tmp/other-load-path.conf': otherLoadPath } } });
    expect((await shell('nso2', 'cp /tmp/other-load-path.conf /etc/ncs/ncs.conf')).code).toBe(0);
    const run = await upgrade(lab, 'packageFile=/tmp/packages/ncs-6.1-cisco-ios-cli-6.100-6.100.3.tar.gz');
    expect(run.exitCode).toBe(1);
    expect(run.steps.nso1!.find((r) => r.id === 'sync-and-reload')).toMatchObject({ status: 'failed' });
    expect(run.states).toEqual({ nso1: 'rolled-back', nso2: 'rolled-back' });
    for (const node of ['nso1', 'nso2']) expect(nodeState(node).packages.inUse).toContain('cisco-ios-cli-6.100@6.100.2 (built for 6.1)');
    expect(nodeState('nso1').ha).toMatchObject({ mode: 'primary', readOnly: false });
    expect(nodeState('nso2').ha).toMatchObject({ mode: 'secondary', connectedTo: 'nso1' });
  });
});

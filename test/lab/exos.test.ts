import type { Client } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { startLab, type Lab, type LabOptions } from '../../lab/index.js';
import { connect, connectError, exec, openShell, run, until, type SshTarget } from '../helpers/ssh-client.js';

const TIMINGS = { rebootDelayMs: 150, syncDelayMs: 150, failoverDelayMs: 300, prepareMs: 100, commitMs: 100 };

/** The fields of `show switch` a runbook captures. */
function parseShowSwitch(text: string): Record<string, string> {
  const field = (label: string): string => new RegExp(`^${label}:\\s+(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  const columns = (label: string): [string, string] => {
    const value = new RegExp(`^${label}:\\s+(.*)$`, 'm').exec(text)?.[1] ?? '';
    return [value.slice(0, 27).trim(), value.slice(27).trim()];
  };
  const [stateA, stateB] = columns('Current State');
  const [selectedA, selectedB] = columns('Image Selected');
  const [bootedA, bootedB] = columns('Image Booted');
  const [primaryA, primaryB] = columns('Primary ver');
  const [secondaryA, secondaryB] = columns('Secondary ver');
  return {
    sysName: field('SysName'),
    primaryMsm: field('Primary MSM'),
    backupMsm: field('Backup MSM'),
    stateA,
    stateB,
    selectedA,
    selectedB,
    bootedA,
    bootedB,
    primaryA,
    primaryB,
    secondaryA,
    secondaryB,
  };
}

describe('the ExtremeXOS chassis', () => {
  let lab: Lab | undefined;
  const clients: Client[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.end();
    await lab?.stop();
    lab = undefined;
  });
  const start = async (options: LabOptions = {}): Promise<SshTarget> => {
    lab = await startLab({ addressPrefix: '127.0.15', timings: TIMINGS, topology: { spines: 0, leaves: 0, storageNodes: 0, nso: false }, ...options });
    return { host: lab.device('bd01').address, port: lab.device('bd01').port };
  };
  const open = async (target: SshTarget): Promise<Client> => {
    const client = await connect(target);
    clients.push(client);
    return client;
  };
  const showSwitch = async (target: SshTarget): Promise<Record<string, string>> => parseShowSwitch((await run(target, 'show switch')).stdout);

  it('shows both supervisors: which is primary, partitions, versions and sync state', async () => {
    const target = await start();
    const result = await run(target, 'show switch');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Slot:             MSM-A *                    MSM-B\n');
    expect(result.stdout).toContain('Current State:    MASTER                     BACKUP (In Sync)\n');
    expect(parseShowSwitch(result.stdout)).toEqual({
      sysName: 'bd01',
      primaryMsm: 'MSM-A',
      backupMsm: 'MSM-B',
      stateA: 'MASTER',
      stateB: 'BACKUP (In Sync)',
      selectedA: 'primary',
      selectedB: 'primary',
      bootedA: 'primary',
      bootedB: 'primary',
      primaryA: '31.7.1.4',
      primaryB: '31.7.1.4',
      secondaryA: '31.6.1.3',
      secondaryB: '31.6.1.3',
    });
    expect((await run(target, 'show version')).stdout).toContain('Image   : ExtremeXOS version 31.7.1.4 by release-manager');
  });

  it('hitless upgrade of the backup: install to its inactive partition, reboot it through a PTY shell, wait for In Sync', async () => {
    // Long enough phases that polling sees each of them.
    const target = await start({ timings: { ...TIMINGS, rebootDelayMs: 400, syncDelayMs: 400 } });
    const shell = await openShell(await open(target), /bd01\.\d+ # $/);
    expect(await shell.run('disable clipaging')).toMatch(/bd01\.2 # $/);
    const download = await shell.run('download image 10.0.0.5 bdX-31.7.2.3.xos vr VR-Default inactive msm B');
    expect(download).toContain('Installing to secondary partition!');
    expect(download).toContain('Image installed successfully');
    expect(await shell.run('use image secondary msm B')).toMatch(/bd01\.4 # $/);
    expect(await showSwitch(target)).toMatchObject({ secondaryB: '31.7.2.3', selectedB: 'secondary', bootedB: 'primary', secondaryA: '31.6.1.3' });
    const reboot = await shell.run('reboot msm B', [{ prompt: /Are you sure you want to reboot\? \(y\/n\) $/, send: 'y' }]);
    expect(reboot).toContain('Are you sure you want to reboot? (y/n) y\r\n');
    // The management session survives: only the backup reboots.
    const states = new Set<string>();
    await until(async () => {
      const state = (await showSwitch(target)).stateB as string;
      states.add(state);
      return state === 'BACKUP (In Sync)';
    }, 10_000, 10);
    expect([...states]).toEqual(['INIT', 'BACKUP (Not In Sync)', 'BACKUP (In Sync)']);
    expect(await showSwitch(target)).toMatchObject({ bootedB: 'secondary', primaryMsm: 'MSM-A' });
    expect(await shell.run('show switch')).toContain('BACKUP (In Sync)');
  });

  it('on exec, reads the (y/n) answer from stdin; anything but y cancels', async () => {
    const target = await start();
    const client = await open(target);
    const declined = await exec(client, 'reboot msm B', { stdin: 'n\n' });
    expect(declined).toEqual({ stdout: 'Are you sure you want to reboot? (y/n) ', stderr: '', code: 1 });
    expect(lab?.state('bd01').backupState).toBe('BACKUP (In Sync)');
    const accepted = await exec(client, 'reboot msm B', { stdin: 'y\n' });
    expect(accepted).toEqual({ stdout: 'Are you sure you want to reboot? (y/n) ', stderr: '', code: 0 });
    expect((await showSwitch(target)).stateB).toBe('INIT');
    // Without an answer the prompt waits, like the real CLI: the engine must answer or time out.
    const waiting = exec(client, 'reboot msm A', { stdin: '', endStdin: false });
    const raced = await Promise.race([waiting.then(() => 'answered'), new Promise((resolve) => setTimeout(() => resolve('waiting'), 200))]);
    expect(raced).toBe('waiting');
  });

  it('warns before failing over to a supervisor on another version, then fails over and drops the session', async () => {
    const target = await start({ timings: { ...TIMINGS, failoverDelayMs: 1000 } });
    const client = await open(target);
    await exec(client, 'download image 10.0.0.5 bdX-31.7.2.3.xos vr VR-Default inactive msm B');
    await exec(client, 'use image secondary msm B');
    await exec(client, 'reboot msm B', { stdin: 'y\n' });
    const notReady = await exec(client, 'run msm-failover', { stdin: 'y\n' });
    expect(notReady.code).toBe(1);
    expect(notReady.stderr).toMatch(/^ERROR: Backup MSM-B is not ready \((INIT|BACKUP \(Not In Sync\))\); failover is not possible\n$/);
    await until(async () => (await showSwitch(target)).stateB === 'BACKUP (In Sync)');

    const shell = await openShell(await open(target), /bd01\.\d+ # $/);
    shell.send('run msm-failover\r');
    const warned = await shell.waitFor(/\(y\/n\) $/);
    expect(warned).toContain(
      'WARNING: The backup MSM is running a different software version (MSM-B: 31.7.2.3, MSM-A: 31.7.1.4); I/O modules may be reset and traffic interrupted.\r\n',
    );
    expect(warned).toMatch(/Are you sure you want to failover\? \(y\/n\) $/);
    shell.send('y\r');
    // The management address moves to the new master: the session drops without an exit status.
    expect(await shell.closed).toBeNull();
    expect((await connectError(target))?.code).toBe('ECONNREFUSED');
    const after = await until(async () => parseShowSwitch((await run(target, 'show switch')).stdout));
    expect(after).toMatchObject({ primaryMsm: 'MSM-B', backupMsm: 'MSM-A' });
    expect(after.stateB).toBe('MASTER');
    expect((await run(target, 'show version')).stdout).toContain('ExtremeXOS version 31.7.2.3');
    await until(async () => (await showSwitch(target)).stateA === 'BACKUP (In Sync)');
  });

  it('fails over without a warning when both run the same version', async () => {
    const target = await start();
    const result = await run(target, 'run msm-failover', { stdin: 'y\n' });
    expect(result).toEqual({ stdout: 'Are you sure you want to failover? (y/n) ', stderr: '', code: 0 });
    const after = await until(async () => parseShowSwitch((await run(target, 'show switch')).stdout));
    expect(after.primaryMsm).toBe('MSM-B');
  });

  it('refuses to install onto the partition a supervisor booted from, or an image the server lacks', async () => {
    const target = await start({ faults: { bd01: [{ kind: 'installFails', times: 1 }] } });
    const client = await open(target);
    expect((await exec(client, 'download image 10.0.0.5 bdX-31.7.2.3.xos vr VR-Default primary msm B')).stderr).toBe(
      'Error: cannot install to the active partition (primary) of MSM-B\n',
    );
    expect((await exec(client, 'download image 10.0.0.5 bdX-99.1.1.1.xos vr VR-Default inactive msm B')).stderr).toBe(
      'Error: failed to download bdX-99.1.1.1.xos from 10.0.0.5: tftp: file not found\n',
    );
    const failed = await exec(client, 'download image 10.0.0.5 bdX-31.7.2.3.xos vr "VR-Default" inactive msm B');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('image integrity check failed');
    expect(lab?.state('bd01')).toMatchObject({ msms: { B: { partitions: { secondary: '31.6.1.3' } } } });
    expect((await exec(client, 'download image 10.0.0.5 bdX-31.7.2.3.xos vr "VR-Default" inactive msm B')).code).toBe(0);
  });

  it('neverSyncs: the rebooted backup stays Not In Sync until the fault is cleared', async () => {
    const target = await start({ faults: { bd01: [{ kind: 'neverSyncs' }] } });
    await run(target, 'reboot msm B', { stdin: 'y\n' });
    await until(async () => (await showSwitch(target)).stateB === 'BACKUP (Not In Sync)');
    await new Promise((resolve) => setTimeout(resolve, TIMINGS.syncDelayMs * 4));
    expect((await showSwitch(target)).stateB).toBe('BACKUP (Not In Sync)');
    expect(lab?.state('bd01').inSync).toBe(false);
    await lab?.clearFaults('bd01');
    expect((await showSwitch(target)).stateB).toBe('BACKUP (In Sync)');
  });

  it('neverReturns: a rebooted backup supervisor stays in INIT', async () => {
    const target = await start({ faults: { bd01: [{ kind: 'neverReturns' }] } });
    await run(target, 'reboot msm B', { stdin: 'y\n' });
    await new Promise((resolve) => setTimeout(resolve, TIMINGS.rebootDelayMs * 4));
    expect((await showSwitch(target)).stateB).toBe('INIT');
    await lab?.clearFaults('bd01');
    await until(async () => (await showSwitch(target)).stateB === 'BACKUP (In Sync)');
  });

  it('numbers its prompt per command, as ExtremeXOS does', async () => {
    const target = await start();
    const shell = await openShell(await open(target), /bd01\.\d+ # $/);
    for (let index = 0; index < 12; index++) await shell.run('show version');
    expect(shell.output.endsWith('bd01.13 # ')).toBe(true);
    shell.send('logout\r');
    expect(await shell.closed).toBe(0);
  });
});

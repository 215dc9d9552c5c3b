import type { Client } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { startLab, type Lab, type LabOptions } from '../../lab/index.js';
import {
  EXOS_PROMPTS,
  FAILOVER_PROMPT,
  INSTALL_QUESTION,
  IO_MODULE_WARNING,
  REBOOT_PROMPT,
  SERVICE_CONTRACT_EXPIRED,
  type ChassisEvent,
} from '../../lab/devices/exos.js';
import { connect, connectError, exec, openShell, run, until, type SshTarget } from '../helpers/ssh-client.js';

// The chassis against the ExtremeXOS hitless upgrade procedure (shared/seeds/003_7bb3eb06bb0e8130.txt,
// "Detailed Steps"): what the document says the switch prints and does.

const TIMINGS = { rebootDelayMs: 150, syncDelayMs: 150, failoverDelayMs: 300, prepareMs: 100, commitMs: 100 };
const CORE = 'bdX-31.7.2.3.xos';
const crlf = (text: string) => text.replace(/\n/g, '\r\n');

/** The fields of `show switch` the document names, per MSM column. */
function parseShowSwitch(text: string): Record<string, string> {
  // Labels take 18 columns, MSM-A's column 27.
  const columns = (label: string): [string, string] => {
    const line = text.split('\n').find((l) => l.startsWith(`${label}:`)) ?? '';
    return [line.slice(18, 45).trim(), line.slice(45).trim()];
  };
  const [slotA, slotB] = columns('Slot');
  const [stateA, stateB] = columns('Current State');
  const [selectedA, selectedB] = columns('Image Selected');
  const [bootedA, bootedB] = columns('Image Booted');
  const [primaryA, primaryB] = columns('Primary ver');
  const [secondaryA, secondaryB] = columns('Secondary ver');
  return { slotA, slotB, stateA, stateB, selectedA, selectedB, bootedA, bootedB, primaryA, primaryB, secondaryA, secondaryB };
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
  const events = (): ChassisEvent[] => lab?.state('bd01').events as ChassisEvent[];
  const kinds = (): string[] => events().map((event) => event.kind);
  /** Download and install CORE on the inactive partition of MSM `slot`, reboot it, and wait until it is In Sync again. */
  const upgrade = async (target: SshTarget, slot: 'A' | 'B') => {
    const client = await open(target);
    expect((await exec(client, `download image inactive 10.0.0.5 ${CORE} vr VR-Default msm ${slot}`, { stdin: 'y\n' })).code).toBe(0);
    expect((await exec(client, `reboot msm ${slot}`, { stdin: 'y\n' })).code).toBe(0);
    await until(async () => (await showSwitch(target))[`state${slot}`] === 'BACKUP (In Sync)');
  };

  it('show switch: per MSM the selected and booted partition, the image in each, MASTER or BACKUP and In Sync', async () => {
    const target = await start();
    const result = await run(target, 'show switch');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Slot:             MSM-A *                    MSM-B\n');
    expect(result.stdout).toContain('Current State:    MASTER                     BACKUP (In Sync)\n');
    expect(result.stdout).not.toMatch(/Primary MSM|Backup MSM/);
    expect(parseShowSwitch(result.stdout)).toEqual({
      slotA: 'MSM-A *',
      slotB: 'MSM-B',
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

  it('download image inactive HOST FILE vr VR msm B: asks whether to install, installs into the backup inactive partition and selects it', async () => {
    const target = await start();
    const shell = await openShell(await open(target), /bd01\.\d+ # $/);
    expect(await shell.run('disable clipaging')).toMatch(/bd01\.2 # $/);
    const download = await shell.run(`download image inactive 10.0.0.5 ${CORE} vr "VR-Default" msm B`, [{ prompt: /\(y - yes, n - no, <cr> - cancel\) $/, send: 'y' }]);
    expect(download).toContain(`${crlf(INSTALL_QUESTION)}y\r\nDownloading to MSM-B`);
    expect(download).toContain('Installing to secondary partition!');
    expect(download).toContain('Image installed successfully');
    expect(download).toContain('This image will be used only after rebooting the switch!');
    expect(await showSwitch(target)).toMatchObject({ secondaryB: '31.7.2.3', selectedB: 'secondary', bootedB: 'primary', secondaryA: '31.6.1.3', selectedA: 'primary' });
    expect(kinds()).toEqual(['downloaded', 'installed']);
    // The `vr` keyword is optional, a block size may follow, the partition may be named: the document's grammar.
    const client = await open(target);
    for (const line of [`download image inactive 10.0.0.5 ${CORE} VR-Default block-size 1024 msm A`, `download image INACTIVE 10.0.0.5 ${CORE} secondary msm A`]) {
      expect((await exec(client, line, { stdin: 'y\n' })).code).toBe(0);
    }
    expect(await showSwitch(target)).toMatchObject({ secondaryA: '31.7.2.3', selectedA: 'secondary' });
  });

  it('refuses the older grammar, a core image for the active partition and a memory card, before asking anything', async () => {
    const target = await start();
    const client = await open(target);
    const refused = [
      [`download image 10.0.0.5 ${CORE} vr VR-Default inactive msm B`, 'Error: usage: download image active|inactive HOST FILE'],
      [`download image inactive 10.0.0.5 ${CORE} msm C`, 'Error: usage:'],
      [`download image inactive 10.0.0.5 ${CORE} block-size big`, 'Error: usage:'],
      [`download image active 10.0.0.5 ${CORE} msm B`, 'Error: Image can only be installed to the non-active partition.\n'],
      [`download image inactive 10.0.0.5 ${CORE} primary msm B`, 'Error: Image can only be installed to the non-active partition.\n'],
      [`download image inactive memorycard ${CORE} msm B`, 'Error: no memory card is inserted\n'],
      ['download image inactive 10.0.0.5 notes.txt msm B', 'Error: notes.txt is neither an ExtremeXOS image (.xos) nor a modular package (.xmod)\n'],
    ] as const;
    for (const [line, error] of refused) {
      const result = await exec(client, line, { stdin: 'y\n' });
      expect(result, line).toMatchObject({ stdout: '', code: 1 });
      expect(result.stderr, line).toContain(error);
    }
    expect(events()).toEqual([]);
  });

  it('an expired service contract refuses the download with the document words, before the install question', async () => {
    const target = await start({ faults: { bd01: [{ kind: 'serviceContractExpired' }] } });
    const result = await run(target, `download image inactive 10.0.0.5 ${CORE} vr VR-Default msm B`, { stdin: 'y\n' });
    expect(result).toEqual({ stdout: '', stderr: `${SERVICE_CONTRACT_EXPIRED}\n`, code: 1 });
    expect(events()).toEqual([]);
    await lab?.clearFaults('bd01');
    expect((await run(target, `download image inactive 10.0.0.5 ${CORE} vr VR-Default msm B`, { stdin: 'y\n' })).code).toBe(0);
  });

  it('answered no, the download waits for install image; answered with an empty line, it is cancelled', async () => {
    const target = await start();
    const client = await open(target);
    const cancelled = await exec(client, `download image inactive 10.0.0.5 ${CORE} msm B`, { stdin: '\n' });
    expect(cancelled).toEqual({ stdout: `${INSTALL_QUESTION}Download cancelled.\n`, stderr: '', code: 1 });
    expect(events()).toEqual([]);
    expect((await exec(client, `install image ${CORE} msm B`)).stderr).toBe(`Error: ${CORE} has not been downloaded to MSM-B; download it first\n`);

    const later = await exec(client, `download image inactive 10.0.0.5 ${CORE} vr VR-Default msm B`, { stdin: 'n\n' });
    expect(later).toMatchObject({ code: 0 });
    expect(later.stdout).not.toContain('Installing');
    expect(await showSwitch(target)).toMatchObject({ secondaryB: '31.6.1.3', selectedB: 'primary' });
    const installed = await exec(client, `install image ${CORE} msm B`);
    expect(installed.code).toBe(0);
    expect(installed.stdout).toContain('Installing to secondary partition!');
    expect(await showSwitch(target)).toMatchObject({ secondaryB: '31.7.2.3', selectedB: 'secondary', secondaryA: '31.6.1.3' });
    expect(kinds()).toEqual(['downloaded', 'installed']);
  });

  it('a modular package installs only over the core image of its own version, core image first', async () => {
    const target = await start();
    const client = await open(target);
    const xmod = 'download image inactive 10.0.0.5 bdX-31.7.2.3-ssh.xmod vr VR-Default msm B';
    const early = await exec(client, xmod, { stdin: 'y\n' });
    expect(early.code).toBe(1);
    expect(early.stderr).toBe(
      'Error: bdX-31.7.2.3-ssh.xmod is for ExtremeXOS 31.7.2.3, but the secondary partition of MSM-B holds 31.6.1.3; a modular package must match its core image\n',
    );
    await exec(client, `download image inactive 10.0.0.5 ${CORE} vr VR-Default msm B`, { stdin: 'y\n' });
    const older = await exec(client, 'download image inactive 10.0.0.5 bdX-31.7.1.4-ssh.xmod vr VR-Default msm B', { stdin: 'y\n' });
    expect(older.stderr).toContain('bdX-31.7.1.4-ssh.xmod is for ExtremeXOS 31.7.1.4, but the secondary partition of MSM-B holds 31.7.2.3');
    expect(lab?.state('bd01')).toMatchObject({ msms: { B: { packages: { secondary: [] } } } });
    const matched = await exec(client, xmod, { stdin: 'y\n' });
    expect(matched.code).toBe(0);
    expect(matched.stdout).not.toContain('rebooting');
    expect(lab?.state('bd01')).toMatchObject({ msms: { B: { packages: { secondary: ['ssh'] }, selected: 'secondary' } } });
    // A package may go to the partition the MSM runs, over its own release.
    expect((await exec(client, 'download image active 10.0.0.5 bdX-31.7.1.4-ssh.xmod msm A', { stdin: 'y\n' })).code).toBe(0);
    expect(lab?.state('bd01')).toMatchObject({ msms: { A: { packages: { primary: ['ssh'] } } } });
  });

  it('reboot msm B reboots the backup only, through a PTY shell: INIT, Not In Sync, In Sync on its new image', async () => {
    // Long enough phases that polling sees each of them.
    const target = await start({ timings: { ...TIMINGS, rebootDelayMs: 400, syncDelayMs: 400 } });
    await exec(await open(target), `download image inactive 10.0.0.5 ${CORE} vr VR-Default msm B`, { stdin: 'y\n' });
    const shell = await openShell(await open(target), /bd01\.\d+ # $/);
    const reboot = await shell.run('reboot msm B', [{ prompt: /Are you sure you want to reboot\? \(y\/n\) $/, send: 'y' }]);
    expect(reboot).toContain(`${REBOOT_PROMPT}y\r\n`);
    // The management session survives: only the backup reboots.
    const states = new Set<string>();
    await until(async () => {
      const state = (await showSwitch(target)).stateB as string;
      states.add(state);
      return state === 'BACKUP (In Sync)';
    }, 10_000, 10);
    expect([...states]).toEqual(['INIT', 'BACKUP (Not In Sync)', 'BACKUP (In Sync)']);
    expect(await showSwitch(target)).toMatchObject({ bootedB: 'secondary', slotA: 'MSM-A *', stateA: 'MASTER' });
    expect(lab?.state('bd01')).toMatchObject({ running: { A: '31.7.1.4', B: '31.7.2.3' } });
    expect(kinds()).toEqual(['downloaded', 'installed', 'msm-reboot']);
  });

  it('on exec, reads the (y/n) answer from stdin; anything but y cancels, and without an answer it waits', async () => {
    const target = await start();
    const client = await open(target);
    const declined = await exec(client, 'reboot msm B', { stdin: 'n\n' });
    expect(declined).toEqual({ stdout: REBOOT_PROMPT, stderr: '', code: 1 });
    expect(lab?.state('bd01').backupState).toBe('BACKUP (In Sync)');
    const accepted = await exec(client, 'reboot msm B', { stdin: 'y\n' });
    expect(accepted).toEqual({ stdout: REBOOT_PROMPT, stderr: '', code: 0 });
    expect((await showSwitch(target)).stateB).toBe('INIT');
    const waiting = exec(client, 'reboot msm A', { stdin: '', endStdin: false });
    const raced = await Promise.race([waiting.then(() => 'answered'), new Promise((resolve) => setTimeout(() => resolve('waiting'), 200))]);
    expect(raced).toBe('waiting');
  });

  it('fails over hitlessly, with no warning, when the new release carries the I/O module image the modules run', async () => {
    const target = await start({ timings: { ...TIMINGS, failoverDelayMs: 1000 } });
    await upgrade(target, 'B');
    const result = await run(target, 'run msm-failover', { stdin: 'y\n' });
    expect(result).toEqual({ stdout: FAILOVER_PROMPT, stderr: '', code: 0 });
    const after = await until(async () => parseShowSwitch((await run(target, 'show switch')).stdout));
    expect(after).toMatchObject({ slotB: 'MSM-B *', stateB: 'MASTER' });
    expect((await run(target, 'show version')).stdout).toContain('ExtremeXOS version 31.7.2.3');
    expect(events().filter((e) => e.kind === 'failover')).toMatchObject([{ from: 'A', to: 'B', hitless: true }]);
    expect(kinds()).not.toContain('io-modules-reset');
    expect(lab?.state('bd01').ioModules).toEqual({ image: '31.7', phase: 'running' });
    // The old master reboots and comes back as the backup.
    await until(async () => (await showSwitch(target)).stateA === 'BACKUP (In Sync)');
  });

  it('warns that all I/O modules will be reset, in the document words, when the new image supports hitless upgrade but not their image', async () => {
    const target = await start({ exos: { ioModuleImages: { '31.7.2.3': '31.7.2' } }, timings: { ...TIMINGS, failoverDelayMs: 1000 } });
    const notReady = await run(target, `download image inactive 10.0.0.5 ${CORE} vr VR-Default msm B`, { stdin: 'y\n' });
    expect(notReady.code).toBe(0);
    await run(target, 'reboot msm B', { stdin: 'y\n' });
    const early = await run(target, 'run msm-failover', { stdin: 'y\n' });
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/^ERROR: Backup MSM-B is not ready \((INIT|BACKUP \(Not In Sync\))\); failover is not possible\n$/);
    await until(async () => (await showSwitch(target)).stateB === 'BACKUP (In Sync)');

    const shell = await openShell(await open(target), /bd01\.\d+ # $/);
    const declined = await shell.run('run msm-failover', [{ prompt: /\(y\/n\) $/, send: 'n' }]);
    expect(declined).toContain(crlf(`${IO_MODULE_WARNING}${FAILOVER_PROMPT}n\n`));
    expect(lab?.state('bd01')).toMatchObject({ master: 'MSM-A', ioModules: { image: '31.7', phase: 'running' } });
    expect(kinds()).not.toContain('failover');
    expect(kinds()).not.toContain('io-modules-reset');

    shell.send('run msm-failover\r');
    expect(await shell.waitFor(/\(y\/n\) $/)).toContain(crlf(`${IO_MODULE_WARNING}${FAILOVER_PROMPT}`));
    shell.send('y\r');
    // The management address moves to the new master: the session drops without an exit status.
    expect(await shell.closed).toBeNull();
    expect((await connectError(target))?.code).toBe('ECONNREFUSED');
    // The new primary pushes its I/O module image to the modules, which reboot.
    expect(events().filter((e) => e.kind === 'failover' || e.kind === 'io-modules-reset')).toMatchObject([
      { kind: 'failover', from: 'A', to: 'B', hitless: false },
      { kind: 'io-modules-reset', from: '31.7', to: '31.7.2' },
    ]);
    await until(async () => (lab?.state('bd01').ioModules as { phase: string }).phase === 'running');
    expect(lab?.state('bd01').ioModules).toEqual({ image: '31.7.2', phase: 'running' });
  });

  it('shows no warning when the new image does not support hitless upgrade, nor when both MSMs run one release', async () => {
    const target = await start({ exos: { ioModuleImages: { '31.7.2.3': '31.7.2' }, withoutHitless: ['31.7.2.3'] } });
    const same = await run(target, 'run msm-failover', { stdin: 'n\n' });
    expect(same).toEqual({ stdout: FAILOVER_PROMPT, stderr: '', code: 1 });
    await upgrade(target, 'B');
    const other = await run(target, 'run msm-failover', { stdin: 'n\n' });
    expect(other).toEqual({ stdout: FAILOVER_PROMPT, stderr: '', code: 1 });
  });

  it('run msm-failover force lets a backup that is not In Sync take over; the I/O modules are reset then', async () => {
    const target = await start({ faults: { bd01: [{ kind: 'neverSyncs' }] }, timings: { ...TIMINGS, failoverDelayMs: 400 } });
    await run(target, 'reboot msm B', { stdin: 'y\n' });
    await until(async () => (await showSwitch(target)).stateB === 'BACKUP (Not In Sync)');
    expect((await run(target, 'run msm-failover', { stdin: 'y\n' })).code).toBe(1);
    expect((await run(target, 'run msm-failover now', { stdin: 'y\n' })).stderr).toBe('Error: run msm-failover {force}\n');
    expect((await run(target, 'run msm-failover force', { stdin: 'y\n' })).code).toBe(0);
    expect(events().filter((e) => e.kind === 'failover' || e.kind === 'io-modules-reset')).toMatchObject([
      { kind: 'failover', hitless: false },
      { kind: 'io-modules-reset', from: '31.7', to: '31.7' },
    ]);
  });

  it('refuses an image the server lacks; an install fault installs nothing', async () => {
    const target = await start({ faults: { bd01: [{ kind: 'installFails', times: 1 }] } });
    const client = await open(target);
    expect((await exec(client, 'download image inactive 10.0.0.5 bdX-99.1.1.1.xos vr VR-Default msm B', { stdin: 'y\n' })).stderr).toBe(
      'Error: failed to download bdX-99.1.1.1.xos from 10.0.0.5: tftp: file not found\n',
    );
    const failed = await exec(client, `download image inactive 10.0.0.5 ${CORE} vr VR-Default msm B`, { stdin: 'y\n' });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('image integrity check failed');
    expect(lab?.state('bd01')).toMatchObject({ msms: { B: { partitions: { secondary: '31.6.1.3' }, selected: 'primary' } } });
    expect(kinds()).toEqual(['downloaded']);
    expect((await exec(client, `download image inactive 10.0.0.5 ${CORE} vr VR-Default msm B`, { stdin: 'y\n' })).code).toBe(0);
  });

  it('declares every question it asks, as it prints them', () => {
    expect(EXOS_PROMPTS.map((p) => p.id)).toEqual(['reboot', 'failover', 'I/O module warning', 'install after download']);
    expect(EXOS_PROMPTS.every((p) => !p.text.includes('\r'))).toBe(true);
    expect(EXOS_PROMPTS.find((p) => p.id === 'I/O module warning')?.command.test('run msm-failover')).toBe(true);
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

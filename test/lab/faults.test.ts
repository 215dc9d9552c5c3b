import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Fault, type Lab } from '../../lab/index.js';
import { connect, connectError, exec, openShell, run, until, type SshTarget } from '../helpers/ssh-client.js';
import { generateEd25519KeyPair } from '../helpers/ssh-keys.js';

describe('injected faults', () => {
  let lab: Lab;
  const key = generateEd25519KeyPair();
  const target = (name: string, extra: Partial<SshTarget> = {}): SshTarget => ({ host: lab.device(name).address, port: lab.device(name).port, ...extra });

  beforeAll(async () => {
    lab = await startLab({
      addressPrefix: '127.0.16',
      authorizedKeys: [key.public],
      topology: { spines: 1, leaves: 2, storageNodes: 1, nso: false, chassis: false },
      timings: { rebootDelayMs: 100 },
      faults: { qumulo1: [{ kind: 'unreachable' }], leaf02: [{ kind: 'wrongPassword' }] },
    });
  });
  afterAll(() => lab?.stop());

  it('unreachable: the port is closed, from the options or at run time, until cleared', async () => {
    expect((await connectError(target('qumulo1')))?.code).toBe('ECONNREFUSED');
    await lab.clearFaults('qumulo1');
    expect((await run(target('qumulo1'), 'hostname')).stdout).toBe('qumulo1\n');

    const client = await connect(target('spine01'));
    const closed = new Promise((resolve) => client.on('close', () => resolve(undefined)));
    await lab.injectFault('spine01', { kind: 'unreachable' });
    await closed;
    expect((await connectError(target('spine01')))?.code).toBe('ECONNREFUSED');
    expect(lab.state('spine01')).toMatchObject({ up: true, listening: false });
    await lab.clearFaults('spine01');
    expect((await run(target('spine01'), 'hostname')).code).toBe(0);
  });

  it('wrongPassword: every authentication is rejected, password and key alike', async () => {
    expect((await connectError(target('leaf02')))?.level).toBe('client-authentication');
    expect((await connectError(target('leaf02', { privateKey: key.private })))?.level).toBe('client-authentication');
    expect(await connectError(target('leaf01', { privateKey: key.private }))).toBeUndefined();
  });

  it('hang: a matching command never answers; the log shows it abandoned when the client leaves', async () => {
    await lab.injectFault('leaf01', { kind: 'hang', command: /^net show bgp/ });
    const client = await connect(target('leaf01'));
    expect((await exec(client, 'hostname')).stdout).toBe('leaf01\n');
    const hung = exec(client, 'net show bgp summary json');
    const winner = await Promise.race([hung.then(() => 'answered'), new Promise((resolve) => setTimeout(() => resolve('no answer'), 300))]);
    expect(winner).toBe('no answer');
    client.end();
    const entry = await until(() => lab.commandLog('leaf01').find((candidate) => candidate.command === 'net show bgp summary json'));
    expect(entry).toMatchObject({ code: null, outcome: 'abandoned', mode: 'exec' });

    // In a shell, ^C gives the prompt back.
    const shellClient = await connect(target('leaf01'));
    const shell = await openShell(shellClient, /leaf01# $/);
    shell.send('net show bgp summary json\r');
    await shell.waitFor(/json\r\n/);
    shell.send('\x03');
    expect(await shell.waitFor(/\^C\r\nleaf01# $/)).toContain('^C');
    expect(await shell.run('hostname')).toContain('leaf01\r\n');
    shellClient.end();
    await lab.clearFaults('leaf01');
  });

  it('slow: a matching command answers, after the delay', async () => {
    await lab.injectFault('leaf01', { kind: 'slow', command: 'lsb-release', delayMs: 300, times: 1 });
    const started = performance.now();
    const result = await run(target('leaf01'), 'cat /etc/lsb-release');
    expect(performance.now() - started).toBeGreaterThanOrEqual(300);
    expect(result.stdout).toContain('DISTRIB_RELEASE=4.3.0');
    expect(lab.state('leaf01').faults).toEqual([]);
  });

  it('dropConnection: the command runs, half its output arrives, then the connection is cut without an exit status', async () => {
    await lab.injectFault('leaf01', { kind: 'dropConnection', command: 'onie-install', times: 1 });
    const client = await connect(target('leaf01'));
    const closed = new Promise((resolve) => client.on('close', () => resolve(undefined)));
    const result = await exec(client, 'onie-install -a -i http://192.168.200.1/images/cumulus-linux-4.4.0-bcm-amd64.bin');
    await closed;
    expect(result.code).toBeNull();
    expect(result.stdout.length).toBeGreaterThan(0);
    expect(result.stdout).not.toContain('will be installed on the next reboot');
    // The device did the work: only the answer was lost.
    expect(lab.state('leaf01').pendingVersion).toBe('4.4.0');
    expect(lab.commandLog('leaf01').at(-1)).toMatchObject({ command: 'onie-install -a -i http://192.168.200.1/images/cumulus-linux-4.4.0-bcm-amd64.bin', code: 0, outcome: 'dropped' });
    expect((await run(target('leaf01'), 'hostname')).code).toBe(0);
  });

  it('rejects faults it could not apply', async () => {
    await expect(lab.injectFault('nope', { kind: 'unreachable' })).rejects.toThrow(/unknown lab device "nope"/);
    await expect(lab.injectFault('leaf01', { kind: 'teleport' } as unknown as Fault)).rejects.toThrow(/unknown fault kind "teleport"/);
    await expect(lab.injectFault('leaf01', { kind: 'hang' } as unknown as Fault)).rejects.toThrow(/needs a command pattern/);
    await expect(startLab({ faults: { ghost: [{ kind: 'unreachable' }] } })).rejects.toThrow(/unknown lab device "ghost"/);
  });
});

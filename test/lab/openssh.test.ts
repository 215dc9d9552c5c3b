import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../lab/index.js';
import { until } from '../helpers/ssh-client.js';

const SSH = '/usr/bin/ssh';
const haveSsh = existsSync(SSH) && existsSync('/usr/bin/ssh-keygen');

interface SshRun {
  stdout: string;
  stderr: string;
  code: number | null;
}

const title = haveSsh ? 'the OpenSSH client against the lab' : 'the OpenSSH client against the lab (skipped: no /usr/bin/ssh or ssh-keygen here)';

describe.skipIf(!haveSsh)(title, () => {
  let lab: Lab;
  let work: string;
  let keyFile: string;

  const sshArgs = (name: string, knownHosts: string[] = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null']): string[] => [
    '-p',
    String(lab.device(name).port),
    '-i',
    keyFile,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'BatchMode=no',
    '-o',
    'PasswordAuthentication=no',
    '-o',
    'ConnectTimeout=10',
    ...knownHosts,
    `lab@${lab.device(name).address}`,
  ];
  const ssh = (args: string[]): Promise<SshRun> =>
    new Promise((resolve) => {
      const child = spawn(SSH, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (data: Buffer) => (stdout += data.toString('utf8')));
      child.stderr.on('data', (data: Buffer) => (stderr += data.toString('utf8')));
      child.on('close', (code) => resolve({ stdout, stderr, code }));
    });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'lab-openssh-'));
    keyFile = join(work, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'lab-test', '-f', keyFile]);
    lab = await startLab({
      addressPrefix: '127.0.17',
      authorizedKeys: [readFileSync(`${keyFile}.pub`, 'utf8')],
      topology: { spines: 0, leaves: 0, storageNodes: 0 },
      commandLogFile: join(work, 'commands.jsonl'),
    });
  });
  afterAll(async () => {
    await lab?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('runs show switch on the chassis with a key', async () => {
    const result = await ssh([...sshArgs('bd01'), 'show switch']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Slot:             MSM-A *                    MSM-B\n');
    expect(result.stdout).toContain('BACKUP (In Sync)');
  });

  it('accepts the lab host key when it is pinned in known_hosts, and refuses another device’s', async () => {
    const device = lab.device('nso1');
    const knownHosts = join(work, 'known_hosts');
    writeFileSync(knownHosts, `[${device.address}]:${device.port} ${device.publicKey}\n`);
    const pinned = await ssh([...sshArgs('nso1', ['-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`]), 'ncs --version']);
    expect(pinned.code, pinned.stderr).toBe(0);
    expect(pinned.stdout).toBe('6.1.4\n');
    writeFileSync(knownHosts, `[${device.address}]:${device.port} ${lab.device('nso2').publicKey}\n`);
    const mismatch = await ssh([...sshArgs('nso1', ['-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`]), 'ncs --version']);
    expect(mismatch.code).toBe(255);
    expect(mismatch.stderr).toContain('REMOTE HOST IDENTIFICATION HAS CHANGED');
  });

  it('answers the chassis prompt through ssh -tt, as an operator would', async () => {
    const child = spawn(SSH, ['-tt', ...sshArgs('bd01'), 'reboot msm B'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (data: Buffer) => {
      output += data.toString('utf8');
      if (output.endsWith('(y/n) ')) child.stdin.write('y\r');
    });
    const code = await new Promise((resolve) => child.on('close', (status) => resolve(status)));
    expect(code).toBe(0);
    expect(output).toContain('Are you sure you want to reboot? (y/n) y');
    expect(lab.state('bd01').backupState).toBe('INIT');
  });

  it('logs a command once, as abandoned, when the client process is killed while it hangs', async () => {
    await lab.injectFault('nso2', { kind: 'hang', command: 'ncs-backup' });
    const child = spawn(SSH, ['-v', ...sshArgs('nso2'), 'ncs-backup'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let debug = '';
    child.stderr.on('data', (data: Buffer) => (debug += data.toString('utf8')));
    await until(() => debug.includes('Sending command: ncs-backup'));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('close', () => resolve(undefined)));
    const entries = await until(() => {
      const found = lab.commandLog('nso2').filter((entry) => entry.command === 'ncs-backup');
      return found.length > 0 ? found : undefined;
    });
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ code: null, outcome: 'abandoned', user: 'lab', mode: 'exec' });
    const fromFile = readFileSync(join(work, 'commands.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { host: string; command: string })
      .filter((entry) => entry.host === 'nso2' && entry.command === 'ncs-backup');
    expect(fromFile).toEqual(entries);
    await lab.clearFaults('nso2');
  });
});

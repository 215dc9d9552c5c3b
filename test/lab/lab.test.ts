import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { deriveHostKey, fingerprintOf, startLab, type Lab } from '../../lab/index.js';
import { connect, connectError, exec, openShell, run, until, type SshTarget } from '../helpers/ssh-client.js';
import { generateEd25519KeyPair } from '../helpers/ssh-keys.js';

const FAST = { rebootDelayMs: 150, syncDelayMs: 150, failoverDelayMs: 100, prepareMs: 100, commitMs: 100 };

describe('the lab', () => {
  let lab: Lab;
  let work: string;
  const clientKey = generateEd25519KeyPair();
  const target = (name: string, extra: Partial<SshTarget> = {}): SshTarget => ({
    host: lab.device(name).address,
    port: lab.device(name).port,
    ...extra,
  });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'lab-test-'));
    const started = performance.now();
    lab = await startLab({
      addressPrefix: '127.0.11',
      timings: FAST,
      authorizedKeys: [clientKey.public],
      commandLogFile: join(work, 'commands.jsonl'),
    });
    // Printed, not asserted: the number depends on the machine.
    console.log(`lab started ${lab.devices.length} devices in ${(performance.now() - started).toFixed(1)} ms`);
  });

  afterAll(async () => {
    await lab?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('runs the default topology, one loopback address per device', () => {
    expect(lab.devices.map((device) => [device.name, device.platform, device.role, device.address])).toEqual([
      ['spine01', 'cumulus', 'spine', '127.0.11.1'],
      ['spine02', 'cumulus', 'spine', '127.0.11.2'],
      ['leaf01', 'cumulus', 'leaf', '127.0.11.11'],
      ['leaf02', 'cumulus', 'leaf', '127.0.11.12'],
      ['leaf03', 'cumulus', 'leaf', '127.0.11.13'],
      ['leaf04', 'cumulus', 'leaf', '127.0.11.14'],
      ['qumulo1', 'qumulo', 'node', '127.0.11.61'],
      ['qumulo2', 'qumulo', 'node', '127.0.11.62'],
      ['qumulo3', 'qumulo', 'node', '127.0.11.63'],
      ['qumulo4', 'qumulo', 'node', '127.0.11.64'],
      ['nso0', 'nso', 'standalone', '127.0.11.80'],
      ['nso1', 'nso', 'primary', '127.0.11.81'],
      ['nso2', 'nso', 'secondary', '127.0.11.82'],
      ['bd01', 'exos', 'chassis', '127.0.11.91'],
    ]);
    expect(new Set(lab.devices.map((device) => device.hostKey)).size).toBe(lab.devices.length);
    expect(lab.device('leaf01').labels).toEqual({ site: 'lab', mlagPeer: 'leaf02' });
  });

  it('describes itself as a runbook inventory, in YAML with the schema comment first', () => {
    const inventory = lab.inventory();
    expect(inventory.apiVersion).toBe('runbook/v1');
    expect(inventory.kind).toBe('Inventory');
    expect(Object.keys(inventory.groups)).toEqual(['fabric', 'storage', 'ha', 'nso', 'chassis']);
    expect(inventory.hosts.leaf02).toEqual({
      address: '127.0.11.12',
      port: lab.device('leaf02').port,
      user: 'lab',
      role: 'leaf',
      groups: ['fabric'],
      labels: { site: 'lab', mlagPeer: 'leaf01' },
      platform: 'cumulus',
      hostKey: deriveHostKey('leaf02').fingerprint,
      auth: { passwordEnv: 'RUNBOOK_LAB_PASSWORD' },
    });
    expect(inventory.hosts.nso2?.role).toBe('secondary');
    expect(inventory.hosts.bd01?.groups).toEqual(['chassis']);
    const yaml = lab.inventoryYaml();
    expect(yaml.split('\n')[0]).toBe('# yaml-language-server: $schema=../schemas/inventory.schema.json');
    expect(YAML.parse(yaml)).toEqual(inventory);
    expect(lab.inventory({ auth: { keyFile: 'lab.key' } }).hosts.spine01?.auth).toEqual({ keyFile: 'lab.key' });
  });

  it('derives host keys from the device name, so fingerprints can be pinned', () => {
    const again = deriveHostKey('spine01');
    expect(again).toEqual(deriveHostKey('spine01'));
    expect(again.fingerprint).toBe(fingerprintOf(again.publicKey));
    expect(again.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(deriveHostKey('spine02').fingerprint).not.toBe(again.fingerprint);
  });

  it.runIf(existsSync('/usr/bin/ssh-keygen'))('computes fingerprints exactly as ssh-keygen -lf prints them', () => {
    const key = deriveHostKey('bd01');
    const pub = join(work, 'bd01.pub');
    writeFileSync(pub, `${key.publicKeyLine}\n`);
    const printed = execFileSync('ssh-keygen', ['-lf', pub], { encoding: 'utf8' });
    expect(printed.split(' ')[1]).toBe(key.fingerprint);
    const privateFile = join(work, 'bd01.key');
    writeFileSync(privateFile, key.privateKey, { mode: 0o600 });
    expect(execFileSync('ssh-keygen', ['-yf', privateFile], { encoding: 'utf8' }).trim()).toBe(key.publicKeyLine);
  });

  it('presents the host key whose fingerprint the inventory pins', async () => {
    const seen: string[] = [];
    const client = await connect(target('leaf03', { hostVerifier: (key) => (seen.push(fingerprintOf(key)), true) }));
    client.end();
    expect(seen).toEqual([lab.device('leaf03').hostKey]);
    expect(seen[0]).toBe(lab.inventory().hosts.leaf03?.hostKey);
  });

  it('accepts the password and the authorized public key, and nothing else', async () => {
    expect((await run(target('spine01'), 'hostname')).stdout).toBe('spine01\n');
    expect((await run(target('spine01', { privateKey: clientKey.private }), 'whoami')).stdout).toBe('lab\n');
    const wrong = await connectError(target('spine01', { password: 'nope' }));
    expect(wrong?.level).toBe('client-authentication');
    const otherKey = generateEd25519KeyPair();
    const unknownKey = await connectError(target('spine01', { privateKey: otherKey.private }));
    expect(unknownKey?.level).toBe('client-authentication');
    const otherUser = await connectError(target('spine01', { username: 'root' }));
    expect(otherUser?.level).toBe('client-authentication');
  });

  it('answers an unknown command with 127 and strips sudo', async () => {
    expect(await run(target('leaf01'), 'frobnicate --now')).toEqual({ stdout: '', stderr: 'frobnicate: command not found\n', code: 127 });
    expect(await run(target('bd01'), 'frobnicate')).toEqual({ stdout: '', stderr: 'frobnicate: command not found\n', code: 127 });
    expect((await run(target('leaf01'), 'sudo -n cat /etc/hostname')).stdout).toBe('leaf01\n');
  });

  it('understands quotes, &&, ||, ;, pipes and redirections', async () => {
    const client = await connect(target('nso1'));
    try {
      expect((await exec(client, `echo 'a  b' "c\\"d" && false || echo fallback; echo last`)).stdout).toBe('a  b c"d\nfallback\nlast\n');
      expect((await exec(client, 'test -f /nope && echo never')).code).toBe(1);
      expect((await exec(client, 'ls /opt/ncs | grep -c ncs-')).stdout).toBe('1\n');
      expect(await exec(client, 'cat /nope 2>&1')).toEqual({ stdout: 'cat: /nope: No such file or directory\n', stderr: '', code: 1 });
      expect(await exec(client, 'cat /nope 2>/dev/null')).toEqual({ stdout: '', stderr: '', code: 1 });
      expect((await exec(client, 'echo "unterminated')).code).toBe(2);
      expect((await exec(client, 'grep -h ncs-min-version /opt/ncs/packages/ncs-6.1-*')).stdout).toBe(
        '  <ncs-min-version>6.1</ncs-min-version>\n'.repeat(3),
      );
    } finally {
      client.end();
    }
  });

  it('serves an interactive shell on a PTY with a prompt, and exit closes it', async () => {
    const client = await connect(target('spine02'));
    try {
      const shell = await openShell(client, /spine02# $/);
      const output = await shell.run('cat /etc/hostname');
      expect(output).toContain('cat /etc/hostname\r\n');
      expect(output).toContain('spine02\r\n');
      expect(await shell.run('systemctl is-active frr clagd')).toContain('active\r\ninactive\r\n');
      shell.send('exit 3\r');
      expect(await shell.closed).toBe(3);
    } finally {
      client.end();
    }
  });

  it('logs every exec and shell command with its user and exit code, also as JSON lines', async () => {
    await run(target('leaf04'), 'cat /etc/lsb-release');
    await run(target('leaf04', { privateKey: clientKey.private }), 'no-such-thing');
    const client = await connect(target('leaf04'));
    const shell = await openShell(client, /leaf04# $/);
    await shell.run('hostname');
    client.end();
    const entries = lab.commandLog('leaf04');
    expect(entries.map(({ command, mode, code, outcome, user, host }) => ({ command, mode, code, outcome, user, host }))).toEqual([
      { command: 'cat /etc/lsb-release', mode: 'exec', code: 0, outcome: 'completed', user: 'lab', host: 'leaf04' },
      { command: 'no-such-thing', mode: 'exec', code: 127, outcome: 'completed', user: 'lab', host: 'leaf04' },
      { command: 'hostname', mode: 'shell', code: 0, outcome: 'completed', user: 'lab', host: 'leaf04' },
    ]);
    expect(Number.isNaN(Date.parse(entries[0]?.time ?? ''))).toBe(false);
    const lines = readFileSync(join(work, 'commands.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { host: string });
    expect(lines.filter((line) => line.host === 'leaf04')).toEqual(entries);
  });
});

describe('stopping the lab', () => {
  it('closes every server and connection and leaves no port bound', async () => {
    const lab = await startLab({ addressPrefix: '127.0.11', topology: { spines: 1, leaves: 2, storageNodes: 1 }, addresses: { spine01: '127.0.11.201' } });
    expect(lab.device('spine01').address).toBe('127.0.11.201');
    const client = await connect({ host: lab.device('bd01').address, port: lab.device('bd01').port });
    const closed = new Promise((resolve) => client.on('close', () => resolve(undefined)));
    await lab.stop();
    await closed;
    for (const device of lab.devices) {
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: device.address, port: device.port, exclusive: true }, resolve);
      });
      await new Promise((resolve) => server.close(resolve));
    }
    await lab.stop();
  });

  it('reports a port that is taken, and leaves nothing behind', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen({ host: '127.0.11.221', port: 0 }, resolve));
    const { port } = blocker.address() as net.AddressInfo;
    await expect(
      startLab({ port, addressPrefix: '127.0.11', topology: { spines: 1, leaves: 1, storageNodes: 0, nso: false, chassis: false }, addresses: { leaf01: '127.0.11.221' } }),
    ).rejects.toThrow(/leaf01 cannot listen on 127\.0\.11\.221/);
    await new Promise((resolve) => blocker.close(resolve));
    const lab = await startLab({ port, addressPrefix: '127.0.11', topology: { spines: 1, leaves: 1, storageNodes: 0, nso: false, chassis: false }, addresses: { spine01: '127.0.11.222', leaf01: '127.0.11.221' } });
    await until(async () => (await run({ host: '127.0.11.221', port }, 'hostname')).stdout === 'leaf01\n');
    await lab.stop();
  });
});

// A private OpenSSH sshd for the fan-out benchmark: test/helpers/sshd.ts tuned for many hosts at once.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { SSHD_PATH, findFreePort, fingerprintOfKeyFile, generateKey } from '../../test/helpers/sshd.js';

const START_TIMEOUT_MS = 10_000;

export interface BenchSshd {
  /** The listening sshd; per-connection processes are its children. */
  pid: number;
  /** Loopback addresses sshd listens on, all on the same port. */
  addresses: string[];
  port: number;
  user: string;
  dir: string;
  keyFile: string;
  hostKeyFingerprint: string;
  /** known_hosts with the host key under `[address]:port` for every address. */
  knownHostsFile: string;
  logFile: string;
  stop(): Promise<void>;
}

export interface BenchSshdOptions {
  /** How many of 127.0.0.1, 127.0.0.2, ... to listen on; each has its own kernel listen queue. */
  addresses?: number;
}

/**
 * sshd on loopback with the limits a fan-out needs (BENCHMARKING.md): MaxStartups high enough that no
 * handshake is dropped, and `SHLVL=1` in every session so bash does not read ~/.bashrc (bash reads it
 * for commands run by sshd only when it thinks it is the top-level shell), keeping rc-file work out
 * of the measurement.
 */
export async function startBenchSshd(options: BenchSshdOptions = {}): Promise<BenchSshd> {
  const count = options.addresses ?? 1;
  if (count < 1 || count > 250) throw new Error(`addresses must be 1..250, not ${count}`);
  const dir = await mkdtemp(join(tmpdir(), 'runbook-bench-sshd-'));
  const addresses = Array.from({ length: count }, (_, i) => `127.0.0.${i + 1}`);
  const user = userInfo().username;
  const hostKeyFile = join(dir, 'ssh_host_ed25519_key');
  const keyFile = join(dir, 'client_ed25519');
  const authorizedKeysFile = join(dir, 'authorized_keys');
  const configFile = join(dir, 'sshd_config');
  const logFile = join(dir, 'sshd.log');
  const knownHostsFile = join(dir, 'known_hosts');

  await generateKey(hostKeyFile);
  await generateKey(keyFile);
  await writeFile(authorizedKeysFile, await readFile(`${keyFile}.pub`));
  const hostKeyFingerprint = await fingerprintOfKeyFile(`${hostKeyFile}.pub`);
  const port = await findFreePort(addresses[0]);
  const [keyType, keyBase64] = (await readFile(`${hostKeyFile}.pub`, 'utf8')).trim().split(/\s+/);
  await writeFile(knownHostsFile, addresses.map((a) => `[${a}]:${port} ${keyType} ${keyBase64}\n`).join(''));
  await writeFile(
    configFile,
    [
      ...addresses.map((a) => `ListenAddress ${a}`),
      `Port ${port}`,
      `HostKey ${hostKeyFile}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeysFile}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'MaxStartups 1000:30:1000',
      'MaxSessions 100',
      'SetEnv SHLVL=1',
      'PrintMotd no',
      'PrintLastLog no',
      'X11Forwarding no',
      'UseDNS no',
      `AllowUsers ${user}`,
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  // Privilege separation needs it; a container does not create it at boot.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  // Its own process group, so stop() also ends the per-connection children.
  const child = spawn(SSHD_PATH, ['-f', configFile, '-D', '-E', logFile], { detached: true, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  void exited.then(() => (running = false));

  const stop = async () => {
    if (running && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    for (const address of addresses) await waitForPort(address, port, () => running);
  } catch (error) {
    const log = await readFile(logFile, 'utf8').catch(() => '');
    await stop();
    throw new Error(`sshd did not start: ${(error as Error).message}\n${log}`);
  }
  return { pid: child.pid!, addresses, port, user, dir, keyFile, hostKeyFingerprint, knownHostsFile, logFile, stop };
}

async function waitForPort(host: string, port: number, isRunning: () => boolean): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (!isRunning()) throw new Error('sshd exited');
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted) return;
    if (Date.now() > deadline) throw new Error(`${host}:${port} not accepting after ${START_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const SSHD_PATH = '/usr/sbin/sshd';
export const hasSshd = existsSync(SSHD_PATH);
export const SSHD_SKIP_REASON = `${SSHD_PATH} is not installed (.ci/run installs openssh-server)`;

/** Bounds the wait for sshd to listen; it normally takes a few milliseconds. */
const START_TIMEOUT_MS = 10_000;

export interface Sshd {
  /** The first listen address. */
  host: string;
  /** Every listen address, all on the same port. */
  addresses: string[];
  /** The listening sshd; per-connection processes are its children. */
  pid: number;
  port: number;
  user: string;
  /** The temporary folder holding keys, config and log; removed by stop(). */
  dir: string;
  /** A private key (no passphrase) listed in authorized_keys. */
  keyFile: string;
  /** `SHA256:...` of the host key, as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint: string;
  /** A known_hosts file holding the host key under `[127.0.0.1]:port`. */
  knownHostsFile: string;
  logFile: string;
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** Listen on 127.0.0.1, 127.0.0.2, ... (each has its own kernel listen queue); default 1. */
  addresses?: number;
  /** More sshd_config lines (limits, SetEnv). */
  extraConfig?: readonly string[];
}

/** A private OpenSSH sshd on loopback with its own host key, config and authorized_keys. */
export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  const count = options.addresses ?? 1;
  if (count < 1 || count > 250) throw new Error(`addresses must be 1..250, not ${count}`);
  const dir = await mkdtemp(join(tmpdir(), 'runbook-sshd-'));
  const addresses = Array.from({ length: count }, (_, i) => `127.0.0.${i + 1}`);
  const host = addresses[0]!;
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
  const port = await findFreePort(host);
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
      'MaxStartups 1000:30:1000',
      'MaxSessions 100',
      ...(options.extraConfig ?? []),
      `AllowUsers ${user}`,
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  // sshd's privilege separation needs this folder; a container does not create it at boot.
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
  return { host, addresses, pid: child.pid!, port, user, dir, keyFile, hostKeyFingerprint, knownHostsFile, logFile, stop };
}

/** An ed25519 key pair at `path` and `path.pub`; with a passphrase when given. */
export async function generateKey(path: string, passphrase = ''): Promise<void> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'runbook-test', '-f', path]);
}

export async function fingerprintOfKeyFile(publicKeyFile: string): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-lf', publicKeyFile]);
  const fingerprint = stdout.split(/\s+/)[1];
  if (!fingerprint?.startsWith('SHA256:')) throw new Error(`unexpected ssh-keygen -lf output: ${stdout}`);
  return fingerprint;
}

/** A port nothing listens on right now: bound to port 0, then released. */
export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port assigned');
  return address.port;
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
    if (Date.now() > deadline) throw new Error(`port ${port} not accepting after ${START_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

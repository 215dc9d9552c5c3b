import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSshTransport } from '../../engine/transport/ssh.js';
import { TransportError, type ConnectTarget, type HostConnection } from '../../engine/transport/types.js';
import { SSHD_SKIP_REASON, findFreePort, generateKey, hasSshd, startSshd, type Sshd } from '../helpers/sshd.js';
import { compileUserRegex } from '../../engine/shared/user-regex.js';

/** Bounds every connect so a broken setup fails fast instead of hanging. */
const CONNECT = { timeoutMs: 10_000 } as const;

describe.skipIf(!hasSshd)(`ssh transport against OpenSSH sshd${hasSshd ? '' : ` (skipped: ${SSHD_SKIP_REASON})`}`, () => {
  let sshd: Sshd;
  let target: ConnectTarget;
  const transport = createSshTransport();
  const opened: HostConnection[] = [];

  const connect = async (overrides: Partial<ConnectTarget> = {}) => {
    const connection = await transport.connect({ ...target, ...overrides }, CONNECT);
    opened.push(connection);
    return connection;
  };

  const connectError = async (overrides: Partial<ConnectTarget>): Promise<TransportError> => {
    const error: unknown = await transport.connect({ ...target, ...overrides }, CONNECT).then(
      (connection) => {
        opened.push(connection);
        throw new Error('connected although it should not have');
      },
      (rejection: unknown) => rejection,
    );
    expect(error).toBeInstanceOf(TransportError);
    return error as TransportError;
  };

  beforeAll(async () => {
    sshd = await startSshd();
    target = {
      name: 'loopback',
      transport: 'ssh',
      address: sshd.host,
      port: sshd.port,
      user: sshd.user,
      keyFile: sshd.keyFile,
      hostKey: sshd.hostKeyFingerprint,
    };
  });

  afterAll(async () => {
    await Promise.all(opened.map((connection) => connection.close()));
    await sshd?.stop();
  });

  it('runs a command and returns stdout, stderr and the exit code', async () => {
    const connection = await connect();
    const result = await connection.exec('echo out; echo err >&2; echo "user=$(id -un)"');
    expect(result).toMatchObject({
      stdout: `out\nuser=${sshd.user}\n`,
      stderr: 'err\n',
      exitCode: 0,
      signal: null,
      timedOut: false,
    });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('reports a non-zero exit code', async () => {
    const connection = await connect();
    expect(await connection.exec('echo failing >&2; exit 3')).toMatchObject({ exitCode: 3, stderr: 'failing\n' });
  });

  it('runs several commands over one connection', async () => {
    const connection = await connect();
    // Every command of one connection is a child of the same per-connection sshd process.
    const parents = [];
    for (let i = 0; i < 3; i++) parents.push((await connection.exec('echo $PPID')).stdout.trim());
    expect(new Set(parents).size).toBe(1);
    const other = await connect();
    expect((await other.exec('echo $PPID')).stdout.trim()).not.toBe(parents[0]);
  });

  it('times a command out and keeps the connection usable', async () => {
    const connection = await connect();
    let printed = '';
    const result = await connection.exec('echo $$; exec sleep 30', {
      timeoutMs: 300,
      onOutput: (_stream, text) => (printed += text),
    });
    const remotePid = printed.endsWith('\n') ? Number(printed.trim()) : undefined;
    // As root, OpenSSH refuses signal requests (no post-auth privilege separation): end it ourselves.
    if (remotePid !== undefined) killQuietly(remotePid);
    expect(result).toMatchObject({ timedOut: true, exitCode: null });
    expect(connection.closed).toBe(false);
    expect(await connection.exec('echo next')).toMatchObject({ stdout: 'next\n', exitCode: 0, timedOut: false });
  });

  it('accepts the pinned host key fingerprint', async () => {
    const connection = await connect({ hostKey: sshd.hostKeyFingerprint });
    expect((await connection.exec('echo pinned')).stdout).toBe('pinned\n');
  });

  it('refuses a wrong pinned fingerprint and runs nothing', async () => {
    const marker = join(sshd.dir, 'ran-despite-mismatch');
    const wrongPin = `SHA256:${'A'.repeat(43)}`;
    const error: unknown = await transport
      .connect({ ...target, hostKey: wrongPin }, CONNECT)
      .then((connection) => {
        opened.push(connection);
        return connection.exec(`touch ${marker}`);
      })
      .catch((rejection: unknown) => rejection);
    expect(error).toMatchObject({ code: 'HOST_KEY_MISMATCH', nonRetryable: true });
    expect((error as Error).message).toContain(wrongPin);
    expect((error as Error).message).toContain(sshd.hostKeyFingerprint);
    expect(existsSync(marker)).toBe(false);
  });

  it('accepts a host key listed in known_hosts', async () => {
    const connection = await connect({ hostKey: undefined, knownHostsFile: sshd.knownHostsFile });
    expect((await connection.exec('echo known')).stdout).toBe('known\n');
  });

  it('refuses a host whose known_hosts entry holds another key', async () => {
    const otherKey = join(sshd.dir, 'other_host_key');
    await generateKey(otherKey);
    const [keyType, keyBase64] = (await readFile(`${otherKey}.pub`, 'utf8')).split(/\s+/);
    const knownHostsFile = join(sshd.dir, 'known_hosts_wrong');
    await writeFile(knownHostsFile, `[${sshd.host}]:${sshd.port} ${keyType} ${keyBase64}\n`);
    const error = await connectError({ hostKey: undefined, knownHostsFile });
    expect(error.code).toBe('HOST_KEY_MISMATCH');
    expect(error.message).toContain(knownHostsFile);
    expect(error.message).toContain(sshd.hostKeyFingerprint);
  });

  it('refuses an unknown host key, printing the fingerprint to pin', async () => {
    const error = await connectError({ hostKey: undefined });
    expect(error.code).toBe('HOST_KEY_UNKNOWN');
    expect(error.nonRetryable).toBe(true);
    expect(error.message).toContain(`hostKey: ${sshd.hostKeyFingerprint}`);
  });

  it('treats a host missing from known_hosts as unknown', async () => {
    const knownHostsFile = join(sshd.dir, 'known_hosts_other_host');
    const [, keyType, keyBase64] = (await readFile(sshd.knownHostsFile, 'utf8')).split(/\s+/);
    await writeFile(knownHostsFile, `[${sshd.host}]:${sshd.port + 1} ${keyType} ${keyBase64}\n`);
    const error = await connectError({ hostKey: undefined, knownHostsFile });
    expect(error.code).toBe('HOST_KEY_UNKNOWN');
  });

  it('fails authentication with a key the server does not know, marked non-retryable', async () => {
    const wrongKey = join(sshd.dir, 'wrong_client_key');
    await generateKey(wrongKey);
    const error = await connectError({ keyFile: wrongKey });
    expect(error.code).toBe('AUTH_FAILED');
    expect(error.nonRetryable).toBe(true);
    expect(error.message).toContain(`key ${wrongKey}`);
    const keyMaterial = (await readFile(wrongKey, 'utf8')).split('\n')[1] ?? '';
    expect(keyMaterial.length).toBeGreaterThan(20);
    expect(error.message).not.toContain(keyMaterial);
  });

  it('refuses a passphrase-protected key clearly and without the passphrase', async () => {
    const lockedKey = join(sshd.dir, 'locked_key');
    await generateKey(lockedKey, 'correct-horse');
    const error = await connectError({ keyFile: lockedKey });
    expect(error.code).toBe('CREDENTIALS_MISSING');
    expect(error.message).toContain(lockedKey);
    expect(error.message).toContain('passphrase');
    expect(error.message).not.toContain('correct-horse');
  });

  it('reports a refused connection on a closed port', async () => {
    const closedPort = await findFreePort();
    const error = await connectError({ port: closedPort });
    expect(error.code).toBe('CONNECTION_REFUSED');
    expect(error.nonRetryable).toBe(false);
  });

  it('answers a prompt through a pseudo-terminal', async () => {
    const connection = await connect();
    const result = await connection.exec(`read -p 'Are you sure? (y/n) ' a; echo "got $a"`, {
      answers: [{ prompt: compileUserRegex('Are you sure\\? \\(y/n\\)'), send: 'y' }],
      timeoutMs: 10_000,
    });
    expect(result).toMatchObject({ exitCode: 0, timedOut: false });
    expect(result.stdout).toMatch(/got y\n$/);
  });

  it('hands over the output of each stream as it arrives', async () => {
    const connection = await connect();
    const texts = { stdout: '', stderr: '' };
    await connection.exec('printf "one\\ntwo\\n"; echo three >&2', { onOutput: (stream, text) => (texts[stream] += text) });
    expect(texts).toEqual({ stdout: 'one\ntwo\n', stderr: 'three\n' });
  });

  it('reports a connection lost mid-command with the output received so far', async () => {
    const connection = await connect();
    // The command prints its per-connection sshd's pid; killing that process drops the connection.
    let printed = '';
    const error: unknown = await connection
      .exec('echo "session $PPID"; sleep 5; echo never', {
        timeoutMs: 20_000,
        onOutput: (_stream, text) => {
          printed += text;
          const match = /^session (\d+)\n$/.exec(printed);
          if (match) killQuietly(Number(match[1]));
        },
      })
      .then(
        () => new Error('the command finished although its connection was killed'),
        (rejection: unknown) => rejection,
      );
    expect(error).toBeInstanceOf(TransportError);
    const lost = error as TransportError;
    expect(lost.code).toBe('CONNECTION_LOST');
    expect(lost.partial?.stdout).toMatch(/^session \d+\n$/);
    expect(connection.closed).toBe(true);
    await expect(connection.exec('true')).rejects.toMatchObject({ code: 'CONNECTION_LOST' });
  });

  it('opens many connections at once through a small handshake cap', async () => {
    const capped = createSshTransport({ maxHandshakes: 2 });
    const connections = await Promise.all(Array.from({ length: 8 }, () => capped.connect(target, CONNECT)));
    opened.push(...connections);
    const outputs = await Promise.all(connections.map((connection) => connection.exec('echo ok')));
    expect(outputs.map((result) => result.stdout)).toEqual(Array(8).fill('ok\n'));
  });

  it('closes a connection', async () => {
    const connection = await transport.connect(target, CONNECT);
    expect(connection.closed).toBe(false);
    await connection.close();
    expect(connection.closed).toBe(true);
  });

  describe('with an ssh-agent', () => {
    let agent: ChildProcess | undefined;
    let socket: string;

    beforeAll(async () => {
      socket = join(sshd.dir, 'agent.sock');
      agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
      await waitForFile(socket);
      await runToCompletion('ssh-add', [sshd.keyFile], { ...process.env, SSH_AUTH_SOCK: socket });
    });

    afterAll(() => {
      if (agent?.pid !== undefined) killQuietly(agent.pid);
    });

    it('authenticates with a key held by the agent', async () => {
      const agentTransport = createSshTransport({ env: { SSH_AUTH_SOCK: socket } });
      const connection = await agentTransport.connect({ ...target, keyFile: undefined, agent: true }, CONNECT);
      opened.push(connection);
      expect((await connection.exec('echo via-agent')).stdout).toBe('via-agent\n');
    });

    it('reports a missing agent socket as missing credentials', async () => {
      const noAgent = createSshTransport({ env: {} });
      const error = await noAgent.connect({ ...target, keyFile: undefined, agent: true }, CONNECT).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'CREDENTIALS_MISSING', nonRetryable: true });
      expect((error as Error).message).toContain('SSH_AUTH_SOCK');
    });
  });
});

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

async function waitForFile(path: string): Promise<void> {
  for (let attempt = 0; attempt < 200 && !existsSync(path); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  if (!existsSync(path)) throw new Error(`${path} did not appear`);
}

function runToCompletion(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}`))));
  });
}

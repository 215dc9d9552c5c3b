import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2, { type AuthContext, type Connection } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSshTransport } from '../../engine/transport/ssh.js';
import { TransportError, type ConnectTarget, type HostConnection } from '../../engine/transport/types.js';
import { fingerprintOfKeyFile, generateKey } from '../helpers/sshd.js';

const PASSWORD = 'right-password';

interface ServerRecord {
  /** What the server saw, in order: `signal:NAME`, `close:COMMAND`. */
  events: string[];
}

/**
 * An ssh2 server on loopback: OpenSSH here cannot take passwords (root has none), and an in-process
 * server shows which channel requests the client sends.
 */
async function startServer(hostKey: string, mode: 'password' | 'keyboard-interactive') {
  const record: ServerRecord = { events: [] };
  const server = new ssh2.Server({ hostKeys: [hostKey] }, (client: Connection) => {
    client.on('error', () => {});
    client.on('authentication', (context: AuthContext) => {
      if (mode === 'password' && context.method === 'password') {
        return context.username === 'ops' && context.password === PASSWORD ? context.accept() : context.reject(['password']);
      }
      if (mode === 'keyboard-interactive' && context.method === 'keyboard-interactive') {
        return context.prompt([{ prompt: 'Password: ', echo: false }], (answers) =>
          answers[0] === PASSWORD ? context.accept() : context.reject([mode]),
        );
      }
      return context.reject([mode]);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('signal', (acceptSignal, _reject, info) => {
          record.events.push(`signal:${info.name}`);
          acceptSignal?.();
        });
        session.on('exec', (acceptExec, _reject, info) => {
          const channel = acceptExec();
          // Consuming the (empty) input lets the channel emit 'close' when the client closes it.
          channel.resume();
          channel.on('close', () => record.events.push(`close:${info.command}`));
          if (info.command === 'hang') return;
          channel.write(`ran ${info.command}\n`);
          channel.exit(0);
          channel.end();
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const stop = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return { port: address.port, record, stop };
}

describe('ssh transport with password authentication (in-process ssh2 server)', () => {
  let dir: string;
  let hostKey: string;
  let fingerprint: string;
  const transport = createSshTransport();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runbook-ssh-password-'));
    await generateKey(join(dir, 'host_key'));
    hostKey = await readFile(join(dir, 'host_key'), 'utf8');
    fingerprint = await fingerprintOfKeyFile(join(dir, 'host_key.pub'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const targetFor = (port: number, password: string): ConnectTarget => ({
    name: 'device',
    transport: 'ssh',
    address: '127.0.0.1',
    port,
    user: 'ops',
    password,
    hostKey: fingerprint,
  });

  it.each(['password', 'keyboard-interactive'] as const)('logs in with the password over %s', async (mode) => {
    const server = await startServer(hostKey, mode);
    let connection: HostConnection | undefined;
    try {
      connection = await transport.connect(targetFor(server.port, PASSWORD), { timeoutMs: 10_000 });
      expect(await connection.exec('show version')).toMatchObject({ stdout: 'ran show version\n', exitCode: 0 });
    } finally {
      await connection?.close();
      await server.stop();
    }
  });

  it('reports a wrong password as AUTH_FAILED without the password', async () => {
    const server = await startServer(hostKey, 'password');
    try {
      const error = await transport
        .connect(targetFor(server.port, 'wrong-guess-123'), { timeoutMs: 10_000 })
        .then(() => new Error('logged in with a wrong password'), (rejection: unknown) => rejection);
      expect(error).toBeInstanceOf(TransportError);
      expect(error).toMatchObject({ code: 'AUTH_FAILED', nonRetryable: true });
      expect((error as Error).message).not.toContain('wrong-guess-123');
    } finally {
      await server.stop();
    }
  });

  it('on timeout sends KILL, closes the channel and keeps the connection', async () => {
    const server = await startServer(hostKey, 'password');
    let connection: HostConnection | undefined;
    try {
      connection = await transport.connect(targetFor(server.port, PASSWORD), { timeoutMs: 10_000 });
      expect(await connection.exec('hang', { timeoutMs: 200 })).toMatchObject({ timedOut: true, exitCode: null });
      // Requests on one connection are handled in order: the signal and close precede this exec.
      expect(await connection.exec('after')).toMatchObject({ stdout: 'ran after\n', exitCode: 0 });
      expect(server.record.events.slice(0, 2)).toEqual(['signal:KILL', 'close:hang']);
    } finally {
      await connection?.close();
      await server.stop();
    }
  });
});

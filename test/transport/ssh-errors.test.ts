import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSshTransport } from '../../engine/transport/ssh.js';
import { TransportError, type ConnectTarget } from '../../engine/transport/types.js';

const PIN = `SHA256:${'A'.repeat(43)}`;

/** A TCP server that accepts connections and never says a word: handshakes hang on it. */
async function startSilentServer(): Promise<{ server: Server; port: number; sockets: Socket[]; arrived: (count: number) => Promise<void> }> {
  const sockets: Socket[] = [];
  const waiters: Array<() => void> = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    for (const wake of waiters.splice(0)) wake();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const arrived = async (count: number) => {
    while (sockets.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { server, port: address.port, sockets, arrived };
}

async function stopServer(server: Server, sockets: Socket[]): Promise<void> {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function connectError(promise: Promise<unknown>): Promise<TransportError> {
  const error = await promise.then(
    () => new Error('connected although it should not have'),
    (rejection: unknown) => rejection,
  );
  expect(error).toBeInstanceOf(TransportError);
  return error as TransportError;
}

describe('ssh transport failures before any command runs', () => {
  let dir: string;
  let silent: Awaited<ReturnType<typeof startSilentServer>> | undefined;
  let target: ConnectTarget;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runbook-ssh-errors-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    if (silent) await stopServer(silent.server, silent.sockets);
    silent = undefined;
  });

  const startTarget = async () => {
    const started = await startSilentServer();
    silent = started;
    target = { name: 'mute', transport: 'ssh', address: '127.0.0.1', port: started.port, user: 'ops', password: 'pw', hostKey: PIN };
    return started;
  };

  it('times out a handshake the server never answers', async () => {
    await startTarget();
    const error = await connectError(createSshTransport().connect(target, { timeoutMs: 300 }));
    expect(error.code).toBe('CONNECT_TIMEOUT');
    expect(error.nonRetryable).toBe(false);
  });

  it('reports a connection dropped during the handshake as lost', async () => {
    const silent = await startTarget();
    const attempt = createSshTransport().connect(target, { timeoutMs: 10_000 });
    await silent.arrived(1);
    silent.sockets[0]?.destroy();
    expect((await connectError(attempt)).code).toBe('CONNECTION_LOST');
  });

  it('waits for a handshake slot beyond the cap', async () => {
    const silent = await startTarget();
    const transport = createSshTransport({ maxHandshakes: 2 });
    const attempts = [0, 1, 2].map(() => connectError(transport.connect(target, { timeoutMs: 10_000 })));
    await silent.arrived(2);
    // A connection made now queues behind any handshake already started: if a third had been
    // started, it would reach the server before this probe.
    const probe = createConnection({ host: '127.0.0.1', port: silent.port });
    await new Promise<void>((resolve) => probe.once('connect', () => resolve()));
    await silent.arrived(3);
    expect(silent.sockets[2]?.remotePort).toBe(probe.localPort);
    probe.destroy();
    // Ending one handshake frees its slot for the waiting attempt.
    silent.sockets[0]?.destroy();
    expect((await attempts[0])?.code).toBe('CONNECTION_LOST');
    await silent.arrived(4);
    for (const socket of silent.sockets) socket.destroy();
    const codes = (await Promise.all(attempts)).map((error) => error.code);
    expect(codes).toEqual(['CONNECTION_LOST', 'CONNECTION_LOST', 'CONNECTION_LOST']);
  });

  it('reports a name that does not resolve as unreachable', async () => {
    const error = await connectError(
      createSshTransport().connect(
        { name: 'ghost', transport: 'ssh', address: 'no-such-host.invalid', port: 22, password: 'pw', hostKey: PIN },
        { timeoutMs: 20_000 },
      ),
    );
    expect(error.code).toBe('UNREACHABLE');
  });

  it('refuses to connect without any credentials', async () => {
    const error = await connectError(
      createSshTransport().connect({ name: 'bare', transport: 'ssh', address: '127.0.0.1', port: 1, hostKey: PIN }),
    );
    expect(error.code).toBe('CREDENTIALS_MISSING');
    expect(error.message).toMatch(/keyFile.*agent.*passwordEnv/);
  });

  it('reports an unreadable key file as missing credentials', async () => {
    const keyFile = join(dir, 'absent_key');
    const error = await connectError(
      createSshTransport().connect({ name: 'k', transport: 'ssh', address: '127.0.0.1', port: 1, keyFile, hostKey: PIN }),
    );
    expect(error.code).toBe('CREDENTIALS_MISSING');
    expect(error.message).toContain(keyFile);
    expect(error.message).toContain('ENOENT');
  });

  it('reports a file that is no key without printing its content', async () => {
    const keyFile = join(dir, 'not_a_key');
    await writeFile(keyFile, 'top-secret-content\n');
    const error = await connectError(
      createSshTransport().connect({ name: 'k', transport: 'ssh', address: '127.0.0.1', port: 1, keyFile, hostKey: PIN }),
    );
    expect(error.code).toBe('CREDENTIALS_MISSING');
    expect(error.message).not.toContain('top-secret-content');
  });

  it('refuses a malformed pin and an unreadable known_hosts file before connecting', async () => {
    const base = { name: 'h', transport: 'ssh', address: '127.0.0.1', port: 1, password: 'pw' } as const;
    const badPin = await connectError(createSshTransport().connect({ ...base, hostKey: 'MD5:12:34' }));
    expect(badPin.code).toBe('HOST_KEY_UNKNOWN');
    expect(badPin.message).toContain('MD5:12:34');
    const knownHostsFile = join(dir, 'absent_known_hosts');
    const noFile = await connectError(createSshTransport().connect({ ...base, knownHostsFile }));
    expect(noFile.code).toBe('HOST_KEY_UNKNOWN');
    expect(noFile.message).toContain(knownHostsFile);
  });

  it('never puts the password in an error message', async () => {
    await startTarget();
    const error = await connectError(
      createSshTransport().connect({ ...target, password: 'hunter2-secret' }, { timeoutMs: 300 }),
    );
    expect(error.message).not.toContain('hunter2-secret');
  });
});

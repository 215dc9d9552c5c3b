import { readFile, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createHash } from 'node:crypto';
import ssh2, { type ClientChannel, type ConnectConfig, type ServerHostKeyAlgorithm, type SFTPWrapper } from 'ssh2';
import { checkLocalSource } from './transfer.js';
import { createLimiter } from '../shared/limiter.js';
import { DEFAULT_OUTPUT_CAP_BYTES, StreamCollector, createPromptResponder } from './output.js';
import {
  findHostKeys,
  fingerprintOf,
  keyTypeOf,
  normalizeFingerprint,
  parseKnownHosts,
  type KnownHostEntry,
} from './known-hosts.js';
import {
  TransportError,
  type ConnectOptions,
  type ConnectTarget,
  type ExecOptions,
  type ExecResult,
  type HostConnection,
  type TransferOptions,
  type TransferResult,
  type Transport,
} from './types.js';

// ssh2 is CommonJS; Node's ESM loader does not detect all of its named exports.
const { Client, utils } = ssh2;
type Client = InstanceType<typeof Client>;

export interface SshTransportOptions {
  /**
   * Handshakes in flight at once, across all hosts of this transport. sshd's MaxStartups (10 by
   * default) and bastions drop the excess, and the kernel listen queue overflows (BENCHMARKING.md).
   */
  maxHandshakes?: number;
  /** Unanswered keepalives before the connection counts as lost. */
  keepaliveCountMax?: number;
  /** Bytes kept per output stream of a command (the tail). */
  outputCapBytes?: number;
  /** Where `SSH_AUTH_SOCK` is read for agent authentication; defaults to `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

const DEFAULT_MAX_HANDSHAKES = 64;
const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;
const DEFAULT_KEEPALIVE_INTERVAL_MS = 15_000;
const DEFAULT_KEEPALIVE_COUNT_MAX = 3;
/** How long `close()` waits for the server to acknowledge before dropping the socket. */
const CLOSE_GRACE_MS = 2_000;

/** ssh2's default host key order, so known_hosts can move the key types it knows to the front. */
const HOST_KEY_ALGORITHMS: readonly ServerHostKeyAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/** PTY settings for answering prompts: no echo, so an answer never reaches the captured output. */
const PROMPT_PTY = { term: 'dumb', cols: 200, rows: 50, modes: { ECHO: 0 } } as const;

export function createSshTransport(options: SshTransportOptions = {}): Transport {
  const limitHandshakes = createLimiter(options.maxHandshakes ?? DEFAULT_MAX_HANDSHAKES);
  const settings = {
    keepaliveCountMax: options.keepaliveCountMax ?? DEFAULT_KEEPALIVE_COUNT_MAX,
    outputCapBytes: options.outputCapBytes ?? DEFAULT_OUTPUT_CAP_BYTES,
    env: options.env ?? process.env,
  };
  return {
    async connect(target, connectOptions = {}) {
      const auth = await loadCredentials(target, settings.env);
      const hostKeyPolicy = await loadHostKeyPolicy(target);
      return limitHandshakes(() => openConnection(target, connectOptions, auth, hostKeyPolicy, settings));
    },
  };
}

type Credentials = Pick<ConnectConfig, 'privateKey' | 'agent' | 'password' | 'tryKeyboard'>;

async function loadCredentials(
  target: ConnectTarget,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Credentials> {
  const credentials: Credentials = {};
  if (target.keyFile !== undefined) {
    let keyText: Buffer;
    try {
      keyText = await readFile(target.keyFile);
    } catch (error) {
      throw new TransportError(
        'CREDENTIALS_MISSING',
        target.name,
        `cannot read the key file ${target.keyFile} (${errorCode(error) ?? 'unreadable'})`,
      );
    }
    // Parse now: ssh2 would fail later with a less useful message.
    const parsed = utils.parseKey(keyText);
    if (parsed instanceof Error) {
      throw new TransportError(
        'CREDENTIALS_MISSING',
        target.name,
        `the key file ${target.keyFile} is not a usable private key (${parsed.message}); ` +
          'keys protected by a passphrase are not supported: load them into an agent and set auth.agent',
      );
    }
    credentials.privateKey = keyText;
  }
  if (target.agent) {
    const socket = env['SSH_AUTH_SOCK'];
    if (socket === undefined || socket === '') {
      throw new TransportError(
        'CREDENTIALS_MISSING',
        target.name,
        'auth.agent is set but SSH_AUTH_SOCK is not: start an agent (ssh-agent) and add the key',
      );
    }
    const isSocket = await stat(socket).then(
      (info) => info.isSocket(),
      () => false,
    );
    if (!isSocket) {
      throw new TransportError(
        'CREDENTIALS_MISSING',
        target.name,
        `auth.agent is set but SSH_AUTH_SOCK (${socket}) is not a socket: is the agent still running?`,
      );
    }
    credentials.agent = socket;
  }
  if (target.password !== undefined) {
    credentials.password = target.password;
    // Many sshd setups offer the password only through keyboard-interactive.
    credentials.tryKeyboard = true;
  }
  if (credentials.privateKey === undefined && credentials.agent === undefined && credentials.password === undefined) {
    throw new TransportError(
      'CREDENTIALS_MISSING',
      target.name,
      'no credentials configured: set auth.keyFile, auth.agent or auth.passwordEnv in the inventory',
    );
  }
  return credentials;
}

interface HostKeyPolicy {
  pin: string | null;
  knownHosts: { file: string; accepted: KnownHostEntry[]; revoked: KnownHostEntry[] } | null;
}

async function loadHostKeyPolicy(target: ConnectTarget): Promise<HostKeyPolicy> {
  let pin: string | null = null;
  if (target.hostKey !== undefined) {
    pin = normalizeFingerprint(target.hostKey);
    if (pin === null) {
      throw new TransportError(
        'HOST_KEY_UNKNOWN',
        target.name,
        `the pinned hostKey "${target.hostKey}" is not a fingerprint of the form SHA256:<43 base64 characters> ` +
          '(as printed by ssh-keygen -lf)',
      );
    }
  }
  let knownHosts: HostKeyPolicy['knownHosts'] = null;
  if (target.knownHostsFile !== undefined) {
    let text: string;
    try {
      text = await readFile(target.knownHostsFile, 'utf8');
    } catch (error) {
      throw new TransportError(
        'HOST_KEY_UNKNOWN',
        target.name,
        `cannot read the known_hosts file ${target.knownHostsFile} (${errorCode(error) ?? 'unreadable'})`,
      );
    }
    const found = findHostKeys(parseKnownHosts(text), hostOf(target), target.port);
    knownHosts = { file: target.knownHostsFile, ...found };
  }
  return { pin, knownHosts };
}

/** The verdict on the key a server presented; null means accepted. */
function judgeHostKey(
  target: ConnectTarget,
  policy: HostKeyPolicy,
  keyBlob: Buffer,
): TransportError | null {
  const seen = fingerprintOf(keyBlob);
  const seenText = `${keyTypeOf(keyBlob)} ${seen}`;
  if (policy.knownHosts?.revoked.some((entry) => entry.keyBlob.equals(keyBlob))) {
    return new TransportError(
      'HOST_KEY_MISMATCH',
      target.name,
      `the host key ${seenText} is marked @revoked in ${policy.knownHosts.file}; nothing was run`,
    );
  }
  if (policy.pin !== null && policy.pin !== seen) {
    return new TransportError(
      'HOST_KEY_MISMATCH',
      target.name,
      `host key mismatch: expected ${policy.pin} (pinned), the server presented ${seenText}; nothing was run. ` +
        'If the host was legitimately re-keyed, update hostKey in the inventory.',
    );
  }
  const accepted = policy.knownHosts?.accepted ?? [];
  if (policy.knownHosts !== null && accepted.length > 0 && !accepted.some((entry) => entry.keyBlob.equals(keyBlob))) {
    const expected = accepted.map((entry) => `${entry.keyType} ${fingerprintOf(entry.keyBlob)}`).join(', ');
    return new TransportError(
      'HOST_KEY_MISMATCH',
      target.name,
      `host key mismatch: ${policy.knownHosts.file} expects ${expected}, the server presented ${seenText}; ` +
        'nothing was run',
    );
  }
  if (policy.pin === null && accepted.length === 0) {
    const where =
      policy.knownHosts === null
        ? 'no hostKey is pinned and no known_hosts file is configured'
        : `no hostKey is pinned and ${policy.knownHosts.file} has no entry for ${hostOf(target)}:${target.port}`;
    return new TransportError(
      'HOST_KEY_UNKNOWN',
      target.name,
      `${where}; host keys are never trusted on first use. The server presented ${seenText}: ` +
        `if that is the host's key (check it on the host with ssh-keygen -lf), set hostKey: ${seen} in the inventory`,
    );
  }
  return null;
}

/** Known key types first, so a host with several keys presents the one known_hosts holds. */
function hostKeyOrder(policy: HostKeyPolicy): ServerHostKeyAlgorithm[] | undefined {
  const knownTypes = new Set(policy.knownHosts?.accepted.map((entry) => entry.keyType) ?? []);
  if (knownTypes.size === 0) return undefined;
  const isKnown = (algorithm: ServerHostKeyAlgorithm) =>
    knownTypes.has(algorithm) || (algorithm.startsWith('rsa-sha2-') && knownTypes.has('ssh-rsa'));
  return [...HOST_KEY_ALGORITHMS.filter(isKnown), ...HOST_KEY_ALGORITHMS.filter((algorithm) => !isKnown(algorithm))];
}

interface Settings {
  keepaliveCountMax: number;
  outputCapBytes: number;
}

function openConnection(
  target: ConnectTarget,
  connectOptions: ConnectOptions,
  credentials: Credentials,
  policy: HostKeyPolicy,
  settings: Settings,
): Promise<HostConnection> {
  const host = hostOf(target);
  const client = new Client();
  let hostKeyError: TransportError | null = null;
  const serverHostKey = hostKeyOrder(policy);
  const config: ConnectConfig = {
    host,
    port: target.port,
    username: target.user ?? userInfo().username,
    ...credentials,
    readyTimeout: connectOptions.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    keepaliveInterval: connectOptions.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS,
    keepaliveCountMax: settings.keepaliveCountMax,
    ...(serverHostKey ? { algorithms: { serverHostKey } } : {}),
    hostVerifier: (keyBlob: Buffer) => {
      hostKeyError = judgeHostKey(target, policy, keyBlob);
      return hostKeyError === null;
    },
  };
  if (credentials.password !== undefined) {
    const password = credentials.password;
    client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) => {
      finish(prompts.map((prompt) => (/password/i.test(prompt.prompt) ? password : '')));
    });
  }

  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: TransportError) => {
      if (settled) return;
      settled = true;
      client.removeAllListeners('ready');
      client.on('error', () => {});
      client.end();
      reject(error);
    };
    client.once('ready', () => {
      if (settled) return;
      settled = true;
      client.removeListener('error', onError);
      client.removeListener('close', onClose);
      resolve(new SshConnection(target.name, client, settings.outputCapBytes));
    });
    const onError = (error: Error) => fail(hostKeyError ?? classifyConnectError(target, error));
    const onClose = () =>
      fail(hostKeyError ?? new TransportError('CONNECTION_LOST', target.name, 'the server closed the connection during the handshake'));
    client.on('error', onError);
    client.on('close', onClose);
    client.connect(config);
    // Commands are small request/response exchanges: without this, Nagle's algorithm holds each
    // small write back for a delayed ACK, about 40 ms per command.
    client.setNoDelay(true);
  });
}

function classifyConnectError(target: ConnectTarget, error: Error & { level?: string; code?: unknown }): TransportError {
  const where = `${hostOf(target)}:${target.port}`;
  const code = typeof error.code === 'string' ? error.code : undefined;
  if (code === 'ECONNREFUSED') {
    return new TransportError('CONNECTION_REFUSED', target.name, `connection refused by ${where} (is sshd running on that port?)`);
  }
  if (error.level === 'client-timeout' || code === 'ETIMEDOUT') {
    return new TransportError('CONNECT_TIMEOUT', target.name, `no SSH handshake with ${where} within the connect timeout`);
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EHOSTDOWN' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new TransportError('UNREACHABLE', target.name, `cannot reach ${where} (${code})`);
  }
  if (error.level === 'client-authentication' || /All configured authentication methods failed/.test(error.message)) {
    return new TransportError(
      'AUTH_FAILED',
      target.name,
      `authentication as ${target.user ?? userInfo().username} failed at ${where} ` +
        `(tried: ${describeMethods(target)}); not retried, as repeated failures can lock the account`,
    );
  }
  return new TransportError('CONNECTION_LOST', target.name, `connection to ${where} failed: ${error.message}`);
}

interface RunningCommand {
  /** The connection ended under the command. */
  lose(reason: string): void;
}

class SshConnection implements HostConnection {
  private ended = false;
  private endReason = 'the connection closed';
  private readonly running = new Set<RunningCommand>();
  private readonly closedPromise: Promise<void>;

  constructor(
    private readonly hostName: string,
    private readonly client: Client,
    private readonly outputCapBytes: number,
  ) {
    this.closedPromise = new Promise((resolve) => {
      const end = (reason: string) => {
        if (this.ended) return;
        this.ended = true;
        this.endReason = reason;
        for (const command of this.running) command.lose(reason);
        this.running.clear();
        resolve();
      };
      // An error is followed by close; it only makes the reason more precise.
      client.on('error', (error) => end(`the connection failed: ${error.message}`));
      client.on('end', () => end('the server closed the connection'));
      client.on('close', () => end('the connection closed'));
    });
  }

  get closed(): boolean {
    return this.ended;
  }

  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    if (this.ended) {
      return Promise.reject(
        new TransportError('CONNECTION_LOST', this.hostName, `cannot run a command: ${this.endReason}`),
      );
    }
    const answers = options.answers ?? [];
    const usePty = answers.length > 0;
    const started = performance.now();
    const stdout = new StreamCollector(this.outputCapBytes, options.onOutput && ((text) => options.onOutput?.('stdout', text)));
    const stderr = new StreamCollector(this.outputCapBytes, options.onOutput && ((text) => options.onOutput?.('stderr', text)));

    return new Promise<ExecResult>((resolve, reject) => {
      let settled = false;
      let channel: ClientChannel | undefined;
      let exitCode: number | null = null;
      let signal: string | null = null;
      let timer: NodeJS.Timeout | undefined;

      const result = (timedOut: boolean): ExecResult => {
        stdout.end();
        stderr.end();
        // A pseudo-terminal turns every \n into \r\n; the command did not write them.
        const text = (collector: StreamCollector) => (usePty ? collector.text().replace(/\r\n/g, '\n') : collector.text());
        return {
          stdout: text(stdout),
          stderr: text(stderr),
          exitCode: timedOut ? null : exitCode,
          signal: timedOut ? null : signal,
          durationMs: Math.round(performance.now() - started),
          timedOut,
          ...(stdout.droppedBytes > 0 || stderr.droppedBytes > 0
            ? { truncated: { stdout: stdout.droppedBytes, stderr: stderr.droppedBytes } }
            : {}),
        };
      };
      const settle = (action: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.running.delete(tracker);
        options.signal?.removeEventListener('abort', abort);
        action();
      };
      const tracker: RunningCommand = {
        lose: (reason) =>
          settle(() => {
            const partial = result(false);
            reject(
              new TransportError('CONNECTION_LOST', this.hostName, `${reason} while a command was running`, {
                stdout: partial.stdout,
                stderr: partial.stderr,
              }),
            );
          }),
      };
      this.running.add(tracker);
      const abort = () =>
        settle(() => {
          if (channel) stopChannel(channel);
          const partial = result(false);
          reject(new TransportError('ABORTED', this.hostName, 'the command was aborted: the run was stopped', { stdout: partial.stdout, stderr: partial.stderr }));
        });
      if (options.signal?.aborted) {
        abort();
        return;
      }
      options.signal?.addEventListener('abort', abort, { once: true });

      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          settle(() => {
            if (channel) stopChannel(channel);
            resolve(result(true));
          });
        }, options.timeoutMs);
      }

      const execOptions = usePty ? { pty: PROMPT_PTY } : {};
      const onOpen = (error: Error | undefined, opened: ClientChannel) => {
        if (error) {
          settle(() =>
            reject(new TransportError('CONNECTION_LOST', this.hostName, `cannot open a session: ${error.message}`)),
          );
          return;
        }
        channel = opened;
        if (settled) {
          // The timeout fired while the channel was opening.
          stopChannel(opened);
          return;
        }
        const stopAmbiguous = (problem: string) =>
          settle(() => {
            stopChannel(opened);
            resolve({ ...result(false), ambiguousPrompt: problem });
          });
        const answer = usePty ? createPromptResponder(answers, (text) => opened.write(text), stopAmbiguous) : undefined;
        opened.on('data', (chunk: Buffer) => {
          if (settled) return;
          const text = stdout.push(chunk);
          answer?.(text);
        });
        opened.stderr.on('data', (chunk: Buffer) => {
          if (settled) return;
          const text = stderr.push(chunk);
          answer?.(text);
        });
        opened.on('exit', (code: number | null, signalName?: string) => {
          exitCode = code ?? null;
          signal = signalName ?? null;
        });
        opened.on('close', () => {
          // When the whole connection dropped, its own handler reports the loss first.
          settle(() => resolve(result(false)));
        });
      };
      try {
        this.client.exec(command, execOptions, onOpen);
      } catch (error) {
        // ssh2 throws when the socket is gone but the connection has not reported it yet.
        tracker.lose(`the connection is not usable (${(error as Error).message})`);
      }
    });
  }

  async putFile(localPath: string, remotePath: string, options: TransferOptions = {}): Promise<TransferResult> {
    const local = await checkLocalSource(this.hostName, localPath);
    return this.transfer(remotePath, options.signal, async (sftp) => {
      await callback<void>((done) => sftp.fastPut(localPath, remotePath, done));
      const written = await hashRemoteFile(sftp, remotePath);
      if (written.sha256 !== local.sha256 || written.bytes !== local.bytes) {
        throw new TransportError(
          'TRANSFER_FAILED',
          this.hostName,
          `${remotePath} does not read back as written: ${written.bytes} bytes, sha256 ${written.sha256.slice(0, 12)}…, sent ${local.bytes} bytes, sha256 ${local.sha256.slice(0, 12)}…`,
        );
      }
      return local;
    });
  }

  /** One SFTP session per transfer: closed after it, so a failed one leaves nothing half-open. */
  private async transfer(remotePath: string, signal: AbortSignal | undefined, work: (sftp: SFTPWrapper) => Promise<TransferResult>): Promise<TransferResult> {
    if (this.ended) throw new TransportError('CONNECTION_LOST', this.hostName, `cannot transfer a file: ${this.endReason}`);
    if (signal?.aborted) throw new TransportError('ABORTED', this.hostName, 'the transfer was not started: the run was stopped');
    const sftp = await callback<SFTPWrapper>((done) => this.client.sftp(done)).catch((error: Error) => {
      throw this.ended
        ? new TransportError('CONNECTION_LOST', this.hostName, `${this.endReason} before SFTP started`)
        : new TransportError('TRANSFER_FAILED', this.hostName, `the host serves no SFTP (${error.message}); file transfers need the sftp subsystem of sshd`);
    });
    const aborted = new Promise<never>((_resolve, reject) => {
      signal?.addEventListener('abort', () => {
        sftp.end();
        reject(new TransportError('ABORTED', this.hostName, 'the transfer was aborted: the run was stopped'));
      }, { once: true });
    });
    aborted.catch(() => undefined);
    try {
      return await Promise.race([work(sftp), aborted]);
    } catch (error) {
      if (error instanceof TransportError) throw error;
      if (this.ended) throw new TransportError('CONNECTION_LOST', this.hostName, `${this.endReason} while a file was transferred`);
      const code = (error as { code?: unknown }).code;
      throw new TransportError('TRANSFER_FAILED', this.hostName, `cannot write ${remotePath} on the host: ${code === 2 ? 'no such file or directory' : (error as Error).message}`);
    } finally {
      sftp.end();
    }
  }

  async close(): Promise<void> {
    if (!this.ended) {
      this.client.end();
      const fallback = setTimeout(() => this.client.destroy(), CLOSE_GRACE_MS);
      await this.closedPromise;
      clearTimeout(fallback);
    }
  }
}

/** Adapts a Node-style callback API to a promise. */
function callback<T>(start: (done: (error: Error | null | undefined, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    try {
      start((error, value) => (error ? reject(error) : resolve(value)));
    } catch (error) {
      reject(error as Error);
    }
  });
}

/** Reads a file back over SFTP to check what landed. */
function hashRemoteFile(sftp: SFTPWrapper, path: string): Promise<TransferResult> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let bytes = 0;
    const stream = sftp.createReadStream(path);
    stream.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    stream.on('error', reject);
    stream.on('end', () => resolve({ bytes, sha256: hash.digest('hex') }));
  });
}

/** Ends a command that outlived its timeout; the connection stays open for the next one. */
function stopChannel(channel: ClientChannel): void {
  try {
    // OpenSSH 7.9+ delivers it; other servers may ignore it, closing the channel is what counts.
    channel.signal('KILL');
  } catch {
    // The channel may already be half-closed; nothing more to stop.
  }
  channel.close();
}

/** Names the methods, never the secrets. */
function describeMethods(target: ConnectTarget): string {
  const methods: string[] = [];
  if (target.keyFile !== undefined) methods.push(`key ${target.keyFile}`);
  if (target.agent) methods.push('agent');
  if (target.password !== undefined) methods.push('password');
  return methods.join(', ');
}

function hostOf(target: ConnectTarget): string {
  return target.address ?? target.name;
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}


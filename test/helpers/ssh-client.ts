import ssh2 from 'ssh2';
import type { Client, ClientChannel, ConnectConfig } from 'ssh2';

/** Where and how to log in. */
export interface SshTarget {
  host: string;
  port: number;
  username?: string;
  password?: string;
  privateKey?: string | Buffer;
  /** Sees the raw host key blob; return false to refuse the server. */
  hostVerifier?: (key: Buffer) => boolean;
  readyTimeoutMs?: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when the channel closed without one (connection dropped). */
  code: number | null;
}

export interface ExecOptions {
  /** Written to the command's stdin right away. */
  stdin?: string;
  /** Close stdin after writing `stdin` (default true when `stdin` is given). */
  endStdin?: boolean;
  pty?: boolean;
}

export function connect(target: SshTarget): Promise<Client> {
  const client = new ssh2.Client();
  const config: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: target.username ?? 'lab',
    readyTimeout: target.readyTimeoutMs ?? 10_000,
    hostVerifier: target.hostVerifier ?? (() => true),
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(target.privateKey !== undefined ? { privateKey: target.privateKey } : {}),
  };
  if (target.password === undefined && target.privateKey === undefined) config.password = 'lab-password';
  return new Promise((resolve, reject) => {
    client.once('ready', () => {
      // Without it every exec waits ~40 ms on Nagle and delayed ACKs.
      client.setNoDelay(true);
      resolve(client);
    });
    client.once('error', reject);
    // A server going down mid-handshake may close without an error event.
    client.once('close', () => reject(new Error('connection closed before it was ready')));
    client.connect(config);
  });
}

/** Runs one command on an open connection; resolves when its channel closes. */
export function exec(client: Client, command: string, options: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const onClose = (): void => reject(new Error('connection closed before the command started'));
    client.once('close', onClose);
    client.exec(command, options.pty ? { pty: true } : {}, (error, channel) => {
      client.off('close', onClose);
      if (error) return reject(error);
      collect(channel).then(resolve, reject);
      if (options.stdin !== undefined) channel.write(options.stdin);
      if (options.endStdin ?? options.stdin !== undefined) channel.end();
    });
  });
}

/** Connects, runs one command, disconnects. */
export async function run(target: SshTarget, command: string, options: ExecOptions = {}): Promise<ExecResult> {
  const client = await connect(target);
  try {
    return await exec(client, command, options);
  } finally {
    client.end();
  }
}

function collect(channel: ClientChannel): Promise<ExecResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let code: number | null = null;
    channel.on('data', (data: Buffer) => (stdout += data.toString('utf8')));
    channel.stderr.on('data', (data: Buffer) => (stderr += data.toString('utf8')));
    channel.on('exit', (status: number | null) => (code = status));
    channel.on('close', () => resolve({ stdout, stderr, code }));
  });
}

export interface PromptAnswer {
  prompt: RegExp;
  send: string;
}

/** An interactive shell on a PTY, driven like an operator would. */
export interface ShellSession {
  /** Everything received so far. */
  readonly output: string;
  /** Resolves with the text received since the last wait, up to the end of the first match. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  send(text: string): void;
  /** Types a command, answers prompts as they appear, and resolves with the output up to the next prompt. */
  run(command: string, answers?: PromptAnswer[], timeoutMs?: number): Promise<string>;
  /** Resolves with the exit status once the shell channel closes. */
  readonly closed: Promise<number | null>;
}

export function openShell(client: Client, prompt: RegExp): Promise<ShellSession> {
  return new Promise((resolve, reject) => {
    client.shell({ term: 'vt100', cols: 200, rows: 50 }, (error, channel) => {
      if (error) return reject(error);
      let output = '';
      let mark = 0;
      let code: number | null = null;
      const listeners = new Set<() => void>();
      channel.on('data', (data: Buffer) => {
        output += data.toString('utf8');
        for (const listener of [...listeners]) listener();
      });
      channel.on('exit', (status: number | null) => (code = status));
      const closed = new Promise<number | null>((resolveClosed) =>
        channel.on('close', () => {
          for (const listener of [...listeners]) listener();
          resolveClosed(code);
        }),
      );
      const waitFor = (pattern: RegExp, timeoutMs = 10_000): Promise<string> =>
        new Promise((resolveWait, rejectWait) => {
          const check = (): boolean => {
            const match = pattern.exec(output.slice(mark));
            if (match === null) return false;
            const end = mark + match.index + match[0].length;
            const text = output.slice(mark, end);
            mark = end;
            resolveWait(text);
            return true;
          };
          if (check()) return;
          const timer = setTimeout(() => {
            listeners.delete(listener);
            rejectWait(new Error(`timed out waiting for ${pattern} in ${JSON.stringify(output.slice(mark))}`));
          }, timeoutMs);
          const listener = (): void => {
            if (check()) {
              clearTimeout(timer);
              listeners.delete(listener);
            }
          };
          listeners.add(listener);
        });
      const session: ShellSession = {
        get output() {
          return output;
        },
        closed,
        waitFor,
        send: (text) => channel.write(text),
        run: async (command, answers = [], timeoutMs = 10_000) => {
          channel.write(`${command}\r`);
          let text = '';
          const pending = [...answers];
          for (const answer of pending) {
            text += await waitFor(answer.prompt, timeoutMs);
            channel.write(`${answer.send}\r`);
          }
          text += await waitFor(prompt, timeoutMs);
          return text;
        },
      };
      waitFor(prompt).then(() => resolve(session), reject);
    });
  });
}

/** Polls `probe` until it returns a value other than undefined or false, or throws after `timeoutMs`. */
export async function until<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The error a connection attempt fails with, or undefined when it succeeds. */
export async function connectError(target: SshTarget): Promise<(Error & { code?: string; level?: string }) | undefined> {
  try {
    const client = await connect(target);
    client.end();
    return undefined;
  } catch (error) {
    return error as Error & { code?: string; level?: string };
  }
}

/** Reads a whole file over SFTP. */
export async function getFile(target: SshTarget, path: string): Promise<Buffer> {
  const client = await connect(target);
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      client.sftp((error, sftp) => {
        if (error) return reject(error);
        sftp.readFile(path, (readError, data) => (readError ? reject(readError) : resolve(data)));
      });
    });
  } finally {
    client.end();
  }
}

/** Writes a whole file over SFTP. */
export async function putFile(target: SshTarget, path: string, data: Buffer): Promise<void> {
  const client = await connect(target);
  try {
    await new Promise<void>((resolve, reject) => {
      client.sftp((error, sftp) => {
        if (error) return reject(error);
        sftp.writeFile(path, data, (writeError) => (writeError ? reject(writeError) : resolve()));
      });
    });
  } finally {
    client.end();
  }
}

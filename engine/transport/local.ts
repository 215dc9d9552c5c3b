import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile } from 'node:fs/promises';
import { checkLocalSource, hashLocalFile, writeWhole } from './transfer.js';
import { performance } from 'node:perf_hooks';
import { DEFAULT_OUTPUT_CAP_BYTES, StreamCollector, createPromptResponder } from './output.js';
import { TransportError, type ExecOptions, type ExecResult, type HostConnection, type TransferOptions, type TransferResult, type Transport } from './types.js';

/** How long a timed-out command's output pipes may stay open after its shell is gone. */
const PIPE_GRACE_MS = 1_000;

export interface LocalTransportOptions {
  /** Bytes kept per output stream of a command (the tail). */
  outputCapBytes?: number;
  /** The folder commands start in; defaults to the controller's working folder. */
  cwd?: string;
}

/** Runs commands on the controller itself, for runbooks that target it (`transport: local`). */
export function createLocalTransport(options: LocalTransportOptions = {}): Transport {
  const outputCapBytes = options.outputCapBytes ?? DEFAULT_OUTPUT_CAP_BYTES;
  return {
    async connect(target) {
      return new LocalConnection(target.name, outputCapBytes, options.cwd);
    },
  };
}

class LocalConnection implements HostConnection {
  private ended = false;
  private readonly running = new Set<ChildProcess>();

  constructor(
    private readonly hostName: string,
    private readonly outputCapBytes: number,
    private readonly cwd: string | undefined,
  ) {}

  get closed(): boolean {
    return this.ended;
  }

  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    if (this.ended) {
      return Promise.reject(new TransportError('CONNECTION_LOST', this.hostName, 'cannot run a command: the connection is closed'));
    }
    if (options.signal?.aborted) {
      return Promise.reject(new TransportError('ABORTED', this.hostName, 'the command was not started: the run was stopped'));
    }
    const answers = options.answers ?? [];
    const started = performance.now();
    const stdout = new StreamCollector(this.outputCapBytes, options.onOutput && ((text) => options.onOutput?.('stdout', text)));
    const stderr = new StreamCollector(this.outputCapBytes, options.onOutput && ((text) => options.onOutput?.('stderr', text)));

    return new Promise<ExecResult>((resolve, reject) => {
      // Its own process group, so a timeout kills whatever the command started too.
      const child = spawn('/bin/sh', ['-c', command], {
        cwd: this.cwd,
        detached: true,
        // Without answers, a command that reads its input gets end-of-file instead of hanging.
        stdio: [answers.length > 0 ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      });
      this.running.add(child);
      let timedOut = false;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;

      let ambiguousPrompt: string | undefined;
      const stopAmbiguous = (problem: string) => {
        ambiguousPrompt = problem;
        killGroup(child);
      };
      const answer =
        answers.length > 0 && child.stdin
          ? createPromptResponder(answers, (text) => child.stdin?.write(text), stopAmbiguous)
          : undefined;
      // The command may exit without reading its answer.
      child.stdin?.on('error', () => {});
      child.stdout?.on('data', (chunk: Buffer) => {
        const text = stdout.push(chunk);
        answer?.(text);
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        const text = stderr.push(chunk);
        answer?.(text);
      });

      const abort = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.running.delete(child);
        killGroup(child);
        reject(
          new TransportError('ABORTED', this.hostName, 'the command was aborted: the run was stopped', {
            stdout: stdout.text(),
            stderr: stderr.text(),
          }),
        );
      };
      options.signal?.addEventListener('abort', abort, { once: true });

      const finish = (exitCode: number | null, signal: NodeJS.Signals | null) => {
        if (settled) return;
        settled = true;
        options.signal?.removeEventListener('abort', abort);
        clearTimeout(timer);
        this.running.delete(child);
        stdout.end();
        stderr.end();
        resolve({
          stdout: stdout.text(),
          stderr: stderr.text(),
          exitCode: timedOut ? null : exitCode,
          signal,
          durationMs: Math.round(performance.now() - started),
          timedOut,
          ...(stdout.droppedBytes > 0 || stderr.droppedBytes > 0
            ? { truncated: { stdout: stdout.droppedBytes, stderr: stderr.droppedBytes } }
            : {}),
          ...(ambiguousPrompt === undefined ? {} : { ambiguousPrompt }),
        });
      };

      child.on('error', (error) => {
        if (settled) return;
        settled = true;
        options.signal?.removeEventListener('abort', abort);
        clearTimeout(timer);
        this.running.delete(child);
        reject(new Error(`${this.hostName}: cannot start /bin/sh: ${error.message}`));
      });
      child.on('close', (code, signal) => finish(code, signal));
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          timedOut = true;
          killGroup(child);
          // 'close' normally follows at once; a process that left the group may hold the pipes open.
          const giveUp = () => {
            child.stdout?.destroy();
            child.stderr?.destroy();
            finish(child.exitCode, child.signalCode);
          };
          const waitForPipes = () => setTimeout(giveUp, PIPE_GRACE_MS).unref();
          if (child.exitCode !== null || child.signalCode !== null) waitForPipes();
          else child.once('exit', waitForPipes);
        }, options.timeoutMs);
      }
    });
  }

  /** The host is this machine: a fetch copies the file into the artifacts. */
  async fetchFile(remotePath: string, localPath: string, options: TransferOptions = {}): Promise<TransferResult> {
    this.checkOpen(options);
    return writeWhole(localPath, (partial) => copyFile(remotePath, partial)).catch((error: NodeJS.ErrnoException) => {
      if (error instanceof TransportError) throw error;
      throw new TransportError('TRANSFER_FAILED', this.hostName, `cannot read ${remotePath}: ${error.code === 'ENOENT' ? 'no such file or directory' : error.message}`);
    });
  }

  async putFile(localPath: string, remotePath: string, options: TransferOptions = {}): Promise<TransferResult> {
    this.checkOpen(options);
    const local = await checkLocalSource(this.hostName, localPath, options.expectedSha256);
    try {
      await copyFile(localPath, remotePath);
    } catch (error) {
      throw new TransportError('TRANSFER_FAILED', this.hostName, `cannot write ${remotePath}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (error as Error).message}`);
    }
    const written = await hashLocalFile(remotePath);
    if (written.sha256 !== local.sha256) throw new TransportError('TRANSFER_FAILED', this.hostName, `${remotePath} does not read back as written`);
    return local;
  }

  private checkOpen(options: TransferOptions): void {
    if (this.ended) throw new TransportError('CONNECTION_LOST', this.hostName, 'cannot transfer a file: the connection is closed');
    if (options.signal?.aborted) throw new TransportError('ABORTED', this.hostName, 'the transfer was not started: the run was stopped');
  }

  async close(): Promise<void> {
    this.ended = true;
    for (const child of this.running) killGroup(child);
  }
}

/** Kills the command's process group; its leader, the shell, may already have exited. */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** How commands reach a host. The executor sees only this; ssh2 and child_process live behind it. */

import type { UserRegex } from '../shared/user-regex.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** null when the command was killed by a signal or timed out. */
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  /** The command outlived its timeout; the channel was closed. */
  timedOut: boolean;
  /**
   * Bytes dropped from the middle of a stream to stay within the output cap (its first and last part
   * are kept, around a line counting them); absent when nothing was dropped.
   */
  truncated?: { stdout: number; stderr: number };
  /**
   * The answers could not tell which one a prompt wants (see `createPromptResponder`): nothing was
   * typed and the command was stopped. Why, naming the prompt and the rules.
   */
  ambiguousPrompt?: string;
}

export interface PromptAnswer {
  /** A user pattern, on the linear-time engine: output from a host must not make matching hang. */
  prompt: Pick<UserRegex, 'exec' | 'source'>;
  send: string;
}

export interface ExecOptions {
  timeoutMs?: number;
  /** Answers to interactive prompts; the command then runs in a pseudo-terminal. */
  answers?: readonly PromptAnswer[];
  /** Called with the output, decoded, as it arrives (in pieces that need not end at line ends). */
  onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
  /** Aborting stops the command (its channel or process group) and rejects with `ABORTED`. */
  signal?: AbortSignal;
}

/** A file moved whole between the controller and a host: its size and SHA-256 (hex). */
export interface TransferResult {
  bytes: number;
  sha256: string;
}

export interface TransferOptions {
  /** Aborting stops the transfer and rejects with `ABORTED`. */
  signal?: AbortSignal;
}

export interface HostConnection {
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /** Writes a local file to a path on the host, then reads it back: the checksums must agree. */
  putFile?(localPath: string, remotePath: string, options?: TransferOptions): Promise<TransferResult>;
  close(): Promise<void>;
  /** True once the connection has ended, for whatever reason. */
  readonly closed: boolean;
}

/** Where and how to connect; credentials are resolved references, never logged. */
export interface ConnectTarget {
  name: string;
  transport: 'ssh' | 'local';
  address?: string;
  port: number;
  user?: string;
  /** Pinned fingerprint, `SHA256:<base64>`. */
  hostKey?: string;
  /** Absolute path of a known_hosts file to check the host key against. */
  knownHostsFile?: string;
  /** Absolute path of a private key file. */
  keyFile?: string;
  agent?: boolean;
  /** The password itself, read from the variable the inventory names. */
  password?: string;
}

export interface ConnectOptions {
  timeoutMs?: number;
  keepaliveIntervalMs?: number;
}

export interface Transport {
  connect(target: ConnectTarget, options?: ConnectOptions): Promise<HostConnection>;
}

export const TRANSPORT_ERROR_CODES = [
  'AUTH_FAILED',
  'HOST_KEY_MISMATCH',
  'HOST_KEY_UNKNOWN',
  'CONNECTION_REFUSED',
  'CONNECT_TIMEOUT',
  'UNREACHABLE',
  'CONNECTION_LOST',
  'CREDENTIALS_MISSING',
  /** The operator stopped the run at once (a second signal): the command was cut off. */
  'ABORTED',
  /** A file could not be read or written on the host, or did not read back as it was sent. */
  'TRANSFER_FAILED',
] as const;
export type TransportErrorCode = (typeof TRANSPORT_ERROR_CODES)[number];

/** Errors no retry can fix: retrying a wrong password locks accounts out. */
const NON_RETRYABLE: readonly TransportErrorCode[] = ['AUTH_FAILED', 'HOST_KEY_MISMATCH', 'HOST_KEY_UNKNOWN', 'CREDENTIALS_MISSING'];

export class TransportError extends Error {
  readonly nonRetryable: boolean;
  constructor(
    readonly code: TransportErrorCode,
    readonly host: string,
    message: string,
    /** Output received before a connection was lost mid-command. */
    readonly partial?: { stdout: string; stderr: string },
  ) {
    super(`${host}: ${message}`);
    this.name = 'TransportError';
    this.nonRetryable = NON_RETRYABLE.includes(code);
  }
}

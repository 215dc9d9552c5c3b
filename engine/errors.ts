import type { Diagnostic } from './load/diagnostic.js';

/** Exit codes of DESIGN section 4. */
export const EXIT_CODES = { ok: 0, failed: 1, badInput: 2 } as const;
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

const SIGNAL_NUMBERS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

/** A run stopped by a signal exits as a shell reports it: 128 + the signal's number (130 for SIGINT). */
export function signalExitCode(signal: keyof typeof SIGNAL_NUMBERS): number {
  return 128 + SIGNAL_NUMBERS[signal];
}

/**
 * An error the engine expects and explains. `code` is stable; `nonRetryable` tells the executor
 * that trying again cannot help (bad input, authentication, host key).
 */
export class RunbookError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  readonly nonRetryable: boolean;
  readonly diagnostics: readonly Diagnostic[];

  constructor(
    code: string,
    message: string,
    options: { exitCode?: ExitCode; nonRetryable?: boolean; diagnostics?: readonly Diagnostic[]; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RunbookError';
    this.code = code;
    this.exitCode = options.exitCode ?? EXIT_CODES.failed;
    this.nonRetryable = options.nonRetryable ?? false;
    this.diagnostics = options.diagnostics ?? [];
  }
}

/** Bad input: usage, an invalid file, a stale or unapproved plan. Exit 2, never retried. */
export function createInputError(code: string, message: string, diagnostics: readonly Diagnostic[] = []): RunbookError {
  return new RunbookError(code, message, { exitCode: EXIT_CODES.badInput, nonRetryable: true, diagnostics });
}

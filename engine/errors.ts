import type { Diagnostic } from './load/diagnostic.js';

/** Exit codes of DESIGN section 4. */
export const EXIT_CODES = { ok: 0, failed: 1, badInput: 2 } as const;
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

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

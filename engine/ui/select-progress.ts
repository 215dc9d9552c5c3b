import { createJsonProgress } from './json-progress.js';
import { createPlainProgress } from './plain-progress.js';
import type { ProgressConsumer, WriteText } from './progress.js';
import { createTtyProgress } from './tty-progress.js';

export interface SelectProgressOptions {
  format: 'text' | 'json';
  /** `--no-progress`: plain lines even on a terminal. */
  noProgress: boolean;
  /** Whether the output is a terminal; also decides colour for plain lines. */
  isTty: boolean;
  /** Receives the plain or JSON lines. */
  write: WriteText;
  /** The terminal the live display draws on. */
  stream: NodeJS.WriteStream;
  /** Where NO_COLOR is read; the process environment unless given. */
  env?: NodeJS.ProcessEnv;
}

/** JSON lines for programs; the live display on a terminal; plain lines everywhere else (CI, pipes, `--no-progress`). */
export function selectProgress(options: SelectProgressOptions): ProgressConsumer {
  if (options.format === 'json') return createJsonProgress({ write: options.write });
  if (options.isTty && !options.noProgress) return createTtyProgress({ stream: options.stream });
  return createPlainProgress({ write: options.write, color: options.isTty, env: options.env ?? process.env });
}

import { CommandLineError, parseCommandLine, type Pipeline, type SimpleCommand } from './command-line.js';

/** What a command sees of the session it runs in. */
export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
  /**
   * Prints `prompt` and resolves with the next line of input (from the PTY, or from stdin on an
   * exec channel), or undefined once the input is closed.
   */
  ask(prompt: string): Promise<string | undefined>;
  /** Ends the session after this command (`exit`). */
  close(): void;
  /** Aborted when the client leaves the command (^C, the session closed): for commands that run on. */
  signal?: AbortSignal;
}

export interface CommandContext {
  argv: string[];
  /** Output of the previous command of a pipeline. */
  stdin: string | undefined;
  io: CommandIo;
  user: string;
}

export type CommandHandler = (context: CommandContext) => number | Promise<number>;
export type CommandTable = Readonly<Record<string, CommandHandler>>;

export interface ShellOptions {
  commands: CommandTable;
  user: string;
  io: CommandIo;
  /** Expands an unquoted `*` or `?`; without it words are passed as written. */
  glob?: (pattern: string) => string[];
}

export const EXIT_NOT_FOUND = 127;
export const EXIT_USAGE = 2;

const BIN_DIRS = /^\/(?:usr\/)?s?bin\//;

const BUILTINS: CommandTable = {
  true: () => 0,
  ':': () => 0,
  false: () => 1,
  echo: ({ argv, io }) => {
    const noNewline = argv[1] === '-n';
    io.out(argv.slice(noNewline ? 2 : 1).join(' ') + (noNewline ? '' : '\n'));
    return 0;
  },
  exit: ({ argv, io }) => {
    io.close();
    return Number.parseInt(argv[1] ?? '0', 10) & 0xff;
  },
  logout: ({ io }) => {
    io.close();
    return 0;
  },
};

/** Runs one command line as a POSIX shell would, dispatching each command to `options.commands`. */
export async function runShellLine(line: string, options: ShellOptions): Promise<number> {
  let pipelines: Pipeline[];
  try {
    pipelines = parseCommandLine(line);
  } catch (error) {
    if (!(error instanceof CommandLineError)) throw error;
    options.io.err(`bash: ${error.message}\n`);
    return EXIT_USAGE;
  }
  let closed = false;
  const io: CommandIo = {
    ...options.io,
    close: () => {
      closed = true;
      options.io.close();
    },
  };
  let status = 0;
  for (const pipeline of pipelines) {
    if (closed) break;
    if (pipeline.connector === '&&' && status !== 0) continue;
    if (pipeline.connector === '||' && status === 0) continue;
    status = await runPipeline(pipeline, { ...options, io });
  }
  return status;
}

/** Asks a (y/n) question; true for `y` or `yes` in any case, false for anything else or no answer. */
export async function confirm(io: CommandIo, prompt: string): Promise<boolean> {
  const answer = await io.ask(prompt);
  return /^y(es)?$/i.test(answer?.trim() ?? '');
}

/** Removes a leading `sudo` and its options: the lab user may do everything. */
export function stripSudo(argv: string[]): string[] {
  if (argv[0] !== 'sudo') return argv;
  let index = 1;
  while (index < argv.length && (argv[index] as string).startsWith('-')) {
    index += ['-u', '-g', '-p', '-C'].includes(argv[index] as string) ? 2 : 1;
  }
  return argv.slice(index);
}

async function runPipeline(pipeline: Pipeline, options: ShellOptions): Promise<number> {
  let stdin: string | undefined;
  let status = 0;
  for (const [index, command] of pipeline.commands.entries()) {
    const last = index === pipeline.commands.length - 1;
    let captured = '';
    const io: CommandIo = last ? options.io : { ...options.io, out: (text) => (captured += text) };
    status = await runSimpleCommand(command, stdin, { ...options, io });
    stdin = captured;
  }
  return status;
}

async function runSimpleCommand(command: SimpleCommand, stdin: string | undefined, options: ShellOptions): Promise<number> {
  const { io } = options;
  let out = io.out;
  let err = io.err;
  const discard = (): void => {};
  for (const redirect of command.redirects) {
    const sink =
      redirect.target === '&1' ? out : redirect.target === '&2' ? err : redirect.target === '/dev/null' ? discard : undefined;
    if (sink === undefined) {
      io.err(`bash: ${redirect.target}: the lab only redirects to /dev/null, &1 or &2\n`);
      return 1;
    }
    if (redirect.fd !== 2) out = sink;
    if (redirect.fd !== 1) err = sink;
  }
  const words = command.words.flatMap((word) => {
    const matches = word.glob && options.glob ? options.glob(word.text) : [];
    return matches.length > 0 ? matches : [word.text];
  });
  const argv = stripSudo(words);
  const name = argv[0];
  if (name === undefined) {
    err('usage: sudo command\n');
    return 1;
  }
  const handler = lookup(options.commands, name) ?? lookup(BUILTINS, name);
  if (handler === undefined) {
    err(`${name}: command not found\n`);
    return EXIT_NOT_FOUND;
  }
  return handler({ argv, stdin, user: options.user, io: { ...io, out, err } });
}

function lookup(table: CommandTable, name: string): CommandHandler | undefined {
  if (Object.hasOwn(table, name)) return table[name];
  const bare = name.replace(BIN_DIRS, '');
  return bare !== name && Object.hasOwn(table, bare) ? table[bare] : undefined;
}

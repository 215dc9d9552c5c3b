/**
 * The small subset of POSIX shell syntax the simulated Linux devices understand: words with
 * single quotes, double quotes and backslash escapes; `&&`, `||`, `;`; pipes; and redirections to
 * /dev/null or between stdout and stderr. No variables, globbing is done by the caller.
 */

export interface Word {
  text: string;
  /** Holds an unquoted `*` or `?`, so the shell expands it against the filesystem. */
  glob: boolean;
}

export interface Redirect {
  /** 1 for `>`, 2 for `2>`, 'both' for `&>`. */
  fd: 1 | 2 | 'both';
  /** A path, or `&1` / `&2` for a duplicated descriptor. */
  target: string;
}

export interface SimpleCommand {
  words: Word[];
  redirects: Redirect[];
}

export type Connector = '&&' | '||' | ';';

export interface Pipeline {
  commands: SimpleCommand[];
  /** How this pipeline joins the one before it; absent on the first. */
  connector?: Connector;
}

export class CommandLineError extends Error {}

type Token =
  | { kind: 'word'; word: Word }
  | { kind: 'operator'; operator: '&&' | '||' | ';' | '|' }
  | { kind: 'redirect'; fd: Redirect['fd']; target?: string };

export function parseCommandLine(line: string): Pipeline[] {
  const pipelines: Pipeline[] = [];
  let commands: SimpleCommand[] = [];
  let current: SimpleCommand = { words: [], redirects: [] };
  let connector: Connector | undefined;
  let pendingRedirect: Redirect['fd'] | undefined;

  const closeCommand = (operator: string): void => {
    if (pendingRedirect !== undefined) throw syntaxError(operator);
    if (current.words.length === 0) throw syntaxError(operator);
    commands.push(current);
    current = { words: [], redirects: [] };
  };

  for (const token of tokenize(line)) {
    if (token.kind === 'word') {
      if (pendingRedirect !== undefined) {
        current.redirects.push({ fd: pendingRedirect, target: token.word.text });
        pendingRedirect = undefined;
      } else {
        current.words.push(token.word);
      }
    } else if (token.kind === 'redirect') {
      if (pendingRedirect !== undefined) throw syntaxError('>');
      if (token.target !== undefined) current.redirects.push({ fd: token.fd, target: token.target });
      else pendingRedirect = token.fd;
    } else if (token.operator === '|') {
      closeCommand('|');
    } else {
      closeCommand(token.operator);
      pipelines.push(connector === undefined ? { commands } : { commands, connector });
      commands = [];
      connector = token.operator;
    }
  }
  if (pendingRedirect !== undefined) throw syntaxError('newline');
  if (current.words.length > 0) commands.push(current);
  else if (commands.length > 0) throw syntaxError('newline'); // a trailing `|`
  if (commands.length > 0) pipelines.push(connector === undefined ? { commands } : { commands, connector });
  else if (connector === '&&' || connector === '||') throw syntaxError('newline');
  return pipelines;
}

/** Quote-aware split into words, for CLIs that are not shells (EXOS, the NSO CLI). */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  for (const token of tokenize(text, false)) {
    if (token.kind === 'word') words.push(token.word.text);
  }
  return words;
}

function syntaxError(near: string): CommandLineError {
  return new CommandLineError(`syntax error near unexpected token \`${near}'`);
}

function* tokenize(line: string, shell = true): Generator<Token> {
  let index = 0;
  let text = '';
  let glob = false;
  let started = false;
  let quoted = false;

  function* flush(): Generator<Token> {
    if (started) yield { kind: 'word', word: { text, glob } };
    text = '';
    glob = false;
    started = false;
    quoted = false;
  }

  while (index < line.length) {
    const char = line[index] as string;
    if (char === ' ' || char === '\t' || char === '\n' || char === '\r') {
      yield* flush();
      index++;
    } else if (char === "'") {
      const end = line.indexOf("'", index + 1);
      if (end < 0) throw new CommandLineError("unexpected EOF while looking for matching `''");
      text += line.slice(index + 1, end);
      started = true;
      quoted = true;
      index = end + 1;
    } else if (char === '"') {
      index++;
      let closed = false;
      while (index < line.length) {
        const inner = line[index] as string;
        if (inner === '"') {
          closed = true;
          index++;
          break;
        }
        if (inner === '\\' && index + 1 < line.length && '"\\$`'.includes(line[index + 1] as string)) {
          text += line[index + 1];
          index += 2;
        } else {
          text += inner;
          index++;
        }
      }
      if (!closed) throw new CommandLineError('unexpected EOF while looking for matching `"\'');
      started = true;
      quoted = true;
    } else if (char === '\\') {
      text += line[index + 1] ?? '';
      started = true;
      index += 2;
    } else if (!shell) {
      text += char;
      started = true;
      index++;
    } else if (char === '#' && !started) {
      return yield* flush();
    } else if (char === '&' || char === '|' || char === ';') {
      const double = line[index + 1] === char;
      if (char === '&' && line[index + 1] === '>') {
        yield* flush();
        index += 2;
        yield { kind: 'redirect', fd: 'both' };
        continue;
      }
      yield* flush();
      if (char === ';') {
        yield { kind: 'operator', operator: ';' };
        index++;
      } else if (double) {
        yield { kind: 'operator', operator: char === '&' ? '&&' : '||' };
        index += 2;
      } else if (char === '|') {
        yield { kind: 'operator', operator: '|' };
        index++;
      } else {
        throw new CommandLineError('background jobs (`&`) are not supported');
      }
    } else if (char === '>' || char === '<') {
      if (char === '<') throw new CommandLineError('input redirection is not supported');
      // `2>` and `1>` name the descriptor only when the digit stands alone before `>`.
      let fd: Redirect['fd'] = 1;
      if (started && !quoted && (text === '1' || text === '2')) {
        fd = text === '2' ? 2 : 1;
        text = '';
        started = false;
      }
      yield* flush();
      index++;
      if (line[index] === '>') index++; // `>>` appends; to /dev/null or a descriptor it is the same
      if (line[index] === '&' && /[12]/.test(line[index + 1] ?? '')) {
        yield { kind: 'redirect', fd, target: `&${line[index + 1]}` };
        index += 2;
      } else {
        yield { kind: 'redirect', fd };
      }
    } else {
      if (char === '*' || char === '?') glob = true;
      text += char;
      started = true;
      index++;
    }
  }
  yield* flush();
}

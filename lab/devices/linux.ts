import { posix } from 'node:path';
import type { Clock } from '../clock.js';
import { formatLsTime, formatTimestamp } from '../format.js';
import { EXIT_USAGE, runShellLine, type CommandContext, type CommandIo, type CommandTable } from '../shell.js';
import { VirtualFs, type FsNode } from '../vfs.js';

/** The one filesystem a Linux device reports in `df`. */
export interface DiskUsage {
  filesystem: string;
  mount: string;
  totalKb: number;
  availableKb: number;
}

export interface LinuxOptions {
  fs: VirtualFs;
  clock: Clock;
  hostname: () => string;
  /** When the running system booted (clock ms). */
  bootTime: () => number;
  disk: () => DiskUsage;
}

/** The working folder of a session: the user's home. */
export function homeOf(user: string): string {
  return user === 'root' ? '/root' : `/home/${user}`;
}

/** Runs a command line on a Linux device: the shell, globbing in its filesystem from the user's home. */
export function runLinuxLine(line: string, commands: CommandTable, fs: VirtualFs, user: string, io: CommandIo): Promise<number> {
  return runShellLine(line, { commands, user, io, glob: (pattern) => fs.glob(VirtualFs.normalize(pattern, homeOf(user))) });
}

/** The flags back as one argument, `-sf` for s and f. */
function flagsOf(flags: Set<string>): string[] {
  return flags.size === 0 ? [] : [`-${[...flags].join('')}`];
}

/** Short flags of argv (`-la` gives l and a) and the remaining operands; `--` ends the flags. */
export function splitFlags(args: string[]): { flags: Set<string>; operands: string[] } {
  const flags = new Set<string>();
  const operands: string[] = [];
  let flagsDone = false;
  for (const arg of args) {
    if (!flagsDone && arg === '--') flagsDone = true;
    else if (!flagsDone && /^-[A-Za-z]+$/.test(arg)) for (const flag of arg.slice(1)) flags.add(flag);
    else operands.push(arg);
  }
  return { flags, operands };
}

/** Commands every simulated Linux device has: files, text filters, host facts. */
export function createLinuxCommands(options: LinuxOptions): CommandTable {
  const { fs } = options;
  const resolve = (path: string, user: string): string => VirtualFs.normalize(path, homeOf(user));

  const cat = ({ argv, stdin, io, user }: CommandContext): number => {
    const paths = argv.slice(1);
    if (paths.length === 0) {
      io.out(stdin ?? '');
      return 0;
    }
    let status = 0;
    for (const path of paths) {
      if (path === '-') {
        io.out(stdin ?? '');
        continue;
      }
      const node = fs.stat(resolve(path, user));
      if (node?.kind === 'file') io.out(node.content);
      else {
        io.err(`cat: ${path}: ${node ? 'Is a directory' : 'No such file or directory'}\n`);
        status = 1;
      }
    }
    return status;
  };

  const ls = ({ argv, io, user }: CommandContext): number => {
    const { flags, operands } = splitFlags(argv.slice(1));
    const long = flags.has('l');
    const showAll = flags.has('a') || flags.has('A');
    const targets = operands.length > 0 ? operands : ['.'];
    const files: string[] = [];
    const dirs: Array<{ label: string; path: string }> = [];
    let status = 0;
    for (const target of targets) {
      const path = resolve(target, user);
      const own = fs.lstat(path);
      const followed = fs.stat(path);
      if (own === undefined) {
        io.err(`ls: cannot access '${target}': No such file or directory\n`);
        status = 2;
      } else if (followed?.kind === 'dir' && !flags.has('d') && !(long && own.kind === 'link')) {
        dirs.push({ label: target, path });
      } else {
        files.push(long ? longEntry(target, own) : target);
      }
    }
    const sections: string[] = [];
    if (files.length > 0) sections.push(files.map((line) => `${line}\n`).join(''));
    for (const dir of dirs) {
      const names = (fs.list(dir.path) ?? []).filter((name) => showAll || !name.startsWith('.'));
      const header = targets.length > 1 ? `${dir.label}:\n` : '';
      const lines = long
        ? [`total ${names.length * 4}`, ...names.map((name) => longEntry(name, fs.lstat(posix.join(dir.path, name)) as FsNode))]
        : names;
      sections.push(header + lines.map((line) => `${line}\n`).join(''));
    }
    io.out(sections.join('\n'));
    return status;
  };

  const longEntry = (name: string, node: FsNode): string => {
    const time = formatLsTime(node.mtime);
    if (node.kind === 'dir') return `drwxr-xr-x 2 root root ${'4096'.padStart(10)} ${time} ${name}`;
    if (node.kind === 'link') return `lrwxrwxrwx 1 root root ${String(node.target.length).padStart(10)} ${time} ${name} -> ${node.target}`;
    return `-rw-r--r-- 1 root root ${String(node.size).padStart(10)} ${time} ${name}`;
  };

  const test = ({ argv, io, user }: CommandContext): number => {
    let args = argv.slice(1);
    if (argv[0] === '[') {
      if (args[args.length - 1] !== ']') {
        io.err("[: missing `]'\n");
        return EXIT_USAGE;
      }
      args = args.slice(0, -1);
    }
    const result = evaluateTest(args, (path) => resolve(path, user));
    if (result === undefined) {
      io.err(`${argv[0]}: unsupported expression: ${args.join(' ')}\n`);
      return EXIT_USAGE;
    }
    return result ? 0 : 1;
  };

  const evaluateTest = (args: string[], toPath: (path: string) => string): boolean | undefined => {
    if (args[0] === '!') {
      const inner = evaluateTest(args.slice(1), toPath);
      return inner === undefined ? undefined : !inner;
    }
    if (args.length === 0) return false;
    if (args.length === 1) return (args[0] as string).length > 0;
    if (args.length === 3 && (args[1] === '=' || args[1] === '==')) return args[0] === args[2];
    if (args.length === 3 && args[1] === '!=') return args[0] !== args[2];
    if (args.length !== 2) return undefined;
    const [operator, operand] = args as [string, string];
    const node = (): FsNode | undefined => fs.stat(toPath(operand));
    switch (operator) {
      case '-e':
        return node() !== undefined;
      case '-f':
        return node()?.kind === 'file';
      case '-d':
        return node()?.kind === 'dir';
      case '-s': {
        const found = node();
        return found !== undefined && (found.kind !== 'file' || found.size > 0);
      }
      case '-L':
      case '-h':
        return fs.lstat(toPath(operand))?.kind === 'link';
      case '-n':
        return operand.length > 0;
      case '-z':
        return operand.length === 0;
      default:
        return undefined;
    }
  };

  const readlink = ({ argv, io, user }: CommandContext): number => {
    const { flags, operands } = splitFlags(argv.slice(1));
    const canonicalize = flags.has('f') || flags.has('e') || flags.has('m');
    let status = 0;
    for (const operand of operands) {
      const path = resolve(operand, user);
      const answer = canonicalize ? fs.realpath(path) : fs.readlink(path);
      if (answer === undefined) status = 1;
      else io.out(`${answer}\n`);
    }
    return operands.length === 0 ? EXIT_USAGE : status;
  };

  const ln = ({ argv, io, user }: CommandContext): number => {
    const { flags, operands } = splitFlags(argv.slice(1));
    if (!flags.has('s')) {
      io.err('ln: the lab only makes symbolic links (-s)\n');
      return 1;
    }
    // `ln -s TARGET... DIRECTORY` links each target into the folder, under its own name.
    const folder = operands.length > 2 ? resolve(operands[operands.length - 1] as string, user) : undefined;
    if (folder !== undefined && fs.stat(folder)?.kind === 'dir') {
      return operands.slice(0, -1).reduce((status, target) => Math.max(status, ln({ argv: [argv[0] as string, ...flagsOf(flags), target, folder], stdin: undefined, io, user })), 0);
    }
    if (operands.length !== 2) {
      io.err("ln: usage: ln -s[f][n] TARGET LINK_NAME, or ln -s TARGET... DIRECTORY\n");
      return 1;
    }
    const [target, name] = operands as [string, string];
    let linkPath = resolve(name, user);
    // Without -n (or -T), a link to a folder is dereferenced and the new link lands inside it.
    if (!flags.has('n') && !flags.has('T') && fs.stat(linkPath)?.kind === 'dir') {
      linkPath = posix.join(linkPath, posix.basename(target));
    }
    if (fs.lstat(linkPath) !== undefined && !flags.has('f')) {
      io.err(`ln: failed to create symbolic link '${name}': File exists\n`);
      return 1;
    }
    if (fs.lstat(linkPath)?.kind === 'dir') {
      io.err(`ln: cannot overwrite directory '${name}'\n`);
      return 1;
    }
    fs.symlink(target, linkPath);
    return 0;
  };

  const grep = ({ argv, stdin, io, user }: CommandContext): number => {
    const args = argv.slice(1);
    const flags = new Set<string>();
    const patterns: string[] = [];
    const files: string[] = [];
    for (let index = 0; index < args.length; index++) {
      const arg = args[index] as string;
      if (arg === '-e') patterns.push(args[++index] ?? '');
      else if (/^-[A-Za-z]+$/.test(arg) && files.length === 0) for (const flag of arg.slice(1)) flags.add(flag);
      else if (patterns.length === 0) patterns.push(arg);
      else files.push(arg);
    }
    if (patterns.length === 0) {
      io.err('Usage: grep [OPTION]... PATTERNS [FILE]...\n');
      return EXIT_USAGE;
    }
    const matcher = compileGrepPattern(patterns, flags);
    const sources = files.length > 0 ? files : ['-'];
    const prefix = (sources.length > 1 || flags.has('H')) && !flags.has('h');
    let matched = false;
    let failed = false;
    for (const source of sources) {
      const text = source === '-' ? (stdin ?? '') : fs.readFile(resolve(source, user));
      if (text === undefined) {
        if (!flags.has('s')) io.err(`grep: ${source}: ${fs.stat(resolve(source, user)) ? 'Is a directory' : 'No such file or directory'}\n`);
        failed = true;
        continue;
      }
      const lines = text.split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      const hits = lines.filter((line) => matcher.test(line) !== flags.has('v'));
      matched ||= hits.length > 0;
      if (flags.has('q')) continue;
      const label = prefix ? `${source === '-' ? '(standard input)' : source}:` : '';
      if (flags.has('l')) {
        if (hits.length > 0) io.out(`${source}\n`);
      } else if (flags.has('c')) io.out(`${label}${hits.length}\n`);
      else for (const hit of hits) io.out(`${label}${hit}\n`);
    }
    if (flags.has('q') && matched) return 0;
    return failed ? EXIT_USAGE : matched ? 0 : 1;
  };

  const headOrTail = ({ argv, stdin, io, user }: CommandContext): number => {
    let count = 10;
    const files: string[] = [];
    const args = argv.slice(1);
    for (let index = 0; index < args.length; index++) {
      const arg = args[index] as string;
      if (arg === '-n') count = Number.parseInt(args[++index] ?? '10', 10);
      else if (/^-n?\d+$/.test(arg)) count = Number.parseInt(arg.replace(/^-n?/, ''), 10);
      else files.push(arg);
    }
    const text = files.length > 0 ? fs.readFile(resolve(files[0] as string, user)) : (stdin ?? '');
    if (text === undefined) {
      io.err(`${argv[0]}: cannot open '${files[0]}' for reading: No such file or directory\n`);
      return 1;
    }
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const kept = argv[0] === 'head' ? lines.slice(0, count) : lines.slice(Math.max(0, lines.length - count));
    io.out(kept.map((line) => `${line}\n`).join(''));
    return 0;
  };

  const wc = ({ argv, stdin, io, user }: CommandContext): number => {
    const { flags, operands } = splitFlags(argv.slice(1));
    const text = operands.length > 0 ? fs.readFile(resolve(operands[0] as string, user)) : (stdin ?? '');
    if (text === undefined) {
      io.err(`wc: ${operands[0]}: No such file or directory\n`);
      return 1;
    }
    const counts: number[] = [];
    const all = flags.size === 0;
    if (all || flags.has('l')) counts.push((text.match(/\n/g) ?? []).length);
    if (all || flags.has('w')) counts.push(text.split(/\s+/).filter(Boolean).length);
    if (all || flags.has('c')) counts.push(Buffer.byteLength(text));
    io.out(`${counts.join(' ')}${operands[0] ? ` ${operands[0]}` : ''}\n`);
    return 0;
  };

  const mkdir = ({ argv, io, user }: CommandContext): number => {
    const { flags, operands } = splitFlags(argv.slice(1));
    for (const operand of operands) {
      const path = resolve(operand, user);
      if (fs.lstat(path) !== undefined && !flags.has('p')) {
        io.err(`mkdir: cannot create directory '${operand}': File exists\n`);
        return 1;
      }
      if (!flags.has('p') && fs.stat(posix.dirname(path))?.kind !== 'dir') {
        io.err(`mkdir: cannot create directory '${operand}': No such file or directory\n`);
        return 1;
      }
      fs.mkdir(path);
    }
    return 0;
  };

  const uptime = ({ argv, io }: CommandContext): number => {
    const now = options.clock.now();
    const boot = options.bootTime();
    const seconds = Math.floor((now - boot) / 1000);
    const days = Math.floor(seconds / 86400);
    const hours = Math.floor((seconds % 86400) / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    if (argv[1] === '-s') {
      io.out(`${formatTimestamp(boot)}\n`);
    } else if (argv[1] === '-p') {
      const parts = [days && `${days} day${days === 1 ? '' : 's'}`, hours && `${hours} hour${hours === 1 ? '' : 's'}`];
      parts.push(`${minutes} minute${minutes === 1 ? '' : 's'}`);
      io.out(`up ${parts.filter(Boolean).join(', ')}\n`);
    } else {
      const since = days > 0 ? `${days} day${days === 1 ? '' : 's'}, ` : '';
      const clock = `${String(hours).padStart(2, ' ')}:${String(minutes).padStart(2, '0')}`;
      io.out(` ${formatTimestamp(now).slice(11)} up ${since}${clock},  1 user,  load average: 0.08, 0.03, 0.01\n`);
    }
    return 0;
  };

  const df = ({ argv, io, user }: CommandContext): number => {
    const { operands } = splitFlags(argv.slice(1));
    for (const operand of operands) {
      if (fs.stat(resolve(operand, user)) === undefined) {
        io.err(`df: ${operand}: No such file or directory\n`);
        return 1;
      }
    }
    const disk = options.disk();
    const used = disk.totalKb - disk.availableKb;
    const capacity = `${Math.ceil((used / disk.totalKb) * 100)}%`;
    io.out('Filesystem     1024-blocks      Used Available Capacity Mounted on\n');
    io.out(
      `${disk.filesystem.padEnd(14)} ${String(disk.totalKb).padStart(11)} ${String(used).padStart(9)} ${String(disk.availableKb).padStart(9)} ${capacity.padStart(8)} ${disk.mount}\n`,
    );
    return 0;
  };

  return {
    cat,
    ls,
    test,
    '[': test,
    readlink,
    ln,
    grep,
    head: headOrTail,
    tail: headOrTail,
    wc,
    mkdir,
    uptime,
    df,
    hostname: ({ io }) => {
      io.out(`${options.hostname()}\n`);
      return 0;
    },
    whoami: ({ io, user }) => {
      io.out(`${user}\n`);
      return 0;
    },
  };
}

/** Basic regular expressions (grep without -E) treat `+ ? | ( ) { }` literally unless escaped. */
function compileGrepPattern(patterns: string[], flags: Set<string>): RegExp {
  const sources = patterns.map((pattern) => {
    if (flags.has('F')) return pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    if (flags.has('E')) return pattern;
    return pattern.replace(/\\([+?|(){}])|([+?|(){}])/g, (_match, escaped?: string, plain?: string) =>
      escaped !== undefined ? escaped : `\\${plain}`,
    );
  });
  const source = sources.map((part) => (flags.has('x') ? `^(?:${part})$` : part)).join('|');
  return new RegExp(source, flags.has('i') ? 'i' : '');
}

import { posix } from 'node:path';
import type { CommandContext, CommandTable } from '../shell.js';
import { VirtualFs } from '../vfs.js';
import { homeOf, splitFlags } from './linux.js';

/** `rm [-f] [-r]` and `cp SRC DST`, for the devices whose procedures replace files and links. */
export function createFileCommands(fs: VirtualFs): CommandTable {
  const resolve = (path: string, user: string): string => VirtualFs.normalize(path, homeOf(user));

  const removeTree = (path: string): void => {
    for (const name of fs.list(path) ?? []) {
      const child = posix.join(path, name);
      if (fs.lstat(child)?.kind === 'dir') removeTree(child);
      else fs.remove(child);
    }
    fs.remove(path);
  };

  const rm = ({ argv, io, user }: CommandContext): number => {
    const { flags, operands } = splitFlags(argv.slice(1));
    const force = flags.has('f');
    const recursive = flags.has('r') || flags.has('R');
    let status = 0;
    for (const operand of operands) {
      const path = resolve(operand, user);
      const node = fs.lstat(path);
      if (node === undefined) {
        if (!force) {
          io.err(`rm: cannot remove '${operand}': No such file or directory\n`);
          status = 1;
        }
      } else if (node.kind === 'dir' && !recursive) {
        io.err(`rm: cannot remove '${operand}': Is a directory\n`);
        status = 1;
      } else if (node.kind === 'dir') removeTree(path);
      else fs.remove(path);
    }
    if (operands.length === 0 && !force) {
      io.err('rm: missing operand\n');
      return 1;
    }
    return status;
  };

  const cp = ({ argv, io, user }: CommandContext): number => {
    const { operands } = splitFlags(argv.slice(1));
    if (operands.length !== 2) {
      io.err('cp: the lab copies one file: cp SOURCE DEST\n');
      return 1;
    }
    const [source, dest] = operands as [string, string];
    const from = fs.stat(resolve(source, user));
    if (from === undefined) {
      io.err(`cp: cannot stat '${source}': No such file or directory\n`);
      return 1;
    }
    if (from.kind !== 'file') {
      io.err(`cp: -r not specified; omitting directory '${source}'\n`);
      return 1;
    }
    let target = resolve(dest, user);
    if (fs.stat(target)?.kind === 'dir') target = posix.join(target, posix.basename(source));
    fs.writeFile(target, from.content, from.size);
    return 0;
  };

  return { rm, cp };
}

import { posix } from 'node:path';
import type { Clock } from './clock.js';

export type FsNode =
  /** `bytes` keeps what SFTP wrote exactly (content is its UTF-8 reading). */
  | { kind: 'file'; content: string; size: number; mtime: number; bytes?: Buffer }
  | { kind: 'dir'; mtime: number }
  | { kind: 'link'; target: string; mtime: number };

const MAX_LINK_DEPTH = 40;

/** An in-memory filesystem with directories and symbolic links, enough for `ls`, `test`, `ln`, `cat`. */
export class VirtualFs {
  private readonly nodes = new Map<string, FsNode>();

  constructor(private readonly clock: Clock) {
    this.nodes.set('/', { kind: 'dir', mtime: clock.now() });
  }

  static normalize(path: string, cwd = '/'): string {
    return posix.resolve(cwd, path);
  }

  /** Writes a file, creating its parent folders; `size` stands in for large binary content. */
  writeFile(path: string, content: string, size = Buffer.byteLength(content)): void {
    const target = this.canonical(VirtualFs.normalize(path), true);
    this.mkdir(posix.dirname(target));
    this.nodes.set(target, { kind: 'file', content, size, mtime: this.clock.now() });
  }

  /** Writes what SFTP received, byte for byte. */
  writeBytes(path: string, bytes: Buffer): void {
    const target = this.canonical(VirtualFs.normalize(path), true);
    this.mkdir(posix.dirname(target));
    this.nodes.set(target, { kind: 'file', content: bytes.toString('utf8'), size: bytes.length, mtime: this.clock.now(), bytes: Buffer.from(bytes) });
  }

  /** A file's bytes, for SFTP: what was written, or the content in UTF-8. */
  readBytes(path: string): Buffer | undefined {
    const node = this.stat(path);
    if (node?.kind !== 'file') return undefined;
    return node.bytes ?? Buffer.from(node.content, 'utf8');
  }

  mkdir(path: string): void {
    const target = this.canonical(VirtualFs.normalize(path), true);
    if (target === '/' || this.nodes.get(target)?.kind === 'dir') return;
    this.mkdir(posix.dirname(target));
    this.nodes.set(target, { kind: 'dir', mtime: this.clock.now() });
  }

  /** Creates or replaces the link at `linkPath` (the link itself, never what it points to). */
  symlink(target: string, linkPath: string): void {
    const path = this.canonical(VirtualFs.normalize(linkPath), false);
    this.mkdir(posix.dirname(path));
    this.nodes.set(path, { kind: 'link', target, mtime: this.clock.now() });
  }

  remove(path: string): boolean {
    return this.nodes.delete(this.canonical(VirtualFs.normalize(path), false));
  }

  lstat(path: string): FsNode | undefined {
    return this.nodes.get(this.canonical(VirtualFs.normalize(path), false));
  }

  stat(path: string): FsNode | undefined {
    return this.nodes.get(this.canonical(VirtualFs.normalize(path), true));
  }

  /** The path with every link resolved, or undefined when it does not exist. */
  realpath(path: string): string | undefined {
    const target = this.canonical(VirtualFs.normalize(path), true);
    return this.nodes.has(target) ? target : undefined;
  }

  /** The target of a link, or undefined when the path is not a link. */
  readlink(path: string): string | undefined {
    const node = this.lstat(path);
    return node?.kind === 'link' ? node.target : undefined;
  }

  readFile(path: string): string | undefined {
    const node = this.stat(path);
    return node?.kind === 'file' ? node.content : undefined;
  }

  /** Names in a folder, sorted, or undefined when it is not a folder. */
  list(path: string): string[] | undefined {
    const dir = this.canonical(VirtualFs.normalize(path), true);
    if (this.nodes.get(dir)?.kind !== 'dir') return undefined;
    const prefix = dir === '/' ? '/' : `${dir}/`;
    const names: string[] = [];
    for (const key of this.nodes.keys()) {
      if (key !== dir && key.startsWith(prefix) && !key.slice(prefix.length).includes('/')) {
        names.push(key.slice(prefix.length));
      }
    }
    return names.sort();
  }

  /** Shell-style expansion of `*` and `?` in an absolute pattern; sorted matches, empty when none. */
  glob(pattern: string): string[] {
    let paths = ['/'];
    for (const part of VirtualFs.normalize(pattern).split('/').filter(Boolean)) {
      if (!/[*?]/.test(part)) {
        paths = paths.map((path) => posix.join(path, part));
        continue;
      }
      const matcher = globToRegExp(part);
      paths = paths.flatMap((path) =>
        (this.list(path) ?? [])
          .filter((name) => matcher.test(name) && (part.startsWith('.') || !name.startsWith('.')))
          .map((name) => posix.join(path, name)),
      );
    }
    return paths.filter((path) => this.lstat(path) !== undefined).sort();
  }

  private canonical(path: string, followLast: boolean, depth = 0): string {
    if (depth > MAX_LINK_DEPTH) return path;
    const parts = path.split('/').filter(Boolean);
    let current = '/';
    parts.forEach((part, index) => {
      const next = posix.join(current, part);
      const node = this.nodes.get(next);
      const follow = node?.kind === 'link' && (index < parts.length - 1 || followLast);
      current = follow ? this.canonical(posix.resolve(current, node.target), true, depth + 1) : next;
    });
    return current;
  }
}

function globToRegExp(part: string): RegExp {
  const source = part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`);
}

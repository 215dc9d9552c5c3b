import { mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, extname, join, relative } from 'node:path';
import { createInputError } from '../errors.js';

const YAML_EXTENSIONS = new Set(['.yaml', '.yml']);
/** Folders never worth walking for runbooks. */
const SKIPPED_FOLDERS = new Set(['node_modules', '.git', '.runbook', 'reports']);

/** The YAML files named by `paths`, folders walked in name order. A missing path is bad input. */
export function collectYamlFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  const walk = (path: string, named: boolean) => {
    let stats;
    try {
      stats = statSync(path);
    } catch {
      throw createInputError('RB1005', `${path}: no such file or folder; check the path`);
    }
    if (stats.isDirectory()) {
      for (const entry of readdirSync(path).sort()) {
        if (!SKIPPED_FOLDERS.has(entry)) walk(join(path, entry), false);
      }
    } else if (named || YAML_EXTENSIONS.has(extname(path))) {
      files.push(path);
    }
  };
  for (const path of paths) walk(path, true);
  return files;
}

export function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw createInputError('RB1005', `${path}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}); check the path and its permissions`);
  }
}

/** A path as people typed it: relative to the working folder when inside it. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

/**
 * Writes through a temporary file and a rename, so a reader never sees half a file. A symbolic link
 * is written through (the link stays), and a path that is not a regular file (a FIFO, a terminal,
 * `/dev/stdout`) is written straight to: a rename would replace the device node itself.
 */
export function writeFileAtomic(path: string, text: string | Uint8Array): void {
  const target = statOrNull(path);
  if (target !== null && !target.isFile()) {
    writeFileSync(path, text);
    return;
  }
  const resolved = target === null ? path : realpathSync(path);
  mkdirSync(dirname(resolved), { recursive: true });
  const temporary = `${resolved}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(temporary, text);
  try {
    renameSync(temporary, resolved);
  } catch (error) {
    // A folder at `path`, say: leave nothing behind.
    rmSync(temporary, { force: true });
    throw error;
  }
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

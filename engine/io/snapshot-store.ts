import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInputError } from '../errors.js';
import { suggestName } from '../load/suggest.js';
import { SNAPSHOT_NAME_PATTERN, type Snapshot } from '../schema/snapshot.js';
import { createInvalidNameError } from '../snapshot/capture.js';
import { ELEMENT_TYPES, type ElementType } from '../snapshot/element-model.js';
import { loadProfile, type CompiledProfile } from '../snapshot/profile.js';
import { parseSnapshot, serializeSnapshot } from '../snapshot/snapshot-file.js';
import { displayPath, readText } from './files.js';

/** Where snapshots are kept, relative to the working folder (the repository root in practice). */
export const DEFAULT_SNAPSHOT_FOLDER = join('reports', 'snapshots');

const NAME = new RegExp(SNAPSHOT_NAME_PATTERN);

export type SnapshotSummary =
  | {
      ok: true;
      name: string;
      file: string;
      createdAt: string;
      profile: string;
      /** The snapshot's note, when it has one. */
      note?: string;
      hosts: string[];
      /** Records per element; null when the element was not collected on any host. */
      counts: Record<ElementType, number | null>;
      /** Elements not collected on every host. */
      incomplete: ElementType[];
    }
  | { ok: false; name: string; file: string; error: string };

export function snapshotPath(folder: string, name: string): string {
  if (!NAME.test(name)) throw createInvalidNameError(name);
  return join(folder, `${name}.json`);
}

/**
 * Writes a new snapshot: the whole file appears at once (written to a temporary file, then linked
 * into place) and an existing snapshot of the same name is never replaced.
 */
export function saveSnapshot(folder: string, snapshot: Snapshot): string {
  const path = assertSnapshotAbsent(folder, snapshot.name);
  mkdirSync(folder, { recursive: true });
  const temporary = writeAside(folder, snapshot);
  try {
    publish(temporary, path, snapshot.name);
  } finally {
    if (existsSync(temporary)) unlinkSync(temporary);
  }
  return path;
}

/** The snapshot written whole, and flushed, to a new temporary file in `folder`: its path. */
function writeAside(folder: string, snapshot: Snapshot): string {
  const temporary = join(folder, `.${snapshot.name}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(temporary, 'wx');
  try {
    for (const piece of serializeSnapshot(snapshot)) writeSync(fd, piece);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return temporary;
}

/** Replaces a snapshot this run took (a later batch adds its hosts): written aside, then renamed over it. */
export function replaceSnapshot(folder: string, snapshot: Snapshot): string {
  const path = snapshotPath(folder, snapshot.name);
  const temporary = writeAside(folder, snapshot);
  renameSync(temporary, path);
  return path;
}

// link() fails when the target exists, so two writers of one name cannot both win.
function publish(temporary: string, path: string, name: string): void {
  try {
    linkSync(temporary, path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw createExistsError(path, name);
    // Filesystems without hard links: check, then rename.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
    if (existsSync(path)) throw createExistsError(path, name);
    renameSync(temporary, path);
  }
}

/** Refuses a name already taken, before a long capture rather than after it. Returns the path. */
export function assertSnapshotAbsent(folder: string, name: string): string {
  const path = snapshotPath(folder, name);
  if (existsSync(path)) throw createExistsError(path, name);
  return path;
}

export function assertSnapshotExists(folder: string, name: string): string {
  const path = snapshotPath(folder, name);
  if (!existsSync(path)) throw createNotFoundError(folder, name);
  return path;
}

function createExistsError(path: string, name: string) {
  return createInputError(
    'RB1503',
    `snapshot \`${name}\` already exists (${displayPath(path)}); choose another name, or delete it first with \`runbook snapshot delete ${name}\``,
  );
}

export function loadSnapshot(folder: string, name: string): Snapshot {
  return readSnapshotFile(assertSnapshotExists(folder, name));
}

export function readSnapshotFile(path: string): Snapshot {
  return parseSnapshot(readText(path), displayPath(path));
}

/** A snapshot by name (under `folder`) or by path to its JSON file, as `runbook diff A B` takes them. */
export function resolveSnapshot(folder: string, reference: string): Snapshot {
  if (NAME.test(reference) && existsSync(join(folder, `${reference}.json`))) return loadSnapshot(folder, reference);
  const looksLikePath = reference.includes('/') || reference.includes('\\') || extname(reference) === '.json';
  if (looksLikePath && existsSync(reference)) return readSnapshotFile(reference);
  if (looksLikePath) throw createInputError('RB1502', `${reference}: no such snapshot file; check the path`);
  throw createNotFoundError(folder, reference);
}

function createNotFoundError(folder: string, name: string) {
  const names = listSnapshotNames(folder);
  const suggestion = suggestName(name, names);
  const advice = suggestion
    ? `did you mean \`${suggestion}\`?`
    : names.length > 0
      ? `run \`runbook snapshot list\` to see the ${names.length} snapshot(s)`
      : 'there are no snapshots yet; take one with `runbook snapshot create`';
  return createInputError('RB1502', `no snapshot \`${name}\` in ${displayPath(folder)}; ${advice}`);
}

export function listSnapshotNames(folder: string): string[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((file) => extname(file) === '.json' && NAME.test(basename(file, '.json')))
    .map((file) => basename(file, '.json'))
    .sort();
}

/** Every snapshot with its counts; a file that does not read as a snapshot is listed with the reason. */
export function listSnapshots(folder: string): SnapshotSummary[] {
  return listSnapshotNames(folder).map((name) => {
    const file = displayPath(join(folder, `${name}.json`));
    try {
      return summarizeSnapshot(loadSnapshot(folder, name), file);
    } catch (error) {
      return { ok: false, name, file, error: (error as Error).message };
    }
  });
}

export function summarizeSnapshot(snapshot: Snapshot, file: string): SnapshotSummary {
  const counts = {} as Record<ElementType, number | null>;
  const incomplete: ElementType[] = [];
  for (const type of ELEMENT_TYPES) {
    const element = snapshot.elements[type];
    counts[type] = element.status === 'notCollected' ? null : element.records.length;
    if (element.status !== 'collected') incomplete.push(type);
  }
  return {
    ok: true,
    name: snapshot.name,
    file,
    createdAt: snapshot.createdAt,
    profile: snapshot.profile,
    ...(snapshot.note === undefined ? {} : { note: snapshot.note }),
    hosts: snapshot.hosts.map((h) => h.name),
    counts,
    incomplete,
  };
}

export function deleteSnapshot(folder: string, name: string): string {
  const path = snapshotPath(folder, name);
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw createNotFoundError(folder, name);
    throw error;
  }
  return path;
}

// ---------------------------------------------------------------- profiles

/** The profiles shipped with the package: <package root>/profiles, from source or from dist/. */
export function findShippedProfilesFolder(): string | undefined {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(folder, 'package.json')) && existsSync(join(folder, 'profiles'))) return join(folder, 'profiles');
    const parent = dirname(folder);
    if (parent === folder) return undefined;
    folder = parent;
  }
}

/**
 * A profile by path (holding a `/` or ending in .yaml/.yml) or by name, looked up in ./profiles and
 * then among the shipped profiles. Invalid profiles are bad input with positioned diagnostics.
 */
export function readProfile(reference: string, folders: readonly string[] = defaultProfileFolders()): CompiledProfile {
  const path = findProfile(reference, folders);
  const loaded = loadProfile(displayPath(path), readFileSync(path, 'utf8'));
  if (!loaded.ok) {
    throw createInputError(loaded.diagnostics[0]?.code ?? 'RB1104', `${displayPath(path)} is not a valid profile; fix the problems above`, loaded.diagnostics);
  }
  return loaded.compiled;
}

export function defaultProfileFolders(): string[] {
  const shipped = findShippedProfilesFolder();
  return [...new Set([resolve('profiles'), ...(shipped ? [shipped] : [])])];
}

function findProfile(reference: string, folders: readonly string[]): string {
  const isPath = reference.includes('/') || reference.includes('\\') || ['.yaml', '.yml'].includes(extname(reference));
  if (isPath) {
    if (!existsSync(reference)) throw createInputError('RB1507', `${reference}: no such profile file; check the path`);
    return reference;
  }
  for (const folder of folders) {
    for (const extension of ['.yaml', '.yml']) {
      const path = join(folder, `${reference}${extension}`);
      if (existsSync(path)) return path;
    }
  }
  const known = [
    ...new Set(
      folders.flatMap((folder) =>
        existsSync(folder) ? readdirSync(folder).filter((f) => ['.yaml', '.yml'].includes(extname(f))).map((f) => basename(f, extname(f))) : [],
      ),
    ),
  ].sort();
  const suggestion = suggestName(reference, known);
  throw createInputError(
    'RB1507',
    `no profile \`${reference}\` in ${folders.map(displayPath).join(' or ')}; ${suggestion ? `did you mean \`${suggestion}\`?` : known.length > 0 ? `known profiles: ${known.join(', ')}` : 'pass a path to a profile file'}`,
  );
}

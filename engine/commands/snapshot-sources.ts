import { relative, resolve } from 'node:path';
import { createInputError } from '../errors.js';
import { displayPath } from '../io/files.js';
import { DEFAULT_SNAPSHOT_FOLDER, resolveSnapshot } from '../io/snapshot-store.js';
import { describeRepository } from '../git/repository.js';
import { findCommittedSnapshots } from '../git/snapshot-history.js';
import type { Snapshot } from '../schema/snapshot.js';
import { parseSnapshot } from '../snapshot/snapshot-file.js';
import { captureLiveSnapshot, type ExecFactory } from './snapshot.js';

/** A side of a comparison: a snapshot name or file, or a snapshot already read (from history, or live). */
export type SnapshotSource = string | ResolvedSnapshot;

export interface ResolvedSnapshot {
  snapshot: Snapshot;
  /** The commit it was read from (`NAME@TIME`, `@TIME`). */
  commit?: string;
  /** Captured now, not stored (`live`). */
  live?: boolean;
}

export const LIVE = 'live';

/** Whether a side names a time (`NAME@TIME`, `@TIME`). */
export function isTimeReference(reference: string): boolean {
  return reference.includes('@');
}

/**
 * `NAME@TIME` is NAME as committed at or before TIME; `@TIME` the newest snapshot committed at or
 * before TIME (the latest commit then that added or changed one; of its files the latest taken).
 * Read from the git history of the snapshot folder, whatever the working tree holds now.
 */
export async function resolveTimeReference(reference: string, folder = DEFAULT_SNAPSHOT_FOLDER): Promise<ResolvedSnapshot> {
  const at = reference.lastIndexOf('@');
  const name = reference.slice(0, at);
  const text = reference.slice(at + 1);
  const time = new Date(text);
  if (text === '' || Number.isNaN(time.getTime())) {
    throw createInputError('RB1513', `${reference}: \`${text}\` is not a time; write NAME@TIME or @TIME with an ISO 8601 time, e.g. @2026-12-01T10:00:00Z`);
  }
  const repository = await describeRepository(resolve(folder));
  if (repository === null) {
    throw createInputError('RB1511', `${reference}: ${displayPath(folder)} is not in a git repository, so it has no history; commit the snapshots first`);
  }
  const inRepository = relative(repository.root, resolve(folder)).split('\\').join('/');
  const files = await findCommittedSnapshots(repository.root, inRepository, time, name === '' ? undefined : name);
  const read = files.map((file) => ({ file, snapshot: parseSnapshot(file.text, `${file.path} at ${file.commit.slice(0, 12)}`) }));
  const newest = read.sort((a, b) => b.snapshot.createdAt.localeCompare(a.snapshot.createdAt))[0];
  if (newest === undefined) {
    throw createInputError(
      'RB1511',
      `${reference}: no snapshot${name === '' ? '' : ` \`${name}\``} was committed to ${displayPath(folder)} at or before ${time.toISOString()}; \`git log -- ${inRepository}\` shows when they were`,
    );
  }
  return { snapshot: newest.snapshot, commit: newest.file.commit };
}

export interface DiffSidesOptions {
  folder?: string;
  /** For a `live` side. */
  inventoryPath?: string;
  profile?: string;
  createExec?: ExecFactory;
}

/**
 * The two sides of `runbook diff`: names and files stay names (read by the comparison), times are
 * read from history, and `live` is captured now on the hosts of the other side (every inventory
 * host when both are live).
 */
export async function resolveDiffSides(a: string, b: string, options: DiffSidesOptions): Promise<[SnapshotSource, SnapshotSource]> {
  const folder = options.folder ?? DEFAULT_SNAPSHOT_FOLDER;
  const stored = async (reference: string): Promise<SnapshotSource> => (isTimeReference(reference) ? resolveTimeReference(reference, folder) : reference);
  const sideA = a === LIVE ? undefined : await stored(a);
  const sideB = b === LIVE ? undefined : await stored(b);
  const other = sideA ?? sideB;
  const hostsOf = (source: SnapshotSource | undefined) =>
    source === undefined ? undefined : (typeof source === 'string' ? resolveSnapshot(folder, source) : source.snapshot).hosts.map((h) => h.name);
  const live = async (): Promise<ResolvedSnapshot> => {
    if (options.inventoryPath === undefined || options.createExec === undefined) {
      throw createInputError('RB1514', '`live` captures the hosts now: give the inventory with -i INVENTORY');
    }
    const hosts = hostsOf(other);
    const snapshot = await captureLiveSnapshot({
      inventoryPath: options.inventoryPath,
      ...(options.profile ? { profile: options.profile } : {}),
      ...(hosts ? { hosts } : {}),
      createExec: options.createExec,
    });
    return { snapshot, live: true };
  };
  return [sideA ?? (await live()), sideB ?? (await live())];
}

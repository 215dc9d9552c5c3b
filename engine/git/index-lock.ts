import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { simpleGit } from 'simple-git';
import { createInputError } from '../errors.js';

export interface AbandonedCommit {
  /** When the interrupted commit began (milliseconds since the epoch). */
  since: number;
  /** Whether the process that ran it may still be alive (or cannot be checked from here). */
  writerMayLive: boolean;
}

/**
 * git leaves `index.lock` behind when it is killed in the middle of a commit, and every later git
 * command then refuses to run. When a run's report commit was cut off, the lock is removed if it
 * was made during that commit by a process now gone; any other lock may be a git still at work, and
 * is left for the operator (exit 2). Returns the lock removed, if one was.
 */
export async function clearAbandonedIndexLock(root: string, commit: AbandonedCommit): Promise<string | undefined> {
  const gitDir = (await simpleGit({ baseDir: root }).revparse(['--absolute-git-dir'])).trim();
  const lock = join(gitDir, 'index.lock');
  let madeAt: number;
  try {
    madeAt = statSync(lock).mtimeMs;
  } catch {
    return undefined;
  }
  // File times may be coarser than the clock: a second of slack.
  if (!commit.writerMayLive && madeAt >= commit.since - 1_000) {
    rmSync(lock, { force: true });
    return lock;
  }
  throw createInputError(
    'RB3011',
    `git's lock ${lock} is there (since ${new Date(madeAt).toISOString()}), so the report cannot be committed: a git command may be running in this repository. If none is, remove the file and resume again`,
  );
}

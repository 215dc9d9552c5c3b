import { posix } from 'node:path';
import { execGit, readFileAtCommit } from './repository.js';

/** A snapshot file as it was committed: the commit, its date, the path and the text. */
export interface CommittedSnapshotFile {
  commit: string;
  committedAt: string;
  path: string;
  text: string;
}

/**
 * The snapshot files of `folder` (a path from the repository root) as of the newest commit at or
 * before `time` that added or changed one, newest commit first: NetQ keeps a time series, here the
 * git history of the snapshot folder is one. With `name`, only that snapshot's file.
 */
export async function findCommittedSnapshots(root: string, folder: string, time: Date, name?: string): Promise<CommittedSnapshotFile[]> {
  const pathspec = name === undefined ? `${folder}/` : posix.join(folder, `${name}.json`);
  const log = await execGit(root, [
    'log',
    `--before=${time.toISOString()}`,
    '--diff-filter=AM',
    '--name-only',
    '--format=@%H %cI',
    'HEAD',
    '--',
    pathspec,
  ]);
  if (log.code !== 0) return [];
  const found: CommittedSnapshotFile[] = [];
  let current: { commit: string; committedAt: string } | undefined;
  for (const line of log.stdout.split('\n')) {
    if (line.startsWith('@')) {
      // Only the newest commit that touched a snapshot counts; git lists commits newest first.
      if (found.length > 0) break;
      const [commit = '', committedAt = ''] = line.slice(1).split(' ');
      current = { commit, committedAt };
      continue;
    }
    if (current === undefined || !line.endsWith('.json') || posix.dirname(line) !== folder) continue;
    const blob = await readFileAtCommit(root, current.commit, line);
    if (blob.ok) found.push({ ...current, path: line, text: blob.text });
  }
  return found;
}

import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { simpleGit } from 'simple-git';
import { describeRepository, firstLine } from './repository.js';

export interface CommitRequest {
  /** A folder inside the repository. */
  folder: string;
  /** The files to commit, absolute or relative to `folder`; nothing else goes in the commit. */
  paths: readonly string[];
  subject: string;
  body?: string;
  push?: boolean;
  /** `git commit -S`: signed with the user's own signing setup (`gpg.format`, `user.signingkey`). */
  sign?: boolean;
}

export type CommitOutcome =
  | { committed: true; commit: string; pushed: boolean; pushError?: string }
  | { committed: false; reason: string };

/**
 * Commits exactly `paths` on the current branch: they are added, then committed with a pathspec
 * (`git commit --only`), so changes the user has staged for other files stay staged and out of the
 * commit. Failures are returned, never thrown: the files stay on disk and the caller says so.
 */
export async function commitPaths(request: CommitRequest): Promise<CommitOutcome> {
  const repository = await describeRepository(request.folder);
  if (!repository) return { committed: false, reason: `${request.folder} is not in a git repository` };
  const git = simpleGit({ baseDir: repository.root });
  let paths: string[];
  try {
    paths = request.paths.map((path) => toRepositoryPath(repository.root, request.folder, path));
    await git.raw(['add', '--', ...paths]);
  } catch (error) {
    return { committed: false, reason: `git add failed: ${firstLine(error)}` };
  }
  const message = ['-m', request.subject, ...(request.body ? ['-m', request.body] : [])];
  try {
    await git.raw(['commit', ...(request.sign ? ['-S'] : []), ...message, '--only', '--', ...paths]);
  } catch (error) {
    // Leave the index as the user had it: the files are not theirs to find staged.
    if (repository.head) await git.raw(['reset', '-q', '--', ...paths]).catch(() => undefined);
    else await git.raw(['rm', '-q', '--cached', '--', ...paths]).catch(() => undefined);
    return { committed: false, reason: `git commit failed: ${firstLine(error)}` };
  }
  const commit = (await git.revparse(['HEAD'])).trim();
  if (!request.push) return { committed: true, commit, pushed: false };
  try {
    await git.raw(['push']);
    return { committed: true, commit, pushed: true };
  } catch (error) {
    return { committed: true, commit, pushed: false, pushError: firstLine(error) };
  }
}

/** Through realpath on both sides: git reports the root with symlinks resolved (/tmp on macOS is /private/tmp). */
function toRepositoryPath(root: string, folder: string, path: string): string {
  const absolute = realpathSync(isAbsolute(path) ? path : resolve(folder, path));
  const rel = relative(realpathSync(root), absolute).split('\\').join('/');
  if (rel.startsWith('..')) throw new Error(`${path} is outside the repository at ${root}`);
  return rel;
}

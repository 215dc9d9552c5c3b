import { execFile } from 'node:child_process';
import { simpleGit } from 'simple-git';

export interface RepositoryInfo {
  root: string;
  head: string | null;
}

/** The repository holding `folder`, with its HEAD commit (null before the first commit); null outside git. */
export async function describeRepository(folder: string): Promise<RepositoryInfo | null> {
  const git = simpleGit({ baseDir: folder });
  let root: string;
  try {
    root = (await git.revparse(['--show-toplevel'])).trim();
  } catch {
    return null;
  }
  try {
    return { root, head: (await git.revparse(['HEAD'])).trim() };
  } catch {
    return { root, head: null };
  }
}

export type BlobRead = { ok: true; text: string } | { ok: false; reason: string };

/** A file's content at a commit (`git show REF:PATH`, the path relative to the root), or why it cannot be read. */
export async function readFileAtCommit(root: string, ref: string, path: string): Promise<BlobRead> {
  try {
    return { ok: true, text: await simpleGit({ baseDir: root }).raw(['show', `${ref}:${path}`]) };
  } catch (error) {
    return { ok: false, reason: firstLine(error) };
  }
}

/** git's user.name and user.email as this repository sees them; absent when not set. */
export async function readGitIdentity(root: string): Promise<{ name?: string; email?: string }> {
  const git = simpleGit({ baseDir: root });
  const read = async (key: string) => {
    try {
      const value = (await git.raw(['config', '--get', key])).trim();
      return value === '' ? undefined : value;
    } catch {
      return undefined;
    }
  };
  return { name: await read('user.name'), email: await read('user.email') };
}

/** The first line of a git error: what git said, without the usage noise that follows. */
export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n').map((line) => line.trim()).find((line) => line !== '') ?? 'unknown git error';
}

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs git in `root` and returns its exit code with its output. For the calls whose exit code is
 * the answer (`merge-base --is-ancestor`, `verify-commit`): simple-git reports success whenever
 * git printed nothing on stderr.
 */
export function execGit(root: string, args: readonly string[]): Promise<GitResult> {
  return new Promise((resolve) => {
    execFile('git', [...args], { cwd: root, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Whether `commit` is a commit of this repository reachable from `from` (itself included). */
export async function isReachable(root: string, commit: string, from = 'HEAD'): Promise<boolean> {
  return (await execGit(root, ['merge-base', '--is-ancestor', commit, from])).code === 0;
}

/** The full hash of `ref` when it names a commit here, else null. `ref` never reaches git as an option. */
export async function resolveCommit(root: string, ref: string): Promise<string | null> {
  if (ref.startsWith('-')) return null;
  const result = await execGit(root, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  return result.code === 0 ? result.stdout.trim() : null;
}

/** A full commit hash (SHA-1 or SHA-256 repositories), as engine-written records hold them. */
export function isCommitHash(text: unknown): text is string {
  return typeof text === 'string' && /^([0-9a-f]{40}|[0-9a-f]{64})$/.test(text);
}

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

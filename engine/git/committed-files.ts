import { execGit, readFileAtCommit } from './repository.js';

/** The files of a folder as committed at `ref` (paths from the root), sorted; none outside git. */
export async function listCommittedFiles(root: string, folder: string, ref = 'HEAD'): Promise<string[]> {
  const listed = await execGit(root, ['ls-tree', '-r', '--name-only', ref, '--', `${folder}/`]);
  if (listed.code !== 0) return [];
  return listed.stdout.split('\n').filter((line) => line !== '').sort();
}

/** Texts of files at `ref`; a file that cannot be read is left out. */
export async function readCommittedFiles(root: string, paths: readonly string[], ref = 'HEAD'): Promise<Array<{ path: string; text: string }>> {
  const read = await Promise.all(paths.map(async (path) => ({ path, read: await readFileAtCommit(root, ref, path) })));
  return read.flatMap(({ path, read: blob }) => (blob.ok ? [{ path, text: blob.text }] : []));
}

import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { createInputError } from '../errors.js';
import { hashSha256 } from '../plan/canonical-json.js';
import type { Plan } from '../schema/plan.js';
import { readFileAtCommit, type RepositoryInfo } from './repository.js';

/** The runbook and inventory files as given to `apply RUNBOOK -i INVENTORY`. */
export interface InputFiles {
  runbook: string;
  inventory: string;
}

/**
 * Refuses (exit 2) a plan made from files that are not exactly as committed at HEAD: not in the
 * repository, not committed, or edited since. The message names each such file. `--allow-dirty`
 * is the way past, and the report records it.
 */
export async function checkCommittedInputs(plan: Plan, files: InputFiles, repository: RepositoryInfo | null, root: string): Promise<void> {
  const problems = repository ? await findDirtyInputs(plan, files, repository) : [`the runbook and inventory are not in a git repository (${root})`];
  if (problems.length === 0) return;
  throw createInputError(
    'RB4010',
    `\`apply RUNBOOK -i INVENTORY\` runs only what is committed at HEAD, and ${problems.join('; ')}. ` +
      'Commit the change (and have it approved where the policy asks), or pass --allow-dirty to run the files as they are on disk; the report then says so',
  );
}

async function findDirtyInputs(plan: Plan, files: InputFiles, repository: RepositoryInfo): Promise<string[]> {
  const problems: string[] = [];
  const root = realpathSync(repository.root);
  for (const which of ['runbook', 'inventory'] as const) {
    const path = relative(root, realpathSync(resolve(files[which]))).split('\\').join('/');
    if (path.startsWith('../') || isAbsolute(path)) {
      problems.push(`the ${which} ${files[which]} is outside the repository at ${repository.root}`);
      continue;
    }
    const read = repository.head ? await readFileAtCommit(repository.root, repository.head, path) : undefined;
    if (!read?.ok) problems.push(`${path} is not committed`);
    else if (hashSha256(read.text) !== plan.inputs[which].sha256) problems.push(`${path} differs from HEAD (${repository.head!.slice(0, 12)})`);
  }
  return problems;
}

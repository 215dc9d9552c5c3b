import { isAbsolute } from 'node:path';
import { createInputError } from '../errors.js';
import type { Plan } from '../schema/plan.js';
import { formatIdentity, isSameIdentity, type GitIdentity } from './identity.js';
import { findLastAppliedRun } from './ledger.js';
import { execGit, resolveCommit } from './repository.js';

/** Which commits count as the change under review. */
export interface ChangeScope {
  /** The newest commit considered: HEAD, or the approval commit a resumed run relied on. */
  end: string;
  /** `--base REF`: the branch's commits since it left REF count (see `findChangeStart`). */
  base?: string;
}

export interface ChangeStart {
  /** Commits reachable from it are not part of the change; null: the whole history is. */
  exclude: string | null;
  description: string;
}

/**
 * Refuses (exit 2) an approver who authored any commit that changed the plan's runbook or inventory
 * in the change under review. Identities match by email or by name, ignoring case. The plan's own
 * `commit` is not used: the hash does not cover it.
 */
export async function checkSelfApproval(plan: Plan, root: string, approver: GitIdentity, end: string, start: ChangeStart): Promise<void> {
  for (const which of ['runbook', 'inventory'] as const) {
    const { path } = plan.inputs[which];
    if (isAbsolute(path) || path.startsWith('../')) {
      throw createInputError('RB4004', `the policy forbids self-approval, and the plan's ${which} ${path} is outside the repository, so who changed it is unknown; keep runbooks and inventories in the repository`);
    }
    const log = await execGit(root, ['log', '--follow', '--format=%H%x00%an%x00%ae', end, ...(start.exclude ? [`^${start.exclude}`] : []), '--', path]);
    if (log.code !== 0) {
      throw createInputError('RB4004', `the policy forbids self-approval, and who changed ${path} cannot be read from git: ${log.stderr.trim().split('\n')[0] ?? ''}`);
    }
    for (const line of log.stdout.split('\n').filter(Boolean)) {
      const [commit = '', name = '', email = ''] = line.split('\0');
      if (!isSameIdentity(approver, { name, email })) continue;
      throw createInputError(
        'RB4004',
        `${formatIdentity(approver)} authored commit ${commit.slice(0, 12)} that changed ${path} ${start.description}, and the policy forbids self-approval; ` +
          'the approval must be committed by someone who changed neither the runbook nor the inventory (they run `runbook approve PLAN`)',
      );
    }
  }
}

/**
 * Where the change under review starts: the last applied run of the same runbook and inventory.
 * With a base, the branch's commits since it left the base count as well; with neither, the whole
 * history of the two files does. A base can so widen the change, and narrow it only when no plan of
 * theirs was applied yet: it cannot hide a commit made since the last run.
 */
export async function findChangeStart(plan: Plan, root: string, scope: ChangeScope): Promise<ChangeStart> {
  const last = await findLastAppliedRun(root, scope.end, plan);
  const fork = scope.base === undefined ? null : await findForkPoint(root, scope.base, scope.end);
  const sinceRun = last && `since run ${last.runId}, the last applied plan of ${plan.inputs.runbook.path} on ${plan.inputs.inventory.path}`;
  const sinceFork = `since the branch left ${scope.base}`;
  if (last && fork) {
    const earlier = await execGit(root, ['merge-base', last.runCommit, fork]);
    return { exclude: earlier.code === 0 ? earlier.stdout.trim() : null, description: `${sinceRun}, or ${sinceFork}` };
  }
  if (last) return { exclude: last.runCommit, description: sinceRun! };
  if (fork) return { exclude: fork, description: sinceFork };
  return { exclude: null, description: 'in the history of those files (no plan of them was applied yet)' };
}

async function findForkPoint(root: string, base: string, end: string): Promise<string> {
  const commit = await resolveCommit(root, base);
  const fork = commit && (await execGit(root, ['merge-base', commit, end]));
  if (!commit || !fork || fork.code !== 0) {
    throw createInputError('RB4013', `the base ${JSON.stringify(base)} is not a commit that shares history with ${end.slice(0, 12)} in this repository; name the branch the change is to be merged into (e.g. --base origin/main)`);
  }
  return fork.stdout.trim();
}

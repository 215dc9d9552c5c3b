import { dirname, join, resolve } from 'node:path';
import { EXIT_CODES, createInputError, type ExitCode } from '../errors.js';
import { approvalRelativePath, checkSelfApproval, createApproval, readCommittedApproval, renderApprovalJson } from '../git/approvals.js';
import { commitPaths } from '../git/commit-paths.js';
import { checkPlanFreshness } from '../git/freshness.js';
import { describeRepository } from '../git/repository.js';
import { writeFileAtomic } from '../io/files.js';
import { readPlanFile } from './apply.js';

export interface ApproveOptions {
  planPath: string;
  /** Who approves: a name or email, recorded as is. */
  by: string;
  write: (text: string) => void;
  writeError: (text: string) => void;
  /** Milliseconds since the epoch; tests pass a fixed one. */
  now?: number;
}

/**
 * `runbook approve PLAN --by NAME`: records who approved which plan hash at the current commit, as
 * `approvals/<hex>.json` committed at the repository root. Exit 0 when recorded (or already recorded
 * by the same person), 1 when the file was written but could not be committed, 2 for bad input: a
 * stale plan, a self-approval the policy forbids, no repository.
 */
export async function runApprove(options: ApproveOptions): Promise<ExitCode> {
  const approver = options.by.trim();
  if (approver === '') throw createInputError('RB4007', '--by needs the name or email of who approves');
  const { plan } = await readPlanFile(options.planPath);
  const repository = (await describeRepository(dirname(resolve(options.planPath)))) ?? (await describeRepository(process.cwd()));
  if (!repository) throw createInputError('RB4008', 'approvals are committed to git: run `runbook approve` inside the repository that holds the runbook and inventory');
  if (!repository.head) throw createInputError('RB4008', `the repository at ${repository.root} has no commit yet: commit the runbook and inventory, then make the plan`);

  await checkPlanFreshness(plan, repository.root);
  if (plan.policy.forbidSelfApproval) await checkSelfApproval(plan, repository.root, approver);

  const relativePath = approvalRelativePath(plan.hash);
  const path = join(repository.root, relativePath);
  const existing = await readCommittedApproval(repository.root, plan.hash);
  if (existing.found === 'valid') {
    if (existing.approval.approver.toLowerCase() === approver.toLowerCase()) {
      options.write(`plan ${plan.hash} is already approved by ${existing.approval.approver} (${relativePath})\n`);
      return EXIT_CODES.ok;
    }
    options.writeError(`note: this replaces the approval by ${existing.approval.approver} of ${existing.approval.approvedAt}; git keeps it in the history\n`);
  }

  const approval = createApproval(plan, approver, repository.head, options.now ?? Date.now());
  writeFileAtomic(path, renderApprovalJson(approval));
  const short = plan.hash.replace(/^sha256:/, '').slice(0, 12);
  const outcome = await commitPaths({
    folder: repository.root,
    paths: [relativePath],
    subject: `runbook: approve ${plan.runbook.name} ${plan.runbook.version} plan ${short} by ${approver}`,
    body: `Plan: ${plan.hash}\nApprover: ${approver}\nAt commit: ${repository.head}`,
  });
  if (!outcome.committed) {
    options.writeError(
      `warning: the approval is in ${path} but was not committed (${outcome.reason}); it counts once committed: \`git add ${relativePath} && git commit\`\n`,
    );
    return EXIT_CODES.failed;
  }
  options.write(`approved plan ${plan.hash} by ${approver}: ${relativePath} committed as ${outcome.commit.slice(0, 12)}\n`);
  return EXIT_CODES.ok;
}

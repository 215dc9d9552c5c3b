import { dirname, join, resolve } from 'node:path';
import { EXIT_CODES, RunbookError, createInputError, type ExitCode } from '../errors.js';
import { approvalRelativePath, createApproval, readApprovalAt, renderApprovalJson } from '../git/approvals.js';
import { commitPaths } from '../git/commit-paths.js';
import { checkPlanFreshness } from '../git/freshness.js';
import { formatIdentity, isSameIdentity, readAuthorIdentity } from '../git/identity.js';
import { describeRepository } from '../git/repository.js';
import { checkSelfApproval, findChangeStart } from '../git/self-approval.js';
import { checkApprovalSignature } from '../git/signatures.js';
import { writeFileAtomic } from '../io/files.js';
import { readPlanFile } from './apply.js';

export interface ApproveOptions {
  planPath: string;
  /** `--by`: refused. The approver is the git identity of the approval commit, never a flag. */
  by?: string;
  /** `--base REF` (or RUNBOOK_BASE): the branch's commits since it left REF count for self-approval. */
  base?: string;
  write: (text: string) => void;
  writeError: (text: string) => void;
  /** Milliseconds since the epoch; tests pass a fixed one. */
  now?: number;
}

/**
 * `runbook approve PLAN`: commits `approvals/<hex>.json` for the plan hash at the repository root,
 * as the git identity of whoever runs it (signed when the policy asks): that commit's author is
 * the approver. Exit 0 when committed (or already approved by the same person), 1 when the file
 * was written but not committed or its signature would not pass, 2 for bad input: `--by`, a stale
 * plan, a self-approval the policy forbids, an identity with control characters, no repository.
 */
export async function runApprove(options: ApproveOptions): Promise<ExitCode> {
  if (options.by !== undefined) {
    throw createInputError(
      'RB4007',
      '--by is not taken: the approver is the git identity of the approval commit, not a flag. Set yours with `git config user.name "Your Name"` and ' +
        '`git config user.email you@example.com` (or GIT_AUTHOR_NAME and GIT_AUTHOR_EMAIL), then run `runbook approve PLAN`',
    );
  }
  const { plan } = await readPlanFile(options.planPath);
  const repository = (await describeRepository(dirname(resolve(options.planPath)))) ?? (await describeRepository(process.cwd()));
  if (!repository) throw createInputError('RB4008', 'approvals are committed to git: run `runbook approve` inside the repository that holds the runbook and inventory');
  if (!repository.head) throw createInputError('RB4008', `the repository at ${repository.root} has no commit yet: commit the runbook and inventory, then make the plan`);

  await checkPlanFreshness(plan, repository.root);
  const approver = await readAuthorIdentity(repository.root);
  const start = await findChangeStart(plan, repository.root, { end: 'HEAD', base: options.base });
  if (plan.policy.forbidSelfApproval) await checkSelfApproval(plan, repository.root, approver, 'HEAD', start);

  const relativePath = approvalRelativePath(plan.hash);
  const existing = await readApprovalAt(repository.root, 'HEAD', plan.hash);
  if (existing.found === 'valid') {
    const earlier = formatIdentity(existing.record.approver);
    if (isSameIdentity(existing.record.approver, approver)) {
      options.write(`plan ${plan.hash} is already approved by ${earlier} (${relativePath}, commit ${existing.record.commit.slice(0, 12)})\n`);
      return EXIT_CODES.ok;
    }
    options.writeError(`note: this replaces the approval by ${earlier} of ${existing.record.approvedAt}; git keeps it in the history\n`);
  }

  const who = formatIdentity(approver);
  writeFileAtomic(join(repository.root, relativePath), renderApprovalJson(createApproval(plan, who, repository.head, options.now ?? Date.now())));
  const short = plan.hash.replace(/^sha256:/, '').slice(0, 12);
  const outcome = await commitPaths({
    folder: repository.root,
    paths: [relativePath],
    subject: `runbook: approve ${plan.runbook.name} ${plan.runbook.version} plan ${short} by ${approver.name}`,
    body: `Plan: ${plan.hash}\nApprover: ${who}\nAt commit: ${repository.head}`,
    sign: plan.policy.requireSignedApprovals,
  });
  if (!outcome.committed) {
    options.writeError(
      `warning: the approval is in ${join(repository.root, relativePath)} but was not committed (${outcome.reason}); it counts once committed as the approver${plan.policy.requireSignedApprovals ? ', signed' : ''}: \`git add ${relativePath} && git commit${plan.policy.requireSignedApprovals ? ' -S' : ''}\`\n`,
    );
    return EXIT_CODES.failed;
  }
  try {
    await checkApprovalSignature(plan, repository.root, outcome.commit, approver, start);
  } catch (error) {
    if (!(error instanceof RunbookError)) throw error;
    options.writeError(`warning: the approval is committed as ${outcome.commit.slice(0, 12)}, but \`runbook apply\` will refuse it: ${error.message}\n`);
    return EXIT_CODES.failed;
  }
  options.write(`approved plan ${plan.hash} as ${who}: ${relativePath} committed as ${outcome.commit.slice(0, 12)}\n`);
  return EXIT_CODES.ok;
}

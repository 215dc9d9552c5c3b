import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { RunbookError, createInputError } from '../errors.js';
import { checkAdmittedApproval, checkApproval, readApprovalAt, toReportApproval } from '../git/approvals.js';
import { commitRunReport } from '../git/commit-report.js';
import { checkCommittedInputs } from '../git/committed-inputs.js';
import { checkPlanFreshness } from '../git/freshness.js';
import { checkNotApplied } from '../git/ledger.js';
import { describeRepository, isCommitHash, isReachable, readGitIdentity, type RepositoryInfo } from '../git/repository.js';
import { DEFAULT_SNAPSHOT_FOLDER, loadSnapshot } from '../io/snapshot-store.js';
import { buildRunReport } from '../report/build-report.js';
import type { OutputLimits } from '../report/excerpt.js';
import { collectSecrets } from '../report/redact.js';
import { RUN_REPORTS_FOLDER, writeRunReport } from '../report/write-report.js';
import type { RunEvent } from '../run/events.js';
import type { RunResult } from '../run/execute-plan.js';
import type { RunHistory } from '../run/run-history.js';
import type { Plan } from '../schema/plan.js';
import type { Approval, RunReport } from '../schema/report.js';
import type { SnapshotDiff } from '../schema/snapshot.js';
import { compareSnapshots } from '../snapshot/compare.js';
import { renderDiffMarkdown } from '../snapshot/render-diff.js';
import { readCurrentUser } from '../shared/current-user.js';

/** The GitOps side of `runbook apply`, as its flags set it. */
export interface GitOpsApplyOptions {
  /** `--allow-reapply`: run a plan hash that was applied before. */
  allowReapply?: boolean;
  /** `--no-commit` sets this false: the report is written, not committed. */
  commit?: boolean;
  /** `--push`: push the report commit. */
  push?: boolean;
  /** Where `approvals/` and `reports/` are: default the repository of the target, else of the working folder. */
  root?: string;
  /** `--allow-dirty`: with `RUNBOOK -i`, run files that are not as committed at HEAD (the report says so). */
  allowDirty?: boolean;
  /** `--base REF` (or RUNBOOK_BASE): the branch's commits since it left REF count for self-approval. */
  base?: string;
}

export interface ApplyPolicyRequest {
  /** The plan file, or the runbook when `inventory` is given. */
  target: string;
  inventory?: string;
  allowReapply?: boolean;
  allowDirty?: boolean;
  base?: string;
  root?: string;
}

/** What the checks before a run learned, for the journal's admission and the report after it. */
export interface ApplyContext {
  /** The repository root (or the working folder outside git): reports go under it. */
  root: string;
  repository: RepositoryInfo | null;
  approvals: Approval[];
  /** The approval commit the gate relied on, or null. */
  approvalCommit: string | null;
  /** The run was admitted with `--allow-dirty`. */
  allowDirty: boolean;
}

/**
 * The GitOps gate before a run (exit 2 when it refuses): a plan file must match what its inputs at
 * HEAD make now, and a runbook planned on the spot (`inventory` given) must be as committed at HEAD
 * unless `allowDirty`; the policy's approval rules hold; the plan hash was not applied before (in
 * git history or on disk) unless `allowReapply`.
 */
export async function checkApplyPolicy(plan: Plan, request: ApplyPolicyRequest): Promise<ApplyContext> {
  const repository = request.root !== undefined ? await describeRepository(request.root) : await findRepository(request.target);
  const root = repository?.root ?? request.root ?? process.cwd();
  if (request.inventory === undefined) await checkPlanFreshness(plan, root);
  else if (!request.allowDirty) await checkCommittedInputs(plan, { runbook: request.target, inventory: request.inventory }, repository, root);
  const { approvals, approvalCommit } = await checkApproval(plan, root, { base: request.base });
  await checkNotApplied(plan, root, { allowReapply: request.allowReapply });
  return { root, repository, approvals, approvalCommit, allowDirty: request.inventory !== undefined && Boolean(request.allowDirty) };
}

/** Where a resumed run's reports go: the same root rules as a new run; its admission is checked apart. */
export async function checkResumeContext(root: string | undefined): Promise<ApplyContext> {
  const repository = await describeRepository(root ?? process.cwd());
  return { root: repository?.root ?? root ?? process.cwd(), repository, approvals: [], approvalCommit: null, allowDirty: false };
}

export type RunAdmission = Extract<RunEvent, { type: 'run.admitted' }>;

/** The journal's first event: what the gates admitted, for a resume to check again. */
export function describeAdmission(plan: Plan, runId: string, context: ApplyContext, at: number, flags: { base?: string; allowReapply?: boolean }): RunAdmission {
  return {
    type: 'run.admitted',
    at,
    runId,
    planHash: plan.hash,
    approvalRequired: plan.policy.requireApproval,
    approvalCommit: context.approvalCommit,
    allowDirty: context.allowDirty,
    inputsCommit: context.repository?.head ?? null,
    ...(flags.base !== undefined ? { base: flags.base } : {}),
    ...(flags.allowReapply ? { allowReapply: true } : {}),
  };
}

/**
 * Before a resume runs anything: the journal must hold the admission of this plan hash (the plan
 * file's hash is recomputed when it is read), and when the plan requires an approval, the approval
 * commit the admission names must be in the history of HEAD, approve this hash, and pass the
 * approver checks. Refuses (exit 2) otherwise. Returns the context for the resumed run's report.
 */
export async function checkResumeAdmission(plan: Plan, events: readonly RunEvent[], context: ApplyContext, options: { runId: string; base?: string }): Promise<ApplyContext> {
  const admission = events.find((event): event is RunAdmission => event.type === 'run.admitted' && event.planHash === plan.hash);
  if (!admission) {
    throw createInputError('RB4012', `run ${options.runId} has no admission of plan ${plan.hash} in its journal: \`runbook apply\` did not start it here, or its files were edited. Apply the plan anew`);
  }
  const refuse = (reason: string) => createInputError('RB4012', `run ${options.runId} cannot be resumed: ${reason}. Apply the plan anew`);
  // The plan file could say anything (its policy included): it must be what the admitted inputs make.
  if (!admission.allowDirty) await checkAdmittedInputs(plan, context, admission.inputsCommit, refuse);
  await checkNotReapplied(plan, context.root, options.runId, admission.allowReapply === true, events);
  const base = admission.base ?? options.base;
  const approvalCommit = typeof admission.approvalCommit === 'string' ? admission.approvalCommit : null;
  const admitted = { ...context, approvalCommit, allowDirty: admission.allowDirty === true };
  if (!plan.policy.requireApproval) {
    const read = isCommitHash(approvalCommit) && context.repository?.head ? await readApprovalAt(context.root, approvalCommit, plan.hash) : undefined;
    return { ...admitted, approvals: read?.found === 'valid' ? [toReportApproval(read.record)] : [] };
  }
  if (!context.repository?.head) throw createInputError('RB4012', `plan ${plan.hash} requires an approval, and ${context.root} is not a git repository with a commit to find it in`);
  if (approvalCommit === null) {
    throw createInputError('RB4012', `the admission of run ${options.runId} names no approval commit, and plan ${plan.hash} requires an approval; apply the plan anew`);
  }
  const record = await checkAdmittedApproval(plan, context.root, approvalCommit, { base });
  return { ...admitted, approvals: [toReportApproval(record)] };
}

/**
 * The admitted inputs: a commit in the history of HEAD (or, outside git, the files on disk), from
 * which the plan, params and all, is made again and must hash the same.
 */
async function checkAdmittedInputs(plan: Plan, context: ApplyContext, commit: string | null | undefined, refuse: (reason: string) => Error): Promise<void> {
  const outsideGit = context.repository === null && (commit === null || commit === undefined);
  if (!outsideGit && (!isCommitHash(commit) || !(await isReachable(context.root, commit)))) {
    throw refuse('its admission names no commit of the history of HEAD that its plan was checked against');
  }
  try {
    await checkPlanFreshness(plan, context.root, { ...(outsideGit ? {} : { commit: commit! }), engineVersion: plan.engineVersion });
  } catch (error) {
    if (!(error instanceof RunbookError)) throw error;
    throw refuse(`its plan is not what its runbook and inventory ${outsideGit ? 'on disk' : `at ${commit!.slice(0, 12)}`} make (${error.message})`);
  }
}

/**
 * A resume finishes its own run: refused when the ledger has the plan applied by another run (unless
 * the run was admitted with --allow-reapply), or has this run's report while the journal says the
 * run has not ended (a journal cut back to replay it).
 */
async function checkNotReapplied(plan: Plan, root: string, runId: string, allowReapply: boolean, events: readonly RunEvent[]): Promise<void> {
  const runs = (await checkNotApplied(plan, root, { allowReapply: true })).filter((run) => run.applied);
  const own = runs.filter((run) => run.runId === runId);
  const others = runs.filter((run) => run.runId !== runId);
  const ended = events.some((event) => event.type === 'run.finished' && event.interrupted === undefined);
  if (own.length > 0 && !ended) {
    throw createInputError('RB4005', `run ${runId} already has its report (${own[0]!.file}), yet its journal says it has not ended: the journal was cut back; it cannot be resumed`);
  }
  if (others.length > 0 && !allowReapply) {
    const list = others.map((run) => `run ${run.runId} ${run.outcome} at ${run.startedAt} (${run.file})`).join('; ');
    throw createInputError('RB4005', `plan ${plan.hash} was already applied by ${list}; run ${runId} was not admitted with --allow-reapply, so it is not resumed`);
  }
}

export interface ReportRunOptions {
  /** Commit the report (default true; `--no-commit` turns it off). */
  commit?: boolean;
  push?: boolean;
  /** Where `passwordEnv` values are read, to redact them. */
  env: Readonly<Record<string, string | undefined>>;
  writeError: (text: string) => void;
  outputLimits?: OutputLimits;
  /** Interruptions and decisions over every process of the run. */
  history?: RunHistory;
}

export interface ReportRunResult {
  report: RunReport;
  /** The report files, absolute; absent when they could not be written. */
  files?: { json: string; markdown: string };
  commit?: string;
}

/**
 * Writes the run report and commits it with the run's snapshot files. Never throws for git: a
 * failed commit or push is a warning on stderr naming where the report is, and the run's exit code
 * stands.
 */
export async function reportRun(plan: Plan, result: RunResult, context: ApplyContext, options: ReportRunOptions): Promise<ReportRunResult> {
  const { root, repository } = context;
  const warn = (text: string) => options.writeError(`warning: ${text}\n`);
  const snapshotFolder = join(root, DEFAULT_SNAPSHOT_FOLDER);
  const snapshotFile = (name: string | undefined) => {
    const path = name === undefined ? undefined : join(snapshotFolder, `${name}.json`);
    return path !== undefined && existsSync(path) ? path : undefined;
  };
  const before = snapshotFile(result.snapshots.before);
  const after = snapshotFile(result.snapshots.after);
  let diff: SnapshotDiff | undefined;
  if (before && after) {
    try {
      diff = compareSnapshots(loadSnapshot(snapshotFolder, result.snapshots.before!), loadSnapshot(snapshotFolder, result.snapshots.after!));
    } catch (error) {
      warn(`the snapshots of the run could not be compared: ${(error as Error).message}`);
    }
  }

  const portable = (path: string) => relative(root, path).split('\\').join('/');
  const report = buildRunReport(plan, result, {
    commit: repository?.head ?? null,
    runBy: await describeRunner(root, repository !== null),
    approvals: context.approvals,
    allowDirty: context.allowDirty,
    secrets: collectSecrets(plan, options.env),
    snapshotDiff: diff,
    snapshotFiles: { before: before && portable(before), after: after && portable(after) },
    outputLimits: options.outputLimits,
    history: options.history,
  });

  let written;
  try {
    written = writeRunReport(join(root, RUN_REPORTS_FOLDER), report, { snapshotSection: diff ? renderDiffMarkdown(diff) : undefined });
  } catch (error) {
    warn(`the run report could not be written to ${join(root, RUN_REPORTS_FOLDER)}: ${(error as Error).message}`);
    return { report };
  }
  const files = { json: written.jsonPath, markdown: written.markdownPath };
  const where = `${written.markdownPath} and ${written.jsonPath}`;
  if (options.commit === false) {
    options.writeError(`report written to ${where} (not committed: --no-commit)\n`);
    return { report, files };
  }
  if (!repository) {
    warn(`the report was not committed: ${root} is not in a git repository. It is in ${where}`);
    return { report, files };
  }
  const paths = [written.markdownPath, written.jsonPath, ...[before, after].filter((p): p is string => p !== undefined)].map(portable);
  const outcome = await commitRunReport(root, report, paths, { push: options.push });
  if (!outcome.committed) {
    warn(`the report was not committed (${outcome.reason}). It is in ${where}; commit it with \`git add ${paths.join(' ')} && git commit\``);
    return { report, files };
  }
  options.writeError(`report committed as ${outcome.commit.slice(0, 12)}: ${paths.join(', ')}\n`);
  if (options.push && outcome.pushError) warn(`the report commit ${outcome.commit.slice(0, 12)} was not pushed: ${outcome.pushError}; push it with \`git push\``);
  else if (outcome.pushed) options.writeError(`pushed ${outcome.commit.slice(0, 12)}\n`);
  return { report, files, commit: outcome.commit };
}

/** The repository of the target file, else of the working folder. */
async function findRepository(target: string): Promise<RepositoryInfo | null> {
  return (await describeRepository(dirname(resolve(target)))) ?? (await describeRepository(process.cwd()));
}

async function describeRunner(root: string, inRepository: boolean): Promise<RunReport['runBy']> {
  const user = readCurrentUser();
  const identity = inRepository ? await readGitIdentity(root) : {};
  return { user, machine: hostname(), gitName: identity.name, gitEmail: identity.email };
}

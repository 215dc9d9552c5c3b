import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInputError } from '../errors.js';
import type { Plan } from '../schema/plan.js';
import type { RunReport } from '../schema/report.js';
import { isAppliedReport } from '../report/build-report.js';
import { RUN_REPORTS_FOLDER } from '../report/write-report.js';
import { execGit, isCommitHash, isReachable, readFileAtCommit } from './repository.js';

export interface RunOfPlan {
  runId: string;
  outcome: string;
  startedAt: string;
  /** Where the report was read: its file relative to the root, and the commit when read from history. */
  file: string;
  /** Whether the run got past its pre-checks (a run they stopped changed nothing). */
  applied: boolean;
}

const REPORTS_PATH = RUN_REPORTS_FOLDER.split('\\').join('/');

/** Runs of a plan hash, from the reports on disk in `reports/runs/` (committed or not). */
function findRunsOfPlan(root: string, planHash: string): RunOfPlan[] {
  const folder = join(root, RUN_REPORTS_FOLDER);
  let names: string[];
  try {
    names = readdirSync(folder).filter((name) => name.endsWith('.json')).sort();
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    let text: string;
    try {
      text = readFileSync(join(folder, name), 'utf8');
    } catch {
      return [];
    }
    const run = describeReportOfPlan(text, planHash, `${REPORTS_PATH}/${name}`);
    return run ? [run] : [];
  });
}

/**
 * Runs of a plan hash recorded in git history: the report commits reachable from HEAD whose message
 * names the hash (as the report commits of `runbook apply` do), confirmed by the report blob they
 * add. Moving or deleting `reports/runs/` afterwards changes nothing here.
 */
async function findRunsOfPlanInHistory(root: string, planHash: string): Promise<RunOfPlan[]> {
  const commits = await listCommits(root, ['--fixed-strings', `--grep=${planHash}`, 'HEAD']);
  const runs: RunOfPlan[] = [];
  for (const commit of commits) {
    for (const { path, text } of await readReportsAddedBy(root, commit)) {
      const run = describeReportOfPlan(text, planHash, `${path} at commit ${commit.slice(0, 12)}`);
      if (run) runs.push(run);
    }
  }
  return runs;
}

/**
 * Refuses (exit 2) a plan that was already applied, unless `allowReapply`: either the reports on disk
 * or git history saying so is enough. A run stopped by its pre-checks changed nothing and does not
 * count. Returns the earlier runs.
 */
export async function checkNotApplied(plan: Plan, root: string, options: { allowReapply?: boolean } = {}): Promise<RunOfPlan[]> {
  const runs = [...(await findRunsOfPlanInHistory(root, plan.hash)), ...findRunsOfPlan(root, plan.hash)];
  const applied = new Map(runs.filter((run) => run.applied).map((run) => [run.runId, run]));
  if (applied.size > 0 && !options.allowReapply) {
    const list = [...applied.values()].map((run) => `run ${run.runId} ${run.outcome} at ${run.startedAt} (${run.file})`).join('; ');
    throw createInputError(
      'RB4005',
      `plan ${plan.hash} was already applied: ${list}. Make a new plan for a new change, or pass --allow-reapply to run this one again`,
    );
  }
  return runs;
}

export interface AppliedRun {
  runId: string;
  /** HEAD when the run started: what was applied is reachable from it. */
  runCommit: string;
}

/**
 * The newest applied run, in the history of `end`, of the same runbook and inventory files as
 * `plan`: the report commits named after the runbook, confirmed by their report blob. A report
 * whose `commit` is not in the history of its own commit is not believed.
 */
export async function findLastAppliedRun(root: string, end: string, plan: Plan): Promise<AppliedRun | null> {
  const name = plan.runbook.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const commits = await listCommits(root, ['-E', `--grep=^runbook: ${name} [^ ]+ (succeeded|failed) on `, end]);
  for (const commit of commits) {
    for (const { text } of await readReportsAddedBy(root, commit)) {
      const report = parseReport(text);
      if (!report || !isAppliedReport(report) || !isCommitHash(report.commit)) continue;
      if (report.inputs?.runbook?.path !== plan.inputs.runbook.path || report.inputs?.inventory?.path !== plan.inputs.inventory.path) continue;
      if (await isReachable(root, report.commit, commit)) return { runId: String(report.runId), runCommit: report.commit };
    }
  }
  return null;
}

async function listCommits(root: string, args: readonly string[]): Promise<string[]> {
  const result = await execGit(root, ['log', '--format=%H', ...args, '--']);
  return result.code === 0 ? result.stdout.split('\n').filter(isCommitHash) : [];
}

/** The run reports (JSON) a commit adds or changes, as they are in that commit. */
async function readReportsAddedBy(root: string, commit: string): Promise<Array<{ path: string; text: string }>> {
  const changed = await execGit(root, ['diff-tree', '--root', '--no-commit-id', '-r', '--name-only', '--diff-filter=AM', commit, '--', REPORTS_PATH]);
  const paths = changed.stdout.split('\n').filter((path) => path.startsWith(`${REPORTS_PATH}/`) && path.endsWith('.json'));
  const reports: Array<{ path: string; text: string }> = [];
  for (const path of paths) {
    const read = await readFileAtCommit(root, commit, path);
    if (read.ok) reports.push({ path, text: read.text });
  }
  return reports;
}

type ReportFields = Partial<RunReport> & Pick<RunReport, 'hosts'>;

function parseReport(text: string): ReportFields | null {
  try {
    const report = JSON.parse(text) as Partial<RunReport>;
    return typeof report === 'object' && report !== null && typeof report.hosts === 'object' && report.hosts !== null ? (report as ReportFields) : null;
  } catch {
    return null;
  }
}

function describeReportOfPlan(text: string, planHash: string, file: string): RunOfPlan | null {
  // Cheap test first: most reports are of other plans.
  if (!text.includes(planHash)) return null;
  const report = parseReport(text);
  if (!report || report.planHash !== planHash) return null;
  return {
    runId: String(report.runId ?? file),
    outcome: String(report.outcome ?? 'unknown'),
    startedAt: String(report.startedAt ?? ''),
    file,
    applied: isAppliedReport(report),
  };
}

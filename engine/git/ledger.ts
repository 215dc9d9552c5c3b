import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInputError } from '../errors.js';
import type { Plan } from '../schema/plan.js';
import type { RunReport } from '../schema/report.js';
import { isAppliedReport } from '../report/build-report.js';
import { RUN_REPORTS_FOLDER } from '../report/write-report.js';

export interface RunOfPlan {
  runId: string;
  outcome: string;
  startedAt: string;
  /** The report file, relative to the repository root. */
  file: string;
  /** Whether the run got past its pre-checks (a run they stopped changed nothing). */
  applied: boolean;
}

/** Runs of a plan hash, from the reports in `reports/runs/` (committed reports are the ledger of record). */
export function findRunsOfPlan(root: string, planHash: string): RunOfPlan[] {
  const folder = join(root, RUN_REPORTS_FOLDER);
  let names: string[];
  try {
    names = readdirSync(folder).filter((name) => name.endsWith('.json')).sort();
  } catch {
    return [];
  }
  const runs: RunOfPlan[] = [];
  for (const name of names) {
    let text: string;
    try {
      text = readFileSync(join(folder, name), 'utf8');
    } catch {
      continue;
    }
    // Cheap test first: most reports are of other plans.
    if (!text.includes(planHash)) continue;
    let report: Partial<RunReport>;
    try {
      report = JSON.parse(text) as Partial<RunReport>;
    } catch {
      continue;
    }
    if (report.planHash !== planHash || typeof report.hosts !== 'object' || report.hosts === null) continue;
    runs.push({
      runId: String(report.runId ?? name.replace(/\.json$/, '')),
      outcome: String(report.outcome ?? 'unknown'),
      startedAt: String(report.startedAt ?? ''),
      file: `${RUN_REPORTS_FOLDER.split('\\').join('/')}/${name}`,
      applied: isAppliedReport(report as Pick<RunReport, 'hosts'>),
    });
  }
  return runs;
}

/**
 * Refuses (exit 2) a plan that was already applied, unless `allowReapply`. A run stopped by its
 * pre-checks changed nothing and does not count. Returns the earlier runs.
 */
export function checkNotApplied(plan: Plan, root: string, options: { allowReapply?: boolean } = {}): RunOfPlan[] {
  const runs = findRunsOfPlan(root, plan.hash);
  const applied = runs.filter((run) => run.applied);
  if (applied.length > 0 && !options.allowReapply) {
    const list = applied.map((run) => `run ${run.runId} ${run.outcome} at ${run.startedAt} (${run.file})`).join('; ');
    throw createInputError(
      'RB4005',
      `plan ${plan.hash} was already applied: ${list}. Make a new plan for a new change, or pass --allow-reapply to run this one again`,
    );
  }
  return runs;
}

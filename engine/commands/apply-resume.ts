import { hostname } from 'node:os';
import { join } from 'node:path';
import { createInputError } from '../errors.js';
import { readGitIdentity } from '../git/repository.js';
import { runFolder, STATE_FOLDER } from '../io/journal.js';
import { suggestName } from '../load/suggest.js';
import type { RunEvent } from '../run/events.js';
import type { HostResult, RunResult } from '../run/execute-plan.js';
import { describeStepKey, type OperatorDecisions } from '../run/interrupted-step.js';
import type { FinishedRun, ResumeState } from '../run/resume-state.js';
import type { Plan } from '../schema/plan.js';
import type { ApplyContext } from './apply-gitops.js';
import { checkResumeAdmission, checkResumeContext } from './apply-gitops.js';
import { RUN_PLAN_FILE, readRunJournal, readRunMeta, type RunMeta } from './runs.js';
import { readCurrentUser } from '../shared/current-user.js';

/** What `--resume RUN_ID` found: the run's plan, how it was started, and its journal. */
export interface ResumedRun {
  plan: Plan;
  runId: string;
  folder: string;
  context: ApplyContext;
  meta: RunMeta;
  events: RunEvent[];
  state: ResumeState;
}

export interface ResumeRequest {
  resume: string;
  root?: string;
  hasTarget: boolean;
  /** `--base`: where the self-approval check of the admitted approval starts, as for a new run. */
  base?: string;
  readPlan: (path: string) => Promise<{ plan: Plan }>;
}

/**
 * Reads a run's folder for `--resume`; refuses (exit 2) a run that is not there, has no journal, or
 * whose journal does not show the admission of its plan (a forged folder).
 */
export async function readResumedRun(request: ResumeRequest): Promise<ResumedRun> {
  const runId = request.resume;
  if (request.hasTarget) {
    throw createInputError('RB3006', '--resume continues a run with its own plan; give no plan, runbook, inventory or params with it');
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(runId)) {
    throw createInputError('RB3007', `${JSON.stringify(runId)} is not a run id (letters, digits, dots, dashes and underscores); \`runbook runs\` lists the runs`);
  }
  const context = await checkResumeContext(request.root);
  const folder = runFolder(join(context.root, STATE_FOLDER), runId);
  const meta = readRunMeta(folder);
  if (!meta) throw createInputError('RB3007', `no run ${runId} under ${join(context.root, STATE_FOLDER, 'runs')}; \`runbook runs\` lists the runs`);
  const { plan } = await request.readPlan(join(folder, RUN_PLAN_FILE));
  const { events, state } = readRunJournal(folder);
  const admitted = await checkResumeAdmission(plan, events, context, { runId, base: request.base });
  if (!state) throw createInputError('RB3007', `run ${runId} has no journal to resume from; apply its plan again instead`);
  return { plan, runId, folder, context: admitted, meta, events, state };
}

export interface DecisionFlags {
  markDone: readonly string[];
  markFailed: readonly string[];
  rerunInterrupted: boolean;
}

/**
 * The operator's decisions about cut-off steps, checked against the journal: each `HOST:STEP` must
 * name a step the run left cut off on that host. They are recorded with the operator's git identity.
 */
export async function readOperatorDecisions(flags: DecisionFlags, run: ResumedRun): Promise<OperatorDecisions | undefined> {
  const marks = new Map<string, 'done' | 'failed'>();
  const cutOff = Object.entries(run.state.hosts).flatMap(([host, h]) => (h.interrupted ? [describeStepKey(host, h.interrupted.stepId)] : []));
  for (const [flag, mark] of [['--mark-done', 'done'], ['--mark-failed', 'failed']] as const) {
    for (const given of mark === 'done' ? flags.markDone : flags.markFailed) {
      const key = checkStepKey(flag, given, run, cutOff);
      if (marks.has(key)) throw createInputError('RB3012', `${key} is marked more than once; say once whether it completed (--mark-done) or not (--mark-failed)`);
      marks.set(key, mark);
    }
  }
  if (marks.size === 0 && !flags.rerunInterrupted) return undefined;
  const identity = await readGitIdentity(run.context.root);
  if (identity.name && identity.email) return { by: `${identity.name} <${identity.email}>`, marks, rerunAll: flags.rerunInterrupted };
  if (marks.size > 0) {
    throw createInputError(
      'RB3010',
      "the operator's decisions are recorded with their git identity, and git's user.name or user.email is not set; set them (`git config user.name ...` and `git config user.email ...`), then resume again",
    );
  }
  // --rerun-interrupted decides nothing about what happened; without a git identity, the system user stands.
  return { by: `${readCurrentUser()} on ${hostname()}`, marks, rerunAll: true };
}

function checkStepKey(flag: string, given: string, run: ResumedRun, cutOff: readonly string[]): string {
  const colon = given.indexOf(':');
  if (colon <= 0 || colon === given.length - 1) throw createInputError('RB3012', `${flag} ${given}: name the step as HOST:STEP, e.g. ${cutOff[0] ?? 'leaf01:install'}`);
  const host = given.slice(0, colon);
  const stepId = given.slice(colon + 1);
  if (!(host in run.plan.hosts)) {
    const suggestion = suggestName(host, Object.keys(run.plan.hosts));
    throw createInputError('RB3012', `${flag} ${given}: run ${run.runId} has no host ${host}${suggestion ? `; did you mean ${suggestion}?` : ''}`);
  }
  const key = describeStepKey(host, stepId);
  if (!cutOff.includes(key)) {
    const listed = cutOff.length > 0 ? `the steps cut off are ${cutOff.join(', ')}` : 'no step of it was cut off';
    throw createInputError('RB3012', `${flag} ${given}: that step was not cut off in run ${run.runId}; ${listed}`);
  }
  return key;
}

/** The result of a run that had finished, rebuilt from its journal: what its report is written from. */
export function rebuildFinishedRun(plan: Plan, state: ResumeState & { finished: FinishedRun }): RunResult {
  const hosts: Record<string, HostResult> = {};
  for (const name of Object.keys(plan.hosts)) {
    const h = state.hosts[name];
    hosts[name] = {
      state: h?.state ?? state.finished.hosts[name] ?? 'skipped',
      message: h?.message,
      prechecks: h?.prechecks ?? [],
      steps: h?.steps ?? [],
      rollback: h?.rollback ?? [],
      startedAt: h?.startedAt,
      finishedAt: h?.finishedAt,
    };
  }
  return {
    runId: state.runId,
    outcome: state.finished.outcome,
    message: state.finished.message,
    startedAt: state.startedAt,
    finishedAt: state.finished.at,
    hosts,
    snapshots: { before: state.snapshotBefore, after: state.snapshotAfter },
  };
}


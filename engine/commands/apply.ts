import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { EXIT_CODES, createInputError, type ExitCode } from '../errors.js';
import { describeRepository } from '../git/repository.js';
import { displayPath, readText, writeFileAtomic } from '../io/files.js';
import { STATE_FOLDER, openJournal, runFolder, type Journal } from '../io/journal.js';
import { acquireHostLocks } from '../io/locks.js';
import type { ResumeState } from '../run/resume-state.js';
import { validateAgainstSchema } from '../load/validate-schema.js';
import { parseYamlSource } from '../load/yaml-source.js';
import { computePlanHash } from '../plan/make-plan.js';
import { systemClock, type Clock } from '../run/clock.js';
import type { RunEvent } from '../run/events.js';
import { executePlan, type ExecutorDeps, type RunResult } from '../run/execute-plan.js';
import { createLimiter } from '../shared/limiter.js';
import type { ApprovalRequest } from '../run/run-step.js';
import type { Plan } from '../schema/plan.js';
import { selectProgress } from '../ui/select-progress.js';
import { checkApplyPolicy, checkResumeContext, findRecordedApprovals, reportRun, type ApplyContext, type GitOpsApplyOptions } from './apply-gitops.js';
import { createHostAccess } from './host-access.js';
import { planFromFiles, renderPlanJson } from './plan.js';
import { createSnapshotHooks } from './run-snapshots.js';
import { checkPlanSecrets } from './secrets.js';
import { RUN_META_FILE, RUN_PLAN_FILE, readRunMeta, readRunState, type RunMeta } from './runs.js';

/** What `runbook apply` takes; the GitOps options say where approvals/, reports/ and .runbook/ live. */
export interface ApplyOptions extends GitOpsApplyOptions {
  /** A plan JSON file, or a runbook when `inventory` is given; absent with `resume`. */
  target?: string;
  inventory?: string;
  params: readonly string[];
  yes: boolean;
  maxParallel?: number;
  noProgress: boolean;
  format: 'text' | 'json';
  isTty: boolean;
  write: (text: string) => void;
  writeError: (text: string) => void;
  env: NodeJS.ProcessEnv;
  clock?: Clock;
  signal?: AbortSignal;
  /** Extra consumers of the run's events (the journal, tests). */
  onEvent?: (event: RunEvent) => void;
  /** `--resume RUN_ID`: continue a run from its journal. */
  resume?: string;
  /** `--rerun-interrupted`: on resume, run again a changing step a crash cut off. */
  rerunInterrupted?: boolean;
}

export interface LoadedPlan {
  plan: Plan;
  /** Folder that relative key and known_hosts paths of the inventory resolve against. */
  inventoryDir: string;
}

/** Reads a plan file, refusing one that is malformed or whose content no longer matches its hash. */
export async function readPlanFile(path: string): Promise<LoadedPlan> {
  const source = parseYamlSource(displayPath(path), readText(path));
  const diagnostics = source.diagnostics.length > 0 ? source.diagnostics : validateAgainstSchema(source, 'Plan');
  if (diagnostics.length > 0) throw createInputError('RB3001', `${displayPath(path)} is not a valid plan; make it again with \`runbook plan --out\``, diagnostics);
  const plan = source.value as Plan;
  if (computePlanHash(plan) !== plan.hash) {
    throw createInputError('RB3002', `${displayPath(path)} was edited after it was made (its content no longer matches ${plan.hash}); make it again with \`runbook plan --out\``);
  }
  const repository = await describeRepository(dirname(resolve(path)));
  const root = repository?.root ?? process.cwd();
  return { plan, inventoryDir: resolve(root, dirname(plan.inputs.inventory.path)) };
}

export async function loadPlanForApply(options: { target: string; inventory?: string; params: readonly string[]; env?: NodeJS.ProcessEnv }): Promise<LoadedPlan> {
  if (options.inventory) {
    const { plan } = await planFromFiles({ runbookPath: options.target, inventoryPath: options.inventory, params: options.params });
    // Before anything is written: a password too short to hide, or one passed as a param.
    checkPlanSecrets(plan, options.env ?? {});
    return { plan, inventoryDir: dirname(resolve(options.inventory)) };
  }
  if (options.params.length > 0) throw createInputError('RB3003', '--param applies when planning a runbook; a plan file already holds its params');
  const loaded = await readPlanFile(options.target);
  checkPlanSecrets(loaded.plan, options.env ?? {});
  return loaded;
}

export function createRunId(runbook: string, now: number): string {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `${stamp}-${runbook}-${randomBytes(2).toString('hex')}`;
}

/** `runbook apply`: exit 0 when every host succeeded, 1 when any failed or was rolled back, 2 for bad input. */
export async function runApply(options: ApplyOptions): Promise<ExitCode> {
  const clock = options.clock ?? systemClock;
  const started = options.resume ? await prepareResume(options) : await prepareNewRun(options, clock);
  const { plan, runId, folder, context } = started;
  const hasApprovals = plan.runbook.steps.some((s) => s.kind === 'approval');
  if (hasApprovals && !options.yes && !options.isTty) {
    throw createInputError('RB3005', 'the runbook has approval steps and there is no terminal to ask on; run it from a terminal or pass --yes to approve them');
  }
  // Locks first: a refused run leaves nothing behind. A killed run leaves its locks, stale, for its
  // resume to take over.
  const locks = acquireHostLocks({
    stateDir: join(context.root, STATE_FOLDER),
    runId,
    hosts: Object.keys(plan.hosts),
    maxConcurrentRuns: plan.policy.maxConcurrentRuns,
  });
  options.writeError(
    `run ${runId}${started.resume ? ' (resumed)' : ''}: ${plan.runbook.name} ${plan.runbook.version}, plan ${plan.hash}, ${Object.keys(plan.hosts).length} host(s) in ${plan.stages.length} stage(s)\n`,
  );
  let journal: Journal | undefined;
  let result: RunResult;
  try {
    if (!started.resume) writeFileAtomic(join(folder, RUN_PLAN_FILE), renderPlanJson(plan));
    writeFileAtomic(join(folder, RUN_META_FILE), `${JSON.stringify(started.meta, null, 2)}\n`);
    journal = openJournal(folder);
    result = await executeWithProgress(started, clock, options, journal);
  } finally {
    try {
      await journal?.close();
    } finally {
      locks.release();
    }
  }
  options.writeError(`run ${runId} ${result.outcome}${result.message ? `: ${result.message}` : ''}\n`);
  const interrupted = Object.values(result.hosts).some((h) => h.state === 'interrupted');
  if (interrupted) options.writeError(`some hosts were interrupted; see \`runbook runs\` and continue with \`runbook apply --resume ${runId}\`\n`);
  else await reportRun(plan, result, context, { commit: options.commit, push: options.push, env: options.env, writeError: options.writeError });
  return result.outcome === 'succeeded' ? EXIT_CODES.ok : EXIT_CODES.failed;
}

interface StartedRun {
  plan: Plan;
  inventoryDir: string;
  runId: string;
  /** `.runbook/runs/<run-id>`: plan, how the run was started, journal. */
  folder: string;
  context: ApplyContext;
  resume?: ResumeState;
  /** Written to the run's folder once its locks are held (a resume records its own process). */
  meta: RunMeta;
}

async function prepareNewRun(options: ApplyOptions, clock: Clock): Promise<StartedRun> {
  if (!options.target) throw createInputError('RB3003', 'name a plan file, or a runbook with -i INVENTORY, or --resume RUN_ID');
  const { plan, inventoryDir } = await loadPlanForApply({ ...options, target: options.target });
  const refused = plan.checks.filter((c) => c.severity === 'error');
  if (refused.length > 0) {
    throw createInputError('RB3004', `the plan has failed checks: ${refused.map((c) => `${c.code} ${c.message} (${c.hint})`).join('; ')}`);
  }
  const context = await checkApplyPolicy(plan, { target: options.target, inventory: options.inventory, allowReapply: options.allowReapply, root: options.root });
  const runId = createRunId(plan.runbook.name, clock.now());
  const folder = runFolder(join(context.root, STATE_FOLDER), runId);
  const meta: RunMeta = {
    runId,
    planHash: plan.hash,
    runbook: plan.runbook.name,
    inventoryDir,
    machine: hostname(),
    pid: process.pid,
    user: currentUser(),
    startedAt: new Date(clock.now()).toISOString(),
    maxParallel: options.maxParallel,
  };
  return { plan, inventoryDir, runId, folder, context, meta };
}

/** `--resume RUN_ID`: the plan and options the run was started with, and what its journal says it did. */
async function prepareResume(options: ApplyOptions): Promise<StartedRun> {
  const runId = options.resume!;
  if (options.target || options.inventory || options.params.length > 0) {
    throw createInputError('RB3006', '--resume continues a run with its own plan; give no plan, runbook, inventory or params with it');
  }
  const context = await checkResumeContext(options.root);
  const folder = runFolder(join(context.root, STATE_FOLDER), runId);
  const meta = readRunMeta(folder);
  if (!meta) throw createInputError('RB3007', `no run ${runId} under ${join(context.root, STATE_FOLDER, 'runs')}; \`runbook runs\` lists the runs`);
  const { plan } = await readPlanFile(join(folder, RUN_PLAN_FILE));
  const resume = readRunState(folder);
  if (!resume) throw createInputError('RB3007', `run ${runId} has no journal to resume from; apply its plan again instead`);
  if (resume.finished) throw createInputError('RB3008', `run ${runId} already finished (${resume.finished}); there is nothing to resume`);
  const approvals = await findRecordedApprovals(plan, context);
  return { plan, inventoryDir: meta.inventoryDir, runId, folder, context: { ...context, approvals }, resume, meta: { ...meta, pid: process.pid, machine: hostname(), user: currentUser() } };
}

async function executeWithProgress(run: StartedRun, clock: Clock, options: ApplyOptions, journal: Journal): Promise<RunResult> {
  const { plan, inventoryDir, runId } = run;
  const progress = selectProgress({ format: options.format, noProgress: options.noProgress, isTty: options.isTty, write: options.write, stream: process.stdout });
  const askOneAtATime = createLimiter(1);
  const deps: ExecutorDeps = {
    ...createHostAccess(plan, inventoryDir, options.env),
    clock,
    emit: (event) => {
      // The journal first: `persist` then puts it on disk before the step it announces runs.
      journal.append(event);
      progress.handle(event);
      options.onEvent?.(event);
    },
    persist: () => journal.persist(),
    approve: (request) => (options.yes ? Promise.resolve(true) : askOneAtATime(() => askApproval(request))),
    ...createSnapshotHooks(plan, run.context.root, runId, clock),
  };
  try {
    return await executePlan(plan, deps, {
      runId,
      maxParallel: options.maxParallel,
      signal: options.signal,
      resume: run.resume,
      rerunInterrupted: options.rerunInterrupted,
    });
  } finally {
    await progress.close();
  }
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    // Containers may run as a uid with no passwd entry.
    return process.env.USER ?? `uid ${process.getuid?.() ?? 'unknown'}`;
  }
}

async function askApproval(request: ApprovalRequest): Promise<boolean> {
  const readline = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await readline.question(`\n${request.host}: ${request.message}\nApprove step ${request.stepId}? [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    readline.close();
  }
}

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { EXIT_CODES, RunbookError, createInputError, signalExitCode } from '../errors.js';
import { clearAbandonedIndexLock } from '../git/index-lock.js';
import { checkNotApplied } from '../git/ledger.js';
import { describeRepository } from '../git/repository.js';
import { displayPath, readText, writeFileAtomic } from '../io/files.js';
import { STATE_FOLDER, describeIoError, ignoreStateFolder, openJournal, runFolder, type Journal, type JournalOptions } from '../io/journal.js';
import { acquireHostLocks, isProcessAlive } from '../io/locks.js';
import { validateAgainstSchema } from '../load/validate-schema.js';
import { parseYamlSource } from '../load/yaml-source.js';
import { computePlanHash } from '../plan/make-plan.js';
import { systemClock, type Clock } from '../run/clock.js';
import { STOP_SIGNALS, type RunEvent, type StopSignal } from '../run/events.js';
import { executePlan, type ExecutorDeps, type RunResult } from '../run/execute-plan.js';
import type { OperatorDecisions } from '../run/interrupted-step.js';
import { isReportPending, type ResumeState } from '../run/resume-state.js';
import { createRunHistory } from '../run/run-history.js';
import type { ApprovalRequest } from '../run/run-step.js';
import type { Plan } from '../schema/plan.js';
import { createLimiter } from '../shared/limiter.js';
import { selectProgress } from '../ui/select-progress.js';
import { checkApplyPolicy, describeAdmission, reportRun, type ApplyContext, type GitOpsApplyOptions } from './apply-gitops.js';
import { readOperatorDecisions, readResumedRun, rebuildFinishedRun } from './apply-resume.js';
import { createHostAccess } from './host-access.js';
import { planFromFiles, renderPlanJson } from './plan.js';
import { createSnapshotHooks } from './run-snapshots.js';
import { createFileHooks } from './run-files.js';
import { createPreviousRunsHook } from './previous-runs.js';
import { checkPlanSecrets } from './secrets.js';
import { RUN_META_FILE, RUN_PLAN_FILE, findRunsHoldingPlan, isUnfinished, readRunJournal, type RunMeta } from './runs.js';
import { readCurrentUser } from '../shared/current-user.js';

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
  /** The first stop (its reason names the signal): no new command starts, waits end, the run can be resumed. */
  signal?: AbortSignal;
  /** The second stop: commands running are aborted too. */
  abortCommands?: AbortSignal;
  /** Extra consumers of the run's events (the journal, tests). */
  onEvent?: (event: RunEvent) => void;
  /** `--resume RUN_ID`: continue a run from its journal. */
  resume?: string;
  /** `--rerun-interrupted`: on resume, run again the changing steps a crash or a stop cut off. */
  rerunInterrupted?: boolean;
  /** `--mark-done HOST:STEP`: on resume, the operator checked that a cut-off step completed. */
  markDone?: readonly string[];
  /** `--mark-failed HOST:STEP`: on resume, it did not: handle it as a failure (roll back when asked). */
  markFailed?: readonly string[];
  /** How the journal writes (tests give a write that fails like a full disk). */
  journal?: JournalOptions;
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

/**
 * `runbook apply`: exit 0 when every host succeeded, 1 when any failed or was rolled back, 2 for bad
 * input, 128 + the signal's number when a signal stopped it (130 SIGINT, 143 SIGTERM, 129 SIGHUP).
 */
export async function runApply(options: ApplyOptions): Promise<number> {
  const clock = options.clock ?? systemClock;
  const started = options.resume ? await prepareResume(options) : await prepareNewRun(options, clock);
  if (started.resume?.finished) return finishReport(started, options, clock);
  const { plan, runId, folder, context } = started;
  const hasApprovals = plan.runbook.steps.some((s) => s.kind === 'approval');
  if (hasApprovals && !options.yes && !options.isTty) {
    throw createInputError('RB3005', 'the runbook has approval steps and there is no terminal to ask on; run it from a terminal or pass --yes to approve them');
  }
  const signalled = describeStopSignal(options.signal);
  if (signalled) {
    options.writeError(`stopped by ${signalled} before run ${runId} started; nothing was done\n`);
    return signalExitCode(signalled);
  }
  // Locks first: a refused run leaves nothing behind. A killed run leaves its locks, stale, for its
  // resume to take over.
  const locks = lockHosts(started);
  try {
    // What was checked before the locks may have changed while they were awaited: another process
    // may have applied this plan, or resumed this run, in between.
    await recheckUnderLocks(started, options);
  } catch (error) {
    locks.release();
    throw error;
  }
  options.writeError(
    `run ${runId}${started.resume ? ' (resumed)' : ''}: ${plan.runbook.name} ${plan.runbook.version}, plan ${plan.hash}, ${Object.keys(plan.hosts).length} host(s) in ${plan.stages.length} stage(s)\n`,
  );
  let journal: Journal | undefined;
  let result: RunResult;
  try {
    if (!started.resume) writeRunFile(join(folder, RUN_PLAN_FILE), renderPlanJson(plan));
    writeRunFile(join(folder, RUN_META_FILE), `${JSON.stringify(started.meta, null, 2)}\n`);
    journal = openJournal(folder, options.journal);
    if (!started.resume) journal.append(describeAdmission(plan, runId, context, clock.now(), { base: options.base, allowReapply: options.allowReapply }));
    result = await executeWithProgress(started, clock, options, journal);
    // A report is owed from here on: said in the same fsync as the run's end, so that a kill before
    // the report is committed leaves a run that `runs` and `--resume` know to finish.
    if (isReported(result)) journal.append({ type: 'report.started', at: clock.now(), commit: options.commit !== false });
    // The run's end is on disk before its hosts are let go; a journal that failed on its last
    // events makes the run a stopped one, whatever its steps did: its end is not on record.
    const failure = await journal.persist().then(() => journal!.failure, (error: Error) => error);
    if (failure && result.stopped?.cause !== 'journal') result = { ...result, stopped: { cause: 'journal', reason: `the journal could not be written: ${failure.message}` } };
  } catch (error) {
    await journal?.close();
    throw error;
  } finally {
    locks.release();
  }
  try {
    return await concludeRun(started, result, options, journal, clock);
  } finally {
    await journal.close();
  }
}

/** After the executor: says how the run ended, reports it when it reached its end, and picks the exit code. */
async function concludeRun(run: StartedRun, result: RunResult, options: ApplyOptions, journal: Journal, clock: Clock): Promise<number> {
  const { runId } = run;
  options.writeError(`run ${runId} ${result.outcome}${result.message ? `: ${result.message}` : ''}\n`);
  if (result.stopped) {
    if (run.unjournaled.length > 0) {
      options.writeError(
        `these steps finished after the journal stopped and are not in it (a resume sees them cut off): ${run.unjournaled.join(', ')}; say so on resume with --mark-done or --mark-failed\n`,
      );
    }
    const advice = result.stopped.cause === 'journal' ? 'make room (or repair the disk), then ' : '';
    options.writeError(`its hosts are unlocked; ${advice}continue with \`runbook apply --resume ${runId}\`\n`);
    return result.stopped.signal ? signalExitCode(result.stopped.signal) : EXIT_CODES.failed;
  }
  const waiting = Object.entries(result.hosts).filter(([, h]) => h.state === 'interrupted');
  if (waiting.length > 0) {
    for (const [name, host] of waiting) options.writeError(`${name}: ${host.message ?? 'interrupted'}\n`);
    options.writeError(`see \`runbook runs\`, then continue with \`runbook apply --resume ${runId}\`\n`);
    return EXIT_CODES.failed;
  }
  await reportWithJournal(run, result, options, journal, clock);
  return result.outcome === 'succeeded' ? EXIT_CODES.ok : EXIT_CODES.failed;
}

function lockHosts(run: StartedRun) {
  const stateDir = join(run.context.root, STATE_FOLDER);
  try {
    ignoreStateFolder(stateDir);
    return acquireHostLocks({ stateDir, runId: run.runId, hosts: Object.keys(run.plan.hosts), maxConcurrentRuns: run.plan.policy.maxConcurrentRuns });
  } catch (error) {
    if (error instanceof RunbookError) throw error;
    throw new RunbookError('RB5001', `cannot write the host locks under ${stateDir} (${describeIoError(error)}); nothing was run. Make room, then apply again`, { cause: error });
  }
}

async function recheckUnderLocks(run: StartedRun, options: ApplyOptions): Promise<void> {
  if (run.resume) {
    const now = readRunJournal(run.folder).events.length;
    if (now !== run.events.length) {
      throw createInputError('RB3007', `run ${run.runId} changed while this resume waited for its hosts (another process resumed it); look at \`runbook runs\`, then resume again if it is still to be finished`);
    }
    return;
  }
  await checkNotApplied(run.plan, run.context.root, { allowReapply: options.allowReapply });
  if (!options.allowReapply) checkNoOtherRunHere(run);
}

/**
 * A plan with a run of it not finished here is resumed, not applied again; one that finished here is
 * refused like one in the ledger, even before its report is written (unless --allow-reapply).
 */
function checkNoOtherRunHere(run: StartedRun): void {
  const others = findRunsHoldingPlan(join(run.context.root, STATE_FOLDER), run.plan.hash, hostname()).filter((other) => other.runId !== run.runId);
  const unfinished = others.filter((other) => isUnfinished(other.status));
  if (unfinished.length > 0) {
    const list = unfinished.map((other) => `${other.runId} (${other.status})`).join(', ');
    throw createInputError(
      'RB4005',
      `plan ${run.plan.hash} has a run that has not finished: ${list}; finish it with \`runbook apply --resume ${unfinished[0]!.runId}\`, or pass --allow-reapply to apply the plan again anyway`,
    );
  }
  if (others.length > 0) {
    const list = others.map((other) => `run ${other.runId} ${other.status} at ${other.startedAt} (${STATE_FOLDER}/runs/${other.runId})`).join('; ');
    throw createInputError('RB4005', `plan ${run.plan.hash} was already applied: ${list}. Make a new plan for a new change, or pass --allow-reapply to run this one again`);
  }
}

/** A run gets its report once it reached its end: not stopped, and no host left waiting. */
function isReported(result: RunResult): boolean {
  return !result.stopped && !Object.values(result.hosts).some((h) => h.state === 'interrupted');
}

/** Writes (and commits) the report, journaling how it ended, so a cut-off commit is finished on resume. */
async function reportWithJournal(run: StartedRun, result: RunResult, options: ApplyOptions, journal: Journal, clock: Clock): Promise<void> {
  const reported = await reportRun(run.plan, result, run.context, {
    commit: options.commit,
    push: options.push,
    env: options.env,
    writeError: options.writeError,
    history: run.history.describe(),
  });
  const files = reported.files ? [reported.files.json, reported.files.markdown].map((file) => relative(run.context.root, file).split('\\').join('/')) : [];
  journal.append({ type: 'report.finished', at: clock.now(), files, committed: reported.commit !== undefined, ...(reported.commit ? { commit: reported.commit } : {}) });
  await journal.persist().catch(() => undefined);
}

/**
 * `--resume` of a run that had reached its end but whose report was cut off (the process killed in
 * the middle of the commit): the report is written again from the journal and committed.
 */
async function finishReport(run: StartedRun, options: ApplyOptions, clock: Clock): Promise<number> {
  const state = run.resume!;
  const finished = state.finished!;
  if (!isReportPending(state)) {
    throw createInputError('RB3008', `run ${run.runId} already finished (${finished.outcome}) and its report is written; there is nothing to resume`);
  }
  if (run.writerMayLive) {
    throw createInputError(
      'RB3011',
      `the process that last worked on run ${run.runId} may still be writing its report (it is alive, or ran on another machine); wait for it to end (\`runbook runs\`), then resume again`,
    );
  }
  if (run.context.repository && state.report?.commit !== false) {
    const since = run.events.findLast((e) => e.type === 'report.started')?.at ?? finished.at;
    const removed = await clearAbandonedIndexLock(run.context.root, { since, writerMayLive: run.writerMayLive });
    if (removed) options.writeError(`removed ${removed}, left by the report commit that was cut off\n`);
  }
  options.writeError(`run ${run.runId} had finished (${finished.outcome}); finishing its report\n`);
  const journal = openJournal(run.folder, options.journal);
  try {
    journal.append({ type: 'report.started', at: clock.now(), commit: options.commit !== false });
    await journal.persist().catch(() => undefined);
    await reportWithJournal(run, rebuildFinishedRun(run.plan, { ...state, finished }), options, journal, clock);
  } finally {
    await journal.close();
  }
  return finished.outcome === 'succeeded' ? EXIT_CODES.ok : EXIT_CODES.failed;
}

interface StartedRun {
  plan: Plan;
  inventoryDir: string;
  runId: string;
  /** `.runbook/runs/<run-id>`: plan, how the run was started, journal. */
  folder: string;
  context: ApplyContext;
  resume?: ResumeState;
  /** The journal as a resume found it (empty for a new run). */
  events: readonly RunEvent[];
  /** Interruptions and decisions, over every process of the run, for its report. */
  history: ReturnType<typeof createRunHistory>;
  decisions?: OperatorDecisions;
  /** On resume: whether the process that last worked on the run may still be alive. */
  writerMayLive: boolean;
  /** `host:step (status)` of steps that finished after the journal stopped taking events. */
  unjournaled: string[];
  /** Written to the run's folder once its locks are held (a resume records its own process). */
  meta: RunMeta;
}

async function prepareNewRun(options: ApplyOptions, clock: Clock): Promise<StartedRun> {
  if (!options.target) throw createInputError('RB3003', 'name a plan file, or a runbook with -i INVENTORY, or --resume RUN_ID');
  if ((options.markDone?.length ?? 0) + (options.markFailed?.length ?? 0) > 0 || options.rerunInterrupted) {
    throw createInputError('RB3006', '--mark-done, --mark-failed and --rerun-interrupted decide about the steps of a run being resumed: use them with --resume RUN_ID');
  }
  const { plan, inventoryDir } = await loadPlanForApply({ ...options, target: options.target });
  const refused = plan.checks.filter((c) => c.severity === 'error');
  if (refused.length > 0) {
    throw createInputError('RB3004', `the plan has failed checks: ${refused.map((c) => `${c.code} ${c.message} (${c.hint})`).join('; ')}`);
  }
  const context = await checkApplyPolicy(plan, { target: options.target, inventory: options.inventory, allowReapply: options.allowReapply, allowDirty: options.allowDirty, base: options.base, root: options.root });
  const runId = createRunId(plan.runbook.name, clock.now());
  const folder = runFolder(join(context.root, STATE_FOLDER), runId);
  const meta: RunMeta = {
    runId,
    planHash: plan.hash,
    runbook: plan.runbook.name,
    inventoryDir,
    machine: hostname(),
    pid: process.pid,
    user: readCurrentUser(),
    startedAt: new Date(clock.now()).toISOString(),
    maxParallel: options.maxParallel,
  };
  return { plan, inventoryDir, runId, folder, context, meta, events: [], history: createRunHistory(), writerMayLive: false, unjournaled: [] };
}

/** `--resume RUN_ID`: the plan and options the run was started with, what its journal says it did, and the operator's decisions. */
async function prepareResume(options: ApplyOptions): Promise<StartedRun> {
  const run = await readResumedRun({
    resume: options.resume!,
    root: options.root,
    hasTarget: Boolean(options.target || options.inventory || options.params.length > 0),
    base: options.base,
    readPlan: readPlanFile,
  });
  const { meta, state } = run;
  const flags = { markDone: options.markDone ?? [], markFailed: options.markFailed ?? [], rerunInterrupted: options.rerunInterrupted ?? false };
  if (state.finished && (flags.markDone.length > 0 || flags.markFailed.length > 0 || flags.rerunInterrupted)) {
    throw createInputError('RB3012', `run ${run.runId} already reached its end (${state.finished.outcome}): no step of it is left to decide about`);
  }
  const decisions = state.finished
    ? undefined
    : await readOperatorDecisions(flags, run);
  const history = createRunHistory();
  for (const event of run.events) history.add(event);
  return {
    plan: run.plan,
    inventoryDir: meta.inventoryDir,
    runId: run.runId,
    folder: run.folder,
    context: run.context,
    resume: state,
    events: run.events,
    history,
    decisions,
    writerMayLive: meta.machine !== hostname() || isProcessAlive(meta.pid),
    unjournaled: [],
    meta: { ...meta, pid: process.pid, machine: hostname(), user: readCurrentUser(), maxParallel: options.maxParallel ?? meta.maxParallel },
  };
}

async function executeWithProgress(run: StartedRun, clock: Clock, options: ApplyOptions, journal: Journal): Promise<RunResult> {
  const { plan, inventoryDir, runId } = run;
  const progress = selectProgress({ format: options.format, noProgress: options.noProgress, isTty: options.isTty, write: options.write, stream: process.stdout });
  const askOneAtATime = createLimiter(1);
  const journalStop = new AbortController();
  const deps: ExecutorDeps = {
    ...createHostAccess(plan, inventoryDir, options.env),
    clock,
    emit: (event) => {
      // The journal first: `persist` then puts it on disk before the step it announces runs.
      journal.append(event);
      if (journal.failure) {
        // No command starts once an event could not be written, and what still finishes is named.
        if (!journalStop.signal.aborted) journalStop.abort(journal.failure);
        if (event.type === 'step.finished' && event.record.status !== 'skipped') run.unjournaled.push(`${event.host}:${event.record.id} (${event.record.status})`);
      }
      run.history.add(event);
      progress.handle(event);
      options.onEvent?.(event);
    },
    persist: () => journal.persist(),
    approve: (request) => (options.yes ? Promise.resolve(true) : askOneAtATime(() => askApproval(request))),
    ...createSnapshotHooks(plan, run.context.root, runId, clock),
    ...createFileHooks(run.context.root, runId),
    ...createPreviousRunsHook(run.context.root, plan.runbook.name),
  };
  try {
    return await executePlan(plan, deps, {
      runId,
      // A resume keeps the --max-parallel its run was started with, unless given again.
      maxParallel: run.meta.maxParallel,
      signal: options.signal ? AbortSignal.any([options.signal, journalStop.signal]) : journalStop.signal,
      abortCommands: options.abortCommands,
      resume: run.resume,
      decisions: run.decisions,
    });
  } finally {
    await progress.close();
  }
}

/** The name of the signal that stopped the run, when one did. */
function describeStopSignal(signal: AbortSignal | undefined): StopSignal | undefined {
  if (!signal?.aborted) return undefined;
  return STOP_SIGNALS.find((name) => name === signal.reason) ?? 'SIGINT';
}

/** Writes a file of the run's folder; a full disk is said plainly (exit 1), with the file's name. */
function writeRunFile(path: string, text: string): void {
  try {
    writeFileAtomic(path, text);
  } catch (error) {
    throw new RunbookError('RB5001', `cannot write ${path} (${describeIoError(error)}); nothing was run. Make room, then apply again`, { cause: error });
  }
}


/** Asks on the terminal whether to approve a step; `terminal` is the process's own unless a test gives one. */
export async function askApproval(request: ApprovalRequest, terminal: { input: NodeJS.ReadableStream; output: NodeJS.WritableStream } = { input: process.stdin, output: process.stderr }): Promise<boolean> {
  const readline = createInterface({ ...terminal, terminal: Boolean((terminal.input as { isTTY?: boolean }).isTTY) });
  try {
    const question = `\n${request.host}: ${request.message}\nApprove step ${request.stepId}? [y/N] `;
    const answer = await readline.question(question, request.signal ? { signal: request.signal } : {});
    return /^y(es)?$/i.test(answer.trim());
  } catch (error) {
    // At the prompt the terminal is raw: Ctrl-C reaches readline, not the process. Made the
    // signal it stands for, it stops the run as any SIGINT does.
    if (!request.signal?.aborted) process.emit('SIGINT', 'SIGINT');
    throw error;
  } finally {
    readline.close();
  }
}

import { describeHostContext } from '../plan/make-plan.js';
import type { Plan, PlannedStep } from '../schema/plan.js';
import type { Precheck, Step } from '../schema/runbook.js';
import type { HostConnection } from '../transport/types.js';
import type { Clock } from './clock.js';
import type { EmitEvent, HostState, RunOutcome, StepRecord, StepSection } from './events.js';
import { createLimiter } from '../shared/limiter.js';
import { createRedactor } from './redact.js';
import { INTERRUPTED_MESSAGE, type ResumeState } from './resume-state.js';
import { runStep, secretCapturesOf, type HostExec, type HostSession, type StepHooks } from './run-step.js';
import { renderTemplate } from '../plan/template.js';
import { READ_ONLY_KINDS, type StepKind } from '../schema/vocabulary.js';

/** Prechecks are read-only: they may fan out wider than the changes. */
const PRECHECK_PARALLELISM = 32;

export interface ExecutorDeps extends StepHooks {
  /** Opens a connection to a host of the plan (transport, credentials and host key resolved by the caller). */
  connect(host: string): Promise<HostConnection>;
  clock: Clock;
  emit: EmitEvent;
  /** Resolves once every event emitted so far is on disk; awaited before a step's command is sent. */
  persist?: () => Promise<void>;
  /** Values never to show: passwords read for `passwordEnv`. Secret captures join them as they are made. */
  secrets?: readonly string[];
}

export interface ExecuteOptions {
  runId: string;
  maxParallel?: number;
  /** Run the pre-checks only (`runbook plan --check`): nothing that changes a host. */
  checkOnly?: boolean;
  /** Aborting stops new steps from starting; hosts cut short are reported interrupted. */
  signal?: AbortSignal;
  /** Continue a run from its journal: finished steps are not run again. */
  resume?: ResumeState;
  /** On resume, run again a changing step that a crash cut off (the operator checked the host). */
  rerunInterrupted?: boolean;
}

export interface HostResult {
  state: HostState;
  message?: string;
  prechecks: StepRecord[];
  steps: StepRecord[];
  rollback: StepRecord[];
  startedAt?: number;
  finishedAt?: number;
}

export interface RunResult {
  runId: string;
  outcome: RunOutcome;
  message?: string;
  startedAt: number;
  finishedAt: number;
  hosts: Record<string, HostResult>;
  /** Snapshot names taken around the run, when the strategy asks for them. */
  snapshots: { before?: string; after?: string };
}

const FAILED_STATES: readonly HostState[] = ['failed', 'rolled-back', 'rollback-failed', 'interrupted'];

/** Applies a plan: pre-checks everywhere, then stages, batches and hosts in order, rolling failed hosts back. */
export async function executePlan(plan: Plan, deps: ExecutorDeps, options: ExecuteOptions): Promise<RunResult> {
  const { clock } = deps;
  const redactor = createRedactor(deps.secrets ?? []);
  const emit: EmitEvent = (event) => deps.emit(redactor.redactEvent(event));
  const persist = deps.persist ?? (() => Promise.resolve());
  const names = Object.keys(plan.hosts);
  const resume = options.resume;
  const startedAt = resume?.startedAt ?? clock.now();
  const hosts: Record<string, HostResult> = Object.fromEntries(
    names.map((name) => {
      const before = resume?.hosts[name];
      const result: HostResult = {
        state: before?.state ?? 'pending',
        message: before?.message,
        prechecks: [...(before?.prechecks ?? [])],
        steps: [...(before?.steps ?? [])],
        rollback: [...(before?.rollback ?? [])],
        startedAt: before?.startedAt,
        finishedAt: before?.finishedAt,
      };
      return [name, result];
    }),
  );
  const sessions = new Map(names.map((name) => [name, createSession(name, deps)]));
  const exec: HostExec = async (host, command, execOptions) => (await sessions.get(host)!.connection()).exec(command, execOptions);
  for (const name of names) Object.assign(sessions.get(name)!.captures, resume?.hosts[name]?.captures);
  const definitions = indexDefinitions(plan);
  const snapshots: RunResult['snapshots'] = {};
  const env = (name: string) => ({
    session: sessions.get(name)!,
    context: () => ({
      params: plan.params,
      host: describeHostContext(name, plan.hosts[name]!),
      run: { id: options.runId },
      captures: sessions.get(name)!.captures,
    }),
    clock,
    emit,
    persist,
    hooks: deps,
    snapshotProfile: plan.strategy.snapshot.profile,
    exec,
  });
  const run = async (name: string, planned: PlannedStep, section: StepSection): Promise<StepRecord> => {
    const step = definitions[section].get(planned.id)!;
    const raw = await runStep(step, planned, section, env(name));
    const captured = sessions.get(name)!.captures;
    const secretNames = secretCapturesOf(step);
    for (const secretName of secretNames) if (captured[secretName] !== undefined) redactor.add(captured[secretName]!);
    const record = redactor.redactRecord(raw);
    const shareable = Object.fromEntries(record.captured.filter((n) => !secretNames.includes(n)).map((n) => [n, captured[n]!]));
    if (Object.keys(shareable).length > 0) emit({ type: 'host.captured', at: clock.now(), host: name, stepId: planned.id, values: shareable });
    emit({ type: 'step.finished', at: clock.now(), host: name, record });
    return record;
  };
  const finish = async (outcome: RunOutcome, message?: string): Promise<RunResult> => {
    for (const result of Object.values(hosts)) {
      if (result.state === 'pending') {
        result.state = 'skipped';
        result.message ??= message ?? 'not started';
      }
    }
    await Promise.all([...sessions.values()].map((s) => s.close()));
    const states = Object.fromEntries(Object.entries(hosts).map(([name, r]) => [name, r.state]));
    emit({ type: 'run.finished', at: clock.now(), runId: options.runId, outcome, hosts: states, message });
    return { runId: options.runId, outcome, message, startedAt, finishedAt: clock.now(), hosts, snapshots };
  };

  emit({
    type: 'run.started',
    at: clock.now(),
    runId: options.runId,
    runbook: plan.runbook.name,
    version: plan.runbook.version,
    planHash: plan.hash,
    hosts: names,
    stages: plan.stages,
    ...(resume ? { resumed: true } : {}),
  });

  if (!resume?.prechecksPassed) {
    const blocked = await runPrechecks();
    if (blocked) return finish('failed', blocked);
  }
  if (options.checkOnly) {
    for (const result of Object.values(hosts)) result.state = 'succeeded';
    return finish('succeeded', 'pre-checks only');
  }

  if (resume) await recaptureSecrets();

  if (resume?.snapshotBefore) snapshots.before = resume.snapshotBefore;
  else if (plan.strategy.snapshot.before) {
    const taken = await takeRunSnapshot(`${options.runId}-before`, 'snapshot-before');
    if (!taken.ok) return finish('failed', `snapshot before failed: ${taken.message ?? 'unknown error'}; nothing was changed`);
    snapshots.before = `${options.runId}-before`;
  }

  // Pre-checks and the snapshot before reached every host; only the first batch is worked on next.
  // Connections are held per batch, not per fleet: a 10,000-host run must not keep 10,000 open.
  const firstBatch = new Set(plan.stages[0]?.batches[0] ?? []);
  await Promise.all(names.filter((name) => !firstBatch.has(name)).map((name) => sessions.get(name)!.close()));

  const limit = createLimiter(options.maxParallel ?? plan.strategy.maxParallel);
  let stopMessage: string | undefined;
  for (const [index, stage] of plan.stages.entries()) {
    if (stopMessage) break;
    emit({ type: 'stage.started', at: clock.now(), stage: stage.name, index, batches: stage.batches.length });
    for (const [batchIndex, batch] of stage.batches.entries()) {
      if (stopMessage || options.signal?.aborted) break;
      emit({ type: 'batch.started', at: clock.now(), stage: stage.name, batch: batchIndex, hosts: batch });
      await runBatch(batch);
      emit({ type: 'batch.finished', at: clock.now(), stage: stage.name, batch: batchIndex });
      const failed = names.filter((n) => FAILED_STATES.includes(hosts[n]!.state));
      if (failed.length > plan.strategy.maxFailures) {
        stopMessage = `${failed.length} host(s) failed (${failed.join(', ')}), more than maxFailures ${plan.strategy.maxFailures}: the run stopped`;
      }
    }
    emit({ type: 'stage.finished', at: clock.now(), stage: stage.name, index });
  }
  if (options.signal?.aborted && !stopMessage) stopMessage = INTERRUPTED_MESSAGE;

  if (snapshots.before && plan.strategy.snapshot.after) {
    const taken = await takeRunSnapshot(`${options.runId}-after`, 'snapshot-after');
    if (taken.ok) snapshots.after = `${options.runId}-after`;
  }
  const anyFailed = Object.values(hosts).some((r) => FAILED_STATES.includes(r.state));
  return finish(anyFailed || stopMessage ? 'failed' : 'succeeded', stopMessage);

  /** Pre-checks on every target before any change; returns why the run must stop, if it must. */
  async function runPrechecks(): Promise<string | undefined> {
    emit({ type: 'phase.started', at: clock.now(), phase: 'prechecks', hosts: names });
    const precheckLimit = createLimiter(PRECHECK_PARALLELISM);
    await Promise.all(
      names.map((name) =>
        precheckLimit(async () => {
          hosts[name]!.prechecks = [];
          for (const planned of plan.hostPlans[name]!.prechecks) {
            const record = await run(name, planned, 'precheck');
            hosts[name]!.prechecks.push(record);
            // An unreachable host fails its remaining checks too; say it once.
            if (record.errorCode !== undefined) break;
          }
        }),
      ),
    );
    const blocking = names.flatMap((name) =>
      hosts[name]!.prechecks
        .filter((r) => r.status === 'failed' && (r.severity !== 'warning' || r.errorCode !== undefined))
        .map((r) => `${name}: ${r.id}`),
    );
    const message = blocking.length > 0 ? `pre-checks failed (${blocking.join(', ')}); nothing was changed` : undefined;
    emit({ type: 'phase.finished', at: clock.now(), phase: 'prechecks', ok: blocking.length === 0, message });
    return message;
  }

  /**
   * Secret captures are never written to disk, so a resumed run has lost them: the read-only steps that
   * made them, finished before the crash, run again (quietly: their records stand) on each host still to
   * run. A secret captured by a changing step cannot be had again; a step that needs it fails, saying so.
   */
  async function recaptureSecrets(): Promise<void> {
    const quiet = { emit: () => {}, persist: () => Promise.resolve() };
    await Promise.all(
      names
        .filter((name) => hosts[name]!.state === 'pending')
        .map(async (name) => {
          const done = [
            ...hosts[name]!.prechecks.map((record) => ({ record, section: 'precheck' as const, planned: plan.hostPlans[name]!.prechecks })),
            ...hosts[name]!.steps.map((record) => ({ record, section: 'step' as const, planned: plan.hostPlans[name]!.steps })),
          ];
          for (const { record, section, planned } of done) {
            const step = definitions[section].get(record.id);
            const found = planned.find((p) => p.id === record.id);
            if (!step || !found || record.status !== 'succeeded' || !READ_ONLY_KINDS.includes(found.kind as StepKind)) continue;
            const secretNames = secretCapturesOf(step);
            if (secretNames.length === 0) continue;
            await runStep(step, found, section, { ...env(name), ...quiet });
            for (const secretName of secretNames) {
              const value = sessions.get(name)!.captures[secretName];
              if (value !== undefined) redactor.add(value);
            }
          }
        }),
    );
  }

  async function takeRunSnapshot(name: string, phase: 'snapshot-before' | 'snapshot-after') {
    emit({ type: 'phase.started', at: clock.now(), phase, hosts: names });
    const taken = deps.takeSnapshot
      ? await deps.takeSnapshot({ name, hosts: names, profile: plan.strategy.snapshot.profile, exec })
      : { ok: false, message: 'snapshots are not available in this run' };
    emit({ type: 'phase.finished', at: clock.now(), phase, ok: taken.ok, message: taken.message });
    return taken;
  }

  /**
   * Runs a batch in lock-step: each step runs on every host of the batch it applies to, in parallel,
   * before the next step starts, so a runbook can order steps across hosts (secondary, then primary).
   * A host that fails leaves the batch; when failures exceed `maxFailures` the batch stops and its
   * unfinished hosts end (and are rolled back) with it.
   */
  async function runBatch(batch: readonly string[]): Promise<void> {
    // Hosts a resumed run had finished keep their outcome.
    let active = batch.filter((name) => hosts[name]!.state === 'pending');
    const failures = new Map<string, StepRecord>();
    let batchStop: string | undefined;
    for (const name of active) {
      hosts[name]!.state = 'running';
      hosts[name]!.startedAt ??= clock.now();
      emit({ type: 'host.started', at: clock.now(), host: name });
      const earlier = hosts[name]!.steps.find((r) => r.status === 'failed' && definitions.step.get(r.id)?.onFailure !== 'continue');
      if (earlier) failures.set(name, earlier);
    }
    active = active.filter((name) => !failures.has(name));
    for (const step of plan.runbook.steps) {
      if (options.signal?.aborted) {
        batchStop = INTERRUPTED_MESSAGE;
        break;
      }
      const targets = active.flatMap((name) => {
        const planned = plan.hostPlans[name]!.steps.find((p) => p.id === step.id);
        const done = hosts[name]!.steps.some((r) => r.id === step.id);
        return planned && !done ? [{ name, planned }] : [];
      });
      const records =
        step.kind === 'snapshot'
          ? await runSnapshotStep(step, targets)
          : await Promise.all(targets.map(({ name, planned }) => limit(async () => refuseRerun(name, planned) ?? (await run(name, planned, 'step')))));
      records.forEach((record, i) => {
        const name = targets[i]!.name;
        hosts[name]!.steps.push(record);
        const failed = record.status === 'interrupted' || (record.status === 'failed' && step.onFailure !== 'continue');
        if (failed) failures.set(name, record);
      });
      active = active.filter((name) => !failures.has(name));
      const failedHosts = names.filter((n) => failures.has(n) || FAILED_STATES.includes(hosts[n]!.state));
      if (failedHosts.length > plan.strategy.maxFailures) {
        stopMessage = `${failedHosts.length} host(s) failed (${failedHosts.join(', ')}), more than maxFailures ${plan.strategy.maxFailures}: the run stopped`;
        batchStop = stopMessage;
        break;
      }
      if (active.length === 0) break;
    }
    await Promise.all([
      ...[...failures].map(([name, failure]) => limit(() => endHost(name, failure))),
      ...active.map((name) => limit(() => endHost(name, undefined, batchStop))),
    ]);
  }

  /** A snapshot step captures every host of the batch it applies to into one named snapshot. */
  async function runSnapshotStep(step: Step, targets: ReadonlyArray<{ name: string; planned: PlannedStep }>): Promise<StepRecord[]> {
    const at = clock.now();
    const first = targets[0]!.name;
    const name = step.snapshot !== undefined ? renderTemplate(step.snapshot, env(first).context()) : `${options.runId}-${step.id}`;
    for (const { name: host, planned } of targets) {
      emit({ type: 'step.started', at, host, section: 'step', stepId: step.id, kind: planned.kind, mutating: false, attempt: 1 });
    }
    await persist();
    const taken = deps.takeSnapshot
      ? await deps.takeSnapshot({ name, hosts: targets.map((t) => t.name), profile: step.profile ?? plan.strategy.snapshot.profile, exec })
      : { ok: false, message: 'snapshots are not available in this run' };
    return targets.map(({ name: host, planned }) => {
      const record: StepRecord = {
        ...skippedRecord(planned, 'step', at, taken.message ?? `snapshot ${name}`),
        status: taken.ok ? 'succeeded' : 'failed',
        attempts: 1,
        durationMs: clock.now() - at,
      };
      emit({ type: 'step.finished', at: clock.now(), host, record });
      return record;
    });
  }

  /**
   * On resume, a changing step that a crash cut off is not run again blindly: it may have done its
   * work or half of it. Unless the operator says so, the host stops there with the step interrupted.
   */
  function refuseRerun(name: string, planned: PlannedStep): StepRecord | undefined {
    const cut = resume?.hosts[name]?.interrupted;
    if (!cut || cut.section !== 'step' || cut.stepId !== planned.id) return undefined;
    const definition = definitions.step.get(planned.id)!;
    const rerunnable = READ_ONLY_KINDS.includes(planned.kind as StepKind) || definition.idempotent === true || options.rerunInterrupted;
    if (rerunnable) return undefined;
    const record: StepRecord = {
      ...skippedRecord(planned, 'step', clock.now(), ''),
      status: 'interrupted',
      message: `step ${planned.id} was cut off by a crash and changes the host; check ${name}, then resume with --rerun-interrupted to run it again`,
    };
    emit({ type: 'step.finished', at: clock.now(), host: name, record });
    return record;
  }

  /** Records the steps a host did not reach, rolls it back when asked, and settles its state. */
  async function endHost(name: string, failure: StepRecord | undefined, stopped?: string): Promise<void> {
    const result = hosts[name]!;
    const hostPlan = plan.hostPlans[name]!;
    const reached = new Set(result.steps.map((r) => r.id));
    const reason = failure ? `not run: step ${failure.id} failed` : `not run: ${stopped}`;
    const unreached = hostPlan.steps.filter((p) => !reached.has(p.id)).map((p) => skippedRecord(p, 'step', clock.now(), reason));
    // An interrupted host resumes from where it stopped; any other keeps its unreached steps as skipped,
    // journaled too, so that a resumed run's report lists them.
    if (stopped !== INTERRUPTED_MESSAGE && failure?.status !== 'interrupted') {
      result.steps.push(...unreached);
      for (const record of unreached) emit({ type: 'step.finished', at: clock.now(), host: name, record });
    }
    if (!failure && !stopped) result.state = 'succeeded';
    else if (failure?.status === 'interrupted' || stopped === INTERRUPTED_MESSAGE) {
      result.state = 'interrupted';
      result.message = failure
        ? `step ${failure.id} was interrupted: ${failure.message ?? ''}; the host's state is unknown`
        : `${INTERRUPTED_MESSAGE} before step ${unreached[0]?.id ?? '(none left)'}; resume it with --resume`;
    } else {
      result.message = failure ? `step ${failure.id} failed: ${failure.message ?? ''}` : `stopped: ${stopped}`;
      const wantsRollback = (failure && definitions.step.get(failure.id)!.onFailure === 'rollback') || plan.strategy.rollbackOnFailure;
      result.state = wantsRollback && hostPlan.rollback.length > 0 ? await rollBack(name) : 'failed';
    }
    result.finishedAt = clock.now();
    emit({ type: 'host.finished', at: result.finishedAt, host: name, state: result.state, message: result.message });
    // Done with the host until the snapshot after the run, which connects again.
    await sessions.get(name)!.close();
  }

  async function rollBack(name: string): Promise<HostState> {
    const result = hosts[name]!;
    for (const planned of plan.hostPlans[name]!.rollback) {
      const record = await run(name, planned, 'rollback');
      result.rollback.push(record);
      if (record.status === 'failed' || record.status === 'interrupted') {
        result.message += `; rollback step ${planned.id} failed: ${record.message ?? ''}`;
        return 'rollback-failed';
      }
    }
    return 'rolled-back';
  }
}

function skippedRecord(planned: PlannedStep, section: StepSection, at: number, message: string): StepRecord {
  return {
    id: planned.id,
    section,
    kind: planned.kind,
    mutating: planned.mutating,
    status: 'skipped',
    message,
    command: planned.command,
    attempts: 0,
    startedAt: at,
    durationMs: 0,
    exitCode: null,
    stdout: '',
    stderr: '',
    captured: [],
  };
}

function indexDefinitions(plan: Plan): Record<StepSection, Map<string, Step | Precheck>> {
  const index = (steps: ReadonlyArray<Step | Precheck>) => new Map(steps.map((s) => [s.id, s]));
  return { precheck: index(plan.runbook.prechecks), step: index(plan.runbook.steps), rollback: index(plan.runbook.rollback) };
}

function createSession(host: string, deps: ExecutorDeps): HostSession & { close(): Promise<void> } {
  let current: Promise<HostConnection> | undefined;
  const session = {
    host,
    captures: Object.create(null) as Record<string, string>,
    async connection() {
      if (current) {
        const connection = await current.catch(() => undefined);
        if (connection && !connection.closed) return connection;
      }
      current = deps.connect(host);
      return current;
    },
    reset() {
      current = undefined;
    },
    async reconnect(deadline: number, intervalMs: number) {
      for (;;) {
        try {
          current = deps.connect(host);
          return await current;
        } catch (error) {
          current = undefined;
          if ((error as { nonRetryable?: boolean }).nonRetryable || deps.clock.now() + intervalMs > deadline) throw error;
          await deps.clock.sleep(intervalMs);
        }
      }
    },
    async close() {
      const closing = current;
      current = undefined;
      const connection = await closing?.catch(() => undefined);
      await connection?.close();
    },
  };
  return session;
}

import { setMaxListeners } from 'node:events';
import { describeHopContext, sequenceSteps } from '../plan/hops.js';
import { describeHostContext } from '../plan/make-plan.js';
import { renderTemplate } from '../plan/template.js';
import type { Plan, PlannedStep } from '../schema/plan.js';
import type { Precheck, Step } from '../schema/runbook.js';
import { READ_ONLY_KINDS, type StepKind } from '../schema/vocabulary.js';
import { createLimiter } from '../shared/limiter.js';
import type { HostConnection } from '../transport/types.js';
import type { Clock } from './clock.js';
import { STOP_SIGNALS, type EmitEvent, type HostState, type RunOutcome, type StepRecord, type StepSection, type StopSignal } from './events.js';
import { adviseOnWaitingStep, planInterruptedStep, settleAfterProbe, type CutOffStep, type OperatorDecisions, type SettledStep } from './interrupted-step.js';
import { createRedactor } from './redact.js';
import { INTERRUPTED_MESSAGE, type ResumeState } from './resume-state.js';
import { runCompletionProbe, runStep, secretCapturesOf, type HostExec, type HostSession, type StepEnvironment, type StepHooks } from './run-step.js';

/** Prechecks are read-only: they may fan out wider than the changes. */
const PRECHECK_PARALLELISM = 32;

export interface ExecutorDeps extends StepHooks {
  /** Opens a connection to a host of the plan (transport, credentials and host key resolved by the caller). */
  connect(host: string): Promise<HostConnection>;
  clock: Clock;
  emit: EmitEvent;
  /**
   * Resolves once every event emitted so far is on disk; awaited before a step's command is sent.
   * A rejection (the journal cannot be written) stops the run before its next command.
   */
  persist?: () => Promise<void>;
  /** Values never to show: passwords read for `passwordEnv`. Secret captures join them as they are made. */
  secrets?: readonly string[];
}

export interface ExecuteOptions {
  runId: string;
  maxParallel?: number;
  /** Run the pre-checks only (`runbook plan --check`): nothing that changes a host. */
  checkOnly?: boolean;
  /**
   * The first stop (a signal; its reason names it): no new command starts, waits end at once, hosts
   * still to run are left for `--resume`.
   */
  signal?: AbortSignal;
  /** The second stop: the commands running are aborted too. */
  abortCommands?: AbortSignal;
  /** Continue a run from its journal: finished steps are not run again. */
  resume?: ResumeState;
  /** On resume, what the operator decided about steps a crash or a stop cut off. */
  decisions?: OperatorDecisions;
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

/** Why a run stopped before its end: told to (a signal, an abort), or its journal could not be written. */
export interface RunStop {
  cause: 'stop' | 'journal';
  reason: string;
  signal?: StopSignal;
}

export interface RunResult {
  runId: string;
  outcome: RunOutcome;
  message?: string;
  startedAt: number;
  finishedAt: number;
  hosts: Record<string, HostResult>;
  /** Snapshot names taken around the run, when the strategy asks for them. */
  snapshots: { before?: string; after?: string; /** Taken by `kind: snapshot` steps. */ steps?: string[] };
  /** Set when the run stopped before its end (a signal, an unwritable journal): resume it. */
  stopped?: RunStop;
}

const FAILED_STATES: readonly HostState[] = ['failed', 'rolled-back', 'rollback-failed', 'interrupted'];
/** Hosts with work left: the snapshot after the run waits until none is. */
const UNFINISHED_STATES: readonly HostState[] = ['pending', 'running', 'interrupted'];

/** Applies a plan: pre-checks everywhere, then stages, batches and hosts in order, rolling failed hosts back. */
export function executePlan(plan: Plan, deps: ExecutorDeps, options: ExecuteOptions): Promise<RunResult> {
  return new PlanExecution(plan, deps, options).run();
}

type Session = HostSession & { close(): Promise<void> };

class PlanExecution {
  private readonly clock: Clock;
  private readonly redactor;
  private readonly names: string[];
  private readonly hosts: Record<string, HostResult>;
  private readonly sessions: Map<string, Session>;
  private readonly definitions: Record<StepSection, Map<string, Step | Precheck>>;
  /** The main steps in the order they run, a step of `hops` once per hop under its hop's id. */
  private readonly sequence: Step[];
  /** Per host, the values captured in each hop: a hop sees its own and those captured outside the path. */
  private readonly hopCaptures = new Map<string, Map<number, Record<string, string>>>();
  private readonly snapshots: RunResult['snapshots'] = {};
  private readonly startedAt: number;
  /** Aborted by the first signal or by a journal that cannot be written. */
  private readonly stop = new AbortController();
  private stopped?: RunStop;
  /** Set when more hosts failed than `maxFailures` allows. */
  private stopMessage?: string;
  private limit: ReturnType<typeof createLimiter>;
  private readonly exec: HostExec;

  constructor(
    private readonly plan: Plan,
    private readonly deps: ExecutorDeps,
    private readonly options: ExecuteOptions,
  ) {
    this.clock = deps.clock;
    this.redactor = createRedactor(deps.secrets ?? []);
    this.names = Object.keys(plan.hosts);
    this.startedAt = options.resume?.startedAt ?? this.clock.now();
    this.hosts = Object.fromEntries(this.names.map((name) => [name, restoreHost(options.resume?.hosts[name])]));
    this.sessions = new Map(this.names.map((name) => [name, createSession(name, deps)]));
    for (const name of this.names) {
      Object.assign(this.sessions.get(name)!.captures, options.resume?.hosts[name]?.captures);
      for (const [hop, values] of Object.entries(options.resume?.hosts[name]?.hopCaptures ?? {})) Object.assign(this.capturesOf(name, Number(hop)), values);
    }
    this.definitions = indexDefinitions(plan);
    this.sequence = sequenceSteps(plan.runbook.steps, plan.runbook.hops, plan.hops?.length ?? 0).map(({ id }) => this.definitions.step.get(id) as Step);
    this.limit = createLimiter(options.maxParallel ?? plan.strategy.maxParallel);
    // Every command and wait of every host listens to these: hundreds at once is expected.
    setMaxListeners(0, this.stop.signal, ...(options.abortCommands ? [options.abortCommands] : []));
    this.exec = async (host, command, execOptions) => (await this.sessions.get(host)!.connection()).exec(command, { ...execOptions, signal: options.abortCommands });
  }

  private readonly emit: EmitEvent = (event) => this.deps.emit(this.redactor.redactEvent(event));

  private readonly persist = async (): Promise<void> => {
    try {
      await this.deps.persist?.();
    } catch (error) {
      this.interrupt({ cause: 'journal', reason: `the journal could not be written: ${(error as Error).message}` });
      throw error;
    }
  };

  private get isStopping(): boolean {
    return this.stop.signal.aborted;
  }

  /** Stops the run before its next command; the first reason is the one reported. */
  private interrupt(stop: RunStop): void {
    if (this.stopped) return;
    this.stopped = stop;
    this.emit({ type: 'run.interrupted', at: this.clock.now(), reason: stop.reason, ...(stop.signal ? { signal: stop.signal } : {}) });
    // On disk at once: a second signal, or a kill, may follow.
    this.deps.persist?.().catch(() => undefined);
    this.stop.abort();
  }

  private listenForStop(): void {
    const signal = this.options.signal;
    if (!signal) return;
    const onAbort = () => {
      // The caller aborts with the journal's write error when it cannot write an event.
      if (signal.reason instanceof Error) return this.interrupt({ cause: 'journal', reason: `the journal could not be written: ${signal.reason.message}` });
      const known = STOP_SIGNALS.find((name) => name === signal.reason);
      this.interrupt({ cause: 'stop', reason: `${INTERRUPTED_MESSAGE}${known ? ` by ${known}` : ''}`, ...(known ? { signal: known } : {}) });
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  }

  async run(): Promise<RunResult> {
    const { plan, options } = this;
    this.emit({
      type: 'run.started',
      at: this.clock.now(),
      runId: options.runId,
      runbook: plan.runbook.name,
      version: plan.runbook.version,
      planHash: plan.hash,
      hosts: this.names,
      stages: plan.stages,
      ...(options.resume ? { resumed: true } : {}),
    });
    this.listenForStop();

    if (!options.resume?.prechecksPassed) {
      const blocked = await this.runPrechecks();
      if (this.isStopping) return this.finish('failed');
      if (blocked) return this.finish('failed', blocked);
    }
    if (options.checkOnly) {
      for (const result of Object.values(this.hosts)) result.state = 'succeeded';
      return this.finish('succeeded', 'pre-checks only');
    }
    if (options.resume) await this.recaptureSecrets();

    if (options.resume?.snapshotBefore) this.snapshots.before = options.resume.snapshotBefore;
    else if (plan.strategy.snapshot.before && !this.isStopping) {
      const taken = await this.takeRunSnapshot(`${options.runId}-before`, 'snapshot-before');
      if (this.isStopping) return this.finish('failed');
      if (!taken.ok) return this.finish('failed', `snapshot before failed: ${taken.message ?? 'unknown error'}; nothing was changed`);
      this.snapshots.before = `${options.runId}-before`;
    }

    // Pre-checks and the snapshot before reached every host; only the first batch is worked on next.
    // Connections are held per batch, not per fleet: a 10,000-host run must not keep 10,000 open.
    const firstBatch = new Set(plan.stages[0]?.batches[0] ?? []);
    await Promise.all(this.names.filter((name) => !firstBatch.has(name)).map((name) => this.sessions.get(name)!.close()));

    await this.runStages();

    // The snapshot after compares the finished fabric: not while a host is still to run or resume
    // (hosts never started count only when the run was stopped; maxFailures skips them for good).
    const left = Object.values(this.hosts).some((r) => r.state === 'interrupted' || (this.stopped !== undefined && UNFINISHED_STATES.includes(r.state)));
    if (this.snapshots.before && plan.strategy.snapshot.after && !left && !this.isStopping) {
      if (options.resume?.snapshotAfter) this.snapshots.after = options.resume.snapshotAfter;
      else {
        const taken = await this.takeRunSnapshot(`${options.runId}-after`, 'snapshot-after');
        if (taken.ok) this.snapshots.after = `${options.runId}-after`;
      }
    }
    const anyFailed = Object.values(this.hosts).some((r) => FAILED_STATES.includes(r.state));
    return this.finish(anyFailed || this.stopMessage ? 'failed' : 'succeeded', this.stopMessage);
  }

  private async runStages(): Promise<void> {
    const { plan } = this;
    for (const [index, stage] of plan.stages.entries()) {
      if (this.stopMessage || this.isStopping) break;
      this.emit({ type: 'stage.started', at: this.clock.now(), stage: stage.name, index, batches: stage.batches.length });
      for (const [batchIndex, batch] of stage.batches.entries()) {
        if (this.stopMessage || this.isStopping) break;
        this.emit({ type: 'batch.started', at: this.clock.now(), stage: stage.name, batch: batchIndex, hosts: batch });
        await this.runBatch(batch);
        this.emit({ type: 'batch.finished', at: this.clock.now(), stage: stage.name, batch: batchIndex });
        this.checkFailures(this.names.filter((n) => FAILED_STATES.includes(this.hosts[n]!.state)));
      }
      this.emit({ type: 'stage.finished', at: this.clock.now(), stage: stage.name, index });
    }
  }

  /** Stops the run when more hosts failed than `maxFailures` tolerates; true when it did. */
  private checkFailures(failed: readonly string[]): boolean {
    if (failed.length <= this.plan.strategy.maxFailures) return false;
    this.stopMessage = `${failed.length} host(s) failed (${failed.join(', ')}), more than maxFailures ${this.plan.strategy.maxFailures}: the run stopped`;
    return true;
  }

  /** Ends the run; a stopped run's message is why it stopped. */
  private async finish(outcome: RunOutcome, reason?: string): Promise<RunResult> {
    const { options, clock } = this;
    const message = this.stopped?.reason ?? reason;
    for (const result of Object.values(this.hosts)) {
      // A stopped run leaves its hosts not yet started pending, for --resume.
      if (result.state === 'pending' && !this.stopped) {
        result.state = 'skipped';
        result.message ??= message ?? 'not started';
      }
    }
    await Promise.all([...this.sessions.values()].map((s) => s.close()));
    const states = Object.fromEntries(Object.entries(this.hosts).map(([name, r]) => [name, r.state]));
    this.emit({
      type: 'run.finished',
      at: clock.now(),
      runId: options.runId,
      outcome,
      hosts: states,
      message,
      ...(this.stopped ? { interrupted: this.stopped.reason } : {}),
    });
    return {
      runId: options.runId,
      outcome,
      message,
      startedAt: this.startedAt,
      finishedAt: clock.now(),
      hosts: this.hosts,
      snapshots: this.snapshots,
      ...(this.stopped ? { stopped: this.stopped } : {}),
    };
  }

  /** The values a host captured in one hop (or, without a hop, outside the path). */
  private capturesOf(name: string, hop: number | undefined): Record<string, string> {
    if (hop === undefined) return this.sessions.get(name)!.captures;
    let hops = this.hopCaptures.get(name);
    if (!hops) this.hopCaptures.set(name, (hops = new Map()));
    let values = hops.get(hop);
    if (!values) hops.set(hop, (values = Object.create(null) as Record<string, string>));
    return values;
  }

  private stepEnvironment(name: string, hop?: number): StepEnvironment {
    const { plan, options } = this;
    const base = this.sessions.get(name)!;
    // A step of a hop captures into its hop's values, and reads them over those captured outside the path.
    const session: Session = hop === undefined ? base : { ...base, captures: this.capturesOf(name, hop) };
    return {
      session,
      context: () => ({
        params: plan.params,
        host: describeHostContext(name, plan.hosts[name]!),
        run: { id: options.runId },
        captures: hop === undefined ? base.captures : Object.assign(Object.create(null) as Record<string, string>, base.captures, session.captures),
        ...(hop === undefined ? {} : { hop: describeHopContext(hop, plan.hops ?? []) }),
      }),
      clock: this.clock,
      emit: this.emit,
      persist: this.persist,
      hooks: this.deps,
      snapshotProfile: plan.strategy.snapshot.profile,
      exec: this.exec,
      redact: this.redactor.redact,
      stop: this.stop.signal,
      abort: options.abortCommands,
      fetched: (artifact) => findFetched(this.hosts[name]!, artifact),
    };
  }

  /** Runs a step, journals its record and the values it captured (never the secret ones). */
  private async runOne(name: string, planned: PlannedStep, section: StepSection, priorAttempts = 0): Promise<StepRecord> {
    const step = this.definitions[section].get(planned.id)!;
    const raw = await runStep(step, planned, section, this.stepEnvironment(name, planned.hop));
    const captured = this.capturesOf(name, planned.hop);
    const secretNames = secretCapturesOf(step);
    for (const secretName of secretNames) if (captured[secretName] !== undefined) this.redactor.add(captured[secretName]!);
    const record = { ...this.redactor.redactRecord(raw), attempts: raw.attempts + priorAttempts };
    const shareable = Object.fromEntries(record.captured.filter((n) => !secretNames.includes(n)).map((n) => [n, captured[n]!]));
    if (Object.keys(shareable).length > 0) {
      this.emit({ type: 'host.captured', at: this.clock.now(), host: name, stepId: planned.id, values: shareable, ...(planned.hop === undefined ? {} : { hop: planned.hop }) });
    }
    this.emit({ type: 'step.finished', at: this.clock.now(), host: name, record });
    return record;
  }

  /** Runs a step, unless a crash or a stop cut it off in an earlier process: then it is decided first. */
  private async runOrDecide(name: string, planned: PlannedStep, section: StepSection): Promise<StepRecord> {
    const cut = this.findCutOffStep(name, planned, section);
    if (!cut) return this.runOne(name, planned, section);
    let decision = planInterruptedStep(cut, this.options.decisions);
    if (decision.action === 'probe' && this.isStopping) decision = { action: 'wait', by: 'runbook', reason: 'the run was stopped before its completion probe could run' };
    if (decision.action === 'probe') {
      const probe = (this.definitions[section].get(planned.id) as Step).completedWhen!;
      decision = settleAfterProbe(cut, this.options.decisions, await runCompletionProbe(probe, this.stepEnvironment(name, planned.hop)));
    }
    // The probe's command and what it saw may hold a secret capture.
    decision = { ...decision, reason: this.redactor.redact(decision.reason) };
    this.emit({ type: 'step.decided', at: this.clock.now(), host: name, section, stepId: planned.id, decision: decision.action, by: decision.by, reason: decision.reason });
    const attempts = this.options.resume?.hosts[name]?.interrupted?.attempts ?? 0;
    if (decision.action === 'rerun') return this.runOne(name, planned, section, attempts);
    const record = this.recordDecision(name, planned, section, decision, attempts);
    this.emit({ type: 'step.finished', at: this.clock.now(), host: name, record });
    return record;
  }

  private findCutOffStep(name: string, planned: PlannedStep, section: StepSection): CutOffStep | undefined {
    const cut = this.options.resume?.hosts[name]?.interrupted;
    if (!cut || cut.section !== section || cut.stepId !== planned.id) return undefined;
    const definition = this.definitions[section].get(planned.id) as Step;
    return {
      host: name,
      section,
      stepId: planned.id,
      mutating: planned.mutating,
      idempotent: definition.idempotent === true,
      hasProbe: definition.completedWhen !== undefined,
    };
  }

  private recordDecision(name: string, planned: PlannedStep, section: StepSection, decision: SettledStep, attempts: number): StepRecord {
    const base = skippedRecord(planned, section, this.clock.now(), '');
    const who = decision.by === 'runbook' ? decision.reason : `${decision.reason} (${decision.by})`;
    switch (decision.action) {
      case 'done':
        return { ...base, status: 'succeeded', attempts, message: `recorded done after it was cut off: ${who}` };
      case 'failed':
        return { ...base, status: 'failed', attempts, message: `recorded failed after it was cut off: ${who}` };
      default:
        return { ...base, status: 'interrupted', attempts, message: adviseOnWaitingStep(name, planned.id, this.options.runId, decision.reason) };
    }
  }

  /** Pre-checks on every target before any change; returns why the run must stop, if it must. */
  private async runPrechecks(): Promise<string | undefined> {
    const { names, hosts, plan, clock } = this;
    this.emit({ type: 'phase.started', at: clock.now(), phase: 'prechecks', hosts: names });
    const precheckLimit = createLimiter(PRECHECK_PARALLELISM);
    await Promise.all(
      names.map((name) =>
        precheckLimit(async () => {
          hosts[name]!.prechecks = [];
          for (const planned of plan.hostPlans[name]!.prechecks) {
            if (this.isStopping) return;
            const record = await this.runOne(name, planned, 'precheck');
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
    const message = this.isStopping
      ? this.stopped?.reason
      : blocking.length > 0
        ? `pre-checks failed (${blocking.join(', ')}); nothing was changed`
        : undefined;
    this.emit({ type: 'phase.finished', at: clock.now(), phase: 'prechecks', ok: message === undefined, message });
    return message;
  }

  /**
   * Secret captures are never written to disk, so a resumed run has lost them: the read-only steps that
   * made them, finished before the crash, run again (quietly: their records stand) on each host still to
   * run. A secret captured by a changing step cannot be had again; a step that needs it fails, saying so.
   */
  private async recaptureSecrets(): Promise<void> {
    const quiet = { emit: () => {}, persist: () => Promise.resolve() };
    await Promise.all(
      this.names
        .filter((name) => this.hosts[name]!.state === 'pending')
        .map(async (name) => {
          const hostPlan = this.plan.hostPlans[name]!;
          const done = [
            ...this.hosts[name]!.prechecks.map((record) => ({ record, section: 'precheck' as const, planned: hostPlan.prechecks })),
            ...this.hosts[name]!.steps.map((record) => ({ record, section: 'step' as const, planned: hostPlan.steps })),
          ];
          for (const { record, section, planned } of done) {
            const step = this.definitions[section].get(record.id);
            const found = planned.find((p) => p.id === record.id);
            if (!step || !found || record.status !== 'succeeded' || !READ_ONLY_KINDS.includes(found.kind as StepKind)) continue;
            const secretNames = secretCapturesOf(step);
            if (secretNames.length === 0) continue;
            await runStep(step, found, section, { ...this.stepEnvironment(name, found.hop), ...quiet });
            for (const secretName of secretNames) {
              const value = this.capturesOf(name, found.hop)[secretName];
              if (value !== undefined) this.redactor.add(value);
            }
          }
        }),
    );
  }

  private async takeRunSnapshot(name: string, phase: 'snapshot-before' | 'snapshot-after') {
    const { clock, names } = this;
    this.emit({ type: 'phase.started', at: clock.now(), phase, hosts: names });
    const taken = this.deps.takeSnapshot
      ? await this.deps.takeSnapshot({ name, hosts: names, profile: this.plan.strategy.snapshot.profile, exec: this.exec, redact: this.redactor.redact })
      : { ok: false, message: 'snapshots are not available in this run' };
    this.emit({ type: 'phase.finished', at: clock.now(), phase, ok: taken.ok, message: taken.message });
    return taken;
  }

  /**
   * Runs a batch in lock-step: each step runs on every host of the batch it applies to, in parallel,
   * before the next step starts, so a runbook can order steps across hosts (secondary, then primary).
   * A host that fails leaves the batch; when failures exceed `maxFailures` the batch stops and its
   * unfinished hosts end (and are rolled back) with it.
   */
  private async runBatch(batch: readonly string[]): Promise<void> {
    const { hosts, plan, clock } = this;
    // Hosts a resumed run had finished keep their outcome.
    let active = batch.filter((name) => hosts[name]!.state === 'pending');
    const failures = new Map<string, StepRecord>();
    /** Hosts the stop reached before their next step started. */
    const stopped: string[] = [];
    let batchStop: string | undefined;
    for (const name of active) {
      hosts[name]!.state = 'running';
      hosts[name]!.startedAt ??= clock.now();
      this.emit({ type: 'host.started', at: clock.now(), host: name });
      const earlier = hosts[name]!.steps.find((r) => r.status === 'failed' && this.definitions.step.get(r.id)?.onFailure !== 'continue');
      if (earlier) failures.set(name, earlier);
    }
    active = active.filter((name) => !failures.has(name));
    for (const step of this.sequence) {
      if (active.length === 0) break;
      if (this.isStopping) {
        batchStop = INTERRUPTED_MESSAGE;
        break;
      }
      const targets = active.flatMap((name) => {
        const planned = plan.hostPlans[name]!.steps.find((p) => p.id === step.id);
        const done = hosts[name]!.steps.some((r) => r.id === step.id);
        return planned && !done ? [{ name, planned }] : [];
      });
      // A host still queued behind --max-parallel when the run is told to stop does not start the step.
      const records =
        step.kind === 'snapshot'
          ? await this.runSnapshotStep(step, targets)
          : await Promise.all(targets.map(({ name, planned }) => this.limit(async () => (this.isStopping ? undefined : this.runOrDecide(name, planned, 'step')))));
      const notStarted = targets.filter((_, i) => records[i] === undefined).map((t) => t.name);
      if (notStarted.length > 0) {
        active = active.filter((name) => !notStarted.includes(name));
        stopped.push(...notStarted);
      }
      records.forEach((record, i) => {
        if (record === undefined) return;
        const name = targets[i]!.name;
        hosts[name]!.steps.push(record);
        // A step with `severity: warning` reports its failure; the host goes on.
        const failed = record.status === 'interrupted' || (record.status === 'failed' && step.onFailure !== 'continue' && step.severity !== 'warning');
        if (failed) failures.set(name, record);
      });
      active = active.filter((name) => !failures.has(name));
      if (this.checkFailures(this.names.filter((n) => failures.has(n) || FAILED_STATES.includes(hosts[n]!.state)))) {
        batchStop = this.stopMessage;
        break;
      }
    }
    // A host that had run all its steps when the batch stopped is done: the stop is about what others had left.
    const finished = (name: string) => plan.hostPlans[name]!.steps.every((p) => hosts[name]!.steps.some((r) => r.id === p.id));
    await Promise.all([
      ...[...failures].map(([name, failure]) => this.limit(() => this.endHost(name, failure))),
      ...active.map((name) => this.limit(() => this.endHost(name, undefined, finished(name) ? undefined : batchStop))),
      ...stopped.map((name) => this.limit(() => this.endHost(name, undefined, INTERRUPTED_MESSAGE))),
    ]);
  }

  /** A snapshot step captures every host of the batch it applies to into one named snapshot. */
  private async runSnapshotStep(step: Step, targets: ReadonlyArray<{ name: string; planned: PlannedStep }>): Promise<StepRecord[]> {
    const { clock } = this;
    const at = clock.now();
    const first = targets[0]!.name;
    const name = step.snapshot !== undefined ? renderTemplate(step.snapshot, this.stepEnvironment(first, targets[0]!.planned.hop).context()) : `${this.options.runId}-${step.id}`;
    for (const { name: host, planned } of targets) {
      this.emit({ type: 'step.started', at, host, section: 'step', stepId: step.id, kind: planned.kind, mutating: false, attempt: 1 });
    }
    let taken: { ok: boolean; message?: string; interrupted?: boolean };
    try {
      await this.persist();
      taken = this.deps.takeSnapshot
        ? await this.deps.takeSnapshot({
            name,
            hosts: targets.map((t) => t.name),
            profile: step.profile ?? this.plan.strategy.snapshot.profile,
            ...(step.note !== undefined ? { note: renderTemplate(step.note, this.stepEnvironment(first).context()) } : {}),
            exec: this.exec,
            // An earlier batch took this snapshot: one snapshot spans the run's targets, whatever the batches.
            extend: this.names.some((n) => this.hosts[n]!.steps.some((r) => r.id === step.id && r.status === 'succeeded')),
            redact: this.redactor.redact,
          })
        : { ok: false, message: 'snapshots are not available in this run' };
    } catch (error) {
      taken = { ok: false, interrupted: true, message: `not started: ${(error as Error).message}` };
    }
    if (taken.ok && !this.snapshots.steps?.includes(name)) (this.snapshots.steps ??= []).push(name);
    return targets.map(({ name: host, planned }) => {
      const record: StepRecord = {
        ...skippedRecord(planned, 'step', at, taken.message ?? `snapshot ${name}`),
        status: taken.interrupted ? 'interrupted' : taken.ok ? 'succeeded' : 'failed',
        attempts: taken.interrupted ? 0 : 1,
        durationMs: clock.now() - at,
      };
      this.emit({ type: 'step.finished', at: clock.now(), host, record });
      return record;
    });
  }

  /** Records the steps a host did not reach, rolls it back when asked, and settles its state. */
  private async endHost(name: string, failure: StepRecord | undefined, stopped?: string): Promise<void> {
    const { clock } = this;
    const result = this.hosts[name]!;
    const hostPlan = this.plan.hostPlans[name]!;
    const reached = new Set(result.steps.map((r) => r.id));
    const reason = failure ? `not run: step ${failure.id} failed` : `not run: ${stopped}`;
    const unreached = hostPlan.steps.filter((p) => !reached.has(p.id)).map((p) => skippedRecord(p, 'step', clock.now(), reason));
    const interrupted = failure?.status === 'interrupted' || stopped === INTERRUPTED_MESSAGE;
    // An interrupted host resumes from where it stopped; any other keeps its unreached steps as skipped,
    // journaled too, so that a resumed run's report lists them.
    if (!interrupted) {
      result.steps.push(...unreached);
      for (const record of unreached) this.emit({ type: 'step.finished', at: clock.now(), host: name, record });
    }
    if (!failure && !stopped) result.state = 'succeeded';
    else if (interrupted) {
      result.state = 'interrupted';
      result.message = failure
        ? `step ${failure.id} was interrupted: ${failure.message ?? ''}; the host's state is unknown`
        : `${this.stopped?.reason ?? INTERRUPTED_MESSAGE} before step ${unreached[0]?.id ?? '(none left)'}; resume it with --resume`;
    } else {
      result.message = failure ? `step ${failure.id} failed: ${failure.message ?? ''}` : `stopped: ${stopped}`;
      const wantsRollback = (failure && this.definitions.step.get(failure.id)!.onFailure === 'rollback') || this.plan.strategy.rollbackOnFailure;
      result.state = wantsRollback && hostPlan.rollback.length > 0 ? await this.rollBack(name) : 'failed';
    }
    result.finishedAt = clock.now();
    this.emit({ type: 'host.finished', at: result.finishedAt, host: name, state: result.state, message: result.message });
    // Done with the host until the snapshot after the run, which connects again.
    await this.sessions.get(name)!.close();
  }

  /**
   * Rolls a failed host back, under the rules of main steps: a rollback step a resumed run finished
   * is never run again, and one a crash cut off is decided like any other.
   */
  private async rollBack(name: string): Promise<HostState> {
    const result = this.hosts[name]!;
    // A failed step with `onFailure: continue` lets the rollback go on (to a step saying what state the host is left in); the host is not rolled back.
    let failed = false;
    for (const planned of this.plan.hostPlans[name]!.rollback) {
      const goesOn = this.definitions.rollback.get(planned.id)?.onFailure === 'continue';
      const earlier = result.rollback.find((r) => r.id === planned.id && r.status !== 'interrupted');
      if (earlier?.status === 'failed') {
        if (!goesOn) return 'rollback-failed';
        failed = true;
        continue;
      }
      if (earlier) continue;
      if (this.isStopping) {
        result.message += `; its rollback stopped before step ${planned.id}: ${this.stopped?.reason ?? INTERRUPTED_MESSAGE}; resume the run to finish it`;
        return 'interrupted';
      }
      const record = await this.runOrDecide(name, planned, 'rollback');
      result.rollback.push(record);
      if (record.status === 'interrupted') {
        result.message += `; rollback step ${planned.id} was interrupted: ${record.message ?? ''}`;
        return 'interrupted';
      }
      if (record.status === 'failed') {
        result.message += `; rollback step ${planned.id} failed: ${record.message ?? ''}`;
        if (!goesOn) return 'rollback-failed';
        failed = true;
      }
    }
    // Every rollback step's condition was unmet: nothing was restored, and the report must not say it was.
    if (result.rollback.every((r) => r.status === 'skipped')) {
      result.message += '; no rollback step applied to it';
      return 'failed';
    }
    return failed ? 'rollback-failed' : 'rolled-back';
  }
}

/** The SHA-256 the last fetch of an artifact recorded on this host (resumed runs included). */
function findFetched(result: HostResult, artifact: string): string | undefined {
  const fetches = [...result.steps, ...result.rollback].filter((r) => r.status === 'succeeded' && r.transfer?.direction === 'fetch' && r.transfer.local.endsWith(`/${artifact}`));
  return fetches.at(-1)?.transfer?.sha256;
}

function restoreHost(before: ResumeState['hosts'][string] | undefined): HostResult {
  return {
    state: before?.state ?? 'pending',
    message: before?.message,
    prechecks: [...(before?.prechecks ?? [])],
    steps: [...(before?.steps ?? [])],
    rollback: [...(before?.rollback ?? [])],
    startedAt: before?.startedAt,
    finishedAt: before?.finishedAt,
  };
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

/** Step definitions by the id they run under: a step of `hops` once per hop, as `<id>.hop<N>`. */
function indexDefinitions(plan: Plan): Record<StepSection, Map<string, Step | Precheck>> {
  const index = (steps: ReadonlyArray<Step | Precheck>) => new Map(steps.map((s) => [s.id, s]));
  const steps = sequenceSteps(plan.runbook.steps, plan.runbook.hops, plan.hops?.length ?? 0).map(({ step, id }) => (id === step.id ? step : { ...step, id }));
  return { precheck: index(plan.runbook.prechecks), step: index(steps), rollback: index(plan.runbook.rollback) };
}

function createSession(host: string, deps: ExecutorDeps): Session {
  let current: Promise<HostConnection> | undefined;
  return {
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
    async reconnect(deadline: number, intervalMs: number, signal?: AbortSignal) {
      for (;;) {
        try {
          current = deps.connect(host);
          return await current;
        } catch (error) {
          current = undefined;
          if ((error as { nonRetryable?: boolean }).nonRetryable || deps.clock.now() + intervalMs > deadline) throw error;
          await deps.clock.sleep(intervalMs, signal);
          if (signal?.aborted) throw error;
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
}

import {
  Listr,
  ListrLogger,
  ProcessOutput,
  type ListrDefaultRenderer,
  type ListrDefaultRendererLogLevels,
  type ListrLogLevels,
  type ListrSimpleRenderer,
  type ListrTask,
  type ListrTaskWrapper,
} from 'listr2';
import type { HostState, RunEvent, RunOutcome, StepRecord, StepSection } from '../run/events.js';
import {
  describeCount,
  describeHostState,
  describePhase,
  describePhaseResult,
  describeStateCounts,
  describeStep,
  describeStepReason,
  formatDuration,
  isHostFailure,
  oneLine,
  type PhaseName,
} from './describe-events.js';
import type { ProgressConsumer } from './progress.js';
import { createStepOutputBuffer, formatOutputTail } from './step-output.js';

export interface TtyProgressOptions {
  /** The terminal to draw on; when it is not a TTY listr2's line renderer is used, which has no spinner. */
  stream: NodeJS.WriteStream;
}

type Ctx = Record<string, never>;
type Task = ListrTask<Ctx, ListrDefaultRenderer, ListrSimpleRenderer>;
type Wrapper = ListrTaskWrapper<Ctx, ListrDefaultRenderer, ListrSimpleRenderer>;

/** A value set once by the event handler and awaited by a listr2 task; later settles are ignored. */
interface Latch<T> {
  readonly promise: Promise<T>;
  readonly settled: boolean;
  readonly value: T | undefined;
  settle(value: T): void;
}

function createLatch<T>(): Latch<T> {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  const latch = {
    promise,
    settled: false,
    value: undefined as T | undefined,
    settle(value: T) {
      if (latch.settled) return;
      latch.settled = true;
      latch.value = value;
      resolve(value);
    },
  };
  return latch;
}

interface HostOutcome {
  state: HostState;
  message?: string;
}

/**
 * What is known of each part of the run. The event handler only updates views and settles latches;
 * the listr2 tasks read them when they start, so events may arrive before, during or after the
 * task that shows them is running.
 */
interface HostView {
  name: string;
  title: string;
  started: boolean;
  wrapper?: Wrapper;
  outcome: Latch<HostOutcome>;
  /** Failed steps, each with its output tail, shown under the host if it ends badly. */
  failures: string[];
  firstFailure?: string;
}

interface BatchView {
  hosts: HostView[];
  started: Latch<boolean>;
}

interface StageView {
  name: string;
  batches: BatchView[];
  started: Latch<boolean>;
  finished: Latch<true>;
  wrapper?: Wrapper;
}

interface PhaseView {
  phase: PhaseName;
  hostCount: number;
  started: Latch<boolean>;
  finished: Latch<{ ok: boolean; message?: string }>;
  /** listr2 asks whether a task is enabled once when its list starts and again just before running it. */
  askedOnce: boolean;
  failures: string[];
}

interface RunResult {
  outcome?: RunOutcome;
  message?: string;
}

interface RunView {
  baseTitle: string;
  title: string;
  wrapper?: Wrapper;
  hosts: Map<string, HostView>;
  stages: StageView[];
  phases: Record<PhaseName, PhaseView>;
  activePhase?: PhaseView;
  finished: Latch<RunResult>;
  display: Promise<unknown>;
}

const PHASES: readonly PhaseName[] = ['prechecks', 'snapshot-before', 'snapshot-after'];
/** Phases before stages, in the order the executor runs them. */
const PHASES_BEFORE_STAGES: readonly PhaseName[] = ['prechecks', 'snapshot-before'];

function listHosts(hosts: readonly HostView[]): string {
  const shown = hosts.slice(0, 4).map((h) => h.name);
  return hosts.length > shown.length ? `${shown.join(', ')} and ${hosts.length - shown.length} more` : shown.join(', ');
}

/** `install`, `precheck disk-space`, `rollback restore-config`: the host name already says it is a step. */
function describeLiveStep(section: StepSection, stepId: string): string {
  return section === 'step' ? stepId : `${section} ${stepId}`;
}

function describeFailure(record: StepRecord, tail: string[]): string {
  const head = `${describeStep(record.section, record.id)} ${record.status} after ${describeCount(record.attempts, 'attempt')}: ${describeStepReason(record)}`;
  const hint = record.hint ? [`  hint: ${oneLine(record.hint)}`] : [];
  return [head, ...tail, ...hint].join('\n');
}

/**
 * The live display on a terminal, drawn by listr2 from the event stream: the run as a task, its
 * stages as subtasks, the hosts of each batch as their subtasks showing the step they are on.
 */
export function createTtyProgress(options: TtyProgressOptions): ProgressConsumer {
  const { stream } = options;
  const outputs = createStepOutputBuffer();
  let run: RunView | undefined;
  let closing: Promise<void> | undefined;

  function setTitle(view: { title: string; wrapper?: Wrapper }, title: string): void {
    view.title = title;
    if (view.wrapper) view.wrapper.title = title;
  }

  function hostTask(view: HostView): Task {
    return {
      title: view.title,
      rendererOptions: { persistentOutput: true },
      task: async (_ctx, task) => {
        view.wrapper = task;
        task.title = view.title;
        const outcome = await view.outcome.promise;
        view.wrapper = undefined;
        const detail = outcome.message ? oneLine(outcome.message) : view.firstFailure;
        if (outcome.state === 'succeeded') {
          task.title = `${view.name}: succeeded`;
          return;
        }
        // The live title would be stale; the skip or error message below says how the host ended.
        task.title = view.name;
        if (outcome.state === 'skipped' || outcome.state === 'pending') {
          task.skip(`${view.name}: skipped${detail ? ` (${detail})` : ''}`);
          return;
        }
        if (view.failures.length > 0) task.output = view.failures.join('\n');
        throw new Error(`${view.name}: ${describeHostState(outcome.state)}${detail ? `: ${detail}` : ''}`);
      },
    };
  }

  function batchTask(batch: BatchView, index: number, count: number): Task {
    const label = `batch ${index + 1}/${count}: ${listHosts(batch.hosts)}`;
    return {
      title: label,
      task: async (_ctx, task) => {
        if (!(await batch.started.promise)) {
          task.skip(`${label}: not started`);
          return;
        }
        return task.newListr(batch.hosts.map(hostTask), { concurrent: true, exitOnError: false });
      },
    };
  }

  /** A task without a title fails its list, so its parent shows that something under it failed however deep. */
  function stageCheck(stage: StageView): Task {
    return {
      task: async () => {
        await stage.finished.promise;
        const states = await Promise.all(stage.batches.flatMap((b) => b.hosts).map((h) => h.outcome.promise.then((o) => o.state)));
        if (stage.wrapper) stage.wrapper.title = `stage ${stage.name}: ${describeStateCounts(states)}`;
        const failed = states.filter(isHostFailure).length;
        if (failed > 0) throw new Error(`stage ${stage.name}: ${describeCount(failed, 'host')} did not succeed`);
      },
    };
  }

  function stageTask(stage: StageView): Task {
    const hostCount = stage.batches.reduce((n, b) => n + b.hosts.length, 0);
    const batches = stage.batches.length > 1 ? ` in ${describeCount(stage.batches.length, 'batch', 'batches')}` : '';
    const title = `stage ${stage.name} (${describeCount(hostCount, 'host')}${batches})`;
    return {
      title,
      task: async (_ctx, task) => {
        stage.wrapper = task;
        if (!(await stage.started.promise)) {
          task.skip(`${title}: not started`);
          return;
        }
        const [only] = stage.batches;
        // One batch: its hosts sit right under the stage, one level less to read.
        const children =
          only && stage.batches.length === 1 ? only.hosts.map(hostTask) : stage.batches.map((b, i) => batchTask(b, i, stage.batches.length));
        return task.newListr([...children, stageCheck(stage)], { concurrent: stage.batches.length === 1, exitOnError: false });
      },
    };
  }

  function phaseTask(view: PhaseView): Task {
    const label = describePhase(view.phase);
    return {
      title: label,
      // Hidden until the phase starts; a phase the run does not have never shows.
      enabled: () => {
        if (view.started.settled) return view.started.value === true;
        if (!view.askedOnce) {
          view.askedOnce = true;
          return false;
        }
        return view.started.promise;
      },
      rendererOptions: { persistentOutput: true },
      task: async (_ctx, task) => {
        const on = `on ${describeCount(view.hostCount, 'host')}`;
        task.title = `${label} ${on}`;
        const result = await view.finished.promise;
        if (!result.ok) {
          if (view.failures.length > 0) task.output = view.failures.join('\n');
          throw new Error(`${label} failed${result.message ? `: ${oneLine(result.message)}` : ''}`);
        }
        task.title = `${label} ${describePhaseResult(view.phase, true)} ${on}`;
      },
    };
  }

  function runCheck(view: RunView): Task {
    return {
      task: async () => {
        const result = await view.finished.promise;
        if (result.outcome !== 'succeeded') throw new Error(`run ${result.outcome ?? 'ended without a result'}${result.message ? `: ${oneLine(result.message)}` : ''}`);
      },
    };
  }

  function start(event: Extract<RunEvent, { type: 'run.started' }>): void {
    const hosts = new Map<string, HostView>();
    const hostView = (name: string): HostView => {
      const existing = hosts.get(name);
      if (existing) return existing;
      const view: HostView = { name, title: `${name}: waiting`, started: false, outcome: createLatch(), failures: [] };
      hosts.set(name, view);
      return view;
    };
    for (const name of event.hosts) hostView(name);
    const stages = event.stages.map(
      (stage): StageView => ({
        name: stage.name,
        batches: stage.batches.map((names) => ({ hosts: names.map(hostView), started: createLatch<boolean>() })),
        started: createLatch(),
        finished: createLatch(),
      }),
    );
    const phase = (name: PhaseName): PhaseView => ({ phase: name, hostCount: 0, started: createLatch(), finished: createLatch(), askedOnce: false, failures: [] });
    const baseTitle = `${event.runbook} ${event.version}: run ${event.runId}`;
    const view: RunView = {
      baseTitle,
      title: `${baseTitle} on ${describeCount(event.hosts.length, 'host')}`,
      hosts,
      stages,
      phases: { prechecks: phase('prechecks'), 'snapshot-before': phase('snapshot-before'), 'snapshot-after': phase('snapshot-after') },
      finished: createLatch(),
      display: Promise.resolve(),
    };
    const processOutput = new ProcessOutput(stream, stream);
    const listr = new Listr<Ctx, 'default', 'simple'>(
      {
        title: view.title,
        task: (_ctx, task) => {
          view.wrapper = task;
          task.title = view.title;
          return task.newListr(
            [
              ...PHASES_BEFORE_STAGES.map((p) => phaseTask(view.phases[p])),
              ...stages.map(stageTask),
              phaseTask(view.phases['snapshot-after']),
              runCheck(view),
            ],
            { concurrent: false, exitOnError: false },
          );
        },
      },
      {
        concurrent: false,
        exitOnError: false,
        // The executor owns SIGINT: it stops the hosts, then ends the run, which ends this display.
        registerSignalListeners: false,
        renderer: 'default',
        fallbackRenderer: 'simple',
        fallbackRendererCondition: stream.isTTY !== true,
        rendererOptions: { logger: new ListrLogger<ListrDefaultRendererLogLevels>({ processOutput, toStderr: [] }) },
        fallbackRendererOptions: { logger: new ListrLogger<ListrLogLevels>({ processOutput, toStderr: [] }) },
      },
    );
    view.display = listr.run();
    run = view;
  }

  /** Settles everything still open so every task ends: after run.finished, or on close if it never came. */
  function finalize(view: RunView, result: RunResult, hostStates: Record<string, HostState>): void {
    if (view.finished.settled) return;
    for (const name of PHASES) {
      const phase = view.phases[name];
      phase.started.settle(false);
      if (phase.started.value) phase.finished.settle({ ok: false, message: 'interrupted' });
    }
    for (const stage of view.stages) {
      stage.started.settle(false);
      stage.finished.settle(true);
      for (const batch of stage.batches) batch.started.settle(false);
    }
    for (const host of view.hosts.values()) {
      const state = hostStates[host.name];
      if (state && state !== 'pending' && state !== 'running') host.outcome.settle({ state });
      else if (host.started || state === 'running') host.outcome.settle({ state: 'interrupted' });
      else host.outcome.settle({ state: 'skipped', message: 'not started' });
    }
    const counts = describeStateCounts([...view.hosts.values()].map((h) => h.outcome.value?.state ?? 'pending'));
    const outcome = result.outcome ?? 'ended without a result';
    setTitle(view, `${view.baseTitle} ${outcome}${result.message ? `: ${oneLine(result.message)}` : ''} (${counts})`);
    view.finished.settle(result);
  }

  function handleStep(view: RunView, event: Extract<RunEvent, { type: 'step.started' | 'step.retried' | 'step.finished' }>): void {
    const host = view.hosts.get(event.host);
    const phase = view.activePhase;
    switch (event.type) {
      case 'step.started':
        outputs.begin(event.host, event.stepId);
        if (host && !phase) setTitle(host, `${host.name}: ${describeLiveStep(event.section, event.stepId)} (attempt ${event.attempt})`);
        return;
      case 'step.retried':
        if (host && !phase) {
          const step = describeLiveStep(event.section, event.stepId);
          setTitle(host, `${host.name}: ${step} attempt ${event.attempt} failed, retrying in ${formatDuration(event.delayMs)}`);
        }
        return;
      case 'step.finished': {
        const { record } = event;
        const tail = outputs.take(event.host, record);
        if (record.status !== 'failed' && record.status !== 'interrupted') return;
        const failure = describeFailure(record, formatOutputTail(tail, '  '));
        if (phase) {
          phase.failures.push(`${event.host}: ${failure}`);
        } else if (host) {
          host.failures.push(failure);
          host.firstFailure ??= `${describeStep(record.section, record.id)} ${record.status}: ${describeStepReason(record)}`;
        }
        return;
      }
    }
  }

  function handle(event: RunEvent): void {
    if (closing) return;
    if (event.type === 'run.started') {
      if (!run) start(event);
      return;
    }
    const view = run;
    if (!view) return;
    switch (event.type) {
      case 'phase.started': {
        // A phase starting means the ones before it are not part of this run.
        for (const name of PHASES.slice(0, PHASES.indexOf(event.phase))) view.phases[name].started.settle(false);
        const phase = view.phases[event.phase];
        phase.hostCount = event.hosts.length;
        phase.started.settle(true);
        view.activePhase = phase;
        return;
      }
      case 'phase.finished':
        view.phases[event.phase].finished.settle({ ok: event.ok, message: event.message });
        view.activePhase = undefined;
        return;
      case 'stage.started':
        for (const name of PHASES_BEFORE_STAGES) view.phases[name].started.settle(false);
        view.stages.find((s) => s.name === event.stage)?.started.settle(true);
        return;
      case 'stage.finished':
        view.stages.find((s) => s.name === event.stage)?.finished.settle(true);
        return;
      case 'batch.started': {
        const batches = view.stages.find((s) => s.name === event.stage)?.batches ?? [];
        const batch = batches.find((b) => b.hosts.length === event.hosts.length && b.hosts.every((h, i) => h.name === event.hosts[i]));
        batch?.started.settle(true);
        return;
      }
      case 'batch.finished':
        return;
      case 'host.started': {
        const host = view.hosts.get(event.host);
        if (host) {
          host.started = true;
          setTitle(host, `${host.name}: starting`);
        }
        return;
      }
      case 'host.finished':
        view.hosts.get(event.host)?.outcome.settle({ state: event.state, message: event.message });
        return;
      case 'step.started':
      case 'step.retried':
      case 'step.finished':
        handleStep(view, event);
        return;
      case 'output':
        outputs.add(event);
        return;
      case 'run.finished':
        finalize(view, { outcome: event.outcome, message: event.message }, event.hosts);
        return;
    }
  }

  return {
    handle,
    close() {
      closing ??= (async () => {
        if (!run) return;
        finalize(run, {}, {});
        await run.display;
      })();
      return closing;
    },
  };
}

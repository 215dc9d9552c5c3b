import type { HostState, RunEvent, StepRecord } from '../run/events.js';
import { createPaint, isColorAllowed, type Paint } from './ansi.js';
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
  locateBatch,
  oneLine,
  shortenHash,
  type RunStage,
} from './describe-events.js';
import type { ProgressConsumer, WriteText } from './progress.js';
import { createStepOutputBuffer, formatOutputTail } from './step-output.js';

export interface PlainProgressOptions {
  write: WriteText;
  /** Time for the lines no event dates: the summary of a run closed before it finished. */
  clock?: () => number;
  /** Colour is used only when asked for and NO_COLOR is not set. */
  color: boolean;
  /** Where NO_COLOR is read; the process environment unless given. */
  env?: NodeJS.ProcessEnv;
}

interface RunSummary {
  runId: string;
  stages: RunStage[];
  hosts: string[];
}

function paintState(paint: Paint, state: HostState, text: string): string {
  if (state === 'succeeded') return paint.green(text);
  if (state === 'skipped' || state === 'pending') return paint.yellow(text);
  if (isHostFailure(state)) return paint.red(text);
  return text;
}

/**
 * Plain timestamped lines for CI logs and pipes: one line per started, retried or finished event,
 * the output of a step only when it fails, and a table of the hosts when the run ends.
 */
export function createPlainProgress(options: PlainProgressOptions): ProgressConsumer {
  const { write } = options;
  const clock = options.clock ?? Date.now;
  const paint = createPaint(isColorAllowed(options.color, options.env ?? process.env));
  const outputs = createStepOutputBuffer();
  const states = new Map<string, HostState>();
  const details = new Map<string, string>();
  const batchLabels = new Map<string, string>();
  let run: RunSummary | undefined;
  let runEnded = false;
  let closed = false;

  const line = (at: number, text: string) => write(`${paint.dim(new Date(at).toISOString())} ${text}\n`);

  function writeSummary(at: number, headline: string): void {
    line(at, headline);
    if (!run) return;
    const rows = run.hosts.map((host) => ({ host, state: states.get(host) ?? 'pending', detail: details.get(host) ?? '' }));
    const hostWidth = Math.max(4, ...rows.map((r) => r.host.length));
    const stateWidth = Math.max(5, ...rows.map((r) => r.state.length));
    write(`  ${'host'.padEnd(hostWidth)}  ${'state'.padEnd(stateWidth)}  detail\n`);
    for (const row of rows) {
      const detail = row.detail ? `${' '.repeat(stateWidth - row.state.length)}  ${row.detail}` : '';
      write(`  ${row.host.padEnd(hostWidth)}  ${paintState(paint, row.state, row.state)}${detail}\n`);
    }
    write(`  ${describeCount(rows.length, 'host')}: ${describeStateCounts(rows.map((r) => r.state))}\n`);
  }

  function describeFinishedStep(record: StepRecord): string {
    const attempts = record.attempts > 1 ? ` after ${describeCount(record.attempts, 'attempt')}` : '';
    switch (record.status) {
      case 'succeeded':
        return `${paint.green('succeeded')}${attempts} (${formatDuration(record.durationMs)})`;
      case 'skipped':
        return paint.yellow('skipped') + (record.message ? `: ${oneLine(record.message)}` : '');
      case 'failed': {
        const word = record.severity === 'warning' ? paint.yellow('failed (warning)') : paint.red('failed');
        return `${word} after ${describeCount(record.attempts, 'attempt')}: ${describeStepReason(record)}`;
      }
      case 'interrupted':
        return `${paint.red('interrupted')}: ${describeStepReason(record)}`;
    }
  }

  function handle(event: RunEvent): void {
    if (closed) return;
    switch (event.type) {
      case 'run.started':
        run = { runId: event.runId, stages: event.stages, hosts: event.hosts };
        for (const host of event.hosts) states.set(host, 'pending');
        line(
          event.at,
          paint.bold(`run ${event.runId} started: ${event.runbook} ${event.version}, plan ${shortenHash(event.planHash)}, `) +
            paint.bold(`${describeCount(event.hosts.length, 'host')} in ${describeCount(event.stages.length, 'stage')}`),
        );
        return;
      case 'phase.started':
        line(event.at, `${describePhase(event.phase)} started on ${describeCount(event.hosts.length, 'host')}`);
        return;
      case 'phase.finished': {
        const result = describePhaseResult(event.phase, event.ok);
        line(event.at, `${describePhase(event.phase)} ${event.ok ? paint.green(result) : paint.red(result)}${event.message ? `: ${oneLine(event.message)}` : ''}`);
        return;
      }
      case 'stage.started': {
        const position = run ? run.stages.findIndex((s) => s.name === event.stage) + 1 : 0;
        const of = run && position > 0 ? ` (${position}/${run.stages.length})` : '';
        line(event.at, paint.bold(`stage ${event.stage}${of} started: ${describeCount(event.batches, 'batch', 'batches')}`));
        return;
      }
      case 'stage.finished': {
        const hosts = run?.stages.find((s) => s.name === event.stage)?.batches.flat() ?? [];
        const counts = describeStateCounts(hosts.map((h) => states.get(h) ?? 'pending'));
        line(event.at, paint.bold(`stage ${event.stage} finished`) + (counts ? `: ${counts}` : ''));
        return;
      }
      case 'batch.started': {
        const label = locateBatch(run?.stages ?? [], event.stage, event.hosts, event.batch);
        batchLabels.set(`${event.stage}\u0000${event.batch}`, label);
        line(event.at, `stage ${event.stage} batch ${label} started: ${event.hosts.join(', ')}`);
        return;
      }
      case 'batch.finished': {
        const label = batchLabels.get(`${event.stage}\u0000${event.batch}`) ?? String(event.batch);
        line(event.at, `stage ${event.stage} batch ${label} finished`);
        return;
      }
      case 'host.started':
        states.set(event.host, 'running');
        line(event.at, `${event.host} started`);
        return;
      case 'host.finished':
        states.set(event.host, event.state);
        if (event.message) details.set(event.host, oneLine(event.message));
        line(event.at, `${event.host} ${paintState(paint, event.state, describeHostState(event.state))}${event.message ? `: ${oneLine(event.message)}` : ''}`);
        return;
      case 'step.started':
        outputs.begin(event.host, event.stepId);
        line(event.at, `${event.host} ${describeStep(event.section, event.stepId)} started (attempt ${event.attempt})`);
        return;
      case 'step.retried':
        line(
          event.at,
          `${event.host} ${describeStep(event.section, event.stepId)} attempt ${event.attempt} ${paint.yellow('failed, retrying')} in ${formatDuration(event.delayMs)}: ${oneLine(event.reason)}`,
        );
        return;
      case 'step.finished': {
        const { record } = event;
        // Taken in every case so the output of a step that succeeded is dropped, never shown.
        const tail = outputs.take(event.host, record);
        line(event.at, `${event.host} ${describeStep(record.section, record.id)} ${describeFinishedStep(record)}`);
        if (record.status === 'failed' || record.status === 'interrupted') {
          for (const text of formatOutputTail(tail, '    ')) write(`${text}\n`);
          if (record.hint) write(`    hint: ${oneLine(record.hint)}\n`);
        }
        return;
      }
      case 'output':
        outputs.add(event);
        return;
      case 'step.decided':
        line(event.at, `${event.host} ${describeStep(event.section, event.stepId)} was cut off earlier: ${paint.yellow(event.decision)} (${oneLine(event.reason)}; by ${event.by})`);
        return;
      case 'run.interrupted':
        line(event.at, paint.yellow(`${oneLine(event.reason)}: no new command starts`));
        return;
      case 'run.finished': {
        runEnded = true;
        for (const [host, state] of Object.entries(event.hosts)) states.set(host, state);
        const outcome = event.outcome === 'succeeded' ? paint.green('succeeded') : paint.red('failed');
        writeSummary(event.at, paint.bold(`run ${event.runId} `) + outcome + (event.message ? `: ${oneLine(event.message)}` : ''));
        return;
      }
    }
  }

  return {
    handle,
    close() {
      if (!closed && run && !runEnded) writeSummary(clock(), paint.bold(`run ${run.runId} `) + paint.red('ended without a result'));
      closed = true;
      return Promise.resolve();
    },
  };
}

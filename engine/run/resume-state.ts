import type { HostState, RunEvent, RunOutcome, StepRecord, StepSection } from './events.js';

/** The message of a run stopped before its end: such a run can be resumed. */
export const INTERRUPTED_MESSAGE = 'the run was interrupted';

/** A step that had started and not finished when the run stopped. */
export interface InterruptedStep {
  section: StepSection;
  stepId: string;
  mutating: boolean;
  /** Attempts started so far, over every process of the run. */
  attempts: number;
}

export interface ResumedHost {
  /** Set when the host had finished before the crash. */
  state?: HostState;
  message?: string;
  prechecks: StepRecord[];
  steps: StepRecord[];
  rollback: StepRecord[];
  captures: Record<string, string>;
  /** Values captured by the steps of `hops`, per hop. */
  hopCaptures?: Record<number, Record<string, string>>;
  interrupted?: InterruptedStep;
  startedAt?: number;
  finishedAt?: number;
}

/** How the run ended, when it did: what a report needs if it is written again. */
export interface FinishedRun {
  outcome: RunOutcome;
  message?: string;
  at: number;
  hosts: Record<string, HostState>;
}

/** Where the report of a finished run got to. */
export interface ReportProgress {
  /** The report was to be committed (not `--no-commit`). */
  commit: boolean;
  /** Written, and committed when asked. */
  done: boolean;
}

export interface ResumeState {
  runId: string;
  startedAt: number;
  prechecksPassed: boolean;
  snapshotBefore?: string;
  snapshotAfter?: string;
  hosts: Record<string, ResumedHost>;
  /** Set when the run had reached its end; such a run is not resumed, only its report finished. */
  finished?: FinishedRun;
  /** Set once the report of a finished run was started. */
  report?: ReportProgress;
}

/** What a run had done, rebuilt from its journal: finished steps, captures, and the step cut off. */
export function rebuildRunState(events: readonly RunEvent[]): ResumeState | undefined {
  const started = events.find((e) => e.type === 'run.started');
  if (started?.type !== 'run.started') return undefined;
  const state: ResumeState = { runId: started.runId, startedAt: started.at, prechecksPassed: false, hosts: {} };
  const host = (name: string) => (state.hosts[name] ??= { prechecks: [], steps: [], rollback: [], captures: Object.create(null) });
  const attempts = new Map<string, number>();
  for (const event of events) {
    switch (event.type) {
      case 'phase.finished':
        if (event.phase === 'prechecks' && event.ok) state.prechecksPassed = true;
        if (event.phase === 'snapshot-before' && event.ok) state.snapshotBefore = `${state.runId}-before`;
        if (event.phase === 'snapshot-after' && event.ok) state.snapshotAfter = `${state.runId}-after`;
        break;
      case 'host.started':
        host(event.host).startedAt ??= event.at;
        break;
      case 'step.started': {
        const key = `${event.host}\u0000${event.section}\u0000${event.stepId}`;
        attempts.set(key, (attempts.get(key) ?? 0) + 1);
        host(event.host).interrupted = { section: event.section, stepId: event.stepId, mutating: event.mutating, attempts: attempts.get(key)! };
        break;
      }
      case 'step.finished': {
        const h = host(event.host);
        const { record } = event;
        if (record.status === 'interrupted') {
          const key = `${event.host}\u0000${record.section}\u0000${record.id}`;
          h.interrupted = { section: record.section, stepId: record.id, mutating: record.mutating, attempts: attempts.get(key) ?? 0 };
          break;
        }
        const list = record.section === 'precheck' ? h.prechecks : record.section === 'rollback' ? h.rollback : h.steps;
        // A retried or re-run step keeps only its last record.
        const index = list.findIndex((r) => r.id === record.id);
        if (index >= 0) list.splice(index, 1);
        list.push(record);
        h.interrupted = undefined;
        break;
      }
      case 'host.captured': {
        const h = host(event.host);
        if (event.hop === undefined) Object.assign(h.captures, event.values);
        else Object.assign(((h.hopCaptures ??= {})[event.hop] ??= {}), event.values);
        break;
      }
      case 'host.finished':
        // An interrupted host is where a resumed run picks up again.
        if (event.state !== 'interrupted') {
          Object.assign(host(event.host), { state: event.state, message: event.message, finishedAt: event.at, interrupted: undefined });
        }
        break;
      case 'run.finished':
        // Stopped before its end, or with hosts cut off in the middle of a change: it can be resumed.
        if (event.interrupted === undefined && event.message !== INTERRUPTED_MESSAGE && !Object.values(event.hosts).includes('interrupted')) {
          state.finished = { outcome: event.outcome, message: event.message, at: event.at, hosts: event.hosts };
        }
        break;
      case 'report.started':
        state.report = { commit: event.commit, done: false };
        break;
      case 'report.finished': {
        const commit = state.report?.commit ?? false;
        // Written, and committed when it was to be: a failed commit is finished by a resume.
        state.report = { commit, done: !commit || event.committed };
        break;
      }
      default:
        break;
    }
  }
  return state;
}

/**
 * Whether a finished run still owes its report: the report was owed (journaled with the run's end)
 * and was cut off before it was written, and committed when it was to be.
 */
export function isReportPending(state: ResumeState): boolean {
  return state.finished !== undefined && state.report !== undefined && !state.report.done;
}

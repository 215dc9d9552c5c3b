import type { HostState, RunEvent, StepRecord, StepSection } from './events.js';

/** The message of a run stopped by the operator (Ctrl-C): such a run can be resumed. */
export const INTERRUPTED_MESSAGE = 'the run was interrupted';

export interface ResumedHost {
  /** Set when the host had finished before the crash. */
  state?: HostState;
  message?: string;
  prechecks: StepRecord[];
  steps: StepRecord[];
  rollback: StepRecord[];
  captures: Record<string, string>;
  /** A step that had started and not finished when the run stopped. */
  interrupted?: { section: StepSection; stepId: string; mutating: boolean };
  startedAt?: number;
  finishedAt?: number;
}

export interface ResumeState {
  runId: string;
  startedAt: number;
  prechecksPassed: boolean;
  snapshotBefore?: string;
  hosts: Record<string, ResumedHost>;
  /** The outcome when the run had already finished; such a run is not resumed. */
  finished?: string;
}

/** What a run had done, rebuilt from its journal: finished steps, captures, and the step cut off. */
export function rebuildRunState(events: readonly RunEvent[]): ResumeState | undefined {
  const started = events.find((e) => e.type === 'run.started');
  if (started?.type !== 'run.started') return undefined;
  const state: ResumeState = { runId: started.runId, startedAt: started.at, prechecksPassed: false, hosts: {} };
  const host = (name: string) => (state.hosts[name] ??= { prechecks: [], steps: [], rollback: [], captures: Object.create(null) });
  for (const event of events) {
    switch (event.type) {
      case 'phase.finished':
        if (event.phase === 'prechecks' && event.ok) state.prechecksPassed = true;
        if (event.phase === 'snapshot-before' && event.ok) state.snapshotBefore = `${state.runId}-before`;
        break;
      case 'host.started':
        host(event.host).startedAt ??= event.at;
        break;
      case 'step.started':
        host(event.host).interrupted = { section: event.section, stepId: event.stepId, mutating: event.mutating };
        break;
      case 'step.finished': {
        const h = host(event.host);
        if (event.record.status === 'interrupted') {
          h.interrupted = { section: event.record.section, stepId: event.record.id, mutating: event.record.mutating };
          break;
        }
        const list = event.record.section === 'precheck' ? h.prechecks : event.record.section === 'rollback' ? h.rollback : h.steps;
        // A retried or re-run step keeps only its last record.
        const index = list.findIndex((r) => r.id === event.record.id);
        if (index >= 0) list.splice(index, 1);
        list.push(event.record);
        h.interrupted = undefined;
        break;
      }
      case 'host.captured':
        Object.assign(host(event.host).captures, event.values);
        break;
      case 'host.finished':
        // An interrupted host is where a resumed run picks up again.
        if (event.state !== 'interrupted') {
          Object.assign(host(event.host), { state: event.state, message: event.message, finishedAt: event.at, interrupted: undefined });
        }
        break;
      case 'run.finished':
        // Stopped by the operator, or with hosts cut off in the middle of a change (a connection
        // lost): not finished, it can be resumed.
        if (event.message !== INTERRUPTED_MESSAGE && !Object.values(event.hosts).includes('interrupted')) state.finished = event.outcome;
        break;
      default:
        break;
    }
  }
  return state;
}

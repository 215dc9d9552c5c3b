import type { RunEvent, StepDecision, StepSection, StopSignal } from './events.js';

/** A time the run stopped before its end, and the steps it cut off. */
export interface RunInterruption {
  at: number;
  reason: string;
  signal?: StopSignal;
  cutOff: Array<{ host: string; section: StepSection; stepId: string }>;
}

/** What was decided about a cut-off step when the run was resumed, and by whom. */
export interface StepDecisionRecord {
  at: number;
  host: string;
  section: StepSection;
  stepId: string;
  decision: StepDecision;
  by: string;
  reason: string;
}

export interface RunHistory {
  /** Processes that worked on the run: 1 for a run never resumed. */
  processes: number;
  interruptions: RunInterruption[];
  decisions: StepDecisionRecord[];
}

/** A process's end that is not the run's end: killed (no `run.finished`), or stopped and resumable. */
const UNFINISHED_REASON = 'the process ended before the run did (killed, crashed, or its journal could not be written)';

/**
 * Follows a run's events, over every process that worked on it (its journal, then the events of the
 * process resuming it), to tell the report each interruption and each decision about a cut-off step.
 */
export function createRunHistory() {
  const history: RunHistory = { processes: 0, interruptions: [], decisions: [] };
  // Steps started and not finished in the current process, by host.
  let open = new Map<string, { section: StepSection; stepId: string }>();
  let stop: { at: number; reason: string; signal?: StopSignal } | undefined;
  let finished = false;
  let lastAt = 0;

  const closeProcess = () => {
    if (history.processes > 0 && (!finished || stop)) {
      history.interruptions.push({
        at: stop?.at ?? lastAt,
        reason: stop?.reason ?? UNFINISHED_REASON,
        ...(stop?.signal ? { signal: stop.signal } : {}),
        cutOff: [...open].map(([host, step]) => ({ host, ...step })),
      });
    }
    open = new Map();
    stop = undefined;
    finished = false;
  };

  return {
    add(event: RunEvent): void {
      switch (event.type) {
        case 'run.started':
          closeProcess();
          history.processes++;
          break;
        case 'run.interrupted':
          stop ??= { at: event.at, reason: event.reason, ...(event.signal ? { signal: event.signal } : {}) };
          break;
        case 'run.finished':
          finished = true;
          break;
        case 'step.started':
          open.set(event.host, { section: event.section, stepId: event.stepId });
          break;
        case 'step.finished':
          // A step the stop cut off ends `interrupted`: it stays listed as cut off.
          if (event.record.status !== 'interrupted') open.delete(event.host);
          break;
        case 'step.decided':
          history.decisions.push({ at: event.at, host: event.host, section: event.section, stepId: event.stepId, decision: event.decision, by: event.by, reason: event.reason });
          break;
        default:
          break;
      }
      lastAt = event.at;
    },
    /** The history so far; the current process counts as interrupted only once it stopped. */
    describe(): RunHistory {
      const current = stop ? [{ at: stop.at, reason: stop.reason, ...(stop.signal ? { signal: stop.signal } : {}), cutOff: [...open].map(([host, step]) => ({ host, ...step })) }] : [];
      return { ...history, interruptions: [...history.interruptions, ...current] };
    },
  };
}

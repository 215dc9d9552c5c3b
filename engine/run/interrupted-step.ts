import type { StepSection } from './events.js';

// What a resumed run does with a step that a crash or a stop cut off (DESIGN section 5: rollback
// steps follow the same rules as main steps). A read-only step runs again. A changing step may have
// done its work, half of it, or none: the operator's word comes first (`--mark-done`,
// `--mark-failed`), then the step's completion probe (`completedWhen`), then `idempotent` or
// `--rerun-interrupted`; otherwise the host waits there for the operator.

/** The operator's decisions from the command line, by `HOST:STEP`. */
export interface OperatorDecisions {
  /** The git identity they are recorded under: `Name <email>`. */
  by: string;
  marks: ReadonlyMap<string, 'done' | 'failed'>;
  /** `--rerun-interrupted`: run every cut-off changing step again. */
  rerunAll: boolean;
}

export interface CutOffStep {
  host: string;
  section: StepSection;
  stepId: string;
  mutating: boolean;
  idempotent: boolean;
  hasProbe: boolean;
}

export interface SettledStep {
  action: 'done' | 'failed' | 'rerun' | 'wait';
  by: string;
  reason: string;
}

/** Settled, or: run the completion probe first, then settle with `settleAfterProbe`. */
export type InterruptedPlan = SettledStep | { action: 'probe' };

/** The key `--mark-done` and `--mark-failed` name a step by. */
export function describeStepKey(host: string, stepId: string): string {
  return `${host}:${stepId}`;
}

/** The decision before any probe runs. */
export function planInterruptedStep(step: CutOffStep, operator: OperatorDecisions | undefined): InterruptedPlan {
  const mark = operator?.marks.get(describeStepKey(step.host, step.stepId));
  if (mark && operator) return { action: mark, by: operator.by, reason: `marked ${mark} by the operator` };
  if (!step.mutating) return { action: 'rerun', by: 'runbook', reason: 'read-only: run again' };
  if (step.hasProbe) return { action: 'probe' };
  return settleWithoutProbe(step, operator);
}

/** After the completion probe: it passed (the step is done), or it could not tell. */
export function settleAfterProbe(step: CutOffStep, operator: OperatorDecisions | undefined, probe: { passed: boolean; summary: string }): SettledStep {
  if (probe.passed) return { action: 'done', by: 'runbook', reason: `completion probe passed: ${probe.summary}` };
  const settled = settleWithoutProbe(step, operator);
  return { ...settled, reason: `completion probe did not pass (${probe.summary}); ${settled.reason}` };
}

function settleWithoutProbe(step: CutOffStep, operator: OperatorDecisions | undefined): SettledStep {
  if (step.idempotent) return { action: 'rerun', by: 'runbook', reason: 'idempotent: run again' };
  if (operator?.rerunAll) return { action: 'rerun', by: operator.by, reason: 'run again by the operator (--rerun-interrupted)' };
  return { action: 'wait', by: 'runbook', reason: 'it changes the host, and may or may not have completed' };
}

/** What to tell the operator about a step left waiting for them, and why it waits. */
export function adviseOnWaitingStep(host: string, stepId: string, runId: string, why: string): string {
  const key = describeStepKey(host, stepId);
  return (
    `step ${stepId} was cut off: ${why}; check ${host}, then resume with ` +
    `\`runbook apply --resume ${runId} --mark-done ${key}\` (it completed) or \`--mark-failed ${key}\` (it did not: roll back), ` +
    `or \`--rerun-interrupted\` to run it again`
  );
}

/** Words shared by the plain lines and the live display, so both say the same thing the same way. */
import type { HostState, RunEvent, StepRecord, StepSection } from '../run/events.js';
import { stripControl } from './ansi.js';

export type PhaseName = Extract<RunEvent, { type: 'phase.started' }>['phase'];
export type RunStage = Extract<RunEvent, { type: 'run.started' }>['stages'][number];

const PHASE_LABELS: Record<PhaseName, string> = {
  prechecks: 'prechecks',
  'snapshot-before': 'snapshot before',
  'snapshot-after': 'snapshot after',
};

export function describePhase(phase: PhaseName): string {
  return PHASE_LABELS[phase];
}

export function describePhaseResult(phase: PhaseName, ok: boolean): string {
  if (!ok) return 'failed';
  return phase === 'prechecks' ? 'passed' : 'taken';
}

/** `step install`, `precheck disk-space`, `rollback step restore-config`. */
export function describeStep(section: StepSection, stepId: string): string {
  const label = section === 'rollback' ? 'rollback step' : section;
  return `${label} ${stepId}`;
}

export function describeCount(count: number, noun: string, plural = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : plural}`;
}

/** Why a step failed: its exit code and the executor's message, whichever it has. */
export function describeStepReason(record: StepRecord): string {
  const parts: string[] = [];
  if (record.exitCode !== null && record.exitCode !== 0) parts.push(`exit ${record.exitCode}`);
  if (record.message) parts.push(oneLine(record.message));
  return parts.length > 0 ? parts.join(' - ') : record.status;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes}m${String(seconds).padStart(2, '0')}s`;
}

export function describeHostState(state: HostState): string {
  return state.replace('-', ' ');
}

/** States in which a host did not end up changed as asked. */
export function isHostFailure(state: HostState): boolean {
  return state === 'failed' || state === 'rolled-back' || state === 'rollback-failed' || state === 'interrupted';
}

const STATE_ORDER: readonly HostState[] = ['succeeded', 'failed', 'rolled-back', 'rollback-failed', 'interrupted', 'skipped', 'running', 'pending'];

/** `1 succeeded, 1 failed, 1 rolled back`, in a fixed order, leaving out states no host is in. */
export function describeStateCounts(states: Iterable<HostState>): string {
  const counts = new Map<HostState, number>();
  for (const state of states) counts.set(state, (counts.get(state) ?? 0) + 1);
  return STATE_ORDER.filter((state) => counts.has(state))
    .map((state) => `${counts.get(state)} ${describeHostState(state)}`)
    .join(', ');
}

/** `sha256:3f2a9c41d0e7`: enough of a plan hash to recognise it in a log. */
export function shortenHash(hash: string): string {
  const colon = hash.indexOf(':');
  return colon >= 0 ? `${hash.slice(0, colon + 1)}${hash.slice(colon + 1, colon + 13)}` : hash.slice(0, 12);
}

/** Messages may quote what a host printed: one line, without escapes that could disturb the display. */
export function oneLine(text: string): string {
  return stripControl(text.replace(/\s*\r?\n\s*/g, ' ')).trim();
}

/** Where a batch sits in its stage as `2/3`, found by its hosts so it does not depend on how the executor numbers batches. */
export function locateBatch(stages: readonly RunStage[], stage: string, hosts: readonly string[], batch: number): string {
  const batches = stages.find((s) => s.name === stage)?.batches;
  if (!batches) return String(batch);
  const position = batches.findIndex((b) => b.length === hosts.length && b.every((host, i) => host === hosts[i]));
  return `${position >= 0 ? position + 1 : batch}/${batches.length}`;
}

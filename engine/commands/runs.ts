import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_CODES, createInputError, type ExitCode } from '../errors.js';
import { displayPath } from '../io/files.js';
import { escapeControlCharacters } from '../shared/control-characters.js';
import { JOURNAL_FILE, listRunIds, parseJournalFile, runFolder } from '../io/journal.js';
import type { RunEvent } from '../run/events.js';
import { isProcessAlive } from '../io/locks.js';
import { isReportPending, rebuildRunState, type ResumeState } from '../run/resume-state.js';

export const RUN_META_FILE = 'run.json';
export const RUN_PLAN_FILE = 'plan.json';

/** How a run was started: what `--resume` needs besides the plan and the journal. */
export interface RunMeta {
  runId: string;
  planHash: string;
  runbook: string;
  inventoryDir: string;
  machine: string;
  pid: number;
  user: string;
  startedAt: string;
  maxParallel?: number;
}

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'crashed' | 'interrupted';

export interface RunSummary {
  runId: string;
  runbook: string;
  planHash: string;
  status: RunStatus;
  startedAt: string;
  hosts: Record<string, number>;
  /** The run finished but its report was not written or committed (the process was killed in between): resume it. */
  reportPending?: boolean;
}

/** A run folder whose files cannot be read (damaged, or not written by runbook): listed, never fatal. */
export interface UnreadableRun {
  runId: string;
  status: 'unreadable';
  /** The file at fault. */
  path: string;
  reason: string;
}

const META_FIELDS = { runId: 'string', planHash: 'string', runbook: 'string', inventoryDir: 'string', machine: 'string', pid: 'number', user: 'string', startedAt: 'string' } as const;

type Read<T> = { ok: true; value: T } | { ok: false; reason: string };

/** How the run was started, or undefined when it wrote none; a damaged file is an input error (exit 2) naming it. */
export function readRunMeta(folder: string): RunMeta | undefined {
  const path = join(folder, RUN_META_FILE);
  const read = parseRunMeta(path);
  if (!read.ok) throw createInputError('RB3009', `${displayPath(path)} is unreadable: ${read.reason}; this run cannot be resumed (\`runbook runs\` lists the others)`);
  return read.value;
}

function parseRunMeta(path: string): Read<RunMeta | undefined> {
  if (!existsSync(path)) return { ok: true, value: undefined };
  let meta: unknown;
  try {
    meta = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    return { ok: false, reason: `it is not JSON (${escapeControlCharacters((error as Error).message)})` };
  }
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) return { ok: false, reason: 'it is not a JSON object' };
  const wrong = Object.entries(META_FIELDS).filter(([field, type]) => typeof (meta as Record<string, unknown>)[field] !== type);
  if (wrong.length > 0) return { ok: false, reason: `it lacks ${wrong.map(([field, type]) => `\`${field}\` (a ${type})`).join(', ')}` };
  return { ok: true, value: meta as RunMeta };
}

/** A run's journal and what it says the run did, for `--resume`; a damaged journal is an input error (exit 2) naming it. */
export function readRunJournal(folder: string): { events: RunEvent[]; state: ResumeState | undefined } {
  const path = join(folder, JOURNAL_FILE);
  const unreadable = (reason: string) =>
    createInputError('RB3009', `${displayPath(path)} is unreadable: ${reason}; this run cannot be resumed (\`runbook runs\` lists the others)`);
  const events = parseJournalFile(path);
  if (!events.ok) throw unreadable(events.reason);
  try {
    return { events: events.value, state: rebuildRunState(events.value) };
  } catch (error) {
    throw unreadable(`an event has not the form runbook writes (${escapeControlCharacters((error as Error).message)})`);
  }
}

/** Each run's state from its journal: finished, still running, or crashed (its process is gone); a damaged run as unreadable. */
export function summariseRuns(stateDir: string, machine: string): Array<RunSummary | UnreadableRun> {
  return listRunIds(stateDir).flatMap((runId) => summariseRun(runId, runFolder(stateDir, runId), machine) ?? []);
}

function summariseRun(runId: string, folder: string, machine: string): RunSummary | UnreadableRun | undefined {
  const unreadable = (path: string, reason: string): UnreadableRun => ({ runId, status: 'unreadable', path: displayPath(path), reason });
  const metaPath = join(folder, RUN_META_FILE);
  const journalPath = join(folder, JOURNAL_FILE);
  const meta = parseRunMeta(metaPath);
  if (!meta.ok) return unreadable(metaPath, meta.reason);
  const events = parseJournalFile(journalPath);
  if (!events.ok) return unreadable(journalPath, events.reason);
  if (!meta.value) return events.value.length > 0 ? unreadable(metaPath, 'it is missing') : undefined;
  let state: ResumeState | undefined;
  try {
    state = rebuildRunState(events.value);
  } catch (error) {
    return unreadable(journalPath, `an event has not the form runbook writes (${escapeControlCharacters((error as Error).message)})`);
  }
  if (!state) return undefined;
  const finished = events.value.findLast((e) => e.type === 'run.finished');
  const alive = meta.value.machine === machine && isProcessAlive(meta.value.pid);
  const status: RunStatus = state.finished
    ? state.finished.outcome
    : finished && !alive
      ? 'interrupted'
      : alive
        ? 'running'
        : 'crashed';
  const hosts: Record<string, number> = {};
  for (const host of Object.values(state.hosts)) {
    const key = host.state ?? (host.interrupted ? 'interrupted' : 'pending');
    hosts[key] = (hosts[key] ?? 0) + 1;
  }
  const reportPending = isReportPending(state) && !alive;
  return { runId, runbook: meta.value.runbook, planHash: meta.value.planHash, status, startedAt: meta.value.startedAt, hosts, ...(reportPending ? { reportPending } : {}) };
}

export function runRuns(options: { stateDir: string; machine: string; format: 'text' | 'json'; write: (text: string) => void }): ExitCode {
  const runs = summariseRuns(options.stateDir, options.machine);
  if (options.format === 'json') {
    options.write(`${JSON.stringify(runs, null, 2)}\n`);
    return EXIT_CODES.ok;
  }
  if (runs.length === 0) {
    options.write('no runs yet\n');
    return EXIT_CODES.ok;
  }
  const rows = runs.map((r) =>
    r.status === 'unreadable'
      ? [r.runId, '?', r.status, '?', '?']
      : [r.runId, r.runbook, r.reportPending ? `${r.status}, report not committed` : r.status, r.startedAt, Object.entries(r.hosts).map(([k, v]) => `${v} ${k}`).join(', ')],
  );
  const header = ['run', 'runbook', 'state', 'started', 'hosts'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) options.write(`${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
  const resumable = runs.filter((r) => r.status === 'crashed' || r.status === 'interrupted');
  for (const r of resumable) options.write(`resume ${r.runId} with: runbook apply --resume ${r.runId}\n`);
  for (const r of runs) if (r.status === 'unreadable') options.write(`run ${r.runId} is unreadable: ${r.path}: ${r.reason}\n`);
  for (const r of runs.filter((run) => run.status !== 'unreadable' && run.reportPending)) options.write(`finish the report of ${r.runId} with: runbook apply --resume ${r.runId}\n`);
  return EXIT_CODES.ok;
}

/** Whether a run has not reached its end (crashed, interrupted or still running). */
export function isUnfinished(status: RunStatus): boolean {
  return status === 'crashed' || status === 'interrupted' || status === 'running';
}

/**
 * Runs of a plan hash here that hold it: not finished, or finished having worked on a host. A run
 * its pre-checks stopped changed nothing (every host pending or skipped) and holds nothing. Read
 * from the journals, which a run writes before its report: the one witness between a run letting
 * its hosts go and its report being on disk.
 */
export function findRunsHoldingPlan(stateDir: string, planHash: string, machine: string): RunSummary[] {
  return summariseRuns(stateDir, machine).filter(
    (run): run is RunSummary =>
      run.status !== 'unreadable' && run.planHash === planHash && (isUnfinished(run.status) || Object.keys(run.hosts).some((state) => state !== 'pending' && state !== 'skipped')),
  );
}

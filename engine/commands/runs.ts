import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_CODES, type ExitCode } from '../errors.js';
import { listRunIds, readJournal, runFolder } from '../io/journal.js';
import { isProcessAlive } from '../io/locks.js';
import { isReportPending, rebuildRunState } from '../run/resume-state.js';

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
  status: RunStatus;
  startedAt: string;
  hosts: Record<string, number>;
  /** The run finished but its report was not written or committed (the process was killed in between): resume it. */
  reportPending?: boolean;
}

export function readRunMeta(folder: string): RunMeta | undefined {
  const path = join(folder, RUN_META_FILE);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as RunMeta) : undefined;
}

/** Each run's state from its journal: finished, still running, or crashed (its process is gone). */
export function summariseRuns(stateDir: string, machine: string): RunSummary[] {
  return listRunIds(stateDir).flatMap((runId) => {
    const folder = runFolder(stateDir, runId);
    const meta = readRunMeta(folder);
    const events = readJournal(folder);
    const state = rebuildRunState(events);
    if (!meta || !state) return [];
    const finished = events.findLast((e) => e.type === 'run.finished');
    const alive = meta.machine === machine && isProcessAlive(meta.pid);
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
    return [{ runId, runbook: meta.runbook, status, startedAt: meta.startedAt, hosts, ...(reportPending ? { reportPending } : {}) }];
  });
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
  const rows = runs.map((r) => [r.runId, r.runbook, r.reportPending ? `${r.status}, report not committed` : r.status, r.startedAt, Object.entries(r.hosts).map(([k, v]) => `${v} ${k}`).join(', ')]);
  const header = ['run', 'runbook', 'state', 'started', 'hosts'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) options.write(`${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
  const resumable = runs.filter((r) => r.status === 'crashed' || r.status === 'interrupted');
  for (const r of resumable) options.write(`resume ${r.runId} with: runbook apply --resume ${r.runId}\n`);
  for (const r of runs.filter((run) => run.reportPending)) options.write(`finish the report of ${r.runId} with: runbook apply --resume ${r.runId}\n`);
  return EXIT_CODES.ok;
}

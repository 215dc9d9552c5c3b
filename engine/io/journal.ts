import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { RunEvent } from '../run/events.js';

/** Run state (journals, locks) lives in `.runbook/` at the repository root; it is not committed. */
export const STATE_FOLDER = '.runbook';
export const JOURNAL_FILE = 'journal.jsonl';

/** `.runbook/runs/<run-id>/`: the journal, the plan and how the run was started. */
export function runFolder(stateDir: string, runId: string): string {
  return join(stateDir, 'runs', runId);
}

export interface Journal {
  readonly path: string;
  append(event: RunEvent): void;
  close(): void;
}

/**
 * An append-only journal of run events. Each event is written and fsync'ed before `append` returns,
 * and the executor emits `step.started` before it sends the command: after a crash the journal
 * tells which steps finished and which were cut off. Output lines are written without an fsync of
 * their own (the next event's fsync covers them): a resume needs the steps, not each line, and one
 * fsync per line stalls the event loop (thousands of lines a run at 200 hosts).
 */
export function openJournal(folder: string): Journal {
  mkdirSync(folder, { recursive: true });
  const path = join(folder, JOURNAL_FILE);
  const fd = openSync(path, 'a');
  let open = true;
  return {
    path,
    append(event) {
      if (!open) return;
      writeSync(fd, `${JSON.stringify(event)}\n`);
      if (event.type !== 'output') fsyncSync(fd);
    },
    close() {
      if (!open) return;
      open = false;
      closeSync(fd);
    },
  };
}

/** The events of a journal; a last line cut off by a crash is ignored. */
export function readJournal(folder: string): RunEvent[] {
  const path = join(folder, JOURNAL_FILE);
  if (!existsSync(path)) return [];
  const events: RunEvent[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      events.push(JSON.parse(line) as RunEvent);
    } catch {
      break;
    }
  }
  return events;
}

export function listRunIds(stateDir: string): string[] {
  const folder = join(stateDir, 'runs');
  return existsSync(folder) ? readdirSync(folder).sort() : [];
}

import { closeSync, existsSync, fsync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, writeSync } from 'node:fs';
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
  /** Writes the event; it is on disk once a later `persist` resolves. */
  append(event: RunEvent): void;
  /** Resolves once every event appended so far is on disk (fsync'ed). */
  persist(): Promise<void>;
  /** Waits for a running fsync, makes the rest durable and closes the file. */
  close(): Promise<void>;
}

export interface JournalOptions {
  /** fs.fsync, or a stand-in that counts the calls. */
  fsync?: (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => void;
}

/**
 * An append-only journal of run events. The executor persists it after each `step.started` and
 * before it sends the command, and an fsync makes everything written before it durable: after a
 * crash the journal tells which steps finished and which were cut off. The fsyncs are grouped: the
 * hosts of a batch that start a step together wait for one fsync, not one each, and the event loop
 * keeps serving their connections meanwhile (an fsync per event stalled it at 200 hosts).
 */
export function openJournal(folder: string, options: JournalOptions = {}): Journal {
  const fsyncFile = options.fsync ?? fsync;
  mkdirSync(folder, { recursive: true });
  const path = join(folder, JOURNAL_FILE);
  const fd = openSync(path, 'a');
  let open = true;
  let running: Promise<void> | undefined;
  // The fsync that covers writes made while `running` runs: every caller in the meantime shares it.
  let queued: Promise<void> | undefined;
  const startFsync = (): Promise<void> => {
    const done = new Promise<void>((resolve, reject) => fsyncFile(fd, (error) => (error ? reject(error) : resolve())));
    const tracked = done.finally(() => {
      if (running === tracked) running = undefined;
    });
    running = tracked;
    return tracked;
  };
  return {
    path,
    append(event) {
      if (open) writeSync(fd, `${JSON.stringify(event)}\n`);
    },
    persist() {
      if (!open) return Promise.resolve();
      if (queued) return queued;
      if (!running) return startFsync();
      // The running fsync may have begun before this caller's write: queue the next one, which stops
      // taking callers the moment it starts.
      const startQueued = () => {
        queued = undefined;
        return startFsync();
      };
      queued = running.then(startQueued, startQueued);
      return queued;
    },
    async close() {
      if (!open) return;
      open = false;
      // The descriptor must outlive an fsync the thread pool is still running on it.
      await Promise.allSettled([running, queued]);
      fsyncSync(fd);
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

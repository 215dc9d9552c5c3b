import { closeSync, existsSync, fstatSync, fsync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { RunbookError } from '../errors.js';
import type { RunEvent } from '../run/events.js';

/** Run state (journals, locks) lives in `.runbook/` at the repository root; it is not committed. */
export const STATE_FOLDER = '.runbook';
export const JOURNAL_FILE = 'journal.jsonl';

/**
 * Makes `stateDir` ignored by git from inside (`*` in its own .gitignore), whatever the repository's
 * .gitignore says: it holds fetched configurations, which carry secrets, and a `git add -A` must not
 * commit them.
 */
export function ignoreStateFolder(stateDir: string): void {
  mkdirSync(stateDir, { recursive: true });
  const path = join(stateDir, '.gitignore');
  if (!existsSync(path)) writeFileSync(path, '# runbook state: journals, locks, fetched files (secrets); never committed\n*\n');
}

/** `.runbook/runs/<run-id>/`: the journal, the plan and how the run was started. */
export function runFolder(stateDir: string, runId: string): string {
  return join(stateDir, 'runs', runId);
}

export interface Journal {
  readonly path: string;
  /** Set once a write or an fsync failed: nothing more is written. */
  readonly failure: JournalWriteError | undefined;
  /** Writes the event; it is on disk once a later `persist` resolves. Never throws: see `persist`. */
  append(event: RunEvent): void;
  /**
   * Resolves once every event appended so far is on disk (fsync'ed); rejects with a
   * `JournalWriteError` once a write or an fsync failed (a full disk), and for good: nothing after a
   * failed write is written, so the journal never holds a line cut in the middle.
   */
  persist(): Promise<void>;
  /** Waits for a running fsync, makes the rest durable and closes the file; never throws. */
  close(): Promise<void>;
}

export interface JournalOptions {
  /** fs.fsync, or a stand-in that counts the calls. */
  fsync?: (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => void;
  /** fs.writeSync, or a stand-in that fails like a full disk. */
  write?: (fd: number, text: string) => void;
}

/** The journal cannot be written (a full disk, an I/O error): the run stops before its next command. */
export class JournalWriteError extends RunbookError {
  constructor(path: string, cause: unknown) {
    super('RB5001', `cannot write the journal ${path} (${describeIoError(cause)})`, { cause });
  }
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
  const write = options.write ?? writeWhole;
  mkdirSync(folder, { recursive: true });
  const path = join(folder, JOURNAL_FILE);
  // Read as well as append: a line cut off by a crash is found and dropped first.
  const fd = openSync(path, 'a+');
  dropCutLine(fd);
  let open = true;
  let failure: JournalWriteError | undefined;
  let running: Promise<void> | undefined;
  // The fsync that covers writes made while `running` runs: every caller in the meantime shares it.
  let queued: Promise<void> | undefined;
  const startFsync = (): Promise<void> => {
    const done = new Promise<void>((resolve, reject) =>
      fsyncFile(fd, (error) => {
        if (!error) return resolve();
        failure ??= new JournalWriteError(path, error);
        reject(failure);
      }),
    );
    const tracked = done.finally(() => {
      if (running === tracked) running = undefined;
    });
    running = tracked;
    return tracked;
  };
  return {
    path,
    get failure() {
      return failure;
    },
    append(event) {
      if (!open || failure) return;
      try {
        write(fd, `${JSON.stringify(event)}\n`);
      } catch (error) {
        failure = new JournalWriteError(path, error);
      }
    },
    persist() {
      if (failure) return Promise.reject(failure);
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
      try {
        fsyncSync(fd);
      } catch {
        // Already reported by persist, or nothing left to lose: the file is being closed.
      } finally {
        closeSync(fd);
      }
    },
  };
}

/** Writes all of `text`: a short write (a disk filling up) is continued until it completes or throws. */
function writeWhole(fd: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset);
}

/** `ENOSPC: no space left on device`, however the error spelled it. */
export function describeIoError(cause: unknown): string {
  const error = cause as NodeJS.ErrnoException;
  const message = error.message.replace(/, (write|open|fsync)( '.*')?$/, '');
  return error.code && !message.startsWith(error.code) ? `${error.code}: ${message}` : message;
}

/**
 * A process killed (or a disk filled) in the middle of a write leaves a last line without its end;
 * events appended after it would be glued to it. Cut it off before appending.
 */
function dropCutLine(fd: number): void {
  const size = fstatSync(fd).size;
  const chunk = Buffer.alloc(64 * 1024);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const read = readSync(fd, chunk, 0, end - start, start);
    const newline = chunk.subarray(0, read).lastIndexOf(0x0a);
    if (newline >= 0) {
      if (start + newline + 1 < size) ftruncateSync(fd, start + newline + 1);
      return;
    }
    end = start;
  }
  if (size > 0) ftruncateSync(fd, 0);
}

/** A journal read back: its events, or why it cannot be trusted. */
export type JournalRead = { ok: true; value: RunEvent[] } | { ok: false; reason: string };

/**
 * The journal's events. A last line that is not JSON was cut off by a crash and is ignored; a damaged
 * line before it would hide the events after it, so it makes the journal unreadable.
 */
export function parseJournalFile(path: string): JournalRead {
  if (!existsSync(path)) return { ok: true, value: [] };
  const lines = readFileSync(path, 'utf8').split('\n');
  const last = lines.findLastIndex((line) => line.trim() !== '');
  const events: RunEvent[] = [];
  for (let i = 0; i <= last; i++) {
    if (lines[i]!.trim() === '') continue;
    let event: unknown;
    try {
      event = JSON.parse(lines[i]!);
    } catch {
      if (i === last) break;
      return { ok: false, reason: `line ${i + 1} is not JSON` };
    }
    if (event === null || typeof event !== 'object' || typeof (event as { type?: unknown }).type !== 'string') {
      return { ok: false, reason: `line ${i + 1} is not a run event` };
    }
    events.push(event as RunEvent);
  }
  return { ok: true, value: events };
}

/** The events of a run's journal (a last line cut off by a crash is ignored); throws on a damaged one. */
export function readJournal(folder: string): RunEvent[] {
  const read = parseJournalFile(join(folder, JOURNAL_FILE));
  if (!read.ok) throw new Error(`${join(folder, JOURNAL_FILE)} is damaged: ${read.reason}`);
  return read.value;
}

export function listRunIds(stateDir: string): string[] {
  const folder = join(stateDir, 'runs');
  return existsSync(folder) ? readdirSync(folder).sort() : [];
}

import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createInputError, type RunbookError } from '../errors.js';
import type { Clock } from '../run/clock.js';
import { readCurrentUser } from '../shared/current-user.js';

// Host locks under `.runbook/locks/<host>.json` (DESIGN section 5, exclusion). A lock file appears
// with its whole content at once: it is written to a temporary file and hard-linked into place, and
// link(2), like open(O_EXCL), fails when the name exists, so of two processes racing for a host
// exactly one wins, and a reader never sees an empty lock file.

export const LOCK_ERROR_CODES = {
  hostLocked: 'RB4101',
  tooManyRuns: 'RB4102',
  noLock: 'RB4103',
  lockIdMismatch: 'RB4104',
  runAlreadyHeld: 'RB4105',
  badHostName: 'RB4106',
  damagedLock: 'RB4107',
} as const;

/** As the inventory schema names hosts: a safe file name (no slash, no leading dot). */
const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const LOCK_FILE = /^([A-Za-z0-9][A-Za-z0-9._-]*)\.json$/;

export interface HostLock {
  lockId: string;
  runId: string;
  host: string;
  user: string;
  /** `os.hostname()` of the machine that took it: only there can its pid be checked. */
  machine: string;
  pid: number;
  startedAt: string;
  /** The run's `policy.maxConcurrentRuns`: while it runs, no run may start that would exceed it. */
  maxConcurrentRuns?: number;
}

/** `true`: its process on this machine is gone; `'unknown'`: taken on another machine. */
export type LockStaleness = boolean | 'unknown';

export interface LockInfo extends HostLock {
  stale: LockStaleness;
  path: string;
}

/** A lock file that cannot be read as a lock: it still blocks its host. */
export interface DamagedLock {
  host: string;
  path: string;
  reason: string;
}

export interface LockFolder {
  locks: LockInfo[];
  damaged: DamagedLock[];
}

export interface LockReadOptions {
  /** This machine's name; tests pass another one to play a remote holder. */
  machine?: string;
}

export interface AcquireHostLocksOptions extends LockReadOptions {
  /** The `.runbook` folder; locks go in its `locks/`. */
  stateDir: string;
  runId: string;
  hosts: readonly string[];
  /** `policy.maxConcurrentRuns`: runs holding host locks at once, this one included. */
  maxConcurrentRuns: number;
  pid?: number;
  user?: string;
  clock?: Pick<Clock, 'now'>;
}

export interface HostLocks {
  lockId: string;
  locks: readonly HostLock[];
  /** Removes this acquisition's lock files, and only those; safe to call twice. */
  release(): void;
}

export function locksFolder(stateDir: string): string {
  return join(stateDir, 'locks');
}

function lockPath(stateDir: string, host: string): string {
  return join(locksFolder(stateDir), `${host}.json`);
}

function checkHostName(host: string): void {
  if (!HOST_NAME.test(host)) {
    throw createInputError(LOCK_ERROR_CODES.badHostName, `"${host}" is not a host name (letters, digits, dots, dashes and underscores, not starting with a dot or dash)`);
  }
}


/** Whether a process of this machine is alive (EPERM: it is, and belongs to someone else). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function judgeStaleness(lock: HostLock, machine: string): LockStaleness {
  if (lock.machine !== machine) return 'unknown';
  return !isProcessAlive(lock.pid);
}

function isString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

function parseLock(text: string, host: string): HostLock | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'it is not JSON';
  }
  if (typeof value !== 'object' || value === null) return 'it is not a JSON object';
  const v = value as Record<string, unknown>;
  for (const field of ['lockId', 'runId', 'host', 'user', 'machine', 'startedAt'] as const) {
    if (!isString(v[field])) return `its "${field}" is missing or not a string`;
  }
  // A pid of 0 or below would make `kill(pid, 0)` probe a process group.
  if (typeof v.pid !== 'number' || !Number.isInteger(v.pid) || v.pid < 1) return 'its "pid" is not a positive integer';
  if (v.host !== host) return `it names host "${String(v.host)}", not "${host}"`;
  const limit = v.maxConcurrentRuns;
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1)) return 'its "maxConcurrentRuns" is not a positive integer';
  return {
    lockId: v.lockId as string,
    runId: v.runId as string,
    host,
    user: v.user as string,
    machine: v.machine as string,
    pid: v.pid,
    startedAt: v.startedAt as string,
    ...(limit === undefined ? {} : { maxConcurrentRuns: limit }),
  };
}

type LockRead = { state: 'none' } | { state: 'held'; lock: LockInfo } | { state: 'damaged'; damaged: DamagedLock };

function readLock(stateDir: string, host: string, machine: string): LockRead {
  const path = lockPath(stateDir, host);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { state: 'none' };
    return { state: 'damaged', damaged: { host, path, reason: `it cannot be read (${code ?? 'error'})` } };
  }
  const parsed = parseLock(text, host);
  if (typeof parsed === 'string') return { state: 'damaged', damaged: { host, path, reason: parsed } };
  return { state: 'held', lock: { ...parsed, path, stale: judgeStaleness(parsed, machine) } };
}

/** Every lock file under `.runbook/locks/`, judged stale or not from this machine. */
export function readLockFolder(stateDir: string, options: LockReadOptions = {}): LockFolder {
  const machine = options.machine ?? hostname();
  const folder: LockFolder = { locks: [], damaged: [] };
  let entries: string[];
  try {
    entries = readdirSync(locksFolder(stateDir)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return folder;
    throw error;
  }
  for (const entry of entries) {
    const host = LOCK_FILE.exec(entry)?.[1];
    if (host === undefined) continue;
    const read = readLock(stateDir, host, machine);
    if (read.state === 'held') folder.locks.push(read.lock);
    else if (read.state === 'damaged') folder.damaged.push(read.damaged);
  }
  return folder;
}

export function listLocks(stateDir: string, options: LockReadOptions = {}): LockInfo[] {
  return readLockFolder(stateDir, options).locks;
}

/** "run R (lock L, user U on M, pid P, since T)" */
export function describeHolder(lock: HostLock): string {
  return `run ${lock.runId} (lock ${lock.lockId}, user ${lock.user} on ${lock.machine}, pid ${lock.pid}, since ${lock.startedAt})`;
}

/** What the staleness of a lock means, and what to do about it. */
function adviseOn(lock: LockInfo, hosts: readonly string[]): string {
  const unlock = hosts.map((h) => `runbook unlock ${h} --lock-id ${lock.lockId}`).join('; ');
  if (lock.stale === true) return `stale: its process ${lock.pid} on this machine is no longer running; release it with: ${unlock}`;
  if (lock.stale === 'unknown') {
    return `it was taken on another machine (${lock.machine}), so whether its process ${lock.pid} still runs cannot be checked from here; wait for it to finish, or if it is dead: ${unlock}`;
  }
  return `its process ${lock.pid} on this machine is running; wait for it to finish, or if it is hung, stop it and then: ${unlock}`;
}

function describeDamaged(damaged: DamagedLock): string {
  return `host ${damaged.host} has a lock file that is not a valid lock (${damaged.reason}); if no run holds the host, delete ${damaged.path}`;
}

interface Conflict {
  host: string;
  read: Exclude<LockRead, { state: 'none' }>;
}

function createConflictError(conflicts: readonly Conflict[], runId: string): RunbookError {
  const parts: string[] = [];
  const byLock = new Map<string, { lock: LockInfo; hosts: string[] }>();
  for (const conflict of conflicts) {
    if (conflict.read.state === 'damaged') {
      parts.push(describeDamaged(conflict.read.damaged));
      continue;
    }
    const lock = conflict.read.lock;
    const group = byLock.get(lock.lockId) ?? { lock, hosts: [] };
    group.hosts.push(conflict.host);
    byLock.set(lock.lockId, group);
  }
  let sameRun = false;
  for (const { lock, hosts } of byLock.values()) {
    const named = hosts.length === 1 ? `host ${hosts[0]} is` : `hosts ${hosts.join(', ')} are`;
    if (lock.runId === runId) {
      sameRun = true;
      parts.push(`${named} already locked by this run ${runId} in another process (lock ${lock.lockId}, user ${lock.user} on ${lock.machine}, pid ${lock.pid}, since ${lock.startedAt}): it is being run or resumed there; ${adviseOn(lock, hosts)}`);
    } else {
      parts.push(`${named} locked by ${describeHolder(lock)}; ${adviseOn(lock, hosts)}`);
    }
  }
  const code = sameRun && byLock.size === 1 && parts.length === 1 ? LOCK_ERROR_CODES.runAlreadyHeld : LOCK_ERROR_CODES.hostLocked;
  return createInputError(code, parts.join('. '));
}

function createTooManyRunsError(locks: readonly LockInfo[], runId: string, limit: ConcurrencyLimit): RunbookError {
  const runs = new Map<string, { lock: LockInfo; hosts: string[] }>();
  for (const lock of locks) {
    if (lock.runId === runId) continue;
    const run = runs.get(lock.runId) ?? { lock, hosts: [] };
    run.hosts.push(lock.host);
    runs.set(lock.runId, run);
  }
  const described = [...runs.values()].map(({ lock, hosts }) => {
    const note = lock.stale === true ? `; ${adviseOn(lock, hosts)}` : lock.stale === 'unknown' ? `; taken on another machine` : '';
    return `run ${lock.runId} (hosts ${hosts.join(', ')}; user ${lock.user} on ${lock.machine}, pid ${lock.pid}, since ${lock.startedAt}${note})`;
  });
  const rule =
    limit.setBy === undefined
      ? `policy.maxConcurrentRuns is ${limit.value}`
      : `run ${limit.setBy} allows at most ${limit.value} run${limit.value === 1 ? '' : 's'} at once (its policy.maxConcurrentRuns; the strictest limit of the running runs applies)`;
  return createInputError(LOCK_ERROR_CODES.tooManyRuns, `${runs.size} run(s) already hold host locks and ${rule}: ${described.join('; ')}; wait for one to finish`);
}

/** The limit on concurrent runs: the strictest of the new run's and of every run holding locks. */
interface ConcurrencyLimit {
  value: number;
  /** The running run whose policy set it; undefined when it is the new run's own. */
  setBy?: string;
}

function findStrictestLimit(locks: readonly LockInfo[], runId: string, own: number): ConcurrencyLimit {
  let limit: ConcurrencyLimit = { value: own };
  for (const lock of locks) {
    if (lock.runId !== runId && lock.maxConcurrentRuns !== undefined && lock.maxConcurrentRuns < limit.value) {
      limit = { value: lock.maxConcurrentRuns, setBy: lock.runId };
    }
  }
  return limit;
}

/** Refuses the new run when the runs already holding locks leave it no room under the strictest limit. */
function checkConcurrentRuns(locks: readonly LockInfo[], runId: string, own: number): void {
  const others = new Set(locks.filter((l) => l.runId !== runId).map((l) => l.runId)).size;
  const limit = findStrictestLimit(locks, runId, own);
  if (others >= limit.value) throw createTooManyRunsError(locks, runId, limit);
}

function writeTemporary(folder: string, host: string, text: string): string {
  const path = join(folder, `.${host}.json.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(path, 'wx');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return path;
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function toHostLock({ stale: _stale, path: _path, ...lock }: LockInfo): HostLock {
  return lock;
}

function renderLock(lock: HostLock): string {
  return `${JSON.stringify(lock, null, 2)}\n`;
}

/** Creates the lock file only if none exists; false when another one is there. */
function createExclusive(stateDir: string, lock: HostLock): boolean {
  const temporary = writeTemporary(locksFolder(stateDir), lock.host, renderLock(lock));
  try {
    linkSync(temporary, lockPath(stateDir, lock.host));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    removeQuietly(temporary);
  }
}

/** Replaces the lock file in one rename, so the host is never seen unlocked. */
function replaceLock(stateDir: string, lock: HostLock): void {
  const temporary = writeTemporary(locksFolder(stateDir), lock.host, renderLock(lock));
  try {
    renameSync(temporary, lockPath(stateDir, lock.host));
  } catch (error) {
    removeQuietly(temporary);
    throw error;
  }
}

/**
 * Takes over the stale lock `stale` of this same run (a resume). A marker named after the stale
 * lock id admits one process at a time, and the lock is checked again under it, so of two resumes
 * racing for it only one replaces it.
 */
function takeOver(stateDir: string, stale: LockInfo, lock: HostLock, machine: string): LockRead | 'taken' {
  const marker = join(locksFolder(stateDir), `.${lock.host}.takeover-${stale.lockId}`);
  let fd: number;
  try {
    fd = openSync(marker, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    throw createInputError(
      LOCK_ERROR_CODES.runAlreadyHeld,
      `host ${lock.host}: another process is taking over the stale lock ${stale.lockId} of run ${stale.runId} right now (it is being resumed there); if no resume of that run is going on, delete ${marker} and try again`,
    );
  }
  try {
    writeSync(fd, `${lock.pid}\n`);
    closeSync(fd);
    const now = readLock(stateDir, lock.host, machine);
    if (now.state === 'none') return createExclusive(stateDir, lock) ? 'taken' : readLock(stateDir, lock.host, machine);
    if (now.state === 'held' && now.lock.lockId === stale.lockId) {
      replaceLock(stateDir, lock);
      return 'taken';
    }
    return now;
  } finally {
    removeQuietly(marker);
  }
}

/**
 * Locks `hosts` for run `runId`, all or nothing: when any host is locked by another run, or
 * `maxConcurrentRuns` runs already hold locks, nothing is kept and a `RunbookError` (exit 2) names
 * the holders. A stale lock is reported, never broken, except that a run takes over its own stale
 * locks (a resume after a crash). Stale locks of other runs count towards the concurrent runs.
 */
export function acquireHostLocks(options: AcquireHostLocksOptions): HostLocks {
  const { stateDir, runId, maxConcurrentRuns } = options;
  const hosts = [...new Set(options.hosts)].sort();
  hosts.forEach(checkHostName);
  const machine = options.machine ?? hostname();
  const lockId = `lk-${randomBytes(4).toString('hex')}`;
  const template = {
    lockId,
    runId,
    user: options.user ?? readCurrentUser(),
    machine,
    pid: options.pid ?? process.pid,
    startedAt: new Date((options.clock ?? Date).now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    maxConcurrentRuns,
  };
  mkdirSync(locksFolder(stateDir), { recursive: true });

  // Checked before touching anything, for an error that names every holder at once.
  const before = readLockFolder(stateDir, { machine });
  const existing = new Map<string, Conflict['read']>([
    ...before.locks.map((lock) => [lock.host, { state: 'held', lock }] as const),
    ...before.damaged.map((damaged) => [damaged.host, { state: 'damaged', damaged }] as const),
  ]);
  const takeovers = new Map<string, LockInfo>();
  const conflicts: Conflict[] = [];
  for (const host of hosts) {
    const read = existing.get(host);
    if (read === undefined) continue;
    if (read.state === 'held' && read.lock.runId === runId && read.lock.stale === true) takeovers.set(host, read.lock);
    else conflicts.push({ host, read });
  }
  if (conflicts.length > 0) throw createConflictError(conflicts, runId);
  checkConcurrentRuns(before.locks, runId, maxConcurrentRuns);

  const taken: HostLock[] = [];
  const replaced = new Map<string, LockInfo>();
  const release = () => {
    for (const lock of taken) {
      const read = readLock(stateDir, lock.host, machine);
      if (read.state !== 'held' || read.lock.lockId !== lockId) continue;
      const previous = replaced.get(lock.host);
      // Put back a stale lock this call took over, so a failed resume leaves the host as it was.
      if (previous) replaceLock(stateDir, toHostLock(previous));
      else removeQuietly(lockPath(stateDir, lock.host));
    }
    taken.length = 0;
  };
  try {
    for (const host of hosts) {
      const lock: HostLock = { ...template, host };
      const stale = takeovers.get(host);
      const outcome = stale ? takeOver(stateDir, stale, lock, machine) : createExclusive(stateDir, lock) ? 'taken' : readLock(stateDir, host, machine);
      if (outcome !== 'taken' && outcome.state === 'none') {
        // Gone between the failed create and the read: someone held it an instant ago.
        throw createInputError(LOCK_ERROR_CODES.hostLocked, `host ${host} was locked and released by another run at this very moment; try again`);
      }
      if (outcome !== 'taken') throw createConflictError([{ host, read: outcome }], runId);
      taken.push(lock);
      if (stale) replaced.set(host, stale);
    }
    // Two acquisitions racing can both pass the first count; counted again with the locks in place,
    // each backs off when over the limit, so the limit holds (both may back off, neither overshoots).
    const after = readLockFolder(stateDir, { machine });
    checkConcurrentRuns(after.locks, runId, maxConcurrentRuns);
  } catch (error) {
    release();
    throw error;
  }
  // From here on the run owns its hosts: release() at its end removes the locks, restores nothing.
  replaced.clear();
  const locks = [...taken];
  return { lockId, locks, release };
}

/**
 * Removes the lock of `host` when its lock id is `lockId`; any other lock there is left alone and
 * named in the error. Returns the lock removed.
 */
export function unlockHost(stateDir: string, host: string, lockId: string, options: LockReadOptions = {}): LockInfo {
  checkHostName(host);
  const read = readLock(stateDir, host, options.machine ?? hostname());
  if (read.state === 'none') {
    const held = listLocks(stateDir, options).map((l) => l.host);
    const known = held.length > 0 ? `locked hosts: ${held.join(', ')}` : 'no host is locked';
    throw createInputError(LOCK_ERROR_CODES.noLock, `host ${host} is not locked (${known}); nothing to release`);
  }
  if (read.state === 'damaged') {
    throw createInputError(LOCK_ERROR_CODES.damagedLock, `${describeDamaged(read.damaged)}; its lock id cannot be checked, so runbook unlock leaves it`);
  }
  if (read.lock.lockId !== lockId) {
    throw createInputError(
      LOCK_ERROR_CODES.lockIdMismatch,
      `host ${host} is locked by ${describeHolder(read.lock)}, not by lock ${lockId}; nothing was released. To release that lock: runbook unlock ${host} --lock-id ${read.lock.lockId}`,
    );
  }
  removeQuietly(read.lock.path);
  return read.lock;
}

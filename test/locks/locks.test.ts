import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runUnlock } from '../../engine/commands/unlock.js';
import { RunbookError } from '../../engine/errors.js';
import { LOCK_ERROR_CODES, acquireHostLocks, listLocks, unlockHost, type HostLock } from '../../engine/io/locks.js';

const repoRoot = join(import.meta.dirname, '..', '..');
const RACE_CHILD = join(import.meta.dirname, 'race-child.ts');
const CLOCK = { now: () => Date.parse('2026-11-24T05:47:00Z') };

let root: string;
let stateDir: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'runbook-locks-'));
  stateDir = join(root, '.runbook');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function lockFiles(): string[] {
  const folder = join(stateDir, 'locks');
  return existsSync(folder) ? readdirSync(folder).sort() : [];
}

function readLockFile(host: string): HostLock {
  return JSON.parse(readFileSync(join(stateDir, 'locks', `${host}.json`), 'utf8')) as HostLock;
}

function writeLockFile(lock: HostLock): void {
  mkdirSync(join(stateDir, 'locks'), { recursive: true });
  writeFileSync(join(stateDir, 'locks', `${lock.host}.json`), JSON.stringify(lock));
}

/** The pid of a process that has run and exited (and been reaped). */
function findDeadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  if (child.pid === undefined) throw new Error('could not start a child process');
  expect(() => process.kill(child.pid as number, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  return child.pid;
}

function catchRunbookError(action: () => unknown): RunbookError {
  try {
    action();
  } catch (error) {
    if (error instanceof RunbookError) return error;
    throw error;
  }
  throw new Error('expected a RunbookError, and nothing was thrown');
}

function expectInputError(error: RunbookError, code: string): void {
  expect(error.code).toBe(code);
  expect(error.exitCode).toBe(2);
  // A message for people, not a stack trace.
  expect(error.message).not.toMatch(/\n\s*at /);
  expect(error.message).not.toMatch(/\.ts:\d+/);
}

const acquire = (runId: string, hosts: string[], extra: Partial<Parameters<typeof acquireHostLocks>[0]> = {}) =>
  acquireHostLocks({ stateDir, runId, hosts, maxConcurrentRuns: 5, user: 'alice', clock: CLOCK, ...extra });

describe('acquireHostLocks', () => {
  it('writes one lock file per host with the holder, sharing one lock id, and release removes them', () => {
    const held = acquire('run-a', ['leaf02', 'leaf01', 'leaf01']);
    expect(held.lockId).toMatch(/^lk-[0-9a-f]{8}$/);
    expect(lockFiles()).toEqual(['leaf01.json', 'leaf02.json']);
    expect(readLockFile('leaf01')).toEqual({
      lockId: held.lockId,
      runId: 'run-a',
      host: 'leaf01',
      user: 'alice',
      machine: hostname(),
      pid: process.pid,
      startedAt: '2026-11-24T05:47:00Z',
      maxConcurrentRuns: 5,
    });
    expect(held.locks.map((l) => l.host)).toEqual(['leaf01', 'leaf02']);
    expect(listLocks(stateDir).map((l) => [l.host, l.stale])).toEqual([
      ['leaf01', false],
      ['leaf02', false],
    ]);

    held.release();
    expect(lockFiles()).toEqual([]);
    held.release();
    expect(lockFiles()).toEqual([]);
  });

  it('refuses an overlapping host set, naming the holder, and keeps none of the hosts it could have taken', () => {
    const first = acquire('20261124-054700-upgrade-1a2b', ['leaf01', 'leaf02']);
    const error = catchRunbookError(() => acquire('run-b', ['aaa-free', 'leaf02', 'zzz-free']));
    expectInputError(error, LOCK_ERROR_CODES.hostLocked);
    expect(error.message).toContain(
      `host leaf02 is locked by run 20261124-054700-upgrade-1a2b (lock ${first.lockId}, user alice on ${hostname()}, pid ${process.pid}, since 2026-11-24T05:47:00Z)`,
    );
    expect(error.message).toContain(`runbook unlock leaf02 --lock-id ${first.lockId}`);
    expect(lockFiles()).toEqual(['leaf01.json', 'leaf02.json']);
    expect(listLocks(stateDir).every((l) => l.runId === '20261124-054700-upgrade-1a2b')).toBe(true);
  });

  it('removes on release only the files of its own lock id', () => {
    const first = acquire('run-a', ['leaf01']);
    unlockHost(stateDir, 'leaf01', first.lockId);
    const second = acquire('run-b', ['leaf01']);
    first.release();
    expect(readLockFile('leaf01').lockId).toBe(second.lockId);
  });

  it('reports a lock left by a dead process on this machine as stale, and does not break it', () => {
    const pid = findDeadPid();
    writeLockFile({ lockId: 'lk-0000dead', runId: 'run-crashed', host: 'leaf01', user: 'bob', machine: hostname(), pid, startedAt: '2026-11-24T05:00:00Z' });
    expect(listLocks(stateDir)).toMatchObject([{ host: 'leaf01', stale: true }]);

    const error = catchRunbookError(() => acquire('run-b', ['leaf01']));
    expectInputError(error, LOCK_ERROR_CODES.hostLocked);
    expect(error.message).toContain(`stale: its process ${pid} on this machine is no longer running`);
    expect(error.message).toContain('runbook unlock leaf01 --lock-id lk-0000dead');
    expect(readLockFile('leaf01').lockId).toBe('lk-0000dead');
  });

  it('says a lock from another machine cannot be checked', () => {
    writeLockFile({ lockId: 'lk-0000beef', runId: 'run-remote', host: 'leaf01', user: 'carol', machine: 'ops-remote-1', pid: 4242, startedAt: '2026-11-24T05:00:00Z' });
    expect(listLocks(stateDir)).toMatchObject([{ host: 'leaf01', stale: 'unknown' }]);
    const error = catchRunbookError(() => acquire('run-b', ['leaf01']));
    expectInputError(error, LOCK_ERROR_CODES.hostLocked);
    expect(error.message).toContain('taken on another machine (ops-remote-1)');
    expect(error.message).toContain('cannot be checked');
  });

  it('lets a run take over its own stale locks (a resume), and the new lock is live', () => {
    const pid = findDeadPid();
    writeLockFile({ lockId: 'lk-0000dead', runId: 'run-a', host: 'leaf01', user: 'alice', machine: hostname(), pid, startedAt: '2026-11-24T05:00:00Z' });
    const resumed = acquire('run-a', ['leaf01', 'leaf02']);
    expect(readLockFile('leaf01')).toMatchObject({ lockId: resumed.lockId, runId: 'run-a', pid: process.pid });
    expect(listLocks(stateDir).map((l) => [l.host, l.lockId, l.stale])).toEqual([
      ['leaf01', resumed.lockId, false],
      ['leaf02', resumed.lockId, false],
    ]);
    resumed.release();
    expect(lockFiles()).toEqual([]);
  });

  it('refuses the same run id while its process is alive', () => {
    const running = acquire('run-a', ['leaf01']);
    const error = catchRunbookError(() => acquire('run-a', ['leaf01']));
    expectInputError(error, LOCK_ERROR_CODES.runAlreadyHeld);
    expect(error.message).toContain(`already locked by this run run-a in another process (lock ${running.lockId}`);
    expect(readLockFile('leaf01').lockId).toBe(running.lockId);
  });

  it('puts back a stale lock it took over when the rest of the acquisition fails', () => {
    const pid = findDeadPid();
    const stale = (host: string, lockId: string): HostLock => ({ lockId, runId: 'run-a', host, user: 'alice', machine: hostname(), pid, startedAt: '2026-11-24T05:00:00Z' });
    writeLockFile(stale('leaf01', 'lk-0000dea1'));
    writeLockFile(stale('leaf02', 'lk-0000dea2'));
    // Another resume of run-a is taking over leaf02 at this moment.
    writeFileSync(join(stateDir, 'locks', '.leaf02.takeover-lk-0000dea2'), '99999\n');

    const error = catchRunbookError(() => acquire('run-a', ['leaf01', 'leaf02']));
    expectInputError(error, LOCK_ERROR_CODES.runAlreadyHeld);
    expect(error.message).toContain('another process is taking over the stale lock lk-0000dea2 of run run-a');
    expect(readLockFile('leaf01')).toEqual(stale('leaf01', 'lk-0000dea1'));
    expect(readLockFile('leaf02')).toEqual(stale('leaf02', 'lk-0000dea2'));
  });

  it('refuses a run over policy.maxConcurrentRuns, naming the running runs and counting stale ones', () => {
    acquire('run-a', ['leaf01']);
    const pid = findDeadPid();
    writeLockFile({ lockId: 'lk-0000dead', runId: 'run-crashed', host: 'leaf02', user: 'bob', machine: hostname(), pid, startedAt: '2026-11-24T05:00:00Z' });

    const error = catchRunbookError(() => acquire('run-c', ['spine01'], { maxConcurrentRuns: 2 }));
    expectInputError(error, LOCK_ERROR_CODES.tooManyRuns);
    expect(error.message).toContain('2 run(s) already hold host locks and policy.maxConcurrentRuns is 2');
    expect(error.message).toContain('run run-a (hosts leaf01;');
    expect(error.message).toContain(`run run-crashed (hosts leaf02; user bob on ${hostname()}, pid ${pid}, since 2026-11-24T05:00:00Z; stale: its process ${pid}`);
    expect(existsSync(join(stateDir, 'locks', 'spine01.json'))).toBe(false);

    // Another acquisition by a run already holding locks is not a new run; under the limit, a new run starts.
    expect(acquire('run-a', ['spine02'], { maxConcurrentRuns: 3 }).locks).toHaveLength(1);
    expect(acquire('run-c', ['spine01'], { maxConcurrentRuns: 3 }).locks).toHaveLength(1);
  });

  it('applies the strictest maxConcurrentRuns among the running runs and the new one', () => {
    // run-a allows no other run beside it; a new run with a laxer limit of its own is still refused.
    acquire('run-a', ['leaf01'], { maxConcurrentRuns: 1 });
    expect(readLockFile('leaf01').maxConcurrentRuns).toBe(1);
    const error = catchRunbookError(() => acquire('run-b', ['leaf02'], { maxConcurrentRuns: 5 }));
    expectInputError(error, LOCK_ERROR_CODES.tooManyRuns);
    expect(error.message).toContain('run run-a allows at most 1 run at once');
    expect(existsSync(join(stateDir, 'locks', 'leaf02.json'))).toBe(false);
  });

  it('counts a lock written before limits were recorded as setting no limit of its own', () => {
    writeLockFile({ lockId: 'lk-00000old', runId: 'run-old', host: 'leaf01', user: 'bob', machine: 'elsewhere', pid: 4242, startedAt: '2026-11-24T05:00:00Z' });
    expect(acquire('run-b', ['leaf02'], { maxConcurrentRuns: 2 }).locks).toHaveLength(1);
  });

  it('treats a lock file that is not a lock as held', () => {
    mkdirSync(join(stateDir, 'locks'), { recursive: true });
    writeFileSync(join(stateDir, 'locks', 'leaf01.json'), '{"lockId": ');
    const error = catchRunbookError(() => acquire('run-a', ['leaf01']));
    expectInputError(error, LOCK_ERROR_CODES.hostLocked);
    expect(error.message).toContain('host leaf01 has a lock file that is not a valid lock (it is not JSON)');
  });

  it('refuses a host name that is not a safe file name', () => {
    expectInputError(
      catchRunbookError(() => acquire('run-a', ['../escape'])),
      LOCK_ERROR_CODES.badHostName,
    );
    expect(existsSync(join(root, 'escape.json'))).toBe(false);
  });
});

describe('runUnlock', () => {
  it('releases the lock with the right lock id and says who held it', () => {
    const held = acquire('run-a', ['leaf01', 'leaf02']);
    const output: string[] = [];
    const code = runUnlock({ stateDir, host: 'leaf01', lockId: held.lockId, write: (t) => output.push(t) });
    expect(code).toBe(0);
    expect(output.join('')).toContain(`released host leaf01, locked by run run-a (lock ${held.lockId}, user alice on ${hostname()}, pid ${process.pid}`);
    expect(output.join('')).toContain('still running');
    expect(lockFiles()).toEqual(['leaf02.json']);
  });

  it('says a released stale lock had lost its process', () => {
    const pid = findDeadPid();
    writeLockFile({ lockId: 'lk-0000dead', runId: 'run-crashed', host: 'leaf01', user: 'bob', machine: hostname(), pid, startedAt: '2026-11-24T05:00:00Z' });
    const output: string[] = [];
    expect(runUnlock({ stateDir, host: 'leaf01', lockId: 'lk-0000dead', write: (t) => output.push(t) })).toBe(0);
    expect(output.join('')).toContain(`its process ${pid} on this machine was no longer running`);
    expect(lockFiles()).toEqual([]);
  });

  it('refuses a wrong lock id, leaves the lock, and names the lock that is there', () => {
    const held = acquire('run-a', ['leaf01']);
    const error = catchRunbookError(() => runUnlock({ stateDir, host: 'leaf01', lockId: 'lk-ffffffff', write: () => undefined }));
    expectInputError(error, LOCK_ERROR_CODES.lockIdMismatch);
    expect(error.message).toContain(`host leaf01 is locked by run run-a (lock ${held.lockId}`);
    expect(error.message).toContain('not by lock lk-ffffffff; nothing was released');
    expect(readLockFile('leaf01').lockId).toBe(held.lockId);
  });

  it('refuses a host that is not locked', () => {
    acquire('run-a', ['leaf01']);
    const error = catchRunbookError(() => runUnlock({ stateDir, host: 'leaf09', lockId: 'lk-ffffffff', write: () => undefined }));
    expectInputError(error, LOCK_ERROR_CODES.noLock);
    expect(error.message).toBe('host leaf09 is not locked (locked hosts: leaf01); nothing to release');
  });

  it('leaves a damaged lock file to be deleted by hand', () => {
    mkdirSync(join(stateDir, 'locks'), { recursive: true });
    writeFileSync(join(stateDir, 'locks', 'leaf01.json'), '[]');
    const error = catchRunbookError(() => runUnlock({ stateDir, host: 'leaf01', lockId: 'lk-ffffffff', write: () => undefined }));
    expectInputError(error, LOCK_ERROR_CODES.damagedLock);
    expect(lockFiles()).toEqual(['leaf01.json']);
  });
});

interface RaceResult {
  won: boolean;
  runId: string;
  pid: number;
  lockId?: string;
  code?: string;
}

/** Starts one child per contender, lets them all go at once, and returns what each got. */
async function race(contenders: readonly { runId: string; hosts: readonly string[] }[], maxConcurrentRuns: number): Promise<RaceResult[]> {
  const signals = join(root, 'signals');
  mkdirSync(signals);
  const go = join(signals, 'go');
  const done = join(signals, 'done');
  const children = contenders.map(({ runId, hosts }, index) => {
    const ready = join(signals, `ready-${index}`);
    const child = spawn(process.execPath, ['--import', 'tsx', RACE_CHILD, stateDir, runId, hosts.join(','), String(maxConcurrentRuns), ready, go, done], {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`contender ${index} exited with ${code}: ${stderr}`))));
    });
    return { ready, exited };
  });
  // Bounded by the test timeout; each contender also gives up waiting after about 30 s.
  const waitForFiles = async (files: string[]) => {
    while (!files.every((f) => existsSync(f))) await Promise.race([delay(10), ...children.map((c) => c.exited)]);
  };
  try {
    await waitForFiles(children.map((c) => c.ready));
    writeFileSync(go, '');
    await waitForFiles(children.map((c) => `${c.ready}.result`));
    return children.map((c) => JSON.parse(readFileSync(`${c.ready}.result`, 'utf8')) as RaceResult);
  } finally {
    writeFileSync(done, '');
    await Promise.allSettled(children.map((c) => c.exited));
  }
}

describe('processes racing for locks', () => {
  it('lets exactly one of four processes lock a shared host, and the others keep nothing', async () => {
    const contenders = [0, 1, 2, 3].map((i) => ({ runId: `run-${i}`, hosts: [`a-own-${i}`, 'z-shared'] }));
    const results = await race(contenders, 10);
    const winners = results.filter((r) => r.won);
    expect(winners).toHaveLength(1);
    const winner = winners[0] as RaceResult;
    expect(results.filter((r) => !r.won).map((r) => r.code)).toEqual([LOCK_ERROR_CODES.hostLocked, LOCK_ERROR_CODES.hostLocked, LOCK_ERROR_CODES.hostLocked]);
    const own = `a-own-${winner.runId.slice('run-'.length)}`;
    expect(lockFiles()).toEqual([`${own}.json`, 'z-shared.json']);
    expect(readLockFile('z-shared')).toMatchObject({ lockId: winner.lockId, runId: winner.runId, pid: winner.pid });
  });

  it('lets exactly one of three resumes of the same run take over its stale lock', async () => {
    writeLockFile({ lockId: 'lk-0000dead', runId: 'run-a', host: 'leaf01', user: 'alice', machine: hostname(), pid: findDeadPid(), startedAt: '2026-11-24T05:00:00Z' });
    const results = await race([0, 1, 2].map(() => ({ runId: 'run-a', hosts: ['leaf01'] })), 5);
    const winners = results.filter((r) => r.won);
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => !r.won).map((r) => r.code)).toEqual([LOCK_ERROR_CODES.runAlreadyHeld, LOCK_ERROR_CODES.runAlreadyHeld]);
    expect(readLockFile('leaf01')).toMatchObject({ lockId: winners[0]?.lockId, pid: winners[0]?.pid });
    expect(lockFiles()).toEqual(['leaf01.json']);
  });

  it('never lets more than maxConcurrentRuns runs hold locks, even when they start together', async () => {
    const results = await race([0, 1, 2, 3].map((i) => ({ runId: `run-${i}`, hosts: [`leaf0${i}`] })), 2);
    const winners = results.filter((r) => r.won);
    expect(winners.length).toBeLessThanOrEqual(2);
    expect(results.filter((r) => !r.won).every((r) => r.code === LOCK_ERROR_CODES.tooManyRuns)).toBe(true);
    // The lock files left are exactly the winners': the others took theirs back.
    expect(listLocks(stateDir).map((l) => l.runId).sort()).toEqual(winners.map((w) => w.runId).sort());
  });
});

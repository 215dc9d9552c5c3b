import { EXIT_CODES, type ExitCode } from '../errors.js';
import { describeHolder, unlockHost, type LockReadOptions } from '../io/locks.js';

export interface UnlockOptions extends LockReadOptions {
  /** The `.runbook` folder at the repository root. */
  stateDir: string;
  host: string;
  lockId: string;
  write: (text: string) => void;
}

/**
 * `runbook unlock HOST --lock-id ID`: releases the host's lock when it carries that id, and says who
 * held it. Exit 0 when released; a missing lock or another lock id is bad input (exit 2, thrown).
 */
export function runUnlock(options: UnlockOptions): ExitCode {
  const lock = unlockHost(options.stateDir, options.host, options.lockId, options);
  const state =
    lock.stale === true
      ? `its process ${lock.pid} on this machine was no longer running`
      : lock.stale === 'unknown'
        ? `taken on another machine, ${lock.machine}: make sure run ${lock.runId} is not still running there`
        : `warning: its process ${lock.pid} on this machine is still running and may still change the host; stop it`;
  options.write(`released host ${lock.host}, locked by ${describeHolder(lock)}; ${state}\n`);
  return EXIT_CODES.ok;
}

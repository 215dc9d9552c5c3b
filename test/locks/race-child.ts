// One contender in the lock races of locks.test.ts: announces it is ready, waits for the go file so
// every contender calls acquireHostLocks at about the same moment, writes what it got to
// READY_FILE.result, then stays alive (its locks live, not stale) until the done file appears.
import { existsSync, writeFileSync } from 'node:fs';
import { acquireHostLocks } from '../../engine/io/locks.js';
import { RunbookError } from '../../engine/errors.js';
import { writeFileAtomic } from '../../engine/io/files.js';

const [stateDir, runId, hostList, max, readyFile, goFile, doneFile] = process.argv.slice(2);
if (!stateDir || !runId || !hostList || !max || !readyFile || !goFile || !doneFile) {
  throw new Error('usage: race-child STATE_DIR RUN_ID HOSTS MAX READY_FILE GO_FILE DONE_FILE');
}

writeFileSync(readyFile, `${process.pid}\n`);
const pause = new Int32Array(new SharedArrayBuffer(4));
/** Bounded (about 30 s): the parent creates the files as soon as it can. */
function waitFor(file: string): void {
  for (let i = 0; i < 30_000 && !existsSync(file); i += 1) Atomics.wait(pause, 0, 0, 1);
}

waitFor(goFile);
let result: object;

try {
  const held = acquireHostLocks({ stateDir, runId, hosts: hostList.split(','), maxConcurrentRuns: Number(max) });
  result = { won: true, runId, lockId: held.lockId, pid: process.pid };
} catch (error) {
  if (!(error instanceof RunbookError)) throw error;
  result = { won: false, runId, code: error.code, pid: process.pid };
}
writeFileAtomic(`${readyFile}.result`, JSON.stringify(result));
waitFor(doneFile);

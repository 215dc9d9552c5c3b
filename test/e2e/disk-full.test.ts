import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApplyOptions } from '../../engine/commands/apply.js';
import type { RunEvent } from '../../engine/run/events.js';
import { applyInProcess } from '../helpers/apply-in-process.js';
import { LOCAL_BOX_INVENTORY } from '../helpers/local-box.js';
import { commitRepository } from '../helpers/run-repository.js';

// A full disk under the journal: the run stops before its next changing step, says which file it
// could not write, releases its locks and exits 1; once there is room again, --resume finishes it
// without running a finished step twice. Once with the write made to fail, once on a real tmpfs.

const RUNBOOK = `apiVersion: runbook/v1
kind: Runbook
metadata: { name: disk-test, version: 1.0.0 }
params:
  dir: { type: string, required: true }
targets: { group: box }
steps:
  - { id: first, kind: command, run: 'echo first >> {{quote params.dir}}/log' }
  # Read-only and talkative: its output fills whatever room the journal's last page had.
  - { id: chatty, kind: verify, run: 'seq 1 300' }
  - { id: second, kind: install, run: 'echo second >> {{quote params.dir}}/log' }
  - { id: third, kind: command, run: 'echo third >> {{quote params.dir}}/log' }
`;

let repo: string;
let work: string;
beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'runbook-disk-'));
  work = mkdtempSync(join(tmpdir(), 'runbook-disk-work-'));
  writeFileSync(join(repo, 'runbook.yaml'), RUNBOOK);
  writeFileSync(join(repo, 'inventory.yaml'), LOCAL_BOX_INVENTORY);
  commitRepository(repo);
});
afterEach(() => {
  rmSync(repo, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

const log = () => (existsSync(join(work, 'log')) ? readFileSync(join(work, 'log'), 'utf8').trim().split('\n') : []);
const lockFiles = () => (existsSync(join(repo, '.runbook', 'locks')) ? readdirSync(join(repo, '.runbook', 'locks')) : []);

async function apply(extra: Partial<ApplyOptions>) {
  const { exitCode: code, stderr } = await applyInProcess({
    target: join(repo, 'runbook.yaml'),
    inventory: join(repo, 'inventory.yaml'),
    params: [`dir=${work}`],
    root: repo,
    commit: false,
    ...extra,
  });
  return { code, stderr };
}

const enospc = () => Object.assign(new Error('no space left on device, write'), { code: 'ENOSPC' });

describe('a journal that cannot be written', () => {
  it('stops the run before its next step, names the file, unlocks, and a resume finishes it', async () => {
    let full = false;
    const first = await apply({
      journal: {
        write: (fd, text) => {
          if (full) throw enospc();
          writeSync(fd, text);
        },
      },
      onEvent: (event: RunEvent) => {
        if (event.type === 'step.finished' && event.record.id === 'first') full = true;
      },
    });
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/cannot write the journal \S+journal\.jsonl \(ENOSPC: no space left on device/);
    expect(first.stderr).toContain('make room (or repair the disk), then continue with `runbook apply --resume');
    expect(first.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(log()).toEqual(['first']);
    expect(lockFiles()).toEqual([]);

    const runId = readdirSync(join(repo, '.runbook', 'runs'))[0]!;
    const resumed = await apply({ target: undefined, inventory: undefined, params: [], resume: runId });
    expect(resumed.stderr).toContain(`run ${runId} succeeded`);
    expect(resumed.code).toBe(0);
    expect(log()).toEqual(['first', 'second', 'third']);
  });
});

describe('a journal that fails on the run\'s last events', () => {
  it('claims no success, names the step that finished unjournaled, and the operator marks it done on resume', async () => {
    let full = false;
    const first = await apply({
      journal: {
        write: (fd, text) => {
          if (full) throw enospc();
          writeSync(fd, text);
        },
      },
      onEvent: (event: RunEvent) => {
        if (event.type === 'step.started' && event.stepId === 'third') full = true;
      },
    });
    expect(first.code).toBe(1);
    expect(first.stderr).toContain('these steps finished after the journal stopped and are not in it (a resume sees them cut off): box:third (succeeded)');
    expect(existsSync(join(repo, 'reports'))).toBe(false);
    expect(log()).toEqual(['first', 'second', 'third']);

    const runId = readdirSync(join(repo, '.runbook', 'runs'))[0]!;
    const resumed = await apply({ target: undefined, inventory: undefined, params: [], resume: runId, markDone: ['box:third'] });
    expect(resumed.code).toBe(0);
    expect(log()).toEqual(['first', 'second', 'third']);
  });
});

/** A 256 KiB tmpfs mounted on the repository's `.runbook`; null where this process may not mount. */
function mountSmallTmpfs(folder: string): (() => void) | null {
  mkdirSync(folder, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', folder], { stdio: 'pipe' });
  } catch {
    return null;
  }
  return () => execFileSync('umount', ['-l', folder], { stdio: 'pipe' });
}

/** Writes until the file system refuses: ENOSPC for whoever writes next. */
function fillUp(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(4096, 120);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
}

const canMount = process.getuid?.() === 0;
describe.skipIf(!canMount)('a real full disk (tmpfs)', () => {
  it('stops before the next step with ENOSPC from the kernel, and resumes once space is freed', async (context) => {
    const unmount = mountSmallTmpfs(join(repo, '.runbook'));
    if (!unmount) context.skip('mount -t tmpfs is not permitted in this container');
    try {
      const filler = join(repo, '.runbook', 'filler');
      const first = await apply({
        onEvent: (event: RunEvent) => {
          if (event.type === 'step.finished' && event.record.id === 'first') fillUp(filler);
        },
      });
      expect(first.code).toBe(1);
      expect(first.stderr).toMatch(/cannot write the journal \S+journal\.jsonl \(ENOSPC/);
      expect(log()).toEqual(['first']);
      expect(lockFiles()).toEqual([]);

      rmSync(filler);
      const runId = readdirSync(join(repo, '.runbook', 'runs'))[0]!;
      const resumed = await apply({ target: undefined, inventory: undefined, params: [], resume: runId });
      expect(resumed.stderr).toContain(`run ${runId} succeeded`);
      expect(resumed.code).toBe(0);
      expect(log()).toEqual(['first', 'second', 'third']);
    } finally {
      unmount?.();
    }
  });
});

if (!canMount) it.skip('a real full disk (tmpfs): mounting a tmpfs needs root (.ci/run runs as root)', () => {});

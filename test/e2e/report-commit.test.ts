import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCliProcess } from '../helpers/cli-process.js';
import { LOCAL_BOX_INVENTORY } from '../helpers/local-box.js';
import { commitRepository } from '../helpers/run-repository.js';
import { waitFor } from '../helpers/wait-for.js';

// `runbook apply` and its git killed together (the whole process group, as a closing terminal or a
// CI runner's timeout does) while the report is being committed: `runs` says the report is not
// committed, and `apply --resume` finishes the commit.

const REPO_ROOT = join(import.meta.dirname, '..', '..');
const TSX = import.meta.resolve('tsx');

const RUNBOOK = `apiVersion: runbook/v1
kind: Runbook
metadata: { name: commit-test, version: 1.0.0 }
targets: { group: box }
steps:
  - { id: work, kind: command, run: 'true' }
`;

let repo: string;
beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'runbook-commit-'));
  writeFileSync(join(repo, 'runbook.yaml'), RUNBOOK);
  writeFileSync(join(repo, 'inventory.yaml'), LOCAL_BOX_INVENTORY);
  commitRepository(repo);
});
afterEach(() => rmSync(repo, { recursive: true, force: true }));

const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' });

describe('a report commit cut off by a kill', () => {
  it('is shown as not committed by `runs`, and finished by --resume', async () => {
    // git runs the pre-commit hook holding index.lock: the hook says it started, then waits to be killed.
    const marker = join(repo, 'hook-started');
    const hook = join(repo, '.git', 'hooks', 'pre-commit');
    writeFileSync(hook, `#!/bin/sh\ntouch ${JSON.stringify(marker)}\nsleep 60\n`);
    chmodSync(hook, 0o755);

    // Its own process group, killed whole.
    const child = spawn(process.execPath, ['--import', TSX, join(REPO_ROOT, 'scripts', 'runbook.ts'), 'apply', 'runbook.yaml', '-i', 'inventory.yaml', '--no-progress'], {
      cwd: repo,
      detached: true,
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await waitFor(() => (existsSync(marker) ? true : undefined), 'the report commit');
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    expect(existsSync(join(repo, '.git', 'index.lock'))).toBe(true);
    const runId = readdirSync(join(repo, '.runbook', 'runs'))[0]!;
    expect(git('log', '--format=%s')).not.toContain(runId);

    const runs = await runCliProcess(['runs'], { cwd: repo });
    expect(runs.stdout).toMatch(new RegExp(`${runId}\\s+commit-test\\s+succeeded, report not committed`));
    expect(runs.stdout).toContain(`finish the report of ${runId} with: runbook apply --resume ${runId}`);

    rmSync(hook);
    const resumed = await runCliProcess(['apply', '--resume', runId, '--no-progress'], { cwd: repo });
    expect(resumed.stderr).toContain(`run ${runId} had finished (succeeded); finishing its report`);
    expect(resumed.stderr).toContain('index.lock, left by the report commit that was cut off');
    expect(resumed.code).toBe(0);
    expect(git('log', '-1', '--format=%s')).toContain(`(run ${runId})`);
    expect(git('show', '--name-only', '--format=', 'HEAD').trim().split('\n').sort()).toEqual([`reports/runs/${runId}.json`, `reports/runs/${runId}.md`]);
    expect(git('status', '--porcelain', 'reports')).toBe('');

    const after = await runCliProcess(['runs'], { cwd: repo });
    expect(after.stdout).toMatch(new RegExp(`${runId}\\s+commit-test\\s+succeeded\\s`));
    const again = await runCliProcess(['apply', '--resume', runId, '--no-progress'], { cwd: repo });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('its report is written; there is nothing to resume');
  }, 60_000);

  it('leaves a git lock it cannot tie to the cut-off commit to the operator', async () => {
    const first = await runCliProcess(['apply', 'runbook.yaml', '-i', 'inventory.yaml', '--no-progress', '--no-commit'], { cwd: repo });
    expect(first.code).toBe(0);
    // A report that was to be committed, cut off; then some other git holds the lock now.
    const runId = readdirSync(join(repo, '.runbook', 'runs'))[0]!;
    const journal = join(repo, '.runbook', 'runs', runId, 'journal.jsonl');
    const lines = execFileSync('cat', [journal], { encoding: 'utf8' }).trim().split('\n');
    const kept = lines.filter((line) => !line.includes('"report.finished"')).map((line) => line.replace('"commit":false', '"commit":true'));
    writeFileSync(journal, `${kept.join('\n')}\n`);
    const lock = join(repo, '.git', 'index.lock');
    writeFileSync(lock, '');
    // Made before the commit began: not the cut-off commit's.
    execFileSync('touch', ['-d', '2020-01-01', lock]);

    const resumed = await runCliProcess(['apply', '--resume', runId, '--no-progress'], { cwd: repo });
    expect(resumed.code).toBe(2);
    expect(resumed.stderr).toContain(`git's lock ${lock} is there`);
    expect(existsSync(lock)).toBe(true);
  }, 60_000);
});

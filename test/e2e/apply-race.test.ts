import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCliProcess } from '../helpers/cli-process.js';
import { LOCAL_BOX_INVENTORY } from '../helpers/local-box.js';
import { commitRepository } from '../helpers/run-repository.js';

// The same plan applied by several processes at once, as two operators (or a CI retry and an
// operator) would: whether a process loses the lock race or comes after the winner finished, and
// whatever it checked before taking the locks, the changing step runs once.

const CONTENDERS = 5;

let top: string;
let repo: string;
let marker: string;
beforeEach(() => {
  top = mkdtempSync(join(tmpdir(), 'runbook-race-'));
  repo = join(top, 'repo');
  marker = join(top, 'changed');
  // The marker is outside the repository: the runs must not see it as a change of their inputs.
  mkdirSync(repo);
  writeFileSync(
    join(repo, 'runbook.yaml'),
    [
      'apiVersion: runbook/v1',
      'kind: Runbook',
      'metadata: { name: race, version: 1.0.0 }',
      'targets: { group: box }',
      'steps:',
      `  - { id: change, kind: command, run: 'echo changed >> ${marker}; sleep 0.3' }`,
    ].join('\n') + '\n',
  );
  writeFileSync(join(repo, 'inventory.yaml'), LOCAL_BOX_INVENTORY);
  commitRepository(repo);
});
afterEach(() => rmSync(top, { recursive: true, force: true }));

describe('one plan applied by several processes at once', () => {
  it('runs its changing step once; every other process is refused without changing anything', async () => {
    const planned = await runCliProcess(['plan', 'runbook.yaml', '-i', 'inventory.yaml', '--out', 'plan.json'], { cwd: repo });
    expect(planned.stderr).toContain('wrote plan');
    expect(planned.code).toBe(0);
    const results = await Promise.all(Array.from({ length: CONTENDERS }, () => runCliProcess(['apply', 'plan.json', '--no-progress', '--no-commit'], { cwd: repo })));
    const codes = results.map((r) => r.code);
    expect(codes.filter((code) => code === 0)).toHaveLength(1);
    for (const refused of results.filter((r) => r.code !== 0)) {
      expect(refused.code).toBe(2);
      expect(refused.stderr).not.toMatch(/internal error|\n\s+at /);
    }
    expect(existsSync(marker)).toBe(true);
    expect(readFileSync(marker, 'utf8')).toBe('changed\n');
  }, 120_000);

  it('is refused after a run of it let its hosts go and before its report was on disk', async () => {
    // The window the race above hits now and then, held open: the run finished, its journal says so,
    // its report is not there (removed here, as a kill between the two would leave it).
    await runCliProcess(['plan', 'runbook.yaml', '-i', 'inventory.yaml', '--out', 'plan.json'], { cwd: repo });
    const first = await runCliProcess(['apply', 'plan.json', '--no-progress', '--no-commit'], { cwd: repo });
    expect(first.code).toBe(0);
    rmSync(join(repo, 'reports'), { recursive: true });
    const again = await runCliProcess(['apply', 'plan.json', '--no-progress', '--no-commit'], { cwd: repo });
    expect(again.stderr).toMatch(/error RB4005: plan sha256:\w+ was already applied: run \S+ succeeded at .* \(\.runbook\/runs\/\S+\)/);
    expect(again.code).toBe(2);
    expect(readFileSync(marker, 'utf8')).toBe('changed\n');
  }, 60_000);
});

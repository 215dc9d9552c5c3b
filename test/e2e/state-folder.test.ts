import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCliProcess } from '../helpers/cli-process.js';
import { LOCAL_BOX_INVENTORY } from '../helpers/local-box.js';
import { commitRepository } from '../helpers/run-repository.js';

// The run's state folder holds fetched configurations (with their secrets): a repository whose
// .gitignore does not name it must still not pick it up with `git add -A`.

let repo: string;
beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'runbook-state-folder-'));
  writeFileSync(join(repo, 'device.conf'), 'snmp-server community Secret-Community-XYZZY\n');
  writeFileSync(
    join(repo, 'runbook.yaml'),
    [
      'apiVersion: runbook/v1',
      'kind: Runbook',
      'metadata: { name: keep-config, version: 1.0.0 }',
      'targets: { group: box }',
      'steps:',
      `  - { id: backup, kind: fetch, remote: ${join(repo, 'device.conf')}, artifact: device.conf }`,
    ].join('\n') + '\n',
  );
  writeFileSync(join(repo, 'inventory.yaml'), LOCAL_BOX_INVENTORY);
  commitRepository(repo);
  // A repository that does not ignore .runbook/ (commitRepository ignores it).
  execFileSync('git', ['rm', '-q', '--cached', '.gitignore'], { cwd: repo });
  rmSync(join(repo, '.gitignore'));
  execFileSync('git', ['commit', '-qm', 'no .gitignore'], { cwd: repo });
});
afterEach(() => rmSync(repo, { recursive: true, force: true }));

describe('the state folder', () => {
  it('is ignored by git from inside, so `git add -A` leaves the fetched configuration out', async () => {
    const applied = await runCliProcess(['apply', 'runbook.yaml', '-i', 'inventory.yaml', '--no-progress'], { cwd: repo });
    expect(applied.code).toBe(0);
    const runs = join(repo, '.runbook', 'runs');
    expect(existsSync(runs)).toBe(true);
    execFileSync('git', ['add', '-A'], { cwd: repo });
    const staged = execFileSync('git', ['diff', '--cached', '--name-only'], { cwd: repo, encoding: 'utf8' });
    expect(staged).not.toContain('.runbook');
    expect(execFileSync('git', ['status', '--porcelain', '--ignored', '.runbook'], { cwd: repo, encoding: 'utf8' })).toContain('!! .runbook/');
  }, 60_000);
});

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Who commits and decides in the tests' repositories. */
export const OPERATOR = { name: 'Olga Operator', email: 'olga@example.com' };

/**
 * Makes `dir` a git repository holding what is in it, committed: runbooks applied from it run what
 * is at HEAD, and the operator's decisions are recorded with its git identity.
 */
export function commitRepository(dir: string): void {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'pipe' });
  git('init', '-q', '--initial-branch=main');
  git('config', 'user.name', OPERATOR.name);
  git('config', 'user.email', OPERATOR.email);
  git('config', 'commit.gpgsign', 'false');
  writeFileSync(join(dir, '.gitignore'), '.runbook/\n');
  git('add', '-A');
  git('commit', '-q', '-m', 'runbooks and inventory');
}

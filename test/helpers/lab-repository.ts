import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { spawnCli, type CliProcess } from './cli-process.js';
import { LAB_PASSWORD_ENV, REPO_ROOT, startTestLab, type TestLab } from './lab-apply.js';
import { commitRepository } from './run-repository.js';

export interface LabRepository {
  /** The lab of the current test; its folder is a git repository holding the runbook and `lab.yaml`. */
  readonly testLab: TestLab;
  /** `runbook ARGS...` as a child process in the repository, killed after the test if still running. */
  spawn(args: readonly string[]): CliProcess;
  /** The ids of the runs under `.runbook/runs`. */
  runIds(): string[];
}

/**
 * For each test: the embedded lab, and a repository with the shipped `runbook` (a file under
 * runbooks/) and the lab's inventory committed, so that `apply RUNBOOK -i lab.yaml` runs what is at HEAD.
 */
export function useLabRepository(runbook: string): LabRepository {
  let testLab: TestLab | undefined;
  let children: ChildProcess[] = [];
  beforeEach(async () => {
    testLab = await startTestLab();
    cpSync(join(REPO_ROOT, 'runbooks', runbook), join(testLab.dir, runbook));
    commitRepository(testLab.dir);
  });
  afterEach(async () => {
    for (const child of children) child.kill('SIGKILL');
    children = [];
    await testLab?.stop();
  });
  return {
    get testLab() {
      if (!testLab) throw new Error('the lab starts in beforeEach');
      return testLab;
    },
    spawn(args) {
      const cli = spawnCli(args, { cwd: this.testLab.dir, env: LAB_PASSWORD_ENV });
      children.push(cli.child);
      return cli;
    },
    runIds() {
      const folder = join(this.testLab.dir, '.runbook', 'runs');
      return existsSync(folder) ? readdirSync(folder) : [];
    },
  };
}

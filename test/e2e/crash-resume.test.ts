import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runApply } from '../../engine/commands/apply.js';
import { readJournal, runFolder } from '../../engine/io/journal.js';
import type { RunEvent } from '../../engine/run/events.js';
import type { RunReport } from '../../engine/schema/report.js';
import { spawnCli } from '../helpers/cli-process.js';
import { LAB_PASSWORD_ENV, REPO_ROOT, startTestLab, type TestLab } from '../helpers/lab-apply.js';
import { waitFor } from '../helpers/wait-for.js';

// `runbook apply` as a real process, killed with SIGKILL in the middle of the fabric upgrade and
// resumed by another process: the lab's command log proves no changing step ran twice.

const SWITCHES = ['spine01', 'spine02', 'leaf01', 'leaf02', 'leaf03', 'leaf04'];
const CHANGING = [/^tar czf /, /^onie-install /, /^reboot$/];

let testLab: TestLab;
let children: ChildProcess[] = [];
beforeEach(async () => {
  testLab = await startTestLab();
  cpSync(join(REPO_ROOT, 'runbooks', 'fabric-upgrade.yaml'), join(testLab.dir, 'fabric-upgrade.yaml'));
});
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children = [];
  await testLab.stop();
});

function spawnRunbook(args: string[]) {
  const cli = spawnCli(args, { cwd: testLab.dir, env: LAB_PASSWORD_ENV });
  children.push(cli.child);
  return cli;
}

function runIds(): string[] {
  const folder = join(testLab.dir, '.runbook', 'runs');
  return existsSync(folder) ? readdirSync(folder) : [];
}

const startedStep = (events: RunEvent[], host: string, stepId: string) =>
  events.some((e) => e.type === 'step.started' && e.host === host && e.stepId === stepId);

describe('a run killed with SIGKILL and resumed', () => {
  it('finishes the upgrade without running any changing step twice, and refuses a concurrent run meanwhile', async () => {
    const apply = ['apply', 'fabric-upgrade.yaml', '-i', testLab.inventoryPath, '--param', 'targetVersion=4.4.0', '--yes', '--no-progress', '--allow-dirty'];
    const first = spawnRunbook(apply);
    const runId = await waitFor(() => runIds()[0], 'the run folder');
    const folder = runFolder(join(testLab.dir, '.runbook'), runId);

    // Once the pre-checks are done, the spines' version check after their reboot is made slow, so
    // the process is killed there: after their install and reboot, before any leaf is touched.
    await waitFor(() => (readJournal(folder).some((e) => e.type === 'phase.finished' && e.phase === 'prechecks') ? true : undefined), 'the pre-checks');
    await testLab.lab.injectFault('spine01', { kind: 'slow', command: '^cat /etc/lsb-release$', delayMs: 5_000, times: 1 });
    await waitFor(() => (startedStep(readJournal(folder), 'spine01', 'version') ? true : undefined), 'spine01 to reach its version check');
    first.child.kill('SIGKILL');
    expect(await first.exit).toBe(null);

    const journal = readJournal(folder);
    expect(journal.some((e) => e.type === 'run.finished')).toBe(false);
    expect(startedStep(journal, 'leaf01', 'backup-config')).toBe(false);
    expect(testLab.lab.state('spine01').version).toBe('4.4.0');
    expect(testLab.lab.state('leaf01').version).toBe('4.3.0');

    // The dead run's locks are still there: another run on the same switches is refused, and told
    // the locks are stale rather than having them broken silently.
    let refusal = '';
    await expect(
      runApply({
        target: join(testLab.dir, 'fabric-upgrade.yaml'),
        inventory: testLab.inventoryPath,
        params: ['targetVersion=4.4.0'],
        yes: true,
        noProgress: true,
        format: 'text',
        isTty: false,
        write: () => {},
        writeError: (t) => (refusal += t),
        env: LAB_PASSWORD_ENV,
        root: testLab.dir,
        commit: false,
        allowDirty: true,
      }),
    ).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/locked by run .*stale/s) });
    expect(refusal).toBe('');

    const runs = spawnRunbook(['runs']);
    expect(await runs.exit).toBe(0);
    expect(runs.output()).toMatch(new RegExp(`${runId}\\s+fabric-upgrade\\s+crashed`));

    const resumed = spawnRunbook(['apply', '--resume', runId, '--yes', '--no-progress', '--no-commit']);
    const code = await resumed.exit;
    expect(resumed.output()).toContain(`run ${runId} (resumed)`);
    expect(code).toBe(0);

    for (const name of SWITCHES) {
      expect(testLab.lab.state(name).version).toBe('4.4.0');
      const changes = testLab.lab.commandLog(name).filter((e) => CHANGING.some((pattern) => pattern.test(e.command)));
      expect(changes.map((e) => e.command.split(' ')[0])).toEqual(['tar', 'onie-install', 'reboot']);
    }
    // The report covers the whole run: the spines' install is from the first process.
    const report = JSON.parse(readFileSync(join(testLab.dir, 'reports', 'runs', `${runId}.json`), 'utf8')) as RunReport;
    expect(report.outcome).toBe('succeeded');
    const spine = report.hosts.spine01!;
    expect(spine.steps.find((s) => s.id === 'install')?.status).toBe('succeeded');
    expect(readdirSync(join(testLab.dir, '.runbook', 'locks'))).toEqual([]);
  }, 120_000);
});

import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Fault, LabOptions } from '../../lab/index.js';
import { SERVICE_CONTRACT_EXPIRED, type ChassisEvent } from '../../lab/devices/exos.js';
import { readJournal, runFolder } from '../../engine/io/journal.js';
import type { StepRecord } from '../../engine/run/events.js';
import type { RunReport } from '../../engine/schema/report.js';
import { spawnCli } from '../helpers/cli-process.js';
import { applyRunbook, LAB_PASSWORD_ENV, REPO_ROOT, startTestLab, type TestLab } from '../helpers/lab-apply.js';
import { waitFor } from '../helpers/wait-for.js';

// The shipped chassis-hitless-upgrade runbook against the lab's ExtremeXOS chassis, through the real
// SSH path, checked against the chassis' own record of what happened to its hardware.

const RUNBOOK = 'chassis-hitless-upgrade.yaml';
const TARGET = 'targetVersion=31.7.2.3';
/** A target release whose I/O module image is not the one the modules run: the failover would reset them. */
const INCOMPATIBLE: LabOptions = { exos: { ioModuleImages: { '31.7.2.3': '31.7.2' } } };

interface ChassisState {
  /** The management address answers. */
  listening: boolean;
  master: string;
  inSync: boolean;
  running: Record<'A' | 'B', string>;
  msms: Record<'A' | 'B', { booted: string; packages: Record<string, string[]> }>;
  ioModules: { image: string; phase: string };
  events: ChassisEvent[];
}

let testLab: TestLab | undefined;
const children: ChildProcess[] = [];
const start = async (options: LabOptions = {}) => {
  testLab = await startTestLab({ topology: { spines: 0, leaves: 0, storageNodes: 0, nso: false }, ...options });
  return testLab;
};
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await testLab?.stop();
  testLab = undefined;
});

const chassis = (): ChassisState => testLab!.lab.state('bd01') as unknown as ChassisState;
const happened = (kind: ChassisEvent['kind']) => chassis().events.filter((event) => event.kind === kind);
const changes = () => testLab!.lab.commandLog('bd01').map((e) => e.command).filter((c) => !/^show /.test(c));
const apply = (params: string[], extra: { runbook?: string; faultAt?: { step: string; fault: Fault } } = {}) =>
  applyRunbook(extra.runbook ?? RUNBOOK, testLab!.inventoryPath, params, {
    root: testLab!.dir,
    onEvent: (event) => {
      const at = extra.faultAt;
      // Synchronous: the fault is in place before the step's command is sent.
      if (at && event.type === 'step.started' && event.stepId === at.step) void testLab!.lab.injectFault('bd01', at.fault);
    },
  });
const step = (steps: StepRecord[] | undefined, id: string) => steps?.find((s) => s.id === id);

describe('chassis-hitless-upgrade, as the ExtremeXOS document orders it', () => {
  it('upgrades the backup, fails over, upgrades the original primary and fails back, with no I/O module reset', async () => {
    await start();
    const run = await apply([TARGET]);
    expect(run.stderr).toContain('succeeded');
    expect(run.exitCode).toBe(0);
    expect(chassis()).toMatchObject({ master: 'MSM-A', inSync: true, running: { A: '31.7.2.3', B: '31.7.2.3' }, ioModules: { image: '31.7', phase: 'running' } });
    // The document's order: backup first (reboot it only), failover, then the original primary, failback.
    expect(changes()).toEqual([
      'download image inactive 192.0.2.10 bdX-31.7.2.3.xos vr VR-Default msm B',
      'reboot msm B',
      'run msm-failover',
      'download image inactive 192.0.2.10 bdX-31.7.2.3.xos vr VR-Default msm A',
      'reboot msm A',
      'run msm-failover',
    ]);
    expect(happened('failover')).toMatchObject([
      { from: 'A', to: 'B', hitless: true },
      { from: 'B', to: 'A', hitless: true },
    ]);
    expect(happened('io-modules-reset')).toEqual([]);
    expect(happened('chassis-reboot')).toEqual([]);
    // The install question was answered yes, so each download installed.
    expect(step(run.steps.bd01, 'install-backup')?.stdout).toContain('(y - yes, n - no, <cr> - cancel) y\n');
    expect(happened('installed').map((e) => e.kind === 'installed' && `${e.msm}:${e.partition}`)).toEqual(['B:secondary', 'A:secondary']);
    expect(step(run.steps.bd01, 'install-backup-xmod')?.status).toBe('skipped');
  });

  it('without failback the original backup leads at the end', async () => {
    await start();
    const run = await apply([TARGET, 'failback=false']);
    expect(run.exitCode).toBe(0);
    expect(chassis()).toMatchObject({ master: 'MSM-B', running: { A: '31.7.2.3', B: '31.7.2.3' } });
    expect(happened('failover')).toHaveLength(1);
  });

  it('stops at the I/O module warning, answering no, and resets nothing; the backup is rolled back to the release of the primary', async () => {
    // The lab's default chassis: 32.1.1.6 carries another I/O module image than 31.7.1.4 (README's "try it").
    await start();
    const run = await apply(['targetVersion=32.1.1.6']);
    expect(run.exitCode).toBe(1);
    const failover = step(run.steps.bd01, 'fail-over')!;
    expect(failover.status).toBe('failed');
    expect(failover.message).toMatch(/^the failover command exited 1; output matches \/all I\/O modules will be reset/);
    expect(failover.message).toContain('WARNING: The other MSM operates with a different version of I/O module image.');
    expect(failover.stdout).toContain('Are you sure you want to failover? (y/n) n\n');
    // The chassis' own record: no failover, nothing reset.
    expect(happened('failover')).toEqual([]);
    expect(happened('io-modules-reset')).toEqual([]);
    expect(chassis()).toMatchObject({ master: 'MSM-A', ioModules: { image: '31.7', phase: 'running' } });
    expect(run.states.bd01).toBe('rolled-back');
    expect(chassis()).toMatchObject({ running: { A: '31.7.1.4', B: '31.7.1.4' }, inSync: true });
    expect(changes().filter((c) => c.startsWith('run msm-failover'))).toEqual(['run msm-failover']);
  });

  it('leaves a warning its rules do not recognise unanswered: the failover times out and nothing is reset', async () => {
    // As if the chassis worded its warning otherwise than the document: the runbook without the rule carrying the warning's words.
    await start(INCOMPATIBLE);
    const shipped = readFileSync(join(REPO_ROOT, 'runbooks', RUNBOOK), 'utf8');
    const warningRule = /^ {6}- prompt: 'WARNING: The other MSM.*\n.*\n/m;
    expect(shipped).toMatch(warningRule);
    // The failover's own timeout, right after its expectation, made short.
    const failoverTimeout = /(^ {4}expect: \[\{ notMatch: 'all I\/O modules.*\n) {4}timeout: 5m$/m;
    expect(shipped).toMatch(failoverTimeout);
    const reworded = join(testLab!.dir, 'reworded.yaml');
    writeFileSync(reworded, shipped.replace(warningRule, '').replace(failoverTimeout, '$1    timeout: 2s'));
    const run = await apply([TARGET], { runbook: reworded });
    expect(run.exitCode).toBe(1);
    expect(step(run.steps.bd01, 'fail-over')).toMatchObject({ status: 'failed', message: expect.stringMatching(/^the failover command timed out/) });
    expect(step(run.steps.bd01, 'fail-over')?.stdout).toMatch(/Are you sure you want to failover\? \(y\/n\) $/);
    expect(happened('failover')).toEqual([]);
    expect(happened('io-modules-reset')).toEqual([]);
  });

  it('with allowIoModuleReset it fails over through the warning and the chassis records the one reset', async () => {
    await start(INCOMPATIBLE);
    const run = await apply([TARGET, 'allowIoModuleReset=true']);
    expect(run.exitCode).toBe(0);
    expect(step(run.steps.bd01, 'fail-over')?.stdout).toContain('all I/O modules will be reset.\nAre you sure you want to failover? (y/n) y\n');
    expect(happened('failover')).toMatchObject([
      { from: 'A', to: 'B', hitless: false },
      { from: 'B', to: 'A', hitless: true },
    ]);
    expect(happened('io-modules-reset')).toMatchObject([{ from: '31.7', to: '31.7.2' }]);
    expect(chassis()).toMatchObject({ master: 'MSM-A', running: { A: '31.7.2.3', B: '31.7.2.3' }, ioModules: { image: '31.7.2' } });
  });

  it('refuses a .xmod package of another release before any change', async () => {
    await start();
    const run = await apply([TARGET, 'xmod=bdX-31.7.1.4-ssh.xmod']);
    expect(run.exitCode).toBe(1);
    const check = testLab!.lab.commandLog('bd01');
    expect(check.map((e) => e.command)).toEqual(['show switch', 'show version', 'show version']);
    expect(chassis().events).toEqual([]);
    const events = run.events.flatMap((e) => (e.type === 'phase.finished' && e.phase === 'prechecks' ? [e.message] : []));
    expect(events).toEqual(['pre-checks failed (bd01: xmod-matches-core); nothing was changed']);
  });

  it('refuses a target older than the running release in its fourth number, before any change', async () => {
    await start({ exos: { version: '31.7.2.5' } });
    const run = await apply([TARGET]);
    expect(run.exitCode).toBe(1);
    expect(run.steps.bd01?.find((s) => s.id === 'current-version')?.message).toContain('version 31.7.2.3 is not at least 31.7.2.5');
    expect(chassis().events).toEqual([]);
  });

  it('installs a .xmod package of the target release after the core image, on each MSM before its reboot', async () => {
    await start();
    const run = await apply([TARGET, 'xmod=bdX-31.7.2.3-ssh.xmod']);
    expect(run.exitCode).toBe(0);
    expect(changes().slice(0, 3)).toEqual([
      'download image inactive 192.0.2.10 bdX-31.7.2.3.xos vr VR-Default msm B',
      'download image inactive 192.0.2.10 bdX-31.7.2.3-ssh.xmod vr VR-Default msm B',
      'reboot msm B',
    ]);
    const { msms } = chassis();
    for (const slot of ['A', 'B'] as const) expect(msms[slot].packages[msms[slot].booted]).toEqual(['ssh']);
  });

  it('an expired service contract stops the run at the first download, with the chassis unchanged', async () => {
    await start({ faults: { bd01: [{ kind: 'serviceContractExpired' }] } });
    const run = await apply([TARGET]);
    expect(run.exitCode).toBe(1);
    // The download runs in a terminal (it asks a question): the refusal comes on its one output.
    expect(step(run.steps.bd01, 'install-backup')?.stdout).toContain(SERVICE_CONTRACT_EXPIRED);
    expect(chassis().events).toEqual([]);
    expect(run.states.bd01).toBe('rolled-back');
  });

  it('a backup that comes up on another release than the target stops the run before the failover', async () => {
    await start();
    // The image file holds 31.7.1.4, not the target: the backup boots it and the check after its reboot says so.
    const run = await apply([TARGET, 'image=bdX-31.7.1.4.xos']);
    expect(run.exitCode).toBe(1);
    expect(step(run.steps.bd01, 'backup-runs-target')).toMatchObject({ status: 'failed', message: expect.stringContaining('"31.7.1.4"') });
    expect(changes().filter((c) => c.startsWith('run msm-failover'))).toEqual([]);
    expect(happened('failover')).toEqual([]);
  });

  it('a failed install on the original primary rolls back to one release on both MSMs', async () => {
    await start();
    const run = await apply([TARGET], { faultAt: { step: 'install-old-primary', fault: { kind: 'installFails', times: 1 } } });
    expect(run.exitCode).toBe(1);
    expect(step(run.steps.bd01, 'install-old-primary')?.status).toBe('failed');
    expect(run.states.bd01).toBe('rolled-back');
    expect(chassis()).toMatchObject({ master: 'MSM-A', inSync: true, running: { A: '31.7.1.4', B: '31.7.1.4' } });
    // Back the hitless way: MSM-B, which runs the new release as master, hands over and reboots into its old partition.
    expect(happened('failover')).toMatchObject([
      { from: 'A', to: 'B', hitless: true },
      { from: 'B', to: 'A', hitless: true },
    ]);
    expect(happened('io-modules-reset')).toEqual([]);
  });

  it('never reports rolled back when the MSMs end on different releases: the report says which runs what', async () => {
    await start();
    // A rollback missing a move: MSM-B is not pointed back at its old partition, so it reboots into the new release.
    const shipped = readFileSync(join(REPO_ROOT, 'runbooks', RUNBOOK), 'utf8');
    const selectB = /^ {2}- \{ id: select-original-b, .*\n/m;
    expect(shipped).toMatch(selectB);
    const broken = join(testLab!.dir, 'broken.yaml');
    writeFileSync(broken, shipped.replace(selectB, ''));
    const run = await apply([TARGET], { runbook: broken, faultAt: { step: 'install-old-primary', fault: { kind: 'installFails', times: 1 } } });
    expect(run.exitCode).toBe(1);
    expect(run.states.bd01).toBe('rollback-failed');
    expect(chassis().running).toEqual({ A: '31.7.1.4', B: '31.7.2.3' });
    const finished = run.events.find((e) => e.type === 'host.finished');
    expect(finished?.type === 'host.finished' && finished.message).toContain(
      'rollback step one-release failed: value does not match /^MSM-A runs 31\\.7\\.1\\.4, MSM-B runs 31\\.7\\.1\\.4$/: "MSM-A runs 31.7.1.4, MSM-B runs 31.7.2.3"',
    );
  });
  it('a rollback that cannot fail back goes on to say which MSM runs what, and the host is not rolled back', async () => {
    // A release without hitless upgrade that carries another I/O module image: its failover resets the
    // I/O modules (no warning: the document gives it for hitless-capable images only). The way back to
    // the original release, which supports hitless upgrade, then meets the warning, answered no.
    await start({ exos: { withoutHitless: ['31.7.2.3'], ioModuleImages: { '31.7.2.3': '31.7.2' } } });
    const run = await apply([TARGET], { faultAt: { step: 'install-old-primary', fault: { kind: 'installFails', times: 1 } } });
    expect(run.exitCode).toBe(1);
    expect(run.states.bd01).toBe('rollback-failed');
    const rollback = run.steps.bd01!.filter((s) => s.section === 'rollback');
    expect(rollback.map((s) => [s.id, s.status])).toEqual([
      ['rollback-roles', 'succeeded'],
      ['rollback-versions', 'succeeded'],
      ['select-original-a', 'succeeded'],
      ['select-original-b', 'succeeded'],
      ['reboot-backup-to-original', 'skipped'],
      ['backup-back-in-sync', 'succeeded'],
      ['backup-release', 'succeeded'],
      ['fail-over-to-original', 'failed'],
      ['both-back-in-sync', 'succeeded'],
      ['one-release', 'failed'],
    ]);
    expect(chassis()).toMatchObject({ master: 'MSM-B', running: { A: '31.7.1.4', B: '31.7.2.3' } });
    expect(happened('io-modules-reset')).toHaveLength(1);
    const finished = run.events.find((e) => e.type === 'host.finished');
    expect(finished?.type === 'host.finished' && finished.message).toMatch(
      /rollback step fail-over-to-original failed: the failover command exited 1; .*; rollback step one-release failed: value does not match .*: "MSM-A runs 31\.7\.1\.4, MSM-B runs 31\.7\.2\.3"$/,
    );
    // The run's report, JSON and Markdown, says it too.
    const reports = join(testLab!.dir, 'reports', 'runs');
    const [json] = readdirSync(reports).filter((f) => f.endsWith('.json'));
    const report = JSON.parse(readFileSync(join(reports, json!), 'utf8')) as RunReport;
    expect(report.hosts.bd01).toMatchObject({ state: 'rollback-failed', message: expect.stringContaining('MSM-A runs 31.7.1.4, MSM-B runs 31.7.2.3') });
    expect(readFileSync(join(reports, json!.replace(/\.json$/, '.md')), 'utf8')).toContain('MSM-A runs 31.7.1.4, MSM-B runs 31.7.2.3');
  });
});

describe('chassis-hitless-upgrade killed', () => {
  const spawnApply = (lab: TestLab) => {
    // The runbook is copied next to the inventory: the run's state goes there, never into this checkout.
    cpSync(join(REPO_ROOT, 'runbooks', RUNBOOK), join(lab.dir, RUNBOOK));
    const cli = spawnCli(['apply', RUNBOOK, '-i', lab.inventoryPath, '--param', TARGET, '--yes', '--no-progress', '--no-commit', '--allow-dirty'], { cwd: lab.dir, env: LAB_PASSWORD_ENV });
    children.push(cli.child);
    return cli;
  };
  const resume = async (lab: TestLab) => {
    const runsFolder = join(lab.dir, '.runbook', 'runs');
    const runId = existsSync(runsFolder) ? readdirSync(runsFolder)[0]! : '';
    const resumed = spawnCli(['apply', '--resume', runId, '--yes', '--no-progress', '--no-commit'], { cwd: lab.dir, env: LAB_PASSWORD_ENV });
    children.push(resumed.child);
    return { runId, resumed };
  };

  it('during a download to the backup, downloads and installs it again on resume, and completes', async () => {
    const lab = await start();
    // The download takes its time: the run is killed while it is under way.
    await lab.lab.injectFault('bd01', { kind: 'slow', command: '^download image', delayMs: 60_000 });
    const cli = spawnApply(lab);
    const journal = () => {
      const runsFolder = join(lab.dir, '.runbook', 'runs');
      const runId = existsSync(runsFolder) ? readdirSync(runsFolder)[0] : undefined;
      return runId === undefined ? [] : readJournal(runFolder(join(lab.dir, '.runbook'), runId));
    };
    await waitFor(() => (journal().some((e) => e.type === 'step.started' && e.stepId === 'install-backup') ? true : undefined), 'the first download');
    cli.child.kill('SIGKILL');
    await cli.exit;
    await lab.lab.clearFaults('bd01');
    expect(happened('installed')).toEqual([]);
    const { resumed } = await resume(lab);
    expect(await resumed.exit, resumed.output()).toBe(0);
    // The killed download may or may not have reached the chassis before the kill: it never completed.
    const completed = lab.lab.commandLog('bd01').filter((e) => e.outcome === 'completed' && e.command.startsWith('download image'));
    expect(completed.map((e) => e.command)).toEqual([
      'download image inactive 192.0.2.10 bdX-31.7.2.3.xos vr VR-Default msm B',
      'download image inactive 192.0.2.10 bdX-31.7.2.3.xos vr VR-Default msm A',
    ]);
    expect(happened('installed')).toHaveLength(2);
    expect(chassis()).toMatchObject({ master: 'MSM-A', running: { A: '31.7.2.3', B: '31.7.2.3' } });
  }, 120_000);

  it('is resumed past the failover when `show switch` marks the backup as the master: the failover is not sent again', async () => {
    const lab = await start({ timings: { rebootDelayMs: 400, syncDelayMs: 300, failoverDelayMs: 3_000, prepareMs: 400, commitMs: 300 } });
    const cli = spawnApply(lab);
    // Killed once the chassis has failed over, while the engine waits for the management address to come back.
    await waitFor(() => (happened('failover').length === 1 ? true : undefined), 'the first failover');
    cli.child.kill('SIGKILL');
    await cli.exit;

    // Resumed once the management address answers again: until then the probe cannot tell, and the step waits for the operator.
    await waitFor(() => (chassis().listening === true ? true : undefined), 'the management address to come back');
    const { runId, resumed } = await resume(lab);
    expect(readJournal(runFolder(join(lab.dir, '.runbook'), runId)).some((e) => e.type === 'step.started' && e.stepId === 'fail-over')).toBe(true);
    expect(await resumed.exit, resumed.output()).toBe(0);
    expect(changes().filter((c) => c === 'run msm-failover')).toHaveLength(2);
    expect(chassis()).toMatchObject({ master: 'MSM-A', running: { A: '31.7.2.3', B: '31.7.2.3' } });
    const report = JSON.parse(readFileSync(join(lab.dir, 'reports', 'runs', `${runId}.json`), 'utf8')) as RunReport;
    expect(report.history?.decisions).toEqual([
      expect.objectContaining({ step: 'fail-over', decision: 'done', by: 'runbook', reason: expect.stringContaining('completion probe passed') }),
    ]);
  }, 120_000);
});

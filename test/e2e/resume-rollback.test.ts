import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readJournal, runFolder } from '../../engine/io/journal.js';
import type { RunEvent } from '../../engine/run/events.js';
import type { RunReport } from '../../engine/schema/report.js';
import { spawnCli } from '../helpers/cli-process.js';
import { LAB_PASSWORD_ENV, REPO_ROOT, startTestLab, type TestLab } from '../helpers/lab-apply.js';
import { OPERATOR, commitRepository } from '../helpers/run-repository.js';
import { waitFor } from '../helpers/wait-for.js';

// `runbook apply` killed with SIGKILL while a failed switch is rolling back, then resumed: the
// rollback steps that finished never run again, and the one cut off (a changing step) waits for the
// operator's word, which is recorded with their git identity.

let testLab: TestLab;
let children: ChildProcess[] = [];
beforeEach(async () => {
  testLab = await startTestLab();
  cpSync(join(REPO_ROOT, 'runbooks', 'fabric-upgrade.yaml'), join(testLab.dir, 'fabric-upgrade.yaml'));
  commitRepository(testLab.dir);
});
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children = [];
  await testLab.stop();
});

async function runbook(args: string[]) {
  const cli = spawnCli(args, { cwd: testLab.dir, env: LAB_PASSWORD_ENV });
  children.push(cli.child);
  return { code: await cli.exit, output: cli.output() };
}

const runIds = () => (existsSync(join(testLab.dir, '.runbook', 'runs')) ? readdirSync(join(testLab.dir, '.runbook', 'runs')) : []);
const started = (events: RunEvent[], host: string, section: string, stepId: string) =>
  events.some((e) => e.type === 'step.started' && e.host === host && e.section === section && e.stepId === stepId);
const commandsOn = (host: string, pattern: RegExp) => testLab.lab.commandLog(host).filter((e) => pattern.test(e.command) && e.outcome === 'completed');

describe('a run killed while a failed host rolls back, then resumed', () => {
  it('never runs a finished rollback step again, and leaves the cut-off one to the operator', async () => {
    // spine01's install fails on all three attempts; its rollback's reboot is slow, and the run is killed there.
    await testLab.lab.injectFault('spine01', { kind: 'installFails', times: 3 });
    await testLab.lab.injectFault('spine01', { kind: 'slow', command: '^reboot$', delayMs: 30_000, times: 1 });
    const first = spawnCli(['apply', 'fabric-upgrade.yaml', '-i', 'lab.yaml', '--param', 'targetVersion=4.4.0', '--yes', '--no-progress', '--no-commit'], {
      cwd: testLab.dir,
      env: LAB_PASSWORD_ENV,
    });
    children.push(first.child);
    const runId = await waitFor(() => runIds()[0], 'the run folder');
    const folder = runFolder(join(testLab.dir, '.runbook'), runId);
    await waitFor(() => (started(readJournal(folder), 'spine01', 'rollback', 'reboot-previous') ? true : undefined), 'the rollback reboot');
    first.child.kill('SIGKILL');
    await first.exit;
    const rolledBackOnce = commandsOn('spine01', /^onie-install /).length;
    // Three failed attempts, then the rollback's reinstall of the release it ran.
    expect(rolledBackOnce).toBe(4);

    const waiting = await runbook(['apply', '--resume', runId, '--yes', '--no-progress', '--no-commit']);
    expect(waiting.code).toBe(1);
    expect(waiting.output).toContain(`--mark-done spine01:reboot-previous`);
    expect(commandsOn('spine01', /^onie-install /)).toHaveLength(rolledBackOnce);
    expect(commandsOn('spine01', /^reboot$/)).toHaveLength(0);
    // The other switches went on (maxFailures is 1); the snapshot after waits for spine01.
    expect(testLab.lab.state('leaf04').version).toBe('4.4.0');
    expect(existsSync(join(testLab.dir, 'reports', 'snapshots', `${runId}-after.json`))).toBe(false);
    expect(existsSync(join(testLab.dir, 'reports', 'runs', `${runId}.json`))).toBe(false);

    const decided = await runbook(['apply', '--resume', runId, '--mark-done', 'spine01:reboot-previous', '--yes', '--no-progress', '--no-commit']);
    expect(decided.output).toContain(`run ${runId} (resumed)`);
    expect(decided.code).toBe(1);
    expect(commandsOn('spine01', /^onie-install /)).toHaveLength(rolledBackOnce);
    expect(commandsOn('spine01', /^reboot$/)).toHaveLength(0);
    expect(testLab.lab.state('spine01').version).toBe('4.3.0');

    const report = JSON.parse(readFileSync(join(testLab.dir, 'reports', 'runs', `${runId}.json`), 'utf8')) as RunReport;
    expect(report.hosts.spine01!.state).toBe('rolled-back');
    expect(report.hosts.spine01!.rollback.map((s) => [s.id, s.status, s.attempts])).toEqual([
      ['reinstall-previous', 'succeeded', 1],
      ['reboot-previous', 'succeeded', 1],
      ['previous-version', 'succeeded', 1],
    ]);
    expect(report.snapshots.comparison).toBeDefined();
    expect(report.history?.processes).toBe(3);
    expect(report.history?.interruptions[0]?.cutOff).toEqual([{ host: 'spine01', section: 'rollback', step: 'reboot-previous' }]);
    expect(report.history?.decisions.map((d) => [d.host, d.step, d.decision, d.by])).toEqual([
      ['spine01', 'reboot-previous', 'wait', 'runbook'],
      ['spine01', 'reboot-previous', 'done', `${OPERATOR.name} <${OPERATOR.email}>`],
    ]);
    const markdown = readFileSync(join(testLab.dir, 'reports', 'runs', `${runId}.md`), 'utf8');
    expect(markdown).toContain('## Interruptions and decisions');
    expect(markdown).toContain(`marked done by the operator (${OPERATOR.name} &lt;${OPERATOR.email}&gt;)`);
  }, 120_000);

  it('refuses a --mark-done that names no step the run cut off, and runs nothing', async () => {
    await testLab.lab.injectFault('spine01', { kind: 'installFails', times: 3 });
    await testLab.lab.injectFault('spine01', { kind: 'slow', command: '^reboot$', delayMs: 30_000, times: 1 });
    const first = spawnCli(['apply', 'fabric-upgrade.yaml', '-i', 'lab.yaml', '--param', 'targetVersion=4.4.0', '--yes', '--no-progress', '--no-commit'], {
      cwd: testLab.dir,
      env: LAB_PASSWORD_ENV,
    });
    children.push(first.child);
    const runId = await waitFor(() => runIds()[0], 'the run folder');
    const folder = runFolder(join(testLab.dir, '.runbook'), runId);
    await waitFor(() => (started(readJournal(folder), 'spine01', 'rollback', 'reboot-previous') ? true : undefined), 'the rollback reboot');
    first.child.kill('SIGKILL');
    await first.exit;
    const before = testLab.lab.commandLog().length;

    const wrongStep = await runbook(['apply', '--resume', runId, '--mark-done', 'spine01:install', '--no-progress']);
    expect(wrongStep.code).toBe(2);
    expect(wrongStep.output).toContain('the steps cut off are spine01:reboot-previous');
    const wrongHost = await runbook(['apply', '--resume', runId, '--mark-failed', 'spine9:reboot-previous', '--no-progress']);
    expect(wrongHost.code).toBe(2);
    expect(wrongHost.output).toContain('has no host spine9; did you mean spine01?');
    const notAStep = await runbook(['apply', '--resume', runId, '--mark-done', 'spine01', '--no-progress']);
    expect(notAStep.code).toBe(2);
    expect(notAStep.output).toContain('name the step as HOST:STEP');
    expect(testLab.lab.commandLog().length).toBe(before);
  }, 120_000);
});

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJournal, runFolder } from '../../engine/io/journal.js';
import type { RunEvent } from '../../engine/run/events.js';
import type { RunReport } from '../../engine/schema/report.js';
import { useLabRepository } from '../helpers/lab-repository.js';
import { OPERATOR } from '../helpers/run-repository.js';
import { waitFor } from '../helpers/wait-for.js';

// `runbook apply` killed with SIGKILL while a failed switch is rolling back, then resumed: the
// rollback steps that finished never run again, and the one cut off (a changing step) waits for the
// operator's word, which is recorded with their git identity.

const repo = useLabRepository('fabric-upgrade.yaml');
const APPLY = ['apply', 'fabric-upgrade.yaml', '-i', 'lab.yaml', '--param', 'targetVersion=4.4.0', '--yes', '--no-progress', '--no-commit'];

async function runbook(args: string[]) {
  const cli = repo.spawn(args);
  return { code: await cli.exit, output: cli.output() };
}

const started = (events: RunEvent[], host: string, section: string, stepId: string) =>
  events.some((e) => e.type === 'step.started' && e.host === host && e.section === section && e.stepId === stepId);
const commandsOn = (host: string, pattern: RegExp) => repo.testLab.lab.commandLog(host).filter((e) => pattern.test(e.command) && e.outcome === 'completed');

/** spine01's install fails on all five attempts; the run is killed with SIGKILL as its rollback reboot starts. */
async function killDuringRollbackReboot(): Promise<string> {
  await repo.testLab.lab.injectFault('spine01', { kind: 'installFails', times: 5 });
  await repo.testLab.lab.injectFault('spine01', { kind: 'slow', command: '^reboot$', delayMs: 30_000, times: 1 });
  const first = repo.spawn(APPLY);
  const runId = await waitFor(() => repo.runIds()[0], 'the run folder');
  const folder = runFolder(join(repo.testLab.dir, '.runbook'), runId);
  await waitFor(() => (started(readJournal(folder), 'spine01', 'rollback', 'reboot-previous') ? true : undefined), 'the rollback reboot');
  first.child.kill('SIGKILL');
  await first.exit;
  return runId;
}

describe('a run killed while a failed host rolls back, then resumed', () => {
  it('never runs a finished rollback step again, and leaves the cut-off one to the operator', async () => {
    const runId = await killDuringRollbackReboot();
    const rolledBackOnce = commandsOn('spine01', /^onie-install /).length;
    // Five failed attempts, then the rollback's reinstall of the release it ran.
    expect(rolledBackOnce).toBe(6);

    const waiting = await runbook(['apply', '--resume', runId, '--yes', '--no-progress', '--no-commit']);
    expect(waiting.code).toBe(1);
    expect(waiting.output).toContain(`--mark-done spine01:reboot-previous`);
    expect(commandsOn('spine01', /^onie-install /)).toHaveLength(rolledBackOnce);
    expect(commandsOn('spine01', /^reboot$/)).toHaveLength(0);
    // The other switches went on (maxFailures is 1); the snapshot after waits for spine01.
    expect(repo.testLab.lab.state('leaf04').version).toBe('4.4.0');
    expect(existsSync(join(repo.testLab.dir, 'reports', 'snapshots', `${runId}-after.json`))).toBe(false);
    expect(existsSync(join(repo.testLab.dir, 'reports', 'runs', `${runId}.json`))).toBe(false);

    const decided = await runbook(['apply', '--resume', runId, '--mark-done', 'spine01:reboot-previous', '--yes', '--no-progress', '--no-commit']);
    expect(decided.output).toContain(`run ${runId} (resumed)`);
    expect(decided.code).toBe(1);
    expect(commandsOn('spine01', /^onie-install /)).toHaveLength(rolledBackOnce);
    expect(commandsOn('spine01', /^reboot$/)).toHaveLength(0);
    expect(repo.testLab.lab.state('spine01').version).toBe('4.3.0');

    const report = JSON.parse(readFileSync(join(repo.testLab.dir, 'reports', 'runs', `${runId}.json`), 'utf8')) as RunReport;
    expect(report.hosts.spine01!.state).toBe('rolled-back');
    expect(report.hosts.spine01!.rollback.map((s) => [s.id, s.status, s.attempts])).toEqual([
      ['reinstall-previous', 'succeeded', 1],
      ['reboot-previous', 'succeeded', 1],
      ['put-backup-previous', 'succeeded', 1],
      ['restore-config-previous', 'succeeded', 1],
      ['previous-version', 'succeeded', 1],
    ]);
    expect(report.snapshots.comparison).toBeDefined();
    expect(report.history?.processes).toBe(3);
    expect(report.history?.interruptions[0]?.cutOff).toEqual([{ host: 'spine01', section: 'rollback', step: 'reboot-previous' }]);
    expect(report.history?.decisions.map((d) => [d.host, d.step, d.decision, d.by])).toEqual([
      ['spine01', 'reboot-previous', 'wait', 'runbook'],
      ['spine01', 'reboot-previous', 'done', `${OPERATOR.name} <${OPERATOR.email}>`],
    ]);
    const markdown = readFileSync(join(repo.testLab.dir, 'reports', 'runs', `${runId}.md`), 'utf8');
    expect(markdown).toContain('## Interruptions and decisions');
    expect(markdown).toContain(`marked done by the operator (${OPERATOR.name} &lt;${OPERATOR.email}&gt;)`);
  }, 120_000);

  it('refuses a --mark-done that names no step the run cut off, and runs nothing', async () => {
    const runId = await killDuringRollbackReboot();
    const before = repo.testLab.lab.commandLog().length;

    const wrongStep = await runbook(['apply', '--resume', runId, '--mark-done', 'spine01:install', '--no-progress']);
    expect(wrongStep.code).toBe(2);
    expect(wrongStep.output).toContain('the steps cut off are spine01:reboot-previous');
    const wrongHost = await runbook(['apply', '--resume', runId, '--mark-failed', 'spine9:reboot-previous', '--no-progress']);
    expect(wrongHost.code).toBe(2);
    expect(wrongHost.output).toContain('has no host spine9; did you mean spine01?');
    const notAStep = await runbook(['apply', '--resume', runId, '--mark-done', 'spine01', '--no-progress']);
    expect(notAStep.code).toBe(2);
    expect(notAStep.output).toContain('name the step as HOST:STEP');
    expect(repo.testLab.lab.commandLog().length).toBe(before);
  }, 120_000);
});

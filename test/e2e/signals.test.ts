import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { readJournal, runFolder } from '../../engine/io/journal.js';
import type { RunEvent } from '../../engine/run/events.js';
import { useLabRepository } from '../helpers/lab-repository.js';
import { waitFor } from '../helpers/wait-for.js';

// SIGINT, SIGTERM and SIGHUP sent to `runbook apply` in the middle of an upgrade: the run stops
// starting commands, ends its waits at once, journals why, releases its locks, prints how to resume
// and exits as a shell reports the signal. A second signal aborts the command running too.

const repo = useLabRepository('fabric-upgrade.yaml');
const APPLY = ['apply', 'fabric-upgrade.yaml', '-i', 'lab.yaml', '--param', 'targetVersion=4.4.0', '--yes', '--no-progress', '--no-commit'];
const lockFiles = () => {
  const folder = join(repo.testLab.dir, '.runbook', 'locks');
  return existsSync(folder) ? readdirSync(folder) : [];
};

function interruption(events: RunEvent[]) {
  return events.find((e) => e.type === 'run.interrupted');
}

describe('a signal stops a run cleanly', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)('%s during a ten-minute wait for a rebooted switch: exit %i at once, journaled, unlocked, resumable', async (signal, code) => {
    // spine01 never comes back from its reboot: the run would wait ten minutes (reconnect.timeout).
    await repo.testLab.lab.injectFault('spine01', { kind: 'neverReturns' });
    const cli = repo.spawn(APPLY);
    await waitFor(() => (repo.testLab.lab.commandLog('spine01').some((e) => e.command === 'reboot') ? true : undefined), 'the reboot of spine01');
    // Into the wait for the switch to come back (its reconnect delay is 1s).
    await delay(1_500);
    expect(lockFiles()).not.toEqual([]);
    cli.child.kill(signal);
    // Bounded by the test's timeout, far below the ten minutes the wait would take.
    expect(await cli.exit).toBe(code);

    const runId = repo.runIds()[0]!;
    const events = readJournal(runFolder(join(repo.testLab.dir, '.runbook'), runId));
    expect(interruption(events)).toMatchObject({ signal, reason: `the run was interrupted by ${signal}` });
    expect(events.at(-1)).toMatchObject({ type: 'run.finished', interrupted: `the run was interrupted by ${signal}` });
    const reboot = events.find((e) => e.type === 'step.finished' && e.host === 'spine01' && e.record.id === 'reboot');
    expect(reboot).toMatchObject({ record: { status: 'interrupted' } });
    // Nothing started after the signal: no leaf was touched.
    expect(events.some((e) => e.type === 'step.started' && e.host.startsWith('leaf') && e.section === 'step')).toBe(false);
    expect(lockFiles()).toEqual([]);
    expect(cli.output()).toContain(`runbook apply --resume ${runId}`);

    const runs = repo.spawn(['runs']);
    expect(await runs.exit).toBe(0);
    expect(runs.output()).toMatch(new RegExp(`${runId}\\s+fabric-upgrade\\s+interrupted`));
  }, 60_000);

  it('a second signal aborts the command running, and the run still journals and unlocks', async () => {
    // spine01's install never answers: the first signal waits for it, the second cuts it off.
    await repo.testLab.lab.injectFault('spine01', { kind: 'hang', command: '^onie-install ' });
    const cli = repo.spawn(APPLY);
    await waitFor(() => (repo.testLab.lab.commandLog('spine02').some((e) => e.command.startsWith('onie-install')) ? true : undefined), 'the installs');
    cli.child.kill('SIGTERM');
    await waitFor(() => (cli.output().includes('SIGTERM: stopping') ? true : undefined), 'the first stop');
    // The hung install holds the run: it neither ends nor lets the run end.
    await delay(500);
    expect(cli.child.exitCode).toBe(null);
    cli.child.kill('SIGTERM');
    expect(await cli.exit).toBe(143);

    const runId = repo.runIds()[0]!;
    const events = readJournal(runFolder(join(repo.testLab.dir, '.runbook'), runId));
    expect(interruption(events)).toMatchObject({ signal: 'SIGTERM' });
    const install = events.find((e) => e.type === 'step.finished' && e.host === 'spine01' && e.record.id === 'install');
    expect(install).toMatchObject({ record: { status: 'interrupted', message: expect.stringContaining('aborted') } });
    expect(lockFiles()).toEqual([]);

    // On resume the cut-off install (a changing step) waits for the operator.
    const resumed = repo.spawn(['apply', '--resume', runId, '--yes', '--no-progress', '--no-commit']);
    expect(await resumed.exit).toBe(1);
    expect(resumed.output()).toContain('--mark-done spine01:install');
  }, 60_000);
});

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { RunEvent, StepRecord } from '../../engine/run/events.js';
import type { RunReport } from '../../engine/schema/report.js';
import { applyRunbook, startTestLab, type AppliedRun, type TestLab } from '../helpers/lab-apply.js';
import { generateKey, hasSshd, SSHD_SKIP_REASON, startSshd, type Sshd } from '../helpers/sshd.js';

// Faults injected into the embedded lab during a fabric upgrade (fixture fault-probe.yaml: batches
// of two, maxFailures covering every host, rollback on failure). Each fault leaves its host in
// a named state with the step that met it saying why, and the five other switches upgraded.

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'runbooks', 'fault-probe.yaml');
const OPENSSH_FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'runbooks', 'openssh-probe.yaml');
const SWITCHES = ['spine01', 'spine02', 'leaf01', 'leaf02', 'leaf03', 'leaf04'];
const CHANGING = /^(tar czf |onie-install |reboot$)/;

/** Calls `inject` once, synchronously, when the executor emits the first event `matches` accepts. */
function when(matches: (event: RunEvent) => boolean, inject: () => void): (event: RunEvent) => void {
  let done = false;
  return (event) => {
    if (done || !matches(event)) return;
    done = true;
    inject();
  };
}

const stepStarted = (host: string, stepId: string) => (e: RunEvent) => e.type === 'step.started' && e.host === host && e.stepId === stepId;
const hostStarted = (host: string) => (e: RunEvent) => e.type === 'host.started' && e.host === host;

function runIdOf(run: AppliedRun): string {
  const started = run.events.find((e) => e.type === 'run.started');
  if (started?.type !== 'run.started') throw new Error('no run.started event');
  return started.runId;
}

function record(run: AppliedRun, host: string, id: string, section: StepRecord['section'] = 'step'): StepRecord {
  const found = run.steps[host]?.find((r) => r.id === id && r.section === section);
  if (!found) throw new Error(`no ${section} record ${id} on ${host}`);
  return found;
}

describe('against the embedded lab', () => {
  let testLab: TestLab;
  beforeEach(async () => {
    testLab = await startTestLab();
  });
  afterEach(async () => {
    await testLab.stop();
  });

  const probe = (onEvent?: (event: RunEvent) => void) => applyRunbook(FIXTURE, testLab.inventoryPath, [], { root: testLab.dir, onEvent });

  function readReport(run: AppliedRun): RunReport {
    return JSON.parse(readFileSync(join(testLab.dir, 'reports', 'runs', `${runIdOf(run)}.json`), 'utf8')) as RunReport;
  }

  const version = (host: string) => testLab.lab.state(host).version;
  const changesOn = (host: string) => testLab.lab.commandLog(host).filter((e) => CHANGING.test(e.command));

  /** Every switch but `faulty` went through the upgrade as if nothing happened. */
  function expectOthersUpgraded(run: AppliedRun, faulty: string) {
    for (const host of SWITCHES.filter((h) => h !== faulty)) {
      expect({ host, state: run.states[host], version: version(host) }).toEqual({ host, state: 'succeeded', version: '4.4.0' });
    }
  }

  describe('host unreachable', () => {
    it('from the start: its pre-check fails with CONNECTION_REFUSED after retries, the run stops, every host is skipped and nothing changes', async () => {
      await testLab.lab.injectFault('leaf03', { kind: 'unreachable' });
      const run = await probe();
      expect(run.exitCode).toBe(1);
      expect(run.states).toEqual(Object.fromEntries(SWITCHES.map((h) => [h, 'skipped'])));
      expect(run.stderr).toContain('pre-checks failed (leaf03: reachable)');
      const reachable = record(run, 'leaf03', 'reachable', 'precheck');
      // Refused connections are retried (the precheck has retries: 2), unlike authentication failures.
      expect(reachable).toMatchObject({ status: 'failed', errorCode: 'CONNECTION_REFUSED', attempts: 3 });
      expect(reachable.message).toMatch(/connection refused/);
      // The unreachable host fails its first check only; the others were not attempted.
      expect(run.steps.leaf03!.map((r) => r.id)).toEqual(['reachable']);
      expect(testLab.lab.commandLog('leaf03')).toEqual([]);
      for (const host of SWITCHES) expect(changesOn(host)).toEqual([]);
      for (const host of SWITCHES) expect(version(host)).toBe('4.3.0');
      const report = readReport(run);
      expect(report.hosts.leaf03!.prechecks[0]).toMatchObject({ id: 'reachable', status: 'failed', errorCode: 'CONNECTION_REFUSED' });
    });

    it('mid-run, once its pre-checks passed: its first step fails with CONNECTION_REFUSED, the rollback cannot reach it either (rollback-failed), the others upgrade', async () => {
      // Injected as leaf03 starts its steps: the lab cuts its open connection and closes the port.
      const run = await probe(when(hostStarted('leaf03'), () => void testLab.lab.injectFault('leaf03', { kind: 'unreachable' })));
      expect(run.exitCode).toBe(1);
      expect(run.states.leaf03).toBe('rollback-failed');
      expectOthersUpgraded(run, 'leaf03');
      const first = record(run, 'leaf03', 'still-reachable');
      expect(first).toMatchObject({ status: 'failed', errorCode: 'CONNECTION_REFUSED', attempts: 3 });
      expect(record(run, 'leaf03', 'reinstall-previous', 'rollback')).toMatchObject({ status: 'failed', errorCode: 'CONNECTION_REFUSED' });
      // Its pre-checks ran; nothing that changes a switch reached it.
      expect(testLab.lab.commandLog('leaf03').map((e) => e.command)).toEqual(['hostname', 'cat /etc/lsb-release']);
      expect(version('leaf03')).toBe('4.3.0');
      const host = readReport(run).hosts.leaf03!;
      expect(host.state).toBe('rollback-failed');
      expect(host.message).toMatch(/^step still-reachable failed: leaf03: connection refused .*; rollback step reinstall-previous failed: leaf03: connection refused/);
      expect(host.steps.filter((s) => s.status === 'skipped').map((s) => s.id)).toEqual(['backup-config', 'install', 'reboot', 'version']);
    });
  });

  describe('wrong password', () => {
    it('from the start: AUTH_FAILED on the first attempt of a pre-check that has retries; never retried, the run stops', async () => {
      await testLab.lab.injectFault('leaf02', { kind: 'wrongPassword' });
      const run = await probe();
      expect(run.exitCode).toBe(1);
      expect(run.states).toEqual(Object.fromEntries(SWITCHES.map((h) => [h, 'skipped'])));
      const reachable = record(run, 'leaf02', 'reachable', 'precheck');
      expect(reachable).toMatchObject({ status: 'failed', errorCode: 'AUTH_FAILED', attempts: 1 });
      expect(reachable.message).toMatch(/authentication as lab failed .*not retried/);
      const tries = run.events.filter((e) => (e.type === 'step.started' || e.type === 'step.retried') && e.host === 'leaf02');
      expect(tries.map((e) => e.type)).toEqual(['step.started']);
      for (const host of SWITCHES) expect(changesOn(host)).toEqual([]);
    });

    it('after a reboot: the reconnection stops at the first AUTH_FAILED, the rollback is refused too (rollback-failed), the others upgrade', async () => {
      // The session the pre-checks opened stays logged in; the password is "changed" as leaf02 reboots.
      const run = await probe(when(stepStarted('leaf02', 'reboot'), () => void testLab.lab.injectFault('leaf02', { kind: 'wrongPassword' })));
      expect(run.exitCode).toBe(1);
      expect(run.states.leaf02).toBe('rollback-failed');
      expectOthersUpgraded(run, 'leaf02');
      const reboot = record(run, 'leaf02', 'reboot');
      expect(reboot).toMatchObject({ status: 'failed', errorCode: 'AUTH_FAILED', attempts: 1 });
      expect(reboot.message).toMatch(/did not come back: leaf02: authentication as lab failed/);
      // reinstall-previous has retries: 2, and is tried once.
      expect(record(run, 'leaf02', 'reinstall-previous', 'rollback')).toMatchObject({ status: 'failed', errorCode: 'AUTH_FAILED', attempts: 1 });
      expect(run.events.filter((e) => e.type === 'step.retried' && e.host === 'leaf02')).toEqual([]);
      // The reboot did happen, with the new image: the switch runs 4.4.0, which nobody could verify.
      expect(version('leaf02')).toBe('4.4.0');
      const host = readReport(run).hosts.leaf02!;
      expect(host.steps.find((s) => s.id === 'reboot')).toMatchObject({ status: 'failed', errorCode: 'AUTH_FAILED', attempts: 1 });
    });
  });

  describe('wrong host key', () => {
    it('HOST_KEY_MISMATCH: nothing at all runs on that host, and the pre-checks stop the run', async () => {
      const inventory = parse(readFileSync(testLab.inventoryPath, 'utf8')) as { hosts: Record<string, { hostKey: string }> };
      // leaf03's key pinned for leaf04: a real key, of the wrong host.
      inventory.hosts.leaf04!.hostKey = testLab.lab.device('leaf03').hostKey;
      writeFileSync(testLab.inventoryPath, stringify(inventory));
      const run = await probe();
      expect(run.exitCode).toBe(1);
      expect(run.states).toEqual(Object.fromEntries(SWITCHES.map((h) => [h, 'skipped'])));
      const reachable = record(run, 'leaf04', 'reachable', 'precheck');
      expect(reachable).toMatchObject({ status: 'failed', errorCode: 'HOST_KEY_MISMATCH', attempts: 1 });
      expect(reachable.message).toContain(`expected ${testLab.lab.device('leaf03').hostKey} (pinned), the server presented ssh-ed25519 ${testLab.lab.device('leaf04').hostKey}`);
      expect(testLab.lab.commandLog('leaf04')).toEqual([]);
      for (const host of SWITCHES) expect(changesOn(host)).toEqual([]);
      expect(readReport(run).hosts.leaf04!.prechecks[0]).toMatchObject({ errorCode: 'HOST_KEY_MISMATCH', status: 'failed' });
    });
  });

  describe('a command that hangs', () => {
    it('times out on every attempt, each channel is closed, the step fails and the host is rolled back', async () => {
      // The three attempts of the install hang; the rollback's own onie-install answers.
      await testLab.lab.injectFault('leaf01', { kind: 'hang', command: '^onie-install', times: 3 });
      const run = await probe();
      expect(run.exitCode).toBe(1);
      expect(run.states.leaf01).toBe('rolled-back');
      expectOthersUpgraded(run, 'leaf01');
      const install = record(run, 'leaf01', 'install');
      expect(install).toMatchObject({ status: 'failed', attempts: 3, exitCode: null, message: 'the command timed out' });
      expect(install.errorCode).toBeUndefined();
      // The lab saw each hung command abandoned: the client closed its channel when the timeout hit.
      const installs = testLab.lab.commandLog('leaf01').filter((e) => e.command.startsWith('onie-install'));
      expect(installs.map((e) => [e.command, e.outcome, e.code])).toEqual([
        ['onie-install -a -i http://192.168.200.1/images/cumulus-linux-4.4.0-bcm-amd64.bin', 'abandoned', null],
        ['onie-install -a -i http://192.168.200.1/images/cumulus-linux-4.4.0-bcm-amd64.bin', 'abandoned', null],
        ['onie-install -a -i http://192.168.200.1/images/cumulus-linux-4.4.0-bcm-amd64.bin', 'abandoned', null],
        ['onie-install -a -i http://192.168.200.1/images/cumulus-linux-4.3.0-bcm-amd64.bin', 'completed', 0],
      ]);
      expect(run.steps.leaf01!.filter((r) => r.section === 'rollback').map((r) => [r.id, r.status])).toEqual([
        ['reinstall-previous', 'succeeded'],
        ['reboot-previous', 'succeeded'],
        ['previous-version', 'succeeded'],
      ]);
      expect(version('leaf01')).toBe('4.3.0');
      expect(readReport(run).hosts.leaf01!.steps.find((s) => s.id === 'install')).toMatchObject({ status: 'failed', message: 'the command timed out', attempts: 3 });
    });
  });

  describe('a connection that drops in the middle of a changing step', () => {
    it('marks the step and the host interrupted, state unknown, with no rollback and no retry', async () => {
      await testLab.lab.injectFault('leaf02', { kind: 'dropConnection', command: '^onie-install', times: 1 });
      const run = await probe();
      expect(run.exitCode).toBe(1);
      expect(run.states.leaf02).toBe('interrupted');
      expectOthersUpgraded(run, 'leaf02');
      const install = record(run, 'leaf02', 'install');
      // install has retries: 2, but a change cut off half-way is never repeated blindly.
      expect(install).toMatchObject({ status: 'interrupted', attempts: 1, exitCode: null });
      expect(install.message).toMatch(/^interrupted: leaf02: .* while a command was running$/);
      const finished = run.events.find((e) => e.type === 'host.finished' && e.host === 'leaf02');
      expect(finished).toMatchObject({ state: 'interrupted', message: expect.stringMatching(/^step install was interrupted: .*the host's state is unknown$/) });
      expect(run.steps.leaf02!.filter((r) => r.section === 'rollback')).toEqual([]);
      // Unknown indeed: the lab ran the command before cutting the connection; the image is staged.
      expect(testLab.lab.commandLog('leaf02').filter((e) => e.command.startsWith('onie-install')).map((e) => e.outcome)).toEqual(['dropped']);
      expect(testLab.lab.state('leaf02')).toMatchObject({ version: '4.3.0', pendingVersion: '4.4.0' });
      expect(testLab.lab.commandLog('leaf02').filter((e) => e.command === 'reboot')).toEqual([]);
      // An interrupted run is left to `--resume`: no report yet.
      expect(run.stderr).toContain(`continue with \`runbook apply --resume ${runIdOf(run)}\``);
    });
  });

  describe('a reboot that never comes back', () => {
    it('fails the host when the reconnect timeout ends, runs its rollback, which cannot reach it: rollback-failed', async () => {
      await testLab.lab.injectFault('leaf04', { kind: 'neverReturns' });
      const run = await probe();
      expect(run.exitCode).toBe(1);
      expect(run.states.leaf04).toBe('rollback-failed');
      expectOthersUpgraded(run, 'leaf04');
      const reboot = record(run, 'leaf04', 'reboot');
      expect(reboot).toMatchObject({ status: 'failed', attempts: 1, errorCode: 'CONNECTION_REFUSED' });
      expect(reboot.message).toMatch(/^the host did not come back: leaf04: connection refused/);
      const rollback = run.steps.leaf04!.filter((r) => r.section === 'rollback');
      expect(rollback.map((r) => [r.id, r.status, r.errorCode])).toEqual([['reinstall-previous', 'failed', 'CONNECTION_REFUSED']]);
      expect(testLab.lab.state('leaf04')).toMatchObject({ up: false, listening: false });
      const host = readReport(run).hosts.leaf04!;
      expect(host.state).toBe('rollback-failed');
      expect(host.message).toMatch(/^step reboot failed: the host did not come back: .*; rollback step reinstall-previous failed: /);
      expect(host.steps.find((s) => s.id === 'version')).toMatchObject({ status: 'skipped' });
    });
  });
});

describe.skipIf(!hasSshd)('against a real OpenSSH sshd', () => {
  let sshd: Sshd;
  let work: string;
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
  });
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'runbook-faults-'));
    return () => rmSync(work, { recursive: true, force: true });
  });

  function writeInventory(keyFile: string): string {
    const path = join(work, 'inventory.yaml');
    const host = { address: sshd.host, port: sshd.port, user: sshd.user, hostKey: sshd.hostKeyFingerprint, auth: { keyFile } };
    writeFileSync(path, stringify({ apiVersion: 'runbook/v1', kind: 'Inventory', hosts: { probe: host } }));
    return path;
  }

  it('a key the server does not accept: AUTH_FAILED on the first attempt of a pre-check with retries, nothing runs', async () => {
    const wrongKey = join(work, 'wrong_ed25519');
    await generateKey(wrongKey);
    const run = await applyRunbook(OPENSSH_FIXTURE, writeInventory(wrongKey), [`dir=${work}`], { root: work });
    expect(run.exitCode).toBe(1);
    expect(run.states).toEqual({ probe: 'skipped' });
    const reachable = run.steps.probe!.find((r) => r.id === 'reachable')!;
    expect(reachable).toMatchObject({ status: 'failed', errorCode: 'AUTH_FAILED', attempts: 1 });
    expect(reachable.message).toContain(`tried: key ${wrongKey}`);
    expect(run.events.filter((e) => e.type === 'step.retried')).toEqual([]);
    expect(existsSync(join(work, 'hang.pid'))).toBe(false);
  });

  it('a command that hangs past its timeout fails its step, and the next step runs over the same host', async () => {
    const run = await applyRunbook(OPENSSH_FIXTURE, writeInventory(sshd.keyFile), [`dir=${work}`], { root: work });
    // sshd running as root does not deliver the client's KILL: end the sleep here.
    const pid = Number(readFileSync(join(work, 'hang.pid'), 'utf8'));
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone: the signal was delivered.
    }
    const hang = run.steps.probe!.find((r) => r.id === 'hang')!;
    expect(hang).toMatchObject({ status: 'failed', exitCode: null, attempts: 1 });
    expect(hang.message).toMatch(/timed out/);
    expect(run.steps.probe!.find((r) => r.id === 'after-hang')).toMatchObject({ status: 'succeeded', exitCode: 0 });
    expect(readFileSync(join(work, 'after-hang'), 'utf8')).toBe('still here\n');
    // onFailure: continue: the timed-out step does not fail the host.
    expect(run.states).toEqual({ probe: 'succeeded' });
    expect(run.exitCode).toBe(0);
  });
});

if (!hasSshd) it.skip(`OpenSSH faults: ${SSHD_SKIP_REASON}`, () => {});

import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunReport } from '../../engine/schema/report.js';
import { spawnCli } from '../helpers/cli-process.js';
import { commitRepository } from '../helpers/run-repository.js';
import { hasSshd, SSHD_SKIP_REASON, startSshd, type Sshd } from '../helpers/sshd.js';
import { waitFor } from '../helpers/wait-for.js';

// Runs killed with SIGKILL and resumed against a real OpenSSH sshd on loopback: the commands really
// run on this machine and append to a log, so the log says what ran how many times.

const ROLLBACK_RUNBOOK = `apiVersion: runbook/v1
kind: Runbook
metadata: { name: box-upgrade, version: 1.0.0 }
params:
  dir: { type: string, required: true }
targets: { group: box }
strategy: { rollbackOnFailure: true }
steps:
  - id: install
    kind: install
    run: 'cd {{quote params.dir}} && echo install >> log && exit 1'
rollback:
  - id: restore
    kind: install
    run: 'cd {{quote params.dir}} && echo restore >> log'
  - id: restart
    kind: command
    run: 'cd {{quote params.dir}} && echo restart >> log && if [ ! -e restarted ]; then touch restarted; sleep 60; fi'
  - id: verify
    kind: verify
    run: 'cd {{quote params.dir}} && echo verify >> log'
`;

const PROBED_RUNBOOK = `apiVersion: runbook/v1
kind: Runbook
metadata: { name: box-switch, version: 1.0.0 }
params:
  dir: { type: string, required: true }
  flag: { type: string, required: true }
targets: { group: box }
steps:
  - id: switch
    kind: failover
    run: 'cd {{quote params.dir}} && echo switch >> log && touch switched && sleep 60'
    completedWhen: { run: 'test -e {{quote params.dir}}/{{params.flag}}' }
  - id: after
    kind: verify
    run: 'cd {{quote params.dir}} && echo after >> log'
`;

describe.skipIf(!hasSshd)('resume against a real OpenSSH sshd', () => {
  let sshd: Sshd;
  let repo: string;
  let work: string;
  let children: ChildProcess[] = [];

  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await sshd?.stop();
  });
  beforeEach(() => {
    repo = mkdtempSync(join(tmpdir(), 'runbook-resume-'));
    work = join(repo, 'work');
    mkdirSync(work);
    writeFileSync(join(repo, 'rollback.yaml'), ROLLBACK_RUNBOOK);
    writeFileSync(join(repo, 'probed.yaml'), PROBED_RUNBOOK);
    writeFileSync(
      join(repo, 'inventory.yaml'),
      [
        'apiVersion: runbook/v1',
        'kind: Inventory',
        'hosts:',
        '  box:',
        `    address: ${sshd.host}`,
        `    port: ${sshd.port}`,
        `    user: ${sshd.user}`,
        '    groups: [box]',
        `    hostKey: ${sshd.hostKeyFingerprint}`,
        `    auth: { keyFile: ${JSON.stringify(sshd.keyFile)} }`,
        '',
      ].join('\n'),
    );
    commitRepository(repo);
    return () => rmSync(repo, { recursive: true, force: true });
  });

  const log = () => (existsSync(join(work, 'log')) ? readFileSync(join(work, 'log'), 'utf8').trim().split('\n') : []);
  const count = (line: string) => log().filter((l) => l === line).length;
  const runIds = () => (existsSync(join(repo, '.runbook', 'runs')) ? readdirSync(join(repo, '.runbook', 'runs')) : []);

  async function runbook(args: string[]) {
    const cli = spawnCli([...args, '--no-progress', '--no-commit'], { cwd: repo });
    children.push(cli.child);
    return { code: await cli.exit, output: cli.output() };
  }

  /** Starts `apply` and kills it with SIGKILL once the log shows `line`. */
  async function killAt(runbookFile: string, params: string[], line: string): Promise<string> {
    const cli = spawnCli(['apply', runbookFile, '-i', 'inventory.yaml', ...params.flatMap((p) => ['--param', p]), '--yes', '--no-progress', '--no-commit'], { cwd: repo });
    children.push(cli.child);
    await waitFor(() => (log().includes(line) ? true : undefined), `"${line}" in the log`);
    cli.child.kill('SIGKILL');
    await cli.exit;
    return runIds()[0]!;
  }

  it('rolls back from where the killed run was: finished rollback steps never again, the cut-off one on the operator’s word', async () => {
    const runId = await killAt('rollback.yaml', [`dir=${work}`], 'restart');

    const waiting = await runbook(['apply', '--resume', runId]);
    expect(waiting.code).toBe(1);
    expect(waiting.output).toContain(`--mark-done box:restart`);
    expect(log()).toEqual(['install', 'restore', 'restart']);

    const rerun = await runbook(['apply', '--resume', runId, '--rerun-interrupted']);
    expect(rerun.code).toBe(1);
    expect(log()).toEqual(['install', 'restore', 'restart', 'restart', 'verify']);
    const report = JSON.parse(readFileSync(join(repo, 'reports', 'runs', `${runId}.json`), 'utf8')) as RunReport;
    expect(report.hosts.box!.state).toBe('rolled-back');
    expect(report.hosts.box!.rollback.find((s) => s.id === 'restart')).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(report.history?.decisions.map((d) => [d.step, d.decision])).toEqual([
      ['restart', 'wait'],
      ['restart', 'rerun'],
    ]);
  }, 60_000);

  it('records a cut-off step done when its completion probe passes, and goes on', async () => {
    const runId = await killAt('probed.yaml', [`dir=${work}`, 'flag=switched'], 'switch');
    const resumed = await runbook(['apply', '--resume', runId]);
    expect(resumed.code).toBe(0);
    expect(count('switch')).toBe(1);
    expect(count('after')).toBe(1);
    const report = JSON.parse(readFileSync(join(repo, 'reports', 'runs', `${runId}.json`), 'utf8')) as RunReport;
    expect(report.history?.decisions).toEqual([expect.objectContaining({ step: 'switch', decision: 'done', by: 'runbook', reason: expect.stringContaining('completion probe passed') })]);
  }, 60_000);

  it('leaves a cut-off step to the operator when its probe does not pass, and --mark-failed ends the host', async () => {
    const runId = await killAt('probed.yaml', [`dir=${work}`, 'flag=never-made'], 'switch');
    const waiting = await runbook(['apply', '--resume', runId]);
    expect(waiting.code).toBe(1);
    expect(waiting.output).toContain('completion probe did not pass');
    expect(count('switch')).toBe(1);

    const failed = await runbook(['apply', '--resume', runId, '--mark-failed', 'box:switch']);
    expect(failed.code).toBe(1);
    expect(count('switch')).toBe(1);
    expect(count('after')).toBe(0);
    const report = JSON.parse(readFileSync(join(repo, 'reports', 'runs', `${runId}.json`), 'utf8')) as RunReport;
    expect(report.hosts.box!.state).toBe('failed');
    expect(report.hosts.box!.steps.find((s) => s.id === 'switch')?.message).toContain('marked failed by the operator');
  }, 60_000);
});

if (!hasSshd) it.skip(`OpenSSH resume: ${SSHD_SKIP_REASON}`, () => {});

import { cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LabOptions } from '../../lab/index.js';
import { createQumuloImage, type ClusterEvent } from '../../lab/devices/qumulo.js';
import { applyInProcess } from '../helpers/apply-in-process.js';
import { runCliProcess } from '../helpers/cli-process.js';
import { LAB_PASSWORD_ENV, REPO_ROOT, applyRunbook, startTestLab, type AppliedRun, type TestLab } from '../helpers/lab-apply.js';
import { commitRepository } from '../helpers/run-repository.js';
import { connect, exec } from '../helpers/ssh-client.js';
import { waitFor } from '../helpers/wait-for.js';

// runbooks/storage-upgrade.yaml against the lab's Qumulo cluster, through real SSH. The lab follows
// ../shared/seeds/001_8a6dde0c99dc744f.txt on its own (test/lab/qumulo.test.ts); here the runbook
// must get from it what the document promises: which nodes reboot, when, and what clients see.

const NODES = ['qumulo1', 'qumulo2', 'qumulo3', 'qumulo4'];
// The lab's cluster runs 7.0.0.1 on premises: 7.0.2 is an instant upgrade, 7.1.0.1 a platform one.
const STORAGE_ONLY = { topology: { spines: 0, leaves: 0, storageNodes: 4, nso: false, chassis: false } } satisfies LabOptions;

let testLab: TestLab | undefined;
afterEach(async () => {
  await testLab?.stop();
  testLab = undefined;
});

// The images the operator downloaded, in the repository's images/ folder, that the runbook uploads.
const DOWNLOADED = { '7.0.2': createQumuloImage('7.0.2'), '7.1.0.1': createQumuloImage('7.1.0.1'), '5.1.1': createQumuloImage('5.1.1') };

/** Applies the runbook to a cluster with nothing uploaded yet (unless `qumulo.images` says otherwise). */
async function upgrade(params: string[], options: LabOptions & { downloaded?: Record<string, string> } = {}): Promise<{ run: AppliedRun; lab: TestLab }> {
  testLab = await startTestLab({ ...STORAGE_ONLY, ...options, qumulo: { images: [], ...options.qumulo } });
  mkdirSync(join(testLab.dir, 'images'));
  for (const [release, content] of Object.entries(options.downloaded ?? DOWNLOADED)) writeFileSync(join(testLab.dir, 'images', `qumulo_core_${release}.qimg`), content);
  const run = await applyRunbook('storage-upgrade.yaml', testLab.inventoryPath, params, { root: testLab.dir });
  return { run, lab: testLab };
}

function uploads(lab: TestLab): string[] {
  return lab.lab
    .commandLog('qumulo1')
    .map((entry) => entry.command)
    .filter((command) => command.startsWith('sftp put '));
}

function clusterEvents(lab: TestLab): ClusterEvent[] {
  return lab.lab.state('qumulo1').events as ClusterEvent[];
}

function qqCommands(lab: TestLab, prefix: string): string[] {
  return lab.lab
    .commandLog('qumulo1')
    .map((entry) => entry.command.replace(/^sudo /, ''))
    .filter((command) => command.startsWith(prefix));
}

function stepStatuses(run: AppliedRun): Array<[string, string]> {
  return run.steps.qumulo1!.map((record) => [record.id, record.status]);
}

function reportOf(lab: TestLab, run: AppliedRun): string {
  const started = run.events.find((event) => event.type === 'run.started');
  const runId = started?.type === 'run.started' ? started.runId : '';
  return readFileSync(join(lab.dir, 'reports', 'runs', `${runId}.md`), 'utf8');
}

/** The most nodes down at the same time, by the cluster's event log. */
function mostNodesDown(events: readonly ClusterEvent[]): number {
  let down = 0;
  let most = 0;
  for (const event of events) {
    if (event.event === 'node-down') most = Math.max(most, ++down);
    if (event.event === 'node-up') down--;
  }
  return most;
}

describe('storage-upgrade: the Qumulo upgrade as the document has it', () => {
  it('two-phase platform upgrade with a rolling reboot: prepare --rolling, gate, commit; nodes reboot one at a time and NFS stays up', async () => {
    const { run, lab } = await upgrade(['targetVersion=7.1.0.1', 'upgradeType=platform', 'reboot=rolling']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(uploads(lab)).toEqual(['sftp put /upgrade/qumulo_core_7.1.0.1.qimg']);
    const upload = run.steps.qumulo1!.find((record) => record.id === 'upload-image.hop1');
    expect(upload?.message).toContain(`(${Buffer.byteLength(DOWNLOADED['7.1.0.1'])} bytes, sha256 `);
    expect(qqCommands(lab, 'qq upgrade_cluster')).toEqual([
      'qq upgrade_cluster prepare --rolling --path /upgrade/qumulo_core_7.1.0.1.qimg --no-monitor',
      'qq upgrade_cluster commit --no-monitor',
    ]);
    const ids = stepStatuses(run).map(([id]) => id);
    expect(ids.indexOf('commit-gate.hop1')).toBeGreaterThan(ids.indexOf('prepared.hop1'));
    expect(ids.indexOf('commit.hop1')).toBeGreaterThan(ids.indexOf('commit-gate.hop1'));
    const events = clusterEvents(lab);
    expect(events.filter((event) => event.event === 'node-down').map((event) => event.node)).toEqual(NODES);
    expect(mostNodesDown(events)).toBe(1);
    expect(events.some((event) => event.event === 'nfs-down')).toBe(false);
    expect(events.filter((event) => event.event === 'smb-sessions-dropped').map((event) => event.node)).toEqual(NODES);
    for (const node of NODES) expect(lab.lab.state(node).version).toBe('7.1.0.1');
    expect(run.steps.qumulo1!.every((record) => record.status === 'succeeded' || record.status === 'skipped')).toBe(true);
  });

  it('complete reboot: every node goes down at once and SMB and NFS clients are cut off until the nodes are back', async () => {
    const { run, lab } = await upgrade(['targetVersion=7.1.0.1', 'upgradeType=platform', 'reboot=complete']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(qqCommands(lab, 'qq upgrade_cluster')).toEqual([
      'qq upgrade_cluster prepare --path /upgrade/qumulo_core_7.1.0.1.qimg --no-monitor',
      'qq upgrade_cluster commit --no-monitor',
    ]);
    const events = clusterEvents(lab);
    expect(mostNodesDown(events)).toBe(4);
    const outage = events.filter((event) => ['nfs-down', 'smb-down', 'nfs-up', 'smb-up'].includes(event.event)).map((event) => event.event);
    expect(outage).toEqual(['nfs-down', 'smb-down', 'nfs-up', 'smb-up']);
    const down = events.find((event) => event.event === 'nfs-down')!;
    const up = events.find((event) => event.event === 'nfs-up')!;
    // The outage window lies within the reboot: it opens with the nodes going down and closes when they are back.
    expect(events.filter((event) => event.event === 'node-down').every((event) => event.at <= down.at)).toBe(true);
    expect(up.at).toBeGreaterThan(down.at);
    for (const node of NODES) expect(lab.lab.state(node).version).toBe('7.1.0.1');
  });

  it('instant software upgrade: every container restarts, no node reboots, clients keep their access', async () => {
    const { run, lab } = await upgrade(['targetVersion=7.0.2']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(qqCommands(lab, 'qq upgrade_cluster')).toEqual(['qq upgrade_cluster prepare --path /upgrade/qumulo_core_7.0.2.qimg --no-monitor', 'qq upgrade_cluster commit --no-monitor']);
    const events = clusterEvents(lab).map((event) => event.event);
    expect(events.filter((event) => event === 'container-restarted')).toHaveLength(4);
    expect(events.filter((event) => ['node-down', 'nfs-down', 'smb-down', 'smb-sessions-dropped'].includes(event))).toEqual([]);
    for (const node of NODES) expect(lab.lab.state(node).version).toBe('7.0.2');
  });

  it('a two-hop path installs both releases in order, each hop with its own steps and report section', async () => {
    const { run, lab } = await upgrade(['via=7.0.2', 'targetVersion=7.1.0.1', 'upgradeType=platform']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(clusterEvents(lab).filter((event) => event.event === 'upgraded').map((event) => event.detail)).toEqual(['7.0.2', '7.1.0.1']);
    expect(uploads(lab)).toEqual(['sftp put /upgrade/qumulo_core_7.0.2.qimg', 'sftp put /upgrade/qumulo_core_7.1.0.1.qimg']);
    expect(qqCommands(lab, 'qq upgrade_cluster')).toEqual([
      'qq upgrade_cluster prepare --path /upgrade/qumulo_core_7.0.2.qimg --no-monitor',
      'qq upgrade_cluster commit --no-monitor',
      'qq upgrade_cluster prepare --rolling --path /upgrade/qumulo_core_7.1.0.1.qimg --no-monitor',
      'qq upgrade_cluster commit --no-monitor',
    ]);
    const ids = stepStatuses(run).map(([id]) => id);
    expect(ids.indexOf('nodes-back.hop1')).toBeLessThan(ids.indexOf('upgrade-idle.hop2'));
    const report = reportOf(lab, run);
    expect(report).toMatch(/Hop 1 of 2: 7\.0\.2 \(succeeded\)[\s\S]*Hop 2 of 2: 7\.1\.0\.1 \(succeeded\)/);
  });

  it('a preparation that ends in an error state stops before the gate and the commit, with the error_message in the report', async () => {
    // A download cut off: the header is whole, the payload is not (only unpacking finds it).
    const corrupt = createQumuloImage('7.1.0.1', { damage: 'payload' });
    const { run, lab } = await upgrade(['targetVersion=7.1.0.1', 'upgradeType=platform'], { downloaded: { '7.1.0.1': corrupt } });
    expect(run.exitCode).toBe(1);
    expect(uploads(lab)).toEqual(['sftp put /upgrade/qumulo_core_7.1.0.1.qimg']);
    expect(qqCommands(lab, 'qq upgrade_cluster')).toEqual(['qq upgrade_cluster prepare --rolling --path /upgrade/qumulo_core_7.1.0.1.qimg --no-monitor']);
    expect(stepStatuses(run).find(([id]) => id === 'prepared.hop1')).toEqual(['prepared.hop1', 'failed']);
    expect(stepStatuses(run).filter(([id]) => id === 'commit-gate.hop1' || id === 'commit.hop1')).toEqual([
      ['commit-gate.hop1', 'skipped'],
      ['commit.hop1', 'skipped'],
    ]);
    const message = 'Upgrade image /upgrade/qumulo_core_7.1.0.1.qimg is corrupt: its checksum does not match; upload it again';
    expect(lab.lab.state('qumulo1').upgrade).toMatchObject({ state: 'UPGRADE_IDLE', error_state: 'UPGRADE_ERROR_PREPARE_FAILED', error_message: message });
    expect(reportOf(lab, run)).toContain(message);
    expect(run.steps.qumulo1!.find((record) => record.id === 'prepared.hop1')?.message).toContain(`\`error_message\` is ${JSON.stringify(message)}, expected ""`);
    for (const node of NODES) expect(lab.lab.state(node).version).toBe('7.0.0.1');
  });

  it('a hop that fails stops the path there: the next release is neither uploaded nor prepared', async () => {
    const { run, lab } = await upgrade(['via=7.0.2', 'targetVersion=7.1.0.1', 'upgradeType=platform'], {
      downloaded: { '7.0.2': createQumuloImage('7.0.2', { damage: 'payload' }), '7.1.0.1': DOWNLOADED['7.1.0.1'] },
    });
    expect(run.exitCode).toBe(1);
    expect(uploads(lab)).toEqual(['sftp put /upgrade/qumulo_core_7.0.2.qimg']);
    expect(qqCommands(lab, 'qq upgrade_cluster')).toEqual(['qq upgrade_cluster prepare --path /upgrade/qumulo_core_7.0.2.qimg --no-monitor']);
    const hop2 = stepStatuses(run).filter(([id]) => id.endsWith('.hop2'));
    expect(hop2.length).toBeGreaterThan(0);
    expect(hop2.every(([, status]) => status === 'skipped')).toBe(true);
    expect(reportOf(lab, run)).toMatch(/Hop 1 of 2: 7\.0\.2 \(failed\)[\s\S]*Hop 2 of 2: 7\.1\.0\.1 \(not run\)/);
    for (const node of NODES) expect(lab.lab.state(node).version).toBe('7.0.0.1');
  });

  it('a node offline before the run stops it at the pre-checks, before anything reaches the cluster', async () => {
    testLab = await startTestLab({ ...STORAGE_ONLY, qumulo: { images: [] } });
    const lab = testLab;
    await lab.lab.injectFault('qumulo3', { kind: 'neverReturns' });
    // qumulo3 goes down and stays down: the cluster reports it OFFLINE and the upgrade blocked.
    const client = await connect({ host: lab.lab.device('qumulo3').address, port: lab.lab.device('qumulo3').port });
    await exec(client, 'reboot').catch(() => undefined);
    client.end();
    await waitFor(() => ((lab.lab.state('qumulo1').upgrade as { is_blocked: boolean }).is_blocked ? true : undefined), 'qumulo3 to be offline');
    mkdirSync(join(lab.dir, 'images'));
    writeFileSync(join(lab.dir, 'images', 'qumulo_core_7.1.0.1.qimg'), DOWNLOADED['7.1.0.1']);
    const run = await applyRunbook('storage-upgrade.yaml', lab.inventoryPath, ['targetVersion=7.1.0.1', 'upgradeType=platform'], { root: lab.dir });
    expect(run.exitCode).toBe(1);
    expect(run.steps.qumulo1!.find((record) => record.id === 'nodes-online')).toMatchObject({ status: 'failed' });
    expect(uploads(lab)).toEqual([]);
    expect(qqCommands(lab, 'qq upgrade_cluster')).toEqual([]);
  });

  it('a window that allows no reboot stops before prepare when the image is a platform upgrade', async () => {
    const { run, lab } = await upgrade(['targetVersion=7.1.0.1', 'upgradeType=instant']);
    expect(run.exitCode).toBe(1);
    expect(stepStatuses(run).find(([id]) => id === 'no-reboot-expected.hop1')).toEqual(['no-reboot-expected.hop1', 'failed']);
    expect(qqCommands(lab, 'qq upgrade_cluster')).toEqual([]);
  });

  it('a rolling reboot asked of a cluster older than 5.0.3 stops before prepare', async () => {
    const { run, lab } = await upgrade(['targetVersion=5.1.1', 'upgradeType=platform', 'reboot=rolling'], { qumulo: { version: '5.0.2' } });
    expect(run.exitCode).toBe(1);
    expect(stepStatuses(run).find(([id]) => id === 'rolling-supported.hop1')).toEqual(['rolling-supported.hop1', 'failed']);
    expect(qqCommands(lab, 'qq upgrade_cluster')).toEqual([]);
  });

  it('an image missing from the repository stops the hop at the upload, before anything reaches the cluster', async () => {
    const { run, lab } = await upgrade(['targetVersion=7.2.3.1']);
    expect(run.exitCode).toBe(1);
    const failed = run.steps.qumulo1!.find((record) => record.id === 'upload-image.hop1');
    expect(failed?.status).toBe('failed');
    expect(failed?.message).toBe('the repository has no file images/qumulo_core_7.2.3.1.qimg; nothing was written');
    expect(uploads(lab)).toEqual([]);
    expect(qqCommands(lab, 'qq upgrade_cluster')).toEqual([]);
  });

  it('with upload=false, an image that is not on the cluster stops the hop at the image check, before prepare', async () => {
    const { run, lab } = await upgrade(['targetVersion=7.2.0', 'upload=false']);
    expect(run.exitCode).toBe(1);
    expect(uploads(lab)).toEqual([]);
    const failed = run.steps.qumulo1!.find((record) => record.id === 'image-verified.hop1');
    expect(failed?.status).toBe('failed');
    expect(failed?.stderr).toContain('Error 404: fs_no_such_entry_error');
    expect(qqCommands(lab, 'qq upgrade_cluster')).toEqual([]);
  });

  it('one step: prepare and commit in one command with --rolling, no gate', async () => {
    const { run, lab } = await upgrade(['targetVersion=7.1.0.1', 'upgradeType=platform', 'phases=one-step']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(qqCommands(lab, 'qq upgrade_cluster')).toEqual(['qq upgrade_cluster --rolling --path /upgrade/qumulo_core_7.1.0.1.qimg --no-monitor']);
    expect(stepStatuses(run).filter(([, status]) => status !== 'skipped').map(([id]) => id)).not.toContain('commit-gate.hop1');
    expect(mostNodesDown(clusterEvents(lab))).toBe(1);
    for (const node of NODES) expect(lab.lab.state(node).version).toBe('7.1.0.1');
  });
});

describe('storage-upgrade planned: the chosen mode and what clients should expect, per hop', () => {
  const plan = (params: string[]) =>
    runCliProcess(['plan', 'runbooks/storage-upgrade.yaml', '-i', 'inventories/lab.yaml', ...params.flatMap((param) => ['--param', param])], { cwd: REPO_ROOT });
  it.each([
    { mode: 'instant software upgrade', params: ['upgradeType=instant'], says: ['Expected: an instant software upgrade.', 'no node reboots, and clients carry on'] },
    { mode: 'platform upgrade, rolling reboot', params: ['upgradeType=platform', 'reboot=rolling'], says: ['a platform upgrade with a rolling reboot', 'NFS clients keep their access, SMB clients connected to the node that reboots lose their sessions'] },
    { mode: 'platform upgrade, complete reboot', params: ['upgradeType=platform', 'reboot=complete'], says: ['a platform upgrade with a complete reboot', 'neither SMB nor NFS clients can reach the cluster'] },
    { mode: 'one step', params: ['upgradeType=platform', 'phases=one-step'], says: ['One-step upgrade to Qumulo Core 7.1.0.1', 'no approval between them'] },
  ])('$mode', async ({ params, says }) => {
    const result = await plan(['via=7.0.2', 'targetVersion=7.1.0.1', ...params]);
    expect(result.code, result.stderr).toBe(0);
    const hops = result.stdout.slice(result.stdout.indexOf('### Hops'), result.stdout.indexOf('```mermaid'));
    expect(hops).toContain('**Hop 1 of 2: `7.0.2`**');
    expect(hops).toContain('**Hop 2 of 2: `7.1.0.1`**');
    for (const words of says) expect(hops).toContain(words);
  });
});

describe('storage-upgrade and its operator gate', () => {
  it('refuses to start without a terminal or --yes, before anything reaches the cluster', async () => {
    testLab = await startTestLab(STORAGE_ONLY);
    await expect(applyRunbook('storage-upgrade.yaml', testLab.inventoryPath, ['targetVersion=7.1.0.1', 'upgradeType=platform'], { yes: false, root: testLab.dir })).rejects.toMatchObject({
      exitCode: 2,
      code: 'RB3005',
    });
    expect(testLab.lab.commandLog('qumulo1')).toEqual([]);
  });
});

describe('storage-upgrade cut off in a changing step and resumed', () => {
  const status = (lab: TestLab) => lab.lab.state('qumulo1') as { version: string; upgrade: { state: string } };
  const upgraded = (lab: TestLab) => status(lab).version === '7.1.0.1' && status(lab).upgrade.state === 'UPGRADE_IDLE';
  // The operator resumes once the cluster has got on with it (a resume while qumulo1 reboots cannot
  // probe it, and waits for the operator's decision).
  it.each([
    { step: 'prepare', command: 'qq upgrade_cluster prepare', params: [], settled: (lab: TestLab) => status(lab).upgrade.state === 'UPGRADE_PREPARED' },
    { step: 'commit', command: 'qq upgrade_cluster commit', params: [], settled: upgraded },
    { step: 'upgrade', command: 'qq upgrade_cluster --rolling', params: ['phases=one-step'], settled: upgraded },
  ])('a $step whose session dropped is found done by its probe on resume, and not sent again', async ({ step, command, params, settled }) => {
    testLab = await startTestLab(STORAGE_ONLY);
    const lab = testLab;
    cpSync(join(REPO_ROOT, 'runbooks', 'storage-upgrade.yaml'), join(lab.dir, 'storage-upgrade.yaml'));
    commitRepository(lab.dir);
    await lab.lab.injectFault('qumulo1', { kind: 'dropConnection', command: command.slice('qq '.length), times: 1 });
    const options = { root: lab.dir, commit: false, env: LAB_PASSWORD_ENV };
    const first = await applyInProcess({
      ...options,
      target: join(lab.dir, 'storage-upgrade.yaml'),
      inventory: lab.inventoryPath,
      params: ['targetVersion=7.1.0.1', 'upgradeType=platform', 'upload=false', ...params],
    });
    expect(first.exitCode).toBe(1);
    const cut = first.events.find((event) => event.type === 'step.finished' && event.record.id === `${step}.hop1`);
    expect(cut?.type === 'step.finished' && cut.record.status).toBe('interrupted');
    const runId = readdirSync(join(lab.dir, '.runbook', 'runs'))[0]!;
    await waitFor(() => (settled(lab) ? true : undefined), `the cluster after the cut-off ${step}`);
    await lab.lab.settled();

    const resumed = await applyInProcess({ ...options, resume: runId });
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    expect(resumed.events.find((event) => event.type === 'step.decided')).toMatchObject({ host: 'qumulo1', stepId: `${step}.hop1`, decision: 'done' });
    expect(qqCommands(lab, command)).toHaveLength(1);
    for (const node of NODES) expect(lab.lab.state(node).version).toBe('7.1.0.1');
  });
});

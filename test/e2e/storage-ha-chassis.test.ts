import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyRunbook, startTestLab, type TestLab } from '../helpers/lab-apply.js';

// The shipped runbooks against the embedded lab, through the real SSH path: apply plans the
// runbook, connects with ssh2 to each simulated device, and the lab's own state is checked after.

let testLab: TestLab;
beforeEach(async () => {
  testLab = await startTestLab();
});
afterEach(async () => {
  await testLab.stop();
});

describe('storage-upgrade (Qumulo-style two-phase upgrade)', () => {
  it('prepares, polls the status through PREPARING to PREPARED, passes the operator gate and commits', async () => {
    const run = await applyRunbook('storage-upgrade.yaml', testLab.inventoryPath, ['targetVersion=7.2.0'], { root: testLab.dir });
    expect(run.stderr).toContain('succeeded');
    expect(run.exitCode).toBe(0);
    const polled = run.events.flatMap((e) => (e.type === 'output' && e.stepId === 'wait-prepared' ? [e.line] : []));
    expect(polled.some((line) => line.includes('"PREPARING"'))).toBe(true);
    expect(polled.some((line) => line.includes('"PREPARED"'))).toBe(true);
    expect(run.steps.qumulo1!.map((s) => [s.id, s.status])).toEqual([
      ['current-version', 'succeeded'],
      ['nodes-online', 'succeeded'],
      ['upgrade-idle', 'succeeded'],
      ['verify-image', 'succeeded'],
      ['prepare', 'succeeded'],
      ['wait-prepared', 'succeeded'],
      ['operator-gate', 'succeeded'],
      ['commit', 'succeeded'],
      ['wait-new-version', 'succeeded'],
      ['wait-idle', 'succeeded'],
      ['nodes-back', 'succeeded'],
    ]);
    for (const node of ['qumulo1', 'qumulo2', 'qumulo3', 'qumulo4']) expect(testLab.lab.state(node).version).toBe('7.2.0');
    const commits = testLab.lab.commandLog('qumulo1').filter((e) => e.command.startsWith('qq upgrade_cluster commit'));
    expect(commits.map((e) => e.command)).toEqual(['qq upgrade_cluster commit']);
  });

  it('commits a platform upgrade with --rolling and waits through the nodes rebooting one at a time', async () => {
    const run = await applyRunbook('storage-upgrade.yaml', testLab.inventoryPath, [
      'targetVersion=7.2.0',
      'image=/upgrade/qumulo_core_7.2.0_platform.qimg',
    ], { root: testLab.dir });
    expect(run.exitCode).toBe(0);
    const commits = testLab.lab.commandLog('qumulo1').filter((e) => e.command.startsWith('qq upgrade_cluster commit'));
    expect(commits.map((e) => e.command)).toEqual(['qq upgrade_cluster commit --rolling']);
    for (const node of ['qumulo1', 'qumulo2', 'qumulo3', 'qumulo4']) expect(testLab.lab.state(node).version).toBe('7.2.0');
  });

  it('refuses to run without a terminal or --yes, because of the operator gate, before any change', async () => {
    await expect(applyRunbook('storage-upgrade.yaml', testLab.inventoryPath, ['targetVersion=7.2.0'], { yes: false, root: testLab.dir })).rejects.toMatchObject({
      exitCode: 2,
      code: 'RB3005',
    });
    expect(testLab.lab.commandLog('qumulo1')).toEqual([]);
  });
});

describe('ha-pair-upgrade (NSO-style HA pair)', () => {
  it('leaves both nodes on the new version with HA enabled in their nominal roles', async () => {
    const run = await applyRunbook('ha-pair-upgrade.yaml', testLab.inventoryPath, ['targetVersion=6.2.3', 'fromVersion=6.1.4'], { root: testLab.dir });
    expect(run.exitCode).toBe(0);
    const nso1 = testLab.lab.state('nso1') as { runningVersion: string; ha: { enabled: boolean; mode: string } };
    const nso2 = testLab.lab.state('nso2') as { runningVersion: string; ha: { enabled: boolean; mode: string } };
    expect([nso1.runningVersion, nso2.runningVersion]).toEqual(['6.2.3', '6.2.3']);
    expect([nso1.ha, nso2.ha]).toMatchObject([{ enabled: true, mode: 'primary' }, { enabled: true, mode: 'secondary' }]);
    // Seed 002's order: read-only before the backups, the designated primary upgraded before the secondary.
    const order = run.events.flatMap((e) => (e.type === 'step.finished' && e.record.section === 'step' ? [`${e.host}:${e.record.id}`] : []));
    expect(order.indexOf('nso2:secondary-read-only')).toBeLessThan(order.indexOf('nso1:backup'));
    expect(order.indexOf('nso1:primary-restart')).toBeLessThan(order.indexOf('nso2:secondary-restart'));
  });

  it('leaves both nodes as they were when the secondary fails to install', async () => {
    await testLab.lab.injectFault('nso2', { kind: 'installFails' });
    const run = await applyRunbook('ha-pair-upgrade.yaml', testLab.inventoryPath, ['targetVersion=6.2.3', 'fromVersion=6.1.4'], { root: testLab.dir });
    expect(run.exitCode).toBe(1);
    expect(run.states).toEqual({ nso1: 'rolled-back', nso2: 'rolled-back' });
    for (const node of ['nso1', 'nso2']) {
      const state = testLab.lab.state(node) as { runningVersion: string; ha: { enabled: boolean } };
      expect(state.runningVersion).toBe('6.1.4');
      expect(state.ha.enabled).toBe(true);
    }
  });
});

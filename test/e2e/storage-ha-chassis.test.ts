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

describe('ha-pair-upgrade (NSO-style HA pair)', () => {
  it('leaves both nodes on the new version with HA enabled in their nominal roles', async () => {
    const run = await applyRunbook('ha-pair-upgrade.yaml', testLab.inventoryPath, ['targetVersion=6.2.3'], { root: testLab.dir });
    expect(run.exitCode).toBe(0);
    const nso1 = testLab.lab.state('nso1') as { runningVersion: string; ha: { enabled: boolean; mode: string } };
    const nso2 = testLab.lab.state('nso2') as { runningVersion: string; ha: { enabled: boolean; mode: string } };
    expect([nso1.runningVersion, nso2.runningVersion]).toEqual(['6.2.3', '6.2.3']);
    expect([nso1.ha, nso2.ha]).toMatchObject([{ enabled: true, mode: 'primary' }, { enabled: true, mode: 'secondary' }]);
    // Backups on every node come first; the secondary is upgraded before the primary.
    const order = run.events.flatMap((e) => (e.type === 'step.finished' && e.record.section === 'step' ? [`${e.host}:${e.record.id}`] : []));
    expect(order.slice(0, 2).sort()).toEqual(['nso1:backup', 'nso2:backup']);
    expect(order.indexOf('nso2:secondary-install')).toBeLessThan(order.indexOf('nso1:primary-install'));
  });

  it('restores both nodes from their backups when the secondary fails to install', async () => {
    await testLab.lab.injectFault('nso2', { kind: 'installFails' });
    const run = await applyRunbook('ha-pair-upgrade.yaml', testLab.inventoryPath, ['targetVersion=6.2.3'], { root: testLab.dir });
    expect(run.exitCode).toBe(1);
    expect(run.states).toEqual({ nso1: 'rolled-back', nso2: 'rolled-back' });
    for (const node of ['nso1', 'nso2']) {
      const state = testLab.lab.state(node) as { runningVersion: string; ha: { enabled: boolean } };
      expect(state.runningVersion).toBe('6.1.4');
      expect(state.ha.enabled).toBe(true);
    }
  });
});

describe('chassis-hitless-upgrade (ExtremeXOS-style dual supervisors)', () => {
  it('answers the (y/n) prompts, upgrades both MSMs and ends with the original primary leading', async () => {
    const run = await applyRunbook('chassis-hitless-upgrade.yaml', testLab.inventoryPath, ['targetVersion=31.7.2.3', 'allowIoModuleReset=true'], { root: testLab.dir });
    expect(run.exitCode).toBe(0);
    const state = testLab.lab.state('bd01') as { master: string; inSync: boolean; msms: Record<'A' | 'B', { partitions: Record<string, string>; booted: string }> };
    expect(state.master).toBe('MSM-A');
    expect(state.inSync).toBe(true);
    for (const slot of ['A', 'B'] as const) expect(state.msms[slot].partitions[state.msms[slot].booted]).toBe('31.7.2.3');
    const failovers = testLab.lab.commandLog('bd01').filter((e) => e.command === 'run msm-failover');
    expect(failovers).toHaveLength(2);
  });

  it('stops at the I/O-module compatibility warning unless the runbook allows it', async () => {
    const run = await applyRunbook('chassis-hitless-upgrade.yaml', testLab.inventoryPath, ['targetVersion=31.7.2.3'], { root: testLab.dir });
    expect(run.exitCode).toBe(1);
    const failover = run.steps.bd01!.find((s) => s.id === 'fail-over')!;
    expect(failover.status).toBe('failed');
    expect(failover.stdout).toContain('I/O modules may be reset');
    expect((testLab.lab.state('bd01') as { master: string }).master).toBe('MSM-A');
    expect(run.states.bd01).toBe('rolled-back');
  });
});

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

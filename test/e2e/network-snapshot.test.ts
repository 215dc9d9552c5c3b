import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../engine/io/snapshot-store.js';
import { applyRunbook, startTestLab, type TestLab } from '../helpers/lab-apply.js';

// The shipped network-snapshot runbook as the README shows it (`--param name=baseline`), and a
// snapshot step in a runbook whose batches the MLAG rule splits: one snapshot spans every target.

const SWITCHES = ['leaf01', 'leaf02', 'leaf03', 'leaf04', 'spine01', 'spine02'];
let testLab: TestLab;
beforeEach(async () => {
  testLab = await startTestLab({ topology: { storageNodes: 0, nso: false, chassis: false } });
});
afterEach(async () => {
  await testLab.stop();
});
const folder = () => join(testLab.dir, 'reports', 'snapshots');

describe('network-snapshot', () => {
  it('takes one snapshot of every target, in one batch (a read-only runbook is not split for MLAG)', async () => {
    const run = await applyRunbook('network-snapshot.yaml', testLab.inventoryPath, ['name=baseline'], { root: testLab.dir });
    expect(run.stderr).not.toContain('already exists');
    expect(run.exitCode).toBe(0);
    const started = run.events.find((e) => e.type === 'run.started');
    expect(started?.type === 'run.started' ? started.stages.flatMap((s) => s.batches) : []).toHaveLength(1);
    const snapshot = loadSnapshot(folder(), 'baseline');
    expect(snapshot.note).toBeUndefined();
    expect(snapshot.hosts.map((h) => h.name).sort()).toEqual(SWITCHES);
    expect(snapshot.elements.lldp.status).toBe('collected');
    expect(new Set(snapshot.elements.bgp.records.map((r) => r.host))).toEqual(new Set(SWITCHES));
  });

  it('keeps the optional note the document offers', async () => {
    const run = await applyRunbook('network-snapshot.yaml', testLab.inventoryPath, ['name=noted', 'note=before the VLAN change'], { root: testLab.dir });
    expect(run.exitCode).toBe(0);
    expect(loadSnapshot(folder(), 'noted').note).toBe('before the VLAN change');
    expect(loadSnapshot(folder(), 'noted').hosts).toHaveLength(6);
  });

  it('a snapshot step in a changing runbook spans all its batches', async () => {
    const runbook = join(testLab.dir, 'touch-and-snapshot.yaml');
    writeFileSync(
      runbook,
      [
        'apiVersion: runbook/v1',
        'kind: Runbook',
        'metadata: { name: touch-and-snapshot, version: 1.0.0 }',
        'targets: { group: fabric }',
        'strategy: { order: [spine, leaf], batchSize: 10 }',
        'steps:',
        "  - { id: touch, kind: command, run: 'mkdir -p /var/backups/touched' }",
        '  - { id: capture, kind: snapshot, snapshot: after-touch, profile: fabric }',
        '',
      ].join('\n'),
    );
    const run = await applyRunbook(runbook, testLab.inventoryPath, [], { root: testLab.dir });
    expect(run.exitCode).toBe(0);
    const started = run.events.find((e) => e.type === 'run.started');
    // Spines, then one peer of each MLAG pair, then the other.
    expect(started?.type === 'run.started' ? started.stages.flatMap((s) => s.batches).length : 0).toBe(3);
    expect(loadSnapshot(folder(), 'after-touch').hosts.map((h) => h.name).sort()).toEqual(SWITCHES);
  });
});

import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LabOptions } from '../../lab/index.js';
import { applyRunbook, startTestLab, type TestLab } from '../helpers/lab-apply.js';
import { createNsoApplication } from '../helpers/nso-application.js';

// The HA upgrade against the lab's NSO cluster, through real SSH, with an application writing to the
// primary before every command the runbook sends: what it was told was committed must survive.

const OLD_ORDER = join(import.meta.dirname, '..', 'fixtures', 'runbooks', 'ha-pair-upgrade-old-order.yaml');
const NSO_ONLY = { spines: 0, leaves: 0, storageNodes: 0, chassis: false, nsoStandalone: false };

let testLab: TestLab | undefined;
let application: ReturnType<typeof createNsoApplication> | undefined;
afterEach(async () => {
  await application?.close();
  await testLab?.stop();
  testLab = undefined;
  application = undefined;
});

async function startWithApplication(nodes: string[], options: LabOptions = {}): Promise<TestLab> {
  application = createNsoApplication(nodes);
  testLab = await startTestLab({ ...options, topology: { ...NSO_ONLY, ...options.topology }, nso: { ...options.nso, beforeCommand: application.beforeCommand } });
  application.attach(testLab.lab);
  return testLab;
}

describe('the order ha-pair-upgrade had before (kept as a fixture)', () => {
  it('succeeds, yet loses a write the promoted secondary acknowledged', async () => {
    const lab = await startWithApplication(['nso1', 'nso2']);
    const run = await applyRunbook(OLD_ORDER, lab.inventoryPath, ['targetVersion=6.1.7'], { root: lab.dir });
    expect(run.exitCode, run.stderr).toBe(0);
    const lost = application!.missingOn("nso1");
    expect(lost.length).toBeGreaterThan(0);
    expect(lost[0]).toMatchObject({ node: 'nso2', accepted: true });
    expect(application!.missingOn('nso2')).toEqual(lost);
    expect((lab.lab.state('nso2') as { cdb: { discarded: string[] } }).cdb.discarded.length).toBeGreaterThan(0);
  });
});

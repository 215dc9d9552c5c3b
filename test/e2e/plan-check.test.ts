import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../engine/cli.js';
import { LAB_PASSWORD_ENV, REPO_ROOT, startTestLab, type TestLab } from '../helpers/lab-apply.js';

// `runbook plan --check`: the dry run also runs the read-only pre-checks against the lab.

let testLab: TestLab;
beforeAll(async () => {
  testLab = await startTestLab();
  Object.assign(process.env, LAB_PASSWORD_ENV);
});
afterAll(async () => {
  await testLab.stop();
});

async function plan(targetVersion: string, runbook = join(REPO_ROOT, 'runbooks', 'fabric-upgrade.yaml')) {
  let stdout = '';
  let stderr = '';
  const args = ['plan', runbook, '-i', testLab.inventoryPath, '--param', `targetVersion=${targetVersion}`, '--check'];
  const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe('runbook plan --check', () => {
  it('adds the pre-check results with severity and hint, changing nothing', async () => {
    const ok = await plan('4.4.0');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('### Pre-check results (--check)');
    expect(ok.stdout).toContain('Every pre-check passed on every host.');
    expect(testLab.lab.commandLog().filter((e) => /onie-install|reboot|tar /.test(e.command))).toEqual([]);
  });

  it('exits 1 and shows the hint when an error pre-check fails', async () => {
    const failed = await plan('5.9.1');
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/\| `leaf01` \| `same-major` \| error \| ❌ failed \| version 4\.3\.0 is not in the same major release as 5\.9\.1 \| Lifecycle upgrades stay within one major release .*a fresh ONIE install/);
    expect(failed.stderr).toContain('pre-checks failed');
  });

  it('reads the LLDP neighbours live: batches planned without a topology are shown to isolate the leaves', async () => {
    // No snapshot is committed where this runbook lies: the plan could not order the spines.
    const warned = await plan('4.4.0');
    expect(warned.stdout).toContain('RB2051');
    expect(warned.stdout).toContain('### Topology, live (--check)');
    expect(warned.stdout).toContain('LLDP read now on 6 of 6 host(s): 10 link(s) between inventory hosts.');
    expect(warned.stdout).toContain('⚠️ With the live neighbours the batches would be spine: [spine01] [spine02]; leaf: [leaf01, leaf03] [leaf02, leaf04]');
    // The runbook's severity is the document's (a warning): the check still passes.
    expect(warned.code).toBe(0);
    // A runbook that makes isolation an error fails the check.
    const strict = join(testLab.dir, 'fabric-upgrade-strict.yaml');
    writeFileSync(strict, readFileSync(join(REPO_ROOT, 'runbooks', 'fabric-upgrade.yaml'), 'utf8').replace('isolation: warning', 'isolation: error'));
    const failed = await plan('4.4.0', strict);
    expect(failed.stdout).toContain('❌ With the live neighbours the batches would be');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('the live LLDP neighbours give other batches than the plan');
  });
});

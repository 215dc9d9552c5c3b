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

async function plan(targetVersion: string) {
  let stdout = '';
  let stderr = '';
  const args = ['plan', join(REPO_ROOT, 'runbooks', 'fabric-upgrade.yaml'), '-i', testLab.inventoryPath, '--param', `targetVersion=${targetVersion}`, '--check'];
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
});

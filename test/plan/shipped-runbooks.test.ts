import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliProcess } from '../helpers/cli-process.js';

const REPO_ROOT = join(import.meta.dirname, '..', '..');

// The params the README gives for each shipped runbook.
const SHIPPED = [
  { runbook: 'fabric-upgrade', params: ['targetVersion=4.4.0'] },
  { runbook: 'network-snapshot', params: ['name=baseline'] },
  { runbook: 'storage-upgrade', params: ['via=7.0.2', 'targetVersion=7.1.0.1', 'upgradeType=platform', 'upload=false'] },
  { runbook: 'ha-pair-upgrade', params: ['targetVersion=6.2.3', 'fromVersion=6.1.4'] },
  { runbook: 'nso-upgrade', params: ['targetVersion=6.2.3', 'fromVersion=6.1.4'] },
  { runbook: 'nso-package-upgrade', params: ['package=cisco-ios-cli-6.100', 'packageVersion=6.100.3', 'packageFile=/tmp/packages/ncs-6.1-cisco-ios-cli-6.100-6.100.3.tar.gz'] },
  { runbook: 'nso-single-package-upgrade', params: ['package=cisco-ios-cli-6.100', 'packageVersion=6.100.3', 'packageFile=/tmp/packages/ncs-6.1-cisco-ios-cli-6.100-6.100.3.tar.gz'] },
  { runbook: 'chassis-hitless-upgrade', params: ['targetVersion=31.7.2.3'] },
] as const;

// A copy outside any git repository: the plan records no commit, and paths relative to the folder, so the
// Markdown is the same on every machine and at every commit of this project.
let folder: string;
beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), 'runbook-shipped-plans-'));
  cpSync(join(REPO_ROOT, 'runbooks'), join(folder, 'runbooks'), { recursive: true });
  cpSync(join(REPO_ROOT, 'inventories', 'lab.yaml'), join(folder, 'inventories', 'lab.yaml'));
});
afterAll(() => {
  rmSync(folder, { recursive: true, force: true });
});

const plan = (runbook: string, params: readonly string[], ...extra: string[]) =>
  runCliProcess(['plan', `runbooks/${runbook}.yaml`, '-i', 'inventories/lab.yaml', ...params.flatMap((p) => ['--param', p]), ...extra], { cwd: folder });

describe('runbook plan of the shipped runbooks against inventories/lab.yaml', () => {
  it.each(SHIPPED)('$runbook: the Markdown is pinned by a snapshot', async ({ runbook, params }) => {
    const result = await plan(runbook, params);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // On a deliberate change to the plan or its Markdown: `npx vitest run test/plan/shipped-runbooks.test.ts -u`.
    await expect(result.stdout).toMatchFileSnapshot(`./__snapshots__/${runbook}.plan.md`);
  });

  it('--out writes JSON whose hash is the same on two runs and changes with a param', async () => {
    const hashOf = async (version: string, out: string) => {
      const result = await plan('fabric-upgrade', [`targetVersion=${version}`], '--out', out);
      expect(result.code).toBe(0);
      const written = JSON.parse(readFileSync(join(folder, out), 'utf8')) as { kind: string; hash: string };
      expect(written.kind).toBe('Plan');
      expect(result.stderr).toBe(`wrote plan ${written.hash} to ${out}\n`);
      return written.hash;
    };
    const first = await hashOf('4.4.0', 'first.json');
    expect(await hashOf('4.4.0', 'second.json')).toBe(first);
    expect(await hashOf('4.4.1', 'third.json')).not.toBe(first);
  });

  it('refuses an unsafe param value with exit 2, naming the param, and writes no plan', async () => {
    const result = await plan('fabric-upgrade', ['targetVersion=4.4.0; reboot'], '--out', 'unsafe.json');
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/targetVersion/);
    expect(() => readFileSync(join(folder, 'unsafe.json'))).toThrow(/ENOENT/);
  });
});

import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../helpers/cli-process.js';
import { LAB_PASSWORD_ENV, REPO_ROOT, startTestLab, type TestLab } from '../helpers/lab-apply.js';

// The snapshot commands as an operator runs them: a real process, real SSH to the lab, files in
// the working folder's reports/snapshots.

let testLab: TestLab;
beforeAll(async () => {
  testLab = await startTestLab();
});
afterAll(async () => {
  await testLab.stop();
});

async function runbook(...args: string[]) {
  const cli = spawnCli(args, { cwd: testLab.dir, env: LAB_PASSWORD_ENV });
  const code = await cli.exit;
  return { code, output: cli.output() };
}

describe('runbook snapshot and runbook diff', () => {
  it('creates, lists, shows, compares across an upgrade and deletes snapshots', async () => {
    const created = await runbook('snapshot', 'create', 'before', '-i', testLab.inventoryPath, '--targets', 'spine01,leaf01');
    expect(created.output).toContain('saved snapshot before');
    expect(created.code).toBe(0);
    expect(existsSync(join(testLab.dir, 'reports', 'snapshots', 'before.json'))).toBe(true);

    // Between the two snapshots, an upgrade loses leaf01's BGP session with spine01: a post-check
    // warning, as the vendor's post-checks are, so the run succeeds and the session stays lost.
    await testLab.lab.injectFault('leaf01', { kind: 'bgpSessionDrop', peer: 'spine01' });
    // A copy in the test's folder, so that the run's report and state stay out of this checkout.
    cpSync(join(REPO_ROOT, 'runbooks', 'fabric-upgrade.yaml'), join(testLab.dir, 'fabric-upgrade.yaml'));
    const install = await runbook('apply', 'fabric-upgrade.yaml', '-i', testLab.inventoryPath,
      '--param', 'targetVersion=4.4.0', '--yes', '--no-progress', '--no-commit', '--allow-dirty');
    expect(install.code).toBe(0);
    expect(install.output).toMatch(/nothing-lost.*bgp: .*removed/);
    expect((await runbook('snapshot', 'create', 'after', '-i', testLab.inventoryPath, '--targets', 'spine01,leaf01')).code).toBe(0);

    const listed = await runbook('snapshot', 'list');
    expect(listed.output).toMatch(/^after\s+\S+\s+2\s+fabric/m);
    expect(listed.output).toMatch(/^before\s+\S+\s+2\s+fabric/m);
    expect((await runbook('snapshot', 'show', 'before', '--element', 'bgp')).output).toContain('bgp (BGP session): 6 record(s)');

    const diff = await runbook('diff', 'before', 'after', '--format', 'json', '--element', 'bgp');
    expect(diff.code).toBe(0);
    const exported = JSON.parse(diff.output) as { elements: Record<string, { removed: Array<{ host: string; peerHostname: string }> }> };
    expect(exported.elements.bgp!.removed.map((r) => `${r.host}-${r.peerHostname}`).sort()).toEqual(['leaf01-spine01', 'spine01-leaf01']);
    const markdown = await runbook('diff', 'before', 'after');
    expect(markdown.output).toMatch(/\| bgp \| 6 \| 4 \| 0 \| 2 \|/);

    expect((await runbook('snapshot', 'delete', 'after')).code).toBe(0);
    expect(existsSync(join(testLab.dir, 'reports', 'snapshots', 'after.json'))).toBe(false);
    const missing = await runbook('diff', 'before', 'after');
    expect(missing.code).toBe(2);
    expect(missing.output).toContain('no snapshot `after`');
    expect(readFileSync(join(testLab.dir, 'reports', 'snapshots', 'before.json'), 'utf8')).toContain('"kind": "Snapshot"');
  }, 120_000);
});

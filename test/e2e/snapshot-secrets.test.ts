import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formsOf } from '../../engine/run/redact.js';
import { runCliProcess } from '../helpers/cli-process.js';
import { commitRepository } from '../helpers/run-repository.js';
import { filesUnder } from '../helpers/files-under.js';

// A snapshot collects what the device prints, and a device may print a secret the run knows (a key in
// its configuration that a pre-check captured with `secret: true`): the snapshot file, committed with
// the report, must hold it redacted like every other file the run writes.

const SECRET = 'Snmp-Community-QUUX-77';

let top: string;
let repo: string;
beforeEach(() => {
  top = mkdtempSync(join(tmpdir(), 'runbook-snapshot-secrets-'));
  repo = join(top, 'repo');
  const device = join(top, 'device');
  execFileSync('mkdir', ['-p', repo, device]);
  writeFileSync(join(device, 'community'), `${SECRET}\n`);
  const community = join(device, 'community');
  writeFileSync(
    join(repo, 'profile.yaml'),
    [
      'apiVersion: runbook/v1',
      'kind: Profile',
      'metadata: { name: leaky }',
      'collectors:',
      `  - { element: service, platforms: [cumulus], command: "printf '%s default\\\\n' $(cat ${community})", text: { match: "^(?<name>\\\\S+) (?<vrf>\\\\S+)$" } }`,
    ].join('\n') + '\n',
  );
  writeFileSync(
    join(repo, 'runbook.yaml'),
    [
      'apiVersion: runbook/v1',
      'kind: Runbook',
      'metadata: { name: snapshot-secret, version: 1.0.0 }',
      'targets: { group: box }',
      'strategy: { snapshot: { before: true, profile: ./profile.yaml } }',
      'prechecks:',
      `  - { id: community, run: "cat ${community}", capture: { community: { regex: '^(\\S+)$', secret: true } } }`,
      'steps:',
      '  - { id: shot, kind: snapshot, snapshot: with-secret, profile: ./profile.yaml }',
      // The host as it is now, compared with the redacted snapshot before: redacted alike, so unchanged.
      '  - { id: unchanged, kind: verify, run: "true", expect: [{ snapshotDiff: { noRemoved: [service], noAdded: [service], maxChanged: { service: 0 } } }] }',
    ].join('\n') + '\n',
  );
  writeFileSync(join(repo, 'inventory.yaml'), 'apiVersion: runbook/v1\nkind: Inventory\ndefaults: { transport: local, groups: [box], platform: cumulus }\nhosts:\n  box: {}\n');
  commitRepository(repo);
});
afterEach(() => rmSync(top, { recursive: true, force: true }));

describe('a snapshot of a device that prints a secret', () => {
  it('is written and committed with the secret redacted, in every spelling, and compares equal with the host as it is', async () => {
    const applied = await runCliProcess(['apply', 'runbook.yaml', '-i', 'inventory.yaml', '--no-progress'], { cwd: repo });
    expect(applied.stderr).toBe(applied.code === 0 ? applied.stderr : '');
    expect(applied.code).toBe(0);
    const snapshotFile = join(repo, 'reports', 'snapshots', 'with-secret.json');
    const snapshot = readFileSync(snapshotFile, 'utf8');
    // The record was collected (redacted), not dropped: the test would pass vacuously otherwise.
    expect(snapshot).toContain('***');

    const forms = formsOf(SECRET);
    const written = filesUnder(repo).filter((path) => !path.includes(`${join(repo, '.git')}`));
    const history = execFileSync('git', ['log', '-p', '--all'], { cwd: repo, encoding: 'utf8' });
    for (const [where, text] of [...written.map((path) => [path, readFileSync(path, 'utf8')] as const), ['git log -p', history] as const]) {
      for (const form of forms) expect(text.includes(form), `${where} holds ${form}`).toBe(false);
    }
  }, 60_000);
});

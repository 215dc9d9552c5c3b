import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runApply } from '../../engine/commands/apply.js';
import type { HostState, RunEvent } from '../../engine/run/events.js';
import { hasSshd, SSHD_SKIP_REASON, startSshd, type Sshd } from '../helpers/sshd.js';

// A single-node upgrade against a real OpenSSH sshd on loopback, with its own host key and config:
// the commands really run on this machine, in a temporary NSO root.

const RUNBOOK = join(import.meta.dirname, '..', 'fixtures', 'runbooks', 'nso-single-node.yaml');

function writeRelease(folder: string, version: string, healthy = true) {
  mkdirSync(join(folder, 'bin'), { recursive: true });
  // `ncs --restart` records the release that runs; a broken build exits 1 without starting.
  const script = healthy
    ? `#!/bin/sh\nset -e\nhere=$(cd "$(dirname "$0")/.." && pwd)\necho ${version} > "$here/../running"\n`
    : '#!/bin/sh\necho "ncs: failed to load packages" >&2\nexit 1\n';
  writeFileSync(join(folder, 'bin', 'ncs'), script);
  chmodSync(join(folder, 'bin', 'ncs'), 0o755);
}

describe.skipIf(!hasSshd)('nso-single-node against a real OpenSSH sshd', () => {
  let sshd: Sshd;
  let work: string;
  let root: string;
  let inventoryPath: string;

  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'runbook-nso-'));
    root = join(work, 'ncs');
    writeRelease(join(root, 'ncs-6.1.4'), '6.1.4');
    execFileSync('ln', ['-s', join(root, 'ncs-6.1.4'), join(root, 'current')]);
    writeFileSync(join(root, 'running'), '6.1.4\n');
    for (const [version, healthy] of [['6.2.3', true], ['6.2.4', false]] as const) {
      const staging = join(work, `staging-${version}`);
      writeRelease(staging, version, healthy);
      mkdirSync(join(root, 'installers'), { recursive: true });
      execFileSync('tar', ['czf', join(root, 'installers', `nso-${version}.tar.gz`), '-C', staging, '.']);
    }
    inventoryPath = join(work, 'inventory.yaml');
    writeFileSync(
      inventoryPath,
      [
        'apiVersion: runbook/v1',
        'kind: Inventory',
        'hosts:',
        '  nso-lab:',
        `    address: ${sshd.host}`,
        `    port: ${sshd.port}`,
        `    user: ${sshd.user}`,
        '    groups: [nso]',
        `    hostKey: ${sshd.hostKeyFingerprint}`,
        `    auth: { keyFile: ${JSON.stringify(sshd.keyFile)} }`,
        '',
      ].join('\n'),
    );
    return () => rmSync(work, { recursive: true, force: true });
  });

  async function apply(targetVersion: string) {
    const events: RunEvent[] = [];
    let stderr = '';
    const exitCode = await runApply({
      target: RUNBOOK,
      inventory: inventoryPath,
      params: [`root=${root}`, `targetVersion=${targetVersion}`],
      yes: true,
      noProgress: true,
      format: 'text',
      isTty: false,
      write: () => {},
      writeError: (t) => (stderr += t),
      env: {},
      onEvent: (e) => events.push(e),
      // Reports, journals and locks go to the test's own folder, never into this checkout.
      root: work,
      commit: false,
      // The runbook and the inventory written for this test are in no repository.
      allowDirty: true,
    });
    const finished = events.find((e) => e.type === 'run.finished');
    return { exitCode, stderr, states: (finished?.type === 'run.finished' ? finished.hosts : {}) as Record<string, HostState> };
  }

  it('backs up, installs into a versioned folder, switches `current`, restarts and verifies', async () => {
    const run = await apply('6.2.3');
    expect(run.stderr).toContain('succeeded');
    expect(run.exitCode).toBe(0);
    expect(readlinkSync(join(root, 'current'))).toBe(join(root, 'ncs-6.2.3'));
    expect(readFileSync(join(root, 'running'), 'utf8')).toBe('6.2.3\n');
    expect(existsSync(join(root, 'ncs-6.1.4', 'bin', 'ncs'))).toBe(true);
    const backups = execFileSync('ls', [join(root, 'backups')], { encoding: 'utf8' });
    expect(backups).toMatch(/^ncs-6\.1\.4-.*\.tgz$/m);
  });

  it('restores the previous release when the new one fails to start', async () => {
    const run = await apply('6.2.4');
    expect(run.exitCode).toBe(1);
    expect(run.states).toEqual({ 'nso-lab': 'rolled-back' });
    expect(readlinkSync(join(root, 'current'))).toBe(join(root, 'ncs-6.1.4'));
    expect(readFileSync(join(root, 'running'), 'utf8')).toBe('6.1.4\n');
  });

  it('refuses a host whose key does not match the pinned fingerprint, running nothing', async () => {
    const wrong = readFileSync(inventoryPath, 'utf8').replace(sshd.hostKeyFingerprint, 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    writeFileSync(inventoryPath, wrong);
    const run = await apply('6.2.3');
    expect(run.exitCode).toBe(1);
    expect(run.states).toEqual({ 'nso-lab': 'skipped' });
    expect(run.stderr).toContain('pre-checks failed');
    expect(readlinkSync(join(root, 'current'))).toBe(join(root, 'ncs-6.1.4'));
  });
});

if (!hasSshd) it.skip(`OpenSSH end-to-end: ${SSHD_SKIP_REASON}`, () => {});

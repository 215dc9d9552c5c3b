import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// `runbook plan ... | head`: the reader leaves early, and the command must not die with a stack trace.

const REPO_ROOT = join(import.meta.dirname, '..');
const TSX = import.meta.resolve('tsx');

describe('a closed output pipe', () => {
  it('ends the command quietly, with its own exit code', async () => {
    // A plan of 2,000 switches is megabytes of JSON: far more than the pipe holds.
    const dir = mkdtempSync(join(tmpdir(), 'runbook-pipe-'));
    const hosts = Array.from({ length: 2000 }, (_, i) => `  leaf${i}: { address: 10.0.${i >> 8}.${i & 255}, role: leaf, groups: [fabric], auth: { agent: true }, hostKey: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }`);
    writeFileSync(join(dir, 'big.yaml'), ['apiVersion: runbook/v1', 'kind: Inventory', 'hosts:', ...hosts, ''].join('\n'));
    const child = spawn(
      process.execPath,
      ['--import', TSX, join(REPO_ROOT, 'scripts', 'runbook.ts'), 'plan', join(REPO_ROOT, 'runbooks/fabric-upgrade.yaml'), '-i', join(dir, 'big.yaml'), '--param', 'targetVersion=4.4.0', '--format', 'json'],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // The reader takes the first chunk and goes away, as `head -c 100` does.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    rmSync(dir, { recursive: true, force: true });
    expect(stderr).not.toMatch(/EPIPE|\n\s+at |internal error/);
    expect(code).toBe(0);
  }, 30_000);
});

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../engine/cli.js';

// The README's tour is the runbook people copy first: it must be one the engine accepts.

const README = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');

describe("the README's tour of a runbook", () => {
  it('validates', async () => {
    const tour = /## A tour of a runbook\n\n```yaml\n([\s\S]*?)```/.exec(README)?.[1];
    expect(tour).toContain('kind: Runbook');
    const folder = mkdtempSync(join(tmpdir(), 'runbook-readme-tour-'));
    try {
      const file = join(folder, 'tour.yaml');
      writeFileSync(file, tour!);
      let output = '';
      const code = await main(['validate', file], { stdout: (text) => (output += text), stderr: (text) => (output += text) });
      expect(output).toBe('1 file(s) valid (1 runbook)\n');
      expect(code).toBe(0);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

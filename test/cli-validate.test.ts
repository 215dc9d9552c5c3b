import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../engine/cli.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const VALID = join(FIXTURES, 'valid');
const INVALID = join(FIXTURES, 'invalid');

async function runCli(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) });
  return { code, stdout, stderr };
}

describe('runbook validate', () => {
  let folder: string;

  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'runbook-cli-validate-'));
  });
  afterAll(() => {
    rmSync(folder, { recursive: true, force: true });
  });

  it('exits 0 and says what it checked when every file is valid', async () => {
    const result = await runCli('validate', VALID);
    expect(result).toEqual({ code: 0, stdout: '3 file(s) valid (2 runbooks, 1 inventory)\n', stderr: '' });
  });

  it('exits 2 with one `file:line:col: error CODE message` line per problem and a summary', async () => {
    const result = await runCli('validate', join(INVALID, 'unknown-field-retires.yaml'), join(INVALID, 'bad-duration.yaml'));
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('');
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toEqual([
      'test/fixtures/invalid/unknown-field-retires.yaml:12:5: error RB1101 unknown field `retires` in step `install`; did you mean `retries`?',
      'test/fixtures/invalid/bad-duration.yaml:13:14: error RB1104 `timeout` in step `install` must be a duration like 30s, 10m or 1h (or a number of milliseconds)',
      '2 error(s) in 2 of 2 file(s)',
    ]);
  });

  it('prints JSON with every diagnostic under --format json', async () => {
    const result = await runCli('validate', '--format', 'json', VALID, join(INVALID, 'inventory-literal-password.yaml'));
    expect(result.code).toBe(2);
    const report = JSON.parse(result.stdout) as {
      valid: boolean;
      files: Array<{ file: string; kind: string; valid: boolean }>;
      diagnostics: Array<{ code: string; file: string; line: number; col: number; severity: string; message: string }>;
      summary: { files: number; invalid: number; errors: number };
    };
    expect(report.valid).toBe(false);
    expect(report.summary).toEqual({ files: 4, invalid: 1, errors: 1 });
    expect(report.files.filter((f) => !f.valid)).toEqual([
      { file: 'test/fixtures/invalid/inventory-literal-password.yaml', kind: 'Inventory', valid: false },
    ]);
    expect(report.diagnostics).toEqual([
      expect.objectContaining({ code: 'RB1106', file: 'test/fixtures/invalid/inventory-literal-password.yaml', line: 11, col: 7, severity: 'error' }),
    ]);
  });

  it('walks folders for .yaml and .yml files and ignores other files', async () => {
    const walked = join(folder, 'walked');
    mkdirSync(join(walked, 'nested'), { recursive: true });
    copyFileSync(join(VALID, 'fabric-upgrade.yaml'), join(walked, 'a-runbook.yaml'));
    copyFileSync(join(INVALID, 'inventory-port-out-of-range.yaml'), join(walked, 'nested', 'b-inventory.yml'));
    writeFileSync(join(walked, 'notes.txt'), 'kind: [ not yaml a validator should read');
    writeFileSync(join(walked, 'c.json'), '{ "kind": "Runbook" }');
    writeFileSync(join(walked, 'nested', 'README.md'), '# not a runbook\n');

    const result = await runCli('validate', '--format', 'json', walked);
    const report = JSON.parse(result.stdout) as { files: Array<{ file: string; kind: string; valid: boolean }>; diagnostics: Array<{ code: string }> };
    expect(result.code).toBe(2);
    expect(report.files).toEqual([
      { file: join(walked, 'a-runbook.yaml'), kind: 'Runbook', valid: true },
      { file: join(walked, 'nested', 'b-inventory.yml'), kind: 'Inventory', valid: false },
    ]);
    expect(report.diagnostics.map((d) => d.code)).toEqual(['RB1105']);
  });

  it('checks the roles a runbook orders by against an inventory validated with it', async () => {
    const checked = join(folder, 'roles');
    mkdirSync(checked);
    copyFileSync(join(VALID, 'fabric.inventory.yaml'), join(checked, 'inventory.yaml'));
    const runbook = [
      'apiVersion: runbook/v1',
      'kind: Runbook',
      'metadata: { name: roles, version: 1.0.0 }',
      'targets: { group: fabric }',
      'strategy: { order: [spine, lef] }',
      'steps: [{ id: a, run: uptime }]',
      '',
    ].join('\n');
    writeFileSync(join(checked, 'runbook.yaml'), runbook);
    const result = await runCli('validate', checked);
    expect(result.code).toBe(2);
    expect(result.stdout).toContain(
      `${join(checked, 'runbook.yaml')}:5:28: error RB1208 role \`lef\` is held by no targeted host of inventory \`${join(checked, 'inventory.yaml')}\`; did you mean \`leaf\`?`,
    );
  });

  it('a step on a role no host of the inventory holds, and like no role there, is a warning: an optional node', async () => {
    const checked = join(folder, 'optional-role');
    mkdirSync(checked);
    copyFileSync(join(VALID, 'fabric.inventory.yaml'), join(checked, 'inventory.yaml'));
    const runbook = [
      'apiVersion: runbook/v1',
      'kind: Runbook',
      'metadata: { name: roles, version: 1.0.0 }',
      'targets: { group: fabric }',
      'steps:',
      '  - { id: a, run: uptime, on: { role: witness } }',
      '  - { id: b, run: uptime, on: { role: spnie } }',
      '',
    ].join('\n');
    writeFileSync(join(checked, 'runbook.yaml'), runbook);
    const result = await runCli('validate', checked);
    expect(result.code).toBe(2);
    const lines = result.stdout.split('\n');
    expect(lines).toContain(
      `${join(checked, 'runbook.yaml')}:6:39: warning RB1220 role \`witness\` is held by no targeted host of inventory \`${join(checked, 'inventory.yaml')}\` (roles there: spine, leaf): step \`a\` will not run with it`,
    );
    // A role close to one the inventory has is taken for a typo, as before.
    expect(lines.filter((line) => line.includes('RB1208'))).toEqual([
      `${join(checked, 'runbook.yaml')}:7:39: error RB1208 role \`spnie\` is held by no targeted host of inventory \`${join(checked, 'inventory.yaml')}\`; did you mean \`spine\`?`,
    ]);
    writeFileSync(join(checked, 'runbook.yaml'), runbook.replace(/\n.*spnie.*\n/, '\n'));
    const warned = await runCli('validate', checked);
    expect(warned.code).toBe(0);
    expect(warned.stdout).toContain('warning RB1220');
    expect(warned.stdout).toContain('2 file(s) valid');
  });

  it('exits 2 on a missing path, naming it, without a stack trace', async () => {
    const missing = join(folder, 'no-such-runbook.yaml');
    const result = await runCli('validate', missing);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`error RB1005: ${missing}: no such file or folder; check the path\n`);
  });

  it('exits 2 when a folder holds no runbook or inventory', async () => {
    const empty = join(folder, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'notes.txt'), 'nothing here');
    const result = await runCli('validate', empty);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error RB1005: no \.yaml or \.yml files under /);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 on an unknown command or a missing argument', async () => {
    const unknown = await runCli('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");

    const noPath = await runCli('validate');
    expect(noPath.code).toBe(2);
    expect(noPath.stderr).toContain("missing required argument 'paths'");
  });

  it('exits 2 on an unknown output format', async () => {
    const result = await runCli('validate', '--format', 'xml', VALID);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("'xml' is invalid");
    expect(result.stdout).toBe('');
  });
});

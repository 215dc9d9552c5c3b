import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyRunbook, startTestLab, type TestLab } from '../helpers/lab-apply.js';

// `kind: put` sends a repository file to a host over SFTP (ssh2) and reads it back: against the lab,
// whose storage nodes serve their cluster file system over SFTP and whose chassis serves none.

let testLab: TestLab;
beforeEach(async () => {
  testLab = await startTestLab({ topology: { spines: 0, leaves: 0, storageNodes: 1, nso: false, chassis: true } });
  mkdirSync(join(testLab.dir, 'files'));
});
afterEach(async () => {
  await testLab.stop();
});

function writeRunbook(host: string, file: string, then: string[] = []): string {
  const path = join(testLab.dir, 'put.yaml');
  writeFileSync(
    path,
    [
      'apiVersion: runbook/v1',
      'kind: Runbook',
      'metadata: { name: put-file, version: 1.0.0 }',
      'params:',
      "  name: { type: string, default: motd }",
      `targets: { hosts: [${host}] }`,
      'steps:',
      `  - { id: send, kind: put, file: '${file}', remote: '/upgrade/{{params.name}}.txt' }`,
      ...then,
      '',
    ].join('\n'),
  );
  return path;
}

describe('put steps', () => {
  it('writes the repository file to the host byte for byte and records its size and SHA-256', async () => {
    const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x0a, ...Buffer.from('image payload\n')]);
    writeFileSync(join(testLab.dir, 'files', 'motd'), bytes);
    const runbook = writeRunbook('qumulo1', 'files/{{params.name}}', ["  - { id: landed, kind: verify, run: 'cat /upgrade/motd.txt', expect: [{ contains: 'image payload' }] }"]);
    const run = await applyRunbook(runbook, testLab.inventoryPath, [], { root: testLab.dir });
    expect(run.exitCode, JSON.stringify(run.steps)).toBe(0);
    const sent = run.steps.qumulo1!.find((record) => record.id === 'send')!;
    expect(sent).toMatchObject({ status: 'succeeded', command: 'sftp put files/motd -> /upgrade/motd.txt' });
    expect(sent.message).toBe(`put files/motd to /upgrade/motd.txt, read back (${bytes.length} bytes, sha256 ${createHash('sha256').update(bytes).digest('hex')})`);
    expect(testLab.lab.commandLog('qumulo1').filter((entry) => entry.mode === 'sftp').map((entry) => entry.command)).toContain('sftp put /upgrade/motd.txt');
  });

  it('refuses a file outside the repository before connecting', async () => {
    const runbook = writeRunbook('qumulo1', '../{{params.name}}');
    const run = await applyRunbook(runbook, testLab.inventoryPath, [], { root: testLab.dir });
    expect(run.exitCode).toBe(1);
    expect(run.steps.qumulo1![0]).toMatchObject({ id: 'send', status: 'failed', message: '`file` "../motd" must be a path inside the repository' });
    expect(testLab.lab.commandLog('qumulo1').filter((entry) => entry.mode === 'sftp')).toEqual([]);
  });

  it('fails with TRANSFER_FAILED on a host that serves no SFTP', async () => {
    writeFileSync(join(testLab.dir, 'files', 'motd'), 'hello\n');
    const runbook = writeRunbook('bd01', 'files/motd');
    const run = await applyRunbook(runbook, testLab.inventoryPath, [], { root: testLab.dir });
    expect(run.exitCode).toBe(1);
    const sent = run.steps.bd01![0]!;
    expect(sent).toMatchObject({ id: 'send', status: 'failed', errorCode: 'TRANSFER_FAILED' });
    expect(sent.message).toMatch(/the host serves no SFTP/);
  });
});

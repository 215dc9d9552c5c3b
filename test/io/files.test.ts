import { spawn, execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../engine/io/files.js';

const folders: string[] = [];
function makeFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'runbook-files-'));
  folders.push(folder);
  return folder;
}
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('writes a new file, creating its folder', () => {
    const path = join(makeFolder(), 'a', 'plan.json');
    writeFileAtomic(path, '{}\n');
    expect(readFileSync(path, 'utf8')).toBe('{}\n');
  });

  it('writes through a symbolic link and keeps the link', () => {
    const folder = makeFolder();
    writeFileSync(join(folder, 'real.json'), 'old\n');
    symlinkSync('real.json', join(folder, 'link.json'));
    writeFileAtomic(join(folder, 'link.json'), 'new\n');
    expect(lstatSync(join(folder, 'link.json')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(folder, 'real.json'), 'utf8')).toBe('new\n');
  });

  it('writes into a FIFO instead of replacing it with a file (as --out /dev/stdout would be)', async () => {
    const fifo = join(makeFolder(), 'pipe');
    execFileSync('mkfifo', [fifo]);
    const reader = spawn('cat', [fifo]);
    const chunks: Buffer[] = [];
    reader.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = new Promise<void>((resolve) => reader.on('close', () => resolve()));
    try {
      writeFileAtomic(fifo, 'through the pipe\n');
      expect(lstatSync(fifo).isFIFO()).toBe(true);
      await ended;
      expect(Buffer.concat(chunks).toString()).toBe('through the pipe\n');
    } finally {
      reader.kill();
    }
  });
});

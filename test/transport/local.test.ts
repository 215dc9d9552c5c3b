import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalTransport } from '../../engine/transport/local.js';
import { TransportError, type HostConnection } from '../../engine/transport/types.js';
import { compileUserRegex } from '../../engine/shared/user-regex.js';

describe('local transport', () => {
  let dir: string;
  let connection: HostConnection;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runbook-local-'));
    connection = await createLocalTransport({ cwd: dir }).connect({ name: 'controller', transport: 'local', port: 22 });
  });

  afterAll(async () => {
    await connection.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a command through /bin/sh and returns its output and exit code', async () => {
    const result = await connection.exec('echo out; echo err >&2; pwd');
    expect(result).toMatchObject({ stdout: `out\n${dir}\n`, stderr: 'err\n', exitCode: 0, signal: null, timedOut: false });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(result.truncated).toBeUndefined();
  });

  it('reports a non-zero exit and a signal', async () => {
    expect(await connection.exec('exit 7')).toMatchObject({ exitCode: 7, signal: null });
    expect(await connection.exec('kill -TERM $$')).toMatchObject({ exitCode: null, signal: 'SIGTERM' });
  });

  it('gives commands end-of-file on input when there is nothing to answer', async () => {
    expect(await connection.exec('cat; echo done')).toMatchObject({ stdout: 'done\n', exitCode: 0 });
  });

  it('kills the whole process group on timeout', async () => {
    // The background sleep holds the output pipe: the result arrives once it is dead too.
    const result = await connection.exec('sleep 30 & echo $!; wait', { timeoutMs: 300 });
    expect(result).toMatchObject({ timedOut: true, exitCode: null, signal: 'SIGKILL' });
    const backgroundPid = Number(result.stdout.trim());
    expect(backgroundPid).toBeGreaterThan(0);
    expect(isProcessGone(backgroundPid)).toBe(true);
  });

  it('hands over the output of each stream as it arrives', async () => {
    const texts = { stdout: '', stderr: '' };
    await connection.exec('printf "a\\nb\\n"; echo c >&2; printf d', { onOutput: (stream, text) => (texts[stream] += text) });
    expect(texts).toEqual({ stdout: 'a\nb\nd', stderr: 'c\n' });
  });

  it('answers prompts on standard input, each occurrence once', async () => {
    const result = await connection.exec(
      'printf "Are you sure? (y/n) "; read a; printf "Again? "; read b; printf "Are you sure? (y/n) "; read c; echo "got $a $b $c"',
      {
        answers: [
          { prompt: compileUserRegex('Are you sure\\? \\(y/n\\)'), send: 'y' },
          { prompt: compileUserRegex('Again\\?'), send: 'n' },
        ],
        timeoutMs: 10_000,
      },
    );
    expect(result).toMatchObject({ exitCode: 0, timedOut: false });
    expect(result.stdout).toContain('got y n y');
  });

  it('types nothing and stops the command when its prompt is ambiguous', async () => {
    const marker = join(dir, 'answered');
    const result = await connection.exec(`printf "Reset all I/O modules? (y/n) "; read a; echo "$a" > ${marker}; echo "got $a"`, {
      answers: [
        { prompt: compileUserRegex('Reset all I/O modules\\?'), send: 'n' },
        { prompt: compileUserRegex('\\(y/n\\)'), send: 'y' },
      ],
      timeoutMs: 10_000,
    });
    expect(result).toMatchObject({ exitCode: null, signal: 'SIGKILL', timedOut: false });
    expect(result.ambiguousPrompt).toContain('answer[0] /Reset all I/O modules\\?/ and answer[1] /\\(y\/n\\)/');
    expect(result.stdout).toBe('Reset all I/O modules? (y/n) ');
    expect(() => readFileSync(marker)).toThrow(/ENOENT/);
  });

  it('keeps the first and last part of an output larger than the cap, and counts the bytes dropped between', async () => {
    const small = await createLocalTransport({ outputCapBytes: 1000 }).connect({ name: 'c', transport: 'local', port: 22 });
    // `seq 1 2000` prints 8893 bytes.
    const result = await small.exec('seq 1 2000');
    expect(result.stdout.startsWith('1\n2\n3\n')).toBe(true);
    expect(result.stdout.endsWith('1999\n2000\n')).toBe(true);
    expect(result.stdout).toContain('\n[… 7893 bytes dropped …]\n');
    // The kept bytes, and the line end that puts the marker on a line of its own.
    expect(Buffer.byteLength(result.stdout.replace('[… 7893 bytes dropped …]\n', ''))).toBeLessThanOrEqual(1001);
    expect(result.truncated).toEqual({ stdout: 7893, stderr: 0 });
  });

  it('refuses commands once closed', async () => {
    const closing = await createLocalTransport().connect({ name: 'c', transport: 'local', port: 22 });
    await closing.close();
    expect(closing.closed).toBe(true);
    await expect(closing.exec('true')).rejects.toBeInstanceOf(TransportError);
  });
});

/** Gone or a zombie waiting to be reaped: either way it no longer runs. */
function isProcessGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

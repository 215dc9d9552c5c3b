import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const REPO_ROOT = join(import.meta.dirname, '..', '..');
// Resolved here, so the child finds tsx whatever folder it works in.
const TSX = import.meta.resolve('tsx');

export interface CliProcess {
  child: ChildProcess;
  exit: Promise<number | null>;
  output(): string;
}

/** `runbook ARGS...` from source in a child process, in `cwd`. */
export function spawnCli(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): CliProcess {
  const child = spawn(process.execPath, ['--import', TSX, join(REPO_ROOT, 'scripts', 'runbook.ts'), ...args], {
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exit, output: () => output };
}

/** `runbook ARGS...` from source to its end: exit code, standard output and standard error apart. */
export async function runCliProcess(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { child } = spawnCli(args, options);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  // `close` rather than `exit`: both streams are drained by then.
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}

// SSH fan-out against baselines (issue 5, item 7):
//   npx tsx bench/fanout/index.ts [--sizes 10,50,200] [--runs 3] [--no-ansible] [--no-cli] [--no-build] [--addresses K]
// A 4-step runbook on N aliases of one loopback OpenSSH sshd, through the engine in-process and through
// `node bin/runbook.js apply`, against a bare ssh2 script and ansible-playbook doing the same commands
// on the same hosts in the same run. Targets: engine at most 1.3x the bare script at N = 200, and at
// least 10x faster than Ansible. Pitfalls and reference figures: /work/shared/BENCHMARKING.md.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { hasSshd } from '../../test/helpers/sshd.js';
import { isProcfsAvailable, sampleTreeMemory, type MemoryPeak } from '../lib/process-memory.js';
import { formatTable } from '../lib/timing.js';
import { startBenchSshd, type BenchSshd } from './sshd.js';
import type { WorkerReport } from './worker.js';
import { markerFile, workloadJsonFile, writeWorkload, type FanoutWorkload } from './workload.js';

export type Side = 'bare' | 'engine' | 'cli' | 'ansible';

export interface FanoutBenchOptions {
  sizes?: readonly number[];
  /** Measured runs per size and side; the median is reported. */
  runs?: number;
  ansible?: boolean;
  cli?: boolean;
  /** Run `npm run build` first, so bin/runbook.js runs the current source. */
  build?: boolean;
  /**
   * Loopback addresses sshd listens on (127.0.0.1..K); hosts are spread over them. One address
   * overflows its kernel listen queue (128) when 200 clients connect at once, which slows the bare
   * script for a reason real hosts (one queue each) do not have.
   */
  addresses?: number;
  write?: (line: string) => void;
}

export interface SideRun {
  wallMs: number;
  memory: MemoryPeak;
  /** Only for the node worker sides: the worker's own peak resident set. */
  maxRssKb?: number;
  /** Only for the node worker sides: CPU over the measured window. */
  cpuMs?: number;
  /** Only for the engine in-process: its phases. */
  phases?: WorkerReport['phases'];
  /** SYNs the kernel dropped on full listen queues during the run (system-wide counter). */
  listenOverflows: number;
  /** 1-minute load average when the run ended: other work on the machine skews every figure. */
  loadAverage: number;
}

export interface SideResult {
  runs: SideRun[];
  wallMs: number;
  pssKb: number;
  maxRssKb?: number;
  cpuMs?: number;
  /** Engine only: median of the execute phase (executePlan), without loading and planning. */
  executeMs?: number;
}

export interface SizeResult {
  size: number;
  sides: Partial<Record<Side, SideResult>>;
}

export interface FanoutBenchResult {
  sizes: SizeResult[];
  /** Engine in-process over bare ssh2 at the largest size. */
  engineOverBare?: number;
  /** Ansible over the engine CLI (whole processes; the engine in-process without the CLI) at the largest size. */
  ansibleFactor?: number;
}

const TARGET_OVER_BARE = 1.3;
const TARGET_ANSIBLE_FACTOR = 10;
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const WORKER = join(REPO_ROOT, 'bench/fanout/worker.ts');
const CLI = join(REPO_ROOT, 'bin/runbook.js');
/** Bounds on one run of one side; Ansible took 142 s for 200 hosts on the reference machine. */
const SIDE_TIMEOUT_MS: Record<Side, number> = { bare: 300_000, engine: 300_000, cli: 300_000, ansible: 1_200_000 };
/** Sampling Ansible's hundreds of processes is not free: fewer samples there. */
const SAMPLE_INTERVAL_MS: Record<Side, number> = { bare: 100, engine: 100, cli: 100, ansible: 1000 };
const SETTLE_TIMEOUT_MS = 30_000;
/** The side being measured, so an interrupted benchmark can end it. */
const runningChildren = new Set<ChildProcess>();

export async function runFanoutBench(options: FanoutBenchOptions = {}): Promise<FanoutBenchResult> {
  const { sizes = [10, 50, 200], runs = 3, addresses = 8, write = (line: string) => console.log(line) } = options;
  if (!hasSshd) throw new Error('/usr/sbin/sshd is not installed: apt-get install -y openssh-server');
  if (!isProcfsAvailable) throw new Error('peak memory is read from /proc/<pid>/smaps_rollup (Linux 4.14+), which is missing');
  const withAnsible = options.ansible ?? true;
  if (withAnsible && !hasCommand('ansible-playbook')) {
    throw new Error('ansible-playbook is not installed: apt-get update -qq && apt-get install -y -qq ansible-core (or pass --no-ansible)');
  }
  let withCli = options.cli ?? true;
  const notes: string[] = [];
  if (withCli && (options.build ?? true)) {
    write('building (npm run build) so bin/runbook.js runs the current source...');
    const built = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, encoding: 'utf8' });
    // tsc still emits when it reports errors; the CLI is measured if it runs the workload correctly.
    if (built.status !== 0) notes.push(`note: npm run build reported errors; dist/ may lag the source:\n${tail(`${built.stdout}${built.stderr}`, 10)}`);
  }
  if (withCli && !existsSync(join(REPO_ROOT, 'dist/engine/cli.js'))) {
    withCli = false;
    notes.push('note: dist/engine/cli.js is missing (npm run build), the CLI side was not measured');
  }
  const sides: Side[] = ['bare', 'engine', ...(withCli ? (['cli'] as const) : []), ...(withAnsible ? (['ansible'] as const) : [])];

  const dir = mkdtempSync(join(tmpdir(), 'runbook-bench-fanout-'));
  let sshd: BenchSshd | undefined;
  const workloads: FanoutWorkload[] = [];
  const cleanup = async () => {
    for (const w of workloads) stopControlMasters(w);
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    for (const child of runningChildren) child.kill('SIGTERM');
    void cleanup().finally(() => process.kill(process.pid, signal));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    sshd = await startBenchSshd({ addresses });
    const endpoint = sshd;
    write(
      `fan-out benchmark: ${runs} run(s) per size and side, median reported; sshd port ${endpoint.port} on ${endpoint.addresses.length} ` +
        `loopback address(es); node ${process.version}; ${ansibleVersion() ?? 'no ansible'}; ${cpus().length} CPUs; ` +
        `load average ${loadavg()[0]!.toFixed(1)}`,
    );
    const workloadFor = (size: number) => {
      const w = writeWorkload(join(dir, `n${size}`), size, endpoint);
      workloads.push(w);
      return w;
    };

    // Caches, the tsx compile cache, sshd's pages: one unmeasured round at the smallest size.
    const warmup = workloadFor(Math.min(...sizes));
    for (const side of sides) await measureSide(side, warmup, endpoint);

    const results: SizeResult[] = [];
    for (const size of sizes) {
      const w = size === warmup.size ? warmup : workloadFor(size);
      const perSide: Partial<Record<Side, SideRun[]>> = {};
      for (let run = 0; run < runs; run++) {
        // Rotate the order so no side always runs right after Ansible (or first).
        for (const side of rotate(sides, run)) {
          const measured = await measureSide(side, w, endpoint);
          (perSide[side] ??= []).push(measured);
          write(
            `  N=${size} run ${run + 1} ${side}: ${(measured.wallMs / 1000).toFixed(2)} s, ${mb(measured.memory.pssKb)} MB PSS, ` +
              `load ${measured.loadAverage.toFixed(1)}${measured.listenOverflows > 0 ? `, ${measured.listenOverflows} listen-queue overflows` : ''}`,
          );
        }
      }
      results.push({ size, sides: Object.fromEntries(Object.entries(perSide).map(([side, r]) => [side, summarize(r)])) });
    }

    const result = report(results, write);
    for (const note of notes) write(note);
    return result;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

async function measureSide(side: Side, w: FanoutWorkload, sshd: BenchSshd): Promise<SideRun> {
  await waitForSshdIdle(sshd);
  rmSync(w.outDir, { recursive: true, force: true });
  mkdirSync(w.outDir);
  // Each CLI run is a first apply of its plan, as in a fresh checkout: no ledger, journal or report from the last one.
  for (const state of ['.runbook', 'reports']) rmSync(join(w.dir, state), { recursive: true, force: true });
  const overflowsBefore = readListenOverflows();
  const measured = await runSide(side, w);
  const run: SideRun = { ...measured, listenOverflows: readListenOverflows() - overflowsBefore, loadAverage: loadavg()[0]! };
  // Every side must have done the work on every host, or its time means nothing.
  const missing = w.hosts.filter((h) => !existsSync(markerFile(w.outDir, h.name)));
  if (missing.length > 0) throw new Error(`${side} N=${w.size}: no marker file for ${missing.length} host(s), e.g. ${missing[0]!.name}`);
  if (side === 'ansible') stopControlMasters(w);
  return run;
}

async function runSide(side: Side, w: FanoutWorkload): Promise<Omit<SideRun, 'listenOverflows' | 'loadAverage'>> {
  switch (side) {
    case 'bare':
    case 'engine': {
      const done = await runProcess(side, process.execPath, ['--import', 'tsx', WORKER, side, workloadJsonFile(w)], { cwd: REPO_ROOT });
      const reportLine = done.stdout.trim().split('\n').pop() ?? '';
      let report: WorkerReport;
      try {
        report = JSON.parse(reportLine) as WorkerReport;
      } catch {
        throw new Error(`${side} N=${w.size}: exit ${done.code}, no report\n${done.stdout}${done.stderr}`);
      }
      if (done.code !== 0 || report.hostsOk !== w.size) {
        throw new Error(`${side} N=${w.size}: ${report.hostsOk}/${w.size} hosts ok: ${report.failures.join('; ')}\n${done.stderr}`);
      }
      return { wallMs: report.wallMs, memory: done.memory, maxRssKb: report.maxRssKb, cpuMs: report.windowCpuMs, phases: report.phases };
    }
    case 'cli': {
      const args = ['apply', w.runbookFile, '-i', w.inventoryFile, '--no-progress', '--no-commit', '--allow-dirty'];
      // Run from the workload folder: the plan is made outside any git repository (hence --allow-dirty), nothing is committed.
      // The CLI runs through its shebang, with the Node flags operators get.
      const done = await runProcess(side, CLI, args, { cwd: w.dir });
      if (done.code !== 0) throw new Error(`cli N=${w.size}: exit ${done.code}\n${tail(done.stderr)}\n${tail(done.stdout)}`);
      return { wallMs: done.wallMs, memory: done.memory };
    }
    case 'ansible': {
      const env = {
        ...process.env,
        ANSIBLE_CONFIG: w.ansible.configFile,
        ANSIBLE_HOME: w.ansible.homeDir,
        ANSIBLE_NOCOLOR: '1',
      };
      const done = await runProcess(side, 'ansible-playbook', ['-i', w.ansible.inventoryFile, w.ansible.playbookFile], {
        cwd: w.dir,
        env,
        detachedMarker: w.ansible.controlDir,
      });
      const recap = [...done.stdout.matchAll(/^(\S+)\s+: ok=(\d+)\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)/gm)];
      const good = recap.filter((m) => m[2] === '4' && m[3] === '0' && m[4] === '0').length;
      if (done.code !== 0 || good !== w.size) {
        throw new Error(`ansible N=${w.size}: exit ${done.code}, ${good}/${w.size} hosts ok=4\n${tail(done.stdout)}\n${tail(done.stderr)}`);
      }
      return { wallMs: done.wallMs, memory: done.memory };
    }
  }
}

interface ProcessRun {
  code: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  memory: MemoryPeak;
}

function runProcess(
  side: Side,
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; detachedMarker?: string },
): Promise<ProcessRun> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid === undefined) {
      child.once('error', reject);
      return;
    }
    runningChildren.add(child);
    // Our node processes do not fork: their own /proc entry is enough, and far cheaper to read.
    const sampler = sampleTreeMemory(child.pid, { intervalMs: SAMPLE_INTERVAL_MS[side], tree: side === 'ansible', detachedMarker: options.detachedMarker });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), SIDE_TIMEOUT_MS[side]);
    child.once('error', (error) => {
      runningChildren.delete(child);
      clearTimeout(timer);
      sampler.stop();
      reject(error);
    });
    // 'exit', not 'close': a daemon the child started (a ControlPersist master) may still hold the pipes.
    child.once('exit', (code, signal) => {
      const wallMs = performance.now() - started;
      runningChildren.delete(child);
      clearTimeout(timer);
      const memory = sampler.stop();
      // Let the pipes drain what was written before the exit.
      setImmediate(() => {
        const result = { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), wallMs, memory };
        if (signal === 'SIGKILL') reject(new Error(`${side}: killed after ${SIDE_TIMEOUT_MS[side] / 1000} s\n${tail(result.stderr)}`));
        else resolvePromise(result);
      });
    });
  });
}

/** TcpExt ListenOverflows from /proc/net/netstat: connection attempts dropped on a full listen queue. */
function readListenOverflows(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i]!.split(/\s+/);
    const values = lines[i + 1]!.split(/\s+/);
    const at = names.indexOf('ListenOverflows');
    if (names[0] === 'TcpExt:' && at > 0) return Number(values[at]);
  }
  return 0;
}

/** Waits until sshd has no per-connection children left from the previous run. */
async function waitForSshdIdle(sshd: BenchSshd): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  while (countChildren(sshd.pid) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

function countChildren(pid: number): number {
  let count = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) count++;
    } catch {
      // Gone meanwhile.
    }
  }
  return count;
}

/** Ends the ControlPersist masters of a workload, so the next Ansible run starts cold like the others. */
function stopControlMasters(w: FanoutWorkload): void {
  if (!existsSync(w.ansible.controlDir)) return;
  for (const socket of readdirSync(w.ansible.controlDir)) {
    spawnSync('ssh', ['-o', `ControlPath=${join(w.ansible.controlDir, socket)}`, '-O', 'exit', 'bench-host'], { stdio: 'ignore', timeout: 5_000 });
  }
}

function summarize(runs: SideRun[]): SideResult {
  const medianOf = (pick: (r: SideRun) => number | undefined) => {
    const values = runs.map(pick).filter((v): v is number => v !== undefined);
    return values.length > 0 ? median(values) : undefined;
  };
  return {
    runs,
    wallMs: median(runs.map((r) => r.wallMs)),
    pssKb: median(runs.map((r) => r.memory.pssKb)),
    maxRssKb: medianOf((r) => r.maxRssKb),
    cpuMs: medianOf((r) => r.cpuMs),
    executeMs: medianOf((r) => r.phases?.executeMs),
  };
}

function report(results: SizeResult[], write: (line: string) => void): FanoutBenchResult {
  const s = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1000).toFixed(2));
  const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? '-' : `${(a / b).toFixed(2)}x`);
  const memory = (kb: number | undefined) => (kb === undefined ? '-' : mb(kb));
  write('');
  write('wall seconds and peak memory (MB), median of the runs:');
  write('');
  write(
    formatTable(
      ['N', 'runbook s', 'bare s', 'ansible s', 'runbook/bare', 'ansible/runbook', 'runbook MB', 'bare MB', 'ansible MB'],
      results.map(({ size, sides }) => [
        String(size),
        s(sides.engine?.wallMs),
        s(sides.bare?.wallMs),
        s(sides.ansible?.wallMs),
        ratio(sides.engine?.wallMs, sides.bare?.wallMs),
        ratio(sides.ansible?.wallMs, sides.engine?.wallMs),
        memory(sides.engine?.pssKb),
        memory(sides.bare?.pssKb),
        memory(sides.ansible?.pssKb),
      ]),
    ),
  );
  write('');
  write('the same runs seen other ways:');
  write('');
  write(
    formatTable(
      ['N', 'execute s', 'execute/bare', 'cli s', 'cli/bare', 'ansible/cli', 'cli MB', 'runbook CPU s', 'bare CPU s', 'runbook maxRSS', 'bare maxRSS', 'ansible RSS sum', 'ansible procs'],
      results.map(({ size, sides }) => [
        String(size),
        s(sides.engine?.executeMs),
        ratio(sides.engine?.executeMs, sides.bare?.wallMs),
        s(sides.cli?.wallMs),
        ratio(sides.cli?.wallMs, sides.bare?.wallMs),
        ratio(sides.ansible?.wallMs, sides.cli?.wallMs),
        memory(sides.cli?.pssKb),
        s(sides.engine?.cpuMs),
        s(sides.bare?.cpuMs),
        memory(sides.engine?.maxRssKb),
        memory(sides.bare?.maxRssKb),
        memory(sides.ansible ? median(sides.ansible.runs.map((r) => r.memory.rssKb)) : undefined),
        sides.ansible ? String(Math.max(...sides.ansible.runs.map((r) => r.memory.processes))) : '-',
      ]),
    ),
  );
  write('');
  write('every run, seconds (load average at its end):');
  for (const { size, sides } of results) {
    const list = Object.entries(sides).map(([side, r]) => `${side} ${r.runs.map((x) => `${s(x.wallMs)} (${x.loadAverage.toFixed(1)})`).join(' ')}`);
    write(`  N=${size}: ${list.join(' | ')}`);
  }
  const overflows = results.flatMap(({ sides }) => Object.values(sides).flatMap((r) => r.runs)).reduce((sum, r) => sum + r.listenOverflows, 0);
  const sampling = (side: Side) => {
    const shares = results.flatMap(({ sides }) => (sides[side]?.runs ?? []).map((x) => x.memory.cpuMs / x.memory.spanMs));
    return shares.length > 0 ? `${side} ${(Math.max(...shares) * 100).toFixed(1)}%` : undefined;
  };
  const shares = (['bare', 'engine', 'cli', 'ansible'] as const).map(sampling).filter((x) => x !== undefined);
  write(`CPU used by memory sampling (this process, same CPUs), at most, as a share of one CPU over the run: ${shares.join(', ')}`);
  if (overflows > 0) write(`warning: ${overflows} connection attempt(s) dropped on full listen queues during measured runs (system-wide counter); try --addresses with more`);
  write('');
  write('runbook: the engine in the worker process, from reading the runbook and inventory (load = parse + schema + rules, plan) to');
  write('  the last connection closed (executePlan over createSshTransport); execute: executePlan alone. bare: ssh2, one');
  write('  connection per host, the 4 commands in turn, from reading the key to the last close. Neither counts process start-up.');
  write('cli: `node bin/runbook.js apply RUNBOOK -i INVENTORY --no-progress --no-commit`, the whole process (start-up, load, plan,');
  write('  journal, run, report); ansible: the whole ansible-playbook process (pipelining, ControlPersist, forks = N).');
  write('MB: peak PSS sampled from /proc: of the node process every 100 ms; for ansible summed over its process tree and its');
  write('  detached ControlPersist masters every 1 s; maxRSS: the node worker alone; CPU: user + system of the worker over its measured window.');

  const largest = results.at(-1);
  const result: FanoutBenchResult = { sizes: results };
  if (largest?.sides.engine && largest.sides.bare) {
    const bare = largest.sides.bare.wallMs;
    result.engineOverBare = largest.sides.engine.wallMs / bare;
    const ok = result.engineOverBare <= TARGET_OVER_BARE;
    const execute = largest.sides.engine.executeMs;
    write('');
    write(
      `N=${largest.size}: runbook/bare ${result.engineOverBare.toFixed(2)}x (target: at most ${TARGET_OVER_BARE}x) ${ok ? 'OK' : 'ABOVE TARGET'}` +
        (execute !== undefined ? `; execute alone/bare ${(execute / bare).toFixed(2)}x` : ''),
    );
  }
  if (largest?.sides.ansible && (largest.sides.cli ?? largest.sides.engine)) {
    const ours = largest.sides.cli ? 'cli' : 'runbook';
    result.ansibleFactor = largest.sides.ansible.wallMs / (largest.sides.cli ?? largest.sides.engine)!.wallMs;
    const ok = result.ansibleFactor >= TARGET_ANSIBLE_FACTOR;
    write(`N=${largest.size}: ansible/${ours} ${result.ansibleFactor.toFixed(1)}x (target: at least ${TARGET_ANSIBLE_FACTOR}x faster) ${ok ? 'OK' : 'BELOW TARGET'}`);
  }
  return result;
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function mb(kb: number): string {
  return (kb / 1024).toFixed(0);
}

function tail(text: string, lines = 20): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function ansibleVersion(): string | undefined {
  const out = spawnSync('ansible-playbook', ['--version'], { encoding: 'utf8' });
  return out.status === 0 ? out.stdout.split('\n')[0]?.trim() : undefined;
}

function parseArgs(argv: readonly string[]): FanoutBenchOptions {
  const options: FanoutBenchOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    const positive = (text: string) => {
      const n = Number(text);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${arg}: ${text} is not a positive integer`);
      return n;
    };
    if (arg === '--sizes') options.sizes = value().split(',').map(positive);
    else if (arg === '--runs') options.runs = positive(value());
    else if (arg === '--addresses') options.addresses = positive(value());
    else if (arg === '--no-ansible') options.ansible = false;
    else if (arg === '--no-cli') options.cli = false;
    else if (arg === '--no-build') options.build = false;
    else throw new Error(`unknown argument ${arg}; usage: bench/fanout/index.ts [--sizes 10,50,200] [--runs 3] [--addresses K] [--no-ansible] [--no-cli] [--no-build]`);
  }
  return options;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runFanoutBench(parseArgs(process.argv.slice(2)));
}

// One measured run of one side, in its own process so peak memory does not mix:
//   node --import tsx bench/fanout/worker.ts (engine|bare) WORKLOAD_JSON
// Prints one JSON line (WorkerReport) on stdout.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import ssh2 from 'ssh2';
import { loadDocument } from '../../engine/load/load-document.js';
import { makePlan } from '../../engine/plan/make-plan.js';
import { systemClock } from '../../engine/run/clock.js';
import { executePlan, type ExecutorDeps } from '../../engine/run/execute-plan.js';
import type { Inventory } from '../../engine/schema/inventory.js';
import type { Runbook } from '../../engine/schema/runbook.js';
import { resolveConnectTarget } from '../../engine/transport/resolve-target.js';
import { createSshTransport, type SshTransportOptions } from '../../engine/transport/ssh.js';
import { ENGINE_VERSION } from '../../engine/version.js';
import { OS_RELEASE_PATTERN, STEP_IDS, commandsFor, type FanoutWorkload } from './workload.js';

export type WorkerSide = 'engine' | 'bare';

export interface WorkerReport {
  side: WorkerSide;
  /** From the first file read or connection to the last connection closed; excludes process and module start-up. */
  wallMs: number;
  /** process.resourceUsage().maxRSS: this process's peak resident set, kB. */
  maxRssKb: number;
  /** CPU this process used over the measured window (wallMs), user + system, ms. */
  windowCpuMs: number;
  /** CPU this process used over its whole life (start-up and module loading included), ms. */
  processCpuMs: number;
  /** The engine's phases, ms: loading (parse + schema + rules) both files, planning, executing. */
  phases?: { loadMs: number; planMs: number; executeMs: number; executeCpuMs: number };
  hostsOk: number;
  /** The first few problems, so a broken run is never reported as a timing. */
  failures: string[];
}

export type SideReport = Omit<WorkerReport, 'maxRssKb' | 'processCpuMs'>;

const READY_TIMEOUT_MS = 60_000;

/** The engine as `runbook apply` wires it: load, plan, execute over createSshTransport. */
export async function runEngineSide(w: FanoutWorkload, transport: SshTransportOptions = {}): Promise<SideReport> {
  const started = performance.now();
  const cpuAtStart = process.cpuUsage();
  const load = <T>(file: string, kind: 'Runbook' | 'Inventory'): T => {
    const doc = loadDocument(file, readFileSync(file, 'utf8'), kind);
    if (!doc.ok) throw new Error(`${file} is not a valid ${kind}: ${doc.diagnostics.map((d) => d.message).join('; ')}`);
    return doc.value as T;
  };
  const runbook = load<Runbook>(w.runbookFile, 'Runbook');
  const inventory = load<Inventory>(w.inventoryFile, 'Inventory');
  const loaded = performance.now();
  const plan = makePlan({
    runbook,
    inventory,
    files: { runbook: { path: 'fanout.runbook.yaml', sha256: '' }, inventory: { path: 'fanout.inventory.yaml', sha256: '' } },
    params: {},
    commit: null,
    engineVersion: ENGINE_VERSION,
  });
  const planned = performance.now();
  const cpuAtExecute = process.cpuUsage();
  const ssh = createSshTransport(transport);
  const deps: ExecutorDeps = {
    clock: systemClock,
    emit: () => {},
    connect: (host) => ssh.connect(resolveConnectTarget(host, plan.hosts[host]!, { inventoryDir: w.dir, env: process.env })),
    approve: () => Promise.resolve(true),
  };
  const result = await executePlan(plan, deps, { runId: `fanout-${w.size}`, maxParallel: w.size });
  const finished = performance.now();
  const windowCpuMs = cpuMs(process.cpuUsage(cpuAtStart));
  const executeCpuMs = cpuMs(process.cpuUsage(cpuAtExecute));
  const phases = { loadMs: loaded - started, planMs: planned - loaded, executeMs: finished - planned, executeCpuMs };

  const failures: string[] = [];
  let hostsOk = 0;
  for (const [name, host] of Object.entries(result.hosts)) {
    const kernel = host.steps.find((s) => s.id === STEP_IDS[0]);
    const problem =
      host.state !== 'succeeded'
        ? `${name}: ${host.state} ${host.message ?? ''}`
        : host.steps.length !== STEP_IDS.length
          ? `${name}: ${host.steps.length} steps recorded`
          : kernel?.stdout.trim() !== release()
            ? `${name}: uname -r gave ${JSON.stringify(kernel?.stdout)}`
            : undefined;
    if (problem) failures.push(problem);
    else hostsOk++;
  }
  if (result.outcome !== 'succeeded') failures.unshift(`run ${result.outcome}: ${result.message ?? ''}`);
  return { side: 'engine', wallMs: finished - started, windowCpuMs, phases, hostsOk, failures: failures.slice(0, 5) };
}

/** The least a hand-written fan-out does: per host one ssh2 connection, the four commands in turn, close. */
export async function runBareSide(w: FanoutWorkload): Promise<SideReport> {
  const started = performance.now();
  const cpuAtStart = process.cpuUsage();
  const privateKey = readFileSync(w.keyFile);
  const osRelease = new RegExp(OS_RELEASE_PATTERN, 'm');
  const outcomes = await Promise.all(
    w.hosts.map(async (host): Promise<string | undefined> => {
      const client = new ssh2.Client();
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      client.on('error', () => {});
      try {
        await new Promise<void>((resolve, reject) => {
          client.once('ready', () => resolve());
          client.once('error', reject);
          client.once('close', () => reject(new Error('closed during the handshake')));
          client.connect({
            host: host.address,
            port: w.port,
            username: w.user,
            privateKey,
            readyTimeout: READY_TIMEOUT_MS,
            hostVerifier: (key: Buffer) => `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}` === w.hostKeyFingerprint,
          });
        });
        const [kernel, os, write, test] = commandsFor(w.outDir, host.name);
        const uname = await exec(client, kernel);
        if (uname.code !== 0 || uname.stdout.trim() !== release()) return `${host.name}: uname -r gave ${uname.code} ${JSON.stringify(uname.stdout)}`;
        const osr = await exec(client, os);
        if (osr.code !== 0 || !osRelease.test(osr.stdout)) return `${host.name}: os-release ${osr.code}`;
        const written = await exec(client, write);
        if (written.code !== 0) return `${host.name}: write exited ${written.code}`;
        const present = await exec(client, test);
        if (present.code !== 0) return `${host.name}: marker missing (${present.code})`;
        return undefined;
      } catch (error) {
        return `${host.name}: ${(error as Error).message}`;
      } finally {
        client.end();
        await closed;
      }
    }),
  );
  const wallMs = performance.now() - started;
  const windowCpuMs = cpuMs(process.cpuUsage(cpuAtStart));
  const failures = outcomes.filter((o): o is string => o !== undefined);
  return { side: 'bare', wallMs, windowCpuMs, hostsOk: w.hosts.length - failures.length, failures: failures.slice(0, 5) };
}

const cpuMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;

function exec(client: InstanceType<typeof ssh2.Client>, command: string): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) return reject(error);
      const chunks: Buffer[] = [];
      let code: number | null = null;
      channel.on('data', (chunk: Buffer) => chunks.push(chunk));
      channel.stderr.resume();
      channel.on('exit', (exitCode: number | null) => (code = exitCode));
      channel.on('close', () => resolve({ code, stdout: Buffer.concat(chunks).toString('utf8') }));
    });
  });
}

async function main(): Promise<void> {
  const [side, workloadFile] = process.argv.slice(2);
  if ((side !== 'engine' && side !== 'bare') || workloadFile === undefined) {
    throw new Error('usage: worker.ts (engine|bare) WORKLOAD_JSON');
  }
  const workload = JSON.parse(readFileSync(workloadFile, 'utf8')) as FanoutWorkload;
  const report = side === 'engine' ? await runEngineSide(workload) : await runBareSide(workload);
  const usage = process.resourceUsage();
  const full: WorkerReport = {
    ...report,
    maxRssKb: usage.maxRSS,
    processCpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
  };
  process.stdout.write(`${JSON.stringify(full)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();

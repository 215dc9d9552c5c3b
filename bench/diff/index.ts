// Snapshot compare against a plain sort-and-join of JSON lines: `npx tsx bench/diff/index.ts [--sizes 100000,1000000] [--runs 3]`.
// Target (issue 6): 1,000,000 records compared in under 2x the baseline, time per record about flat from 100k to 1M.
// Each measurement runs in its own child process; its memory is the process RSS sampled during the runs
// (from a second thread) above the RSS of the generated input.
import { fork } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Snapshot, SnapshotElement } from '../../engine/schema/snapshot.js';
import { compareSnapshots } from '../../engine/snapshot/compare.js';
import { ELEMENT_SPECS, ELEMENT_TYPES, type ElementRecord, type ElementType } from '../../engine/snapshot/element-model.js';
import { createRandom } from '../lib/random.js';
import { formatMs, formatTable } from '../lib/timing.js';

export const TARGET_RATIO = 2;
export type InputOrder = 'shuffled' | 'sorted';
type Operation = 'compare' | 'baseline';

/** Records per host by element: a leaf of a large fabric, routes and MACs dominating. */
const PER_HOST: Record<ElementType, number> = {
  route: 2750,
  mac: 1000,
  neighbor: 500,
  interface: 200,
  link: 200,
  address: 150,
  lldp: 75,
  bgp: 50,
  sensor: 25,
  service: 25,
  ospf: 15,
  node: 1,
  clag: 1,
};
const RECORDS_PER_HOST = Object.values(PER_HOST).reduce((a, b) => a + b, 0);


const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const mac = (h: number, i: number) => `52:54:${(h >> 8).toString(16).padStart(2, '0')}:${(h & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;

/** One record of `type` on host `h`, number `i`; `variant` moves its compared fields (a real change). */
function makeRecord(type: ElementType, h: number, i: number, variant: number, random: () => number): ElementRecord {
  const host = `leaf${String(h).padStart(4, '0')}`;
  const tick = Math.floor(random() * 1e6);
  switch (type) {
    case 'route':
      return { host, vrf: i % 10 === 0 ? 'blue' : 'default', prefix: `${ip(i)}/32`, protocol: 'bgp', nexthops: [`via 169.254.0.1 dev swp${51 + ((i + variant) % 2)}`, 'via 169.254.0.1 dev swp53'], metric: 20, distance: 20, selected: true, family: 'ipv4', uptime: `${tick}s` };
    case 'mac':
      return { host, mac: mac(h, i), vlan: 10 + (i % 20), ifname: `bond${1 + ((i + variant) % 40)}`, origin: 'learned', local: false, age: tick };
    case 'neighbor':
      return { host, vrf: 'default', ifname: `vlan${10 + (i % 20)}`, ip: ip(i + 70000), mac: mac(h, i + variant), family: 'ipv4', router: false, state: tick % 2 ? 'REACHABLE' : 'STALE' };
    case 'interface':
      return { host, ifname: `swp${i}`, type: 'swp', adminState: 'up', operState: variant ? 'down' : 'up', mtu: 9216, speed: '100G', mac: mac(h, i), rxPackets: tick * 7, txPackets: tick * 9, rxErrors: 0, txErrors: 0, rxDrops: tick % 5, txDrops: 0 };
    case 'link':
      return { host, ifname: `swp${i}`, kind: 'device', operState: variant ? 'DOWN' : 'UP', adminUp: true, mtu: 9216, mac: mac(h, i), carrierChanges: tick % 11 };
    case 'address':
      return { host, prefix: ip(i + 140000), mask: 24, ifname: `vlan${i}`, family: 'ipv4', scope: variant ? 'link' : 'global', validLifetime: tick, preferredLifetime: tick };
    case 'lldp':
      return { host, ifname: `swp${i}`, peerHostname: `spine${(i + variant) % 8}`, peerIfname: `swp${h % 64}`, peerMac: mac(9000 + (i % 8), h), peerMgmtIp: ip(200000 + i), age: `${tick}s` };
    case 'bgp':
      return { host, vrf: 'default', peer: `swp${i}`, asn: 65000 + (i % 8), state: variant ? 'Active' : 'Established', localAsn: 65100 + h, peerHostname: `spine${i % 8}`, prefixesReceived: 4000, prefixesSent: 12, uptime: tick, messagesReceived: tick * 3, messagesSent: tick * 3 + 1 };
    case 'sensor':
      return { host, kind: i % 3 === 0 ? 'fan' : 'temp', name: `Sensor${i}`, state: variant ? 'BAD' : 'OK', min: 5, max: 80, value: 30 + (tick % 20), description: `Board sensor ${i}` };
    case 'service':
      return { host, name: `svc${i}`, vrf: 'default', enabled: true, active: variant ? 'failed' : 'active', subState: 'running', pid: tick, uptime: tick };
    case 'ospf':
      return { host, ifname: `swp${i}`, area: '0.0.0.0', peerId: ip(300000 + i), state: variant ? 'Init' : 'Full/-', peerIp: ip(400000 + i), priority: 1, vrf: 'default', uptime: tick, deadTimer: tick % 40000 };
    case 'node':
      return { host, hostname: host, os: 'Cumulus Linux', version: variant ? '5.9.1' : '4.4.0', platform: 'x86_64', serial: `VX${h}`, memoryKb: 1945736, uptime: tick, bootTime: `${tick}` };
    case 'clag':
      return { host, sysmac: mac(h, 65000), role: variant ? 'secondary' : 'primary', peerAlive: true, peerIf: 'peerlink.4094', priority: 1000, bonds: ['bond1:1:dual', 'bond2:2:dual'] };
  }
}

function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}

/**
 * Two snapshots of about `records` records each: the second with ~1% of records changed, ~1%
 * removed and ~1% added, and every volatile field (counters, uptimes, ages) moved, as between two
 * real snapshots. Deterministic for a given size. `shuffled` puts records in random order (a file
 * from elsewhere), `sorted` leaves them in key order per host, as capture writes them.
 */
export function generateSnapshotPair(records: number, order: InputOrder = 'shuffled'): { before: Snapshot; after: Snapshot } {
  const random = createRandom(records);
  const hosts = Math.max(1, Math.round(records / RECORDS_PER_HOST));
  const scale = records / (hosts * RECORDS_PER_HOST);
  const hostList = Array.from({ length: hosts }, (_, h) => ({ name: `leaf${String(h).padStart(4, '0')}`, platform: 'cumulus' }));
  const before = {} as Record<ElementType, ElementRecord[]>;
  const after = {} as Record<ElementType, ElementRecord[]>;
  for (const type of ELEMENT_TYPES) {
    const perHost = type === 'node' || type === 'clag' ? 1 : Math.max(1, Math.round(PER_HOST[type] * scale));
    const a: ElementRecord[] = [];
    const b: ElementRecord[] = [];
    for (let h = 0; h < hosts; h++) {
      for (let i = 0; i < perHost; i++) {
        a.push(makeRecord(type, h, i, 0, random));
        const roll = random();
        if (roll < 0.01) continue;
        b.push(makeRecord(type, h, i, roll < 0.02 ? 1 : 0, random));
        // node and clag have one record per host: a second would be a duplicate key, not an addition.
        if (roll > 0.99 && type !== 'node' && type !== 'clag') b.push(makeRecord(type, h, perHost + i, 0, random));
      }
    }
    if (order === 'shuffled') {
      shuffle(a, random);
      shuffle(b, random);
    }
    // Through JSON text and back, as `runbook diff` reads snapshots: flat strings, objects in file
    // order. One element at a time, so generating costs less memory than comparing.
    before[type] = JSON.parse(JSON.stringify(a)) as ElementRecord[];
    after[type] = JSON.parse(JSON.stringify(b)) as ElementRecord[];
  }
  const snapshot = (name: string, elements: Record<ElementType, ElementRecord[]>): Snapshot => ({
    apiVersion: 'runbook/v1',
    kind: 'Snapshot',
    name,
    createdAt: '2024-05-01T10:00:00.000Z',
    durationMs: 0,
    engineVersion: 'bench',
    profile: 'fabric',
    hosts: hostList,
    elements: Object.fromEntries(
      ELEMENT_TYPES.map((type) => [
        type,
        {
          status: 'collected',
          hosts: Object.fromEntries(hostList.map((h) => [h.name, { status: 'collected', records: 0 }])),
          records: elements[type],
        } satisfies SnapshotElement,
      ]),
    ) as Record<ElementType, SnapshotElement>,
  });
  return { before: snapshot('before', before), after: snapshot('after', after) };
}

export function countRecords(snapshot: Snapshot): number {
  return ELEMENT_TYPES.reduce((sum, type) => sum + snapshot.elements[type].records.length, 0);
}

/**
 * The baseline: each record as a plain JSON line prefixed by its key string, both sides sorted by
 * key, merge-joined, and paired lines compared as text (so it reports every record whose volatile
 * fields moved as changed; it does no per-field work).
 */
export function runBaseline(before: Snapshot, after: Snapshot): { added: number; removed: number; changed: number; linesMs: number; joinMs: number } {
  const started = performance.now();
  const toLines = (snapshot: Snapshot): string[] => {
    const lines: string[] = [];
    for (const type of ELEMENT_TYPES) {
      const key = ELEMENT_SPECS[type].key;
      for (const record of snapshot.elements[type].records) {
        let k = type;
        for (const field of key) k += `\u001f${record[field]}`;
        lines.push(`${k}\t${JSON.stringify(record)}`);
      }
    }
    return lines;
  };
  const a = toLines(before);
  const b = toLines(after);
  const linesDone = performance.now();
  a.sort();
  b.sort();
  const added: string[] = [];
  const removed: string[] = [];
  const changed: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const la = a[i];
    const lb = b[j];
    const ka = la === undefined ? undefined : la.slice(0, la.indexOf('\t'));
    const kb = lb === undefined ? undefined : lb.slice(0, lb.indexOf('\t'));
    if (kb === undefined || (ka !== undefined && ka < kb)) {
      removed.push(la!);
      i++;
    } else if (ka === undefined || kb < ka) {
      added.push(lb!);
      j++;
    } else {
      if (la !== lb) changed.push(lb!);
      i++;
      j++;
    }
  }
  const finished = performance.now();
  return { added: added.length, removed: removed.length, changed: changed.length, linesMs: linesDone - started, joinMs: finished - linesDone };
}

// ---------------------------------------------------------------- child processes

interface WorkerRequest {
  operation: Operation;
  records: number;
  order: InputOrder;
  runs: number;
}

interface WorkerResult {
  records: number;
  /** Median wall time of the operation, ms. */
  medianMs: number;
  /** Median CPU time (user + system) of the operation, ms: less disturbed by other processes on a shared machine. */
  medianCpuMs: number;
  samplesMs: number[];
  /** Resident set after the input was generated and garbage collected, bytes. */
  inputRssBytes: number;
  /** Highest resident set sampled during the measured runs, bytes. */
  peakRssBytes: number;
  detail: Record<string, number>;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted.length === 0 ? 0 : sorted[Math.floor((sorted.length - 1) / 2)]!;
}

function runWorker(request: WorkerRequest): WorkerResult {
  const { before, after } = generateSnapshotPair(request.records, request.order);
  const records = countRecords(before) + countRecords(after);
  const gc = (globalThis as { gc?: () => void }).gc;
  const operation = () => {
    if (request.operation === 'compare') {
      const diff = compareSnapshots(before, after);
      return { added: diff.totals.added, removed: diff.totals.removed, changed: diff.totals.changed };
    }
    return { ...runBaseline(before, after) };
  };
  const sampler = startRssSampler();
  gc?.();
  const inputRssBytes = process.memoryUsage.rss();
  const samples: number[] = [];
  const cpuSamples: number[] = [];
  let detail: Record<string, number> = {};
  // One unmeasured run first: the JIT compiles the hot loops.
  for (let run = 0; run <= request.runs; run++) {
    gc?.();
    if (run === 1) sampler.reset();
    const cpu = process.cpuUsage();
    const started = performance.now();
    detail = operation();
    const wall = performance.now() - started;
    const used = process.cpuUsage(cpu);
    if (run > 0) {
      samples.push(wall);
      cpuSamples.push((used.user + used.system) / 1000);
    }
  }
  const peakRssBytes = sampler.stop();
  return { records, medianMs: median(samples), medianCpuMs: median(cpuSamples), samplesMs: samples, inputRssBytes, peakRssBytes, detail };
}

/**
 * Samples the process's resident set every 2 ms from another thread, so the peak of a synchronous
 * operation is seen (getrusage maxRSS would also hold the peak of generating the input).
 */
function startRssSampler(): { reset(): void; stop(): number } {
  const peakKb = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     const peak = new Int32Array(workerData);
     setInterval(() => { const kb = Math.ceil(process.memoryUsage.rss() / 1024); if (kb > Atomics.load(peak, 0)) Atomics.store(peak, 0, kb); }, 2);`,
    { eval: true, workerData: peakKb.buffer },
  );
  return {
    reset: () => Atomics.store(peakKb, 0, 0),
    stop: () => {
      const peak = Atomics.load(peakKb, 0) * 1024;
      void worker.terminate();
      return peak;
    },
  };
}

function runInChild(request: WorkerRequest): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--worker', JSON.stringify(request)], {
      execArgv: [...process.execArgv, '--expose-gc', '--max-old-space-size=12288'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: WorkerResult | undefined;
    child.on('message', (message) => {
      result = message as WorkerResult;
    });
    child.on('error', reject);
    child.on('exit', (code) => (result && code === 0 ? resolve(result) : reject(new Error(`benchmark child (${request.operation}, ${request.records}) exited with ${code}`))));
  });
}

export interface DiffBenchOptions {
  sizes?: number[];
  orders?: InputOrder[];
  /** Measured runs per operation (the median is reported); each child also pays one generation. */
  runs?: number;
  write?: (line: string) => void;
}

export interface DiffBenchRow {
  /** Records per snapshot, as asked; `records` holds both snapshots' actual total. */
  size: number;
  order: InputOrder;
  records: number;
  compare: WorkerResult;
  baseline: WorkerResult;
  /** Median wall time of compare over that of the baseline. */
  ratio: number;
  /** The same with CPU times. */
  cpuRatio: number;
}

export interface DiffBenchResult {
  rows: DiffBenchRow[];
  target: number;
  /** Wall-time ratio at the largest size, first input order: what the target is judged on. */
  ratio: number;
  /** Per input order: compare CPU time per record at the largest size over that at the smallest (1 = linear). */
  growth: Partial<Record<InputOrder, number>>;
}

export async function runDiffBench(options: DiffBenchOptions = {}): Promise<DiffBenchResult> {
  const sizes = options.sizes ?? [100_000, 1_000_000];
  const orders = options.orders ?? ['shuffled', 'sorted'];
  const runs = options.runs ?? 3;
  const write = options.write ?? ((line: string) => console.log(line));
  const rows: DiffBenchRow[] = [];
  for (const size of sizes) {
    for (const order of orders) {
      // One child at a time: two cores, and each child's peak memory must be its own.
      const compare = await runInChild({ operation: 'compare', records: size, order, runs });
      const baseline = await runInChild({ operation: 'baseline', records: size, order, runs });
      rows.push({ size, order, records: compare.records, compare, baseline, ratio: compare.medianMs / baseline.medianMs, cpuRatio: compare.medianCpuMs / baseline.medianCpuMs });
      write(`measured ${size} records per snapshot, ${order}`);
    }
  }
  const mb = (bytes: number) => `${Math.round(bytes / 2 ** 20)}`;
  const peak = (r: WorkerResult) => mb(Math.max(0, r.peakRssBytes - r.inputRssBytes));
  const perRecordUs = (ms: number, r: WorkerResult) => ((ms * 1000) / r.records).toFixed(3);
  write('');
  write(
    formatTable(
      ['records/snapshot', 'order', 'compare ms', 'cpu ms', 'µs/rec', '+MB', 'baseline ms', 'cpu ms', 'µs/rec', '+MB', 'ratio', 'cpu ratio'],
      rows.map((r) => [
        String(r.size),
        r.order,
        formatMs(r.compare.medianMs),
        formatMs(r.compare.medianCpuMs),
        perRecordUs(r.compare.medianMs, r.compare),
        peak(r.compare),
        formatMs(r.baseline.medianMs),
        formatMs(r.baseline.medianCpuMs),
        perRecordUs(r.baseline.medianMs, r.baseline),
        peak(r.baseline),
        r.ratio.toFixed(2),
        r.cpuRatio.toFixed(2),
      ]),
    ),
  );
  write('');
  write(
    `Times: median of ${runs} runs after one warm-up run, wall clock and CPU (user + system); µs/rec counts the records of both snapshots. ` +
      '+MB: highest resident set (process RSS, sampled every 2 ms from a second thread) during the measured runs, minus the resident set of the generated input after a full GC. ' +
      `Input resident: ${rows.map((r) => `${mb(r.compare.inputRssBytes)} MB at ${r.size}/${r.order}`).join(', ')}.`,
  );
  for (const r of rows) {
    write(
      `${r.size} ${r.order}: compare found +${r.compare.detail.added} -${r.compare.detail.removed} ~${r.compare.detail.changed}; baseline +${r.baseline.detail.added} -${r.baseline.detail.removed} ~${r.baseline.detail.changed} (JSON lines ${formatMs(r.baseline.detail.linesMs ?? 0)} ms, sort and join ${formatMs(r.baseline.detail.joinMs ?? 0)} ms)`,
    );
  }
  const largestSize = Math.max(...rows.map((r) => r.size));
  const smallestSize = Math.min(...rows.map((r) => r.size));
  const judged = rows.find((r) => r.size === largestSize)!;
  write('');
  write(`Target: ${largestSize} records compared in under ${TARGET_RATIO}x the baseline: ${judged.ratio.toFixed(2)}x wall, ${judged.cpuRatio.toFixed(2)}x CPU, ${judged.order} input (${judged.ratio < TARGET_RATIO ? 'met' : 'MISSED'}).`);
  const growth: Partial<Record<InputOrder, number>> = {};
  for (const order of orders) {
    const small = rows.find((r) => r.order === order && r.size === smallestSize);
    const large = rows.find((r) => r.order === order && r.size === largestSize);
    if (!small || !large || small === large) continue;
    const per = (r: WorkerResult, ms: number) => ms / r.records;
    growth[order] = per(large.compare, large.compare.medianCpuMs) / per(small.compare, small.compare.medianCpuMs);
    write(
      `Compare time per record, ${order} input: ${perRecordUs(small.compare.medianMs, small.compare)} µs at ${smallestSize}, ${perRecordUs(large.compare.medianMs, large.compare)} µs at ${largestSize} (CPU: x${growth[order]!.toFixed(2)}; 1.00 = linear).`,
    );
  }
  return { rows, target: TARGET_RATIO, ratio: judged.ratio, growth };
}

function parseArgs(argv: readonly string[]): DiffBenchOptions {
  const options: DiffBenchOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    if (argv[i] === '--sizes' && value) options.sizes = value.split(',').map(Number);
    if (argv[i] === '--orders' && value) options.orders = value.split(',') as InputOrder[];
    if (argv[i] === '--runs' && value) options.runs = Number(value);
  }
  return options;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly && process.argv[2] === '--worker') {
  process.send!(runWorker(JSON.parse(process.argv[3]!) as WorkerRequest), () => process.exit(0));
} else if (invokedDirectly) {
  const result = await runDiffBench(parseArgs(process.argv.slice(2)));
  process.exitCode = result.ratio < TARGET_RATIO ? 0 : 1;
}

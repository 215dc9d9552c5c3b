// Peak memory of a process tree, sampled from /proc (Linux). `/usr/bin/time -v` and maxRSS report
// one process; a forking tool (Ansible) is many, sharing pages, so this sums PSS: each shared page
// counts once across the processes that share it.
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export interface MemoryPeak {
  /** Largest sum of PSS over the tree seen in one sample, kB. */
  pssKb: number;
  /** Largest sum of RSS over the tree seen in one sample, kB (counts shared pages once per process). */
  rssKb: number;
  /** Most processes seen in one sample. */
  processes: number;
  samples: number;
  /** Time spent sampling, ms: CPU taken from what is measured, on a small machine. */
  busyMs: number;
  /** From the first sample to the last, ms. */
  spanMs: number;
}

export interface TreeSampler {
  /** Takes a last sample and stops. */
  stop(): MemoryPeak;
}

export interface SampleOptions {
  intervalMs?: number;
  /**
   * Also count processes outside the tree whose command line contains this text: daemons the tree
   * started and that detached (an OpenSSH ControlPersist master re-parents itself to init).
   */
  detachedMarker?: string;
}

export const isProcfsAvailable = (() => {
  try {
    readFileSync('/proc/self/smaps_rollup');
    return true;
  } catch {
    return false;
  }
})();

/** Samples the tree under `rootPid` every `intervalMs` until stop(). */
export function sampleTreeMemory(rootPid: number, options: SampleOptions = {}): TreeSampler {
  const peak: MemoryPeak = { pssKb: 0, rssKb: 0, processes: 0, samples: 0, busyMs: 0, spanMs: 0 };
  const began = performance.now();
  const sample = () => {
    const started = performance.now();
    const pids = findTree(rootPid, options.detachedMarker);
    let pss = 0;
    let rss = 0;
    let counted = 0;
    for (const pid of pids) {
      const usage = readRollup(pid);
      if (usage === null) continue;
      pss += usage.pssKb;
      rss += usage.rssKb;
      counted++;
    }
    peak.samples++;
    peak.pssKb = Math.max(peak.pssKb, pss);
    peak.rssKb = Math.max(peak.rssKb, rss);
    peak.processes = Math.max(peak.processes, counted);
    peak.busyMs += performance.now() - started;
  };
  sample();
  const timer = setInterval(sample, options.intervalMs ?? 100);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { ...peak, spanMs: performance.now() - began };
    },
  };
}

function findTree(rootPid: number, detachedMarker: string | undefined): number[] {
  const children = new Map<number, number[]>();
  const detached: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const stat = readOrNull(`/proc/${pid}/stat`);
    if (stat === null) continue;
    // The command name is in parentheses and may hold spaces; fields after it are fixed.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
    if (detachedMarker !== undefined && comm === 'ssh' && readOrNull(`/proc/${pid}/cmdline`)?.includes(detachedMarker)) {
      detached.push(pid);
    }
  }
  const seen = new Set<number>();
  const stack = [rootPid, ...detached];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return [...seen];
}

function readRollup(pid: number): { pssKb: number; rssKb: number } | null {
  const text = readOrNull(`/proc/${pid}/smaps_rollup`);
  if (text === null) return null;
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return { pssKb: field('Pss'), rssKb: field('Rss') };
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    // The process ended between listing and reading.
    return null;
  }
}

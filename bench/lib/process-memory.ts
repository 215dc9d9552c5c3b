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
  /** CPU the sampling used, ms: taken from what is measured, on a small machine. */
  cpuMs: number;
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
   * Walk the process tree (default true): the /proc/<pid>/stat of every new process on the machine is
   * read once, which adds up while hundreds of sshd children come and go; a tool known not to fork can
   * skip it.
   */
  tree?: boolean;
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
  const peak: MemoryPeak = { pssKb: 0, rssKb: 0, processes: 0, samples: 0, cpuMs: 0, spanMs: 0 };
  const began = performance.now();
  const tree = options.tree === false ? null : createTreeTracker(rootPid, options.detachedMarker);
  const sample = () => {
    const cpuBefore = process.cpuUsage();
    const pids = tree === null ? [rootPid] : tree.update();
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
    const cpu = process.cpuUsage(cpuBefore);
    peak.cpuMs += (cpu.user + cpu.system) / 1000;
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

/**
 * Follows the tree under `rootPid` across samples. Each process's /proc/<pid>/stat is read once, when
 * it is first seen: a process stays in the tree when its parent exits and it is re-parented.
 */
function createTreeTracker(rootPid: number, detachedMarker: string | undefined) {
  const inTree = new Set<number>([rootPid]);
  const foreign = new Set<number>();
  return {
    update(): number[] {
      const alive = new Set<number>();
      const fresh: Array<{ pid: number; ppid: number; comm: string }> = [];
      for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        const pid = Number(entry);
        alive.add(pid);
        if (inTree.has(pid) || foreign.has(pid)) continue;
        const stat = readOrNull(`/proc/${pid}/stat`);
        if (stat === null) continue;
        // The command name is in parentheses and may hold spaces; the fields after it are fixed.
        const close = stat.lastIndexOf(')');
        fresh.push({ pid, comm: stat.slice(stat.indexOf('(') + 1, close), ppid: Number(stat.slice(close + 2).split(' ')[1]) });
      }
      // A new child may be listed before its new parent: settle until nothing changes.
      let changed = true;
      while (changed) {
        changed = false;
        for (const p of fresh) {
          if (!inTree.has(p.pid) && inTree.has(p.ppid)) {
            inTree.add(p.pid);
            changed = true;
          }
        }
      }
      for (const p of fresh) {
        if (inTree.has(p.pid)) continue;
        const detached = detachedMarker !== undefined && p.comm === 'ssh' && readOrNull(`/proc/${p.pid}/cmdline`)?.includes(detachedMarker);
        (detached ? inTree : foreign).add(p.pid);
      }
      for (const pid of inTree) if (!alive.has(pid)) inTree.delete(pid);
      for (const pid of foreign) if (!alive.has(pid)) foreign.delete(pid);
      return [...inTree];
    },
  };
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

import { performance } from 'node:perf_hooks';

export interface Timing {
  /** Milliseconds, one per measured run. */
  samples: number[];
  median: number;
  min: number;
}

export interface MeasureOptions {
  warmup?: number;
  runs?: number;
}

/** Runs `fn` a few times unmeasured (JIT, caches), then `runs` times measured. */
export function measure(fn: () => unknown, { warmup = 2, runs = 7 }: MeasureOptions = {}): Timing {
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    fn();
    samples.push(performance.now() - start);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { samples, median, min: sorted[0]! };
}

/** A plain-text table with right-aligned columns after the first. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function formatMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
}

// Runs the benchmarks one after the other: `npm run bench` for all, `npm run bench -- plan validate` for some.
// A benchmark is a folder bench/NAME/ whose index.ts exports a function `run<Name>Bench(options?)`.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';

const BENCH_FOLDER = dirname(fileURLToPath(import.meta.url));
/** Folders of shared code, not benchmarks. */
const NOT_BENCHES = new Set(['lib']);
const RUNNER_NAME = /^run[A-Z]\w*Bench$/;

/** Called with no options: each benchmark's defaults are its reference run. */
type BenchFunction = () => unknown;

function listBenches(): string[] {
  return readdirSync(BENCH_FOLDER, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !NOT_BENCHES.has(entry.name) && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .sort();
}

async function findRunner(name: string): Promise<{ runner?: BenchFunction; exportName?: string; problem?: string }> {
  const file = join(BENCH_FOLDER, name, 'index.ts');
  if (!existsSync(file)) return { problem: `bench/${name}/index.ts does not exist` };
  const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const names = Object.keys(module).filter((key) => RUNNER_NAME.test(key) && typeof module[key] === 'function');
  if (names.length !== 1) {
    return { problem: `bench/${name}/index.ts exports ${names.length === 0 ? 'no' : names.length} run…Bench function(s)${names.length ? ` (${names.join(', ')})` : ''}; export exactly one` };
  }
  return { runner: module[names[0]!] as BenchFunction, exportName: names[0] };
}

async function main(argv: readonly string[]): Promise<number> {
  const available = listBenches();
  const unknown = argv.filter((name) => !available.includes(name));
  if (unknown.length > 0) {
    console.error(`unknown bench(es): ${unknown.join(', ')}; available: ${available.join(', ')}`);
    return 2;
  }
  const selected = argv.length > 0 ? [...new Set(argv)] : available;
  const outcomes: string[] = [];
  let failed = false;
  for (const name of selected) {
    console.log(`\n=== bench ${name} ===\n`);
    const started = performance.now();
    try {
      const { runner, exportName, problem } = await findRunner(name);
      if (!runner) {
        console.log(`skipped: ${problem}`);
        outcomes.push(`${name}: skipped (${problem})`);
        continue;
      }
      await runner();
      outcomes.push(`${name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s (${exportName})`);
    } catch (error) {
      failed = true;
      console.error(`bench ${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      outcomes.push(`${name}: FAILED after ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  }
  console.log(`\n=== summary ===\n${outcomes.join('\n')}`);
  return failed ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));

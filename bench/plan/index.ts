// `runbook plan` at scale, against Ansible listing the equivalent playbook: `npx tsx bench/plan/index.ts [--hosts N] [--no-build]`.
// Target (issue 4, item 8): planning 10,000 hosts at least 5x faster than `ansible-playbook --list-hosts --list-tasks`;
// the Markdown stays under 60,000 characters.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { formatDiagnostic } from '../../engine/load/diagnostic.js';
import { loadDocument } from '../../engine/load/load-document.js';
import { hashSha256 } from '../../engine/plan/canonical-json.js';
import { computePlanHash, makePlanDocument, type PlanDocument } from '../../engine/plan/make-plan.js';
import { parseParamArgs } from '../../engine/plan/params.js';
import { MARKDOWN_LIMIT, renderPlanMarkdown } from '../../engine/plan/render-plan-markdown.js';
import type { Inventory } from '../../engine/schema/inventory.js';
import type { Plan } from '../../engine/schema/plan.js';
import type { Runbook } from '../../engine/schema/runbook.js';
import { ENGINE_VERSION } from '../../engine/version.js';
import { generateFabricHosts, generateFabricUpgradeRunbook, renderAnsibleInventory, renderFabricInventory } from '../lib/fabric.js';
import { formatMs, formatTable, type Timing } from '../lib/timing.js';
import { renderAnsiblePlaybook } from './ansible-playbook.js';

export interface PlanBenchOptions {
  hosts?: number;
  /** Measured runs in-process and of the runbook CLI; Ansible gets `ansibleRuns`. */
  runs?: number;
  warmup?: number;
  ansibleRuns?: number;
  /** Run `npm run build` first, so the CLI measured is the current source. */
  build?: boolean;
  write?: (line: string) => void;
}

export interface PlanBenchRow {
  name: string;
  /** Wall milliseconds. */
  timing: Timing;
  /** CPU milliseconds (user + system, all threads), which other work on a shared machine disturbs less. */
  cpu?: Timing;
}

export interface PlanBenchResult {
  hosts: number;
  runbookSource: string;
  inProcess: PlanBenchRow[];
  processes: PlanBenchRow[];
  /** Median Ansible listing over median runbook CLI, wall time; undefined without Ansible. */
  ratio?: number;
  /** The same over CPU time. */
  cpuRatio?: number;
  inProcessRatio?: number;
  target: number;
  sizes: { markdown: number; json: number };
  baselineMissing?: string;
}

const TARGET_RATIO = 5;
const PARAMS = ['targetVersion=4.4.0'];
const REPOSITORY = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SHIPPED_RUNBOOK = join(REPOSITORY, 'runbooks', 'fabric-upgrade.yaml');
const CLI = join(REPOSITORY, 'bin', 'runbook.js');
const MAX_OUTPUT = 256 * 1024 * 1024;
const CLI_PLAN = 'runbook plan --out plan.json';
const ANSIBLE_LISTING = 'ansible-playbook --list-hosts --list-tasks (yaml inventory plugin only)';

interface Inputs {
  folder: string;
  runbookFile: string;
  inventoryFile: string;
  runbookSource: string;
}

function writeInputs(hosts: number): Inputs {
  const folder = mkdtempSync(join(tmpdir(), 'runbook-bench-plan-'));
  const runbookFile = join(folder, 'fabric-upgrade.yaml');
  const inventoryFile = join(folder, 'inventory.yaml');
  const fabric = generateFabricHosts(hosts);
  let runbookSource: string;
  if (existsSync(SHIPPED_RUNBOOK)) {
    copyFileSync(SHIPPED_RUNBOOK, runbookFile);
    runbookSource = 'runbooks/fabric-upgrade.yaml';
  } else {
    writeFileSync(runbookFile, generateFabricUpgradeRunbook());
    runbookSource = 'generated (runbooks/fabric-upgrade.yaml not found)';
  }
  writeFileSync(inventoryFile, renderFabricInventory(fabric));
  writeFileSync(join(folder, 'ansible-inventory.yml'), renderAnsibleInventory(fabric));
  return { folder, runbookFile, inventoryFile, runbookSource };
}

/** What `runbook plan --out` does in-process, minus the git lookup and the writes. */
function planInProcess(runbookFile: string, inventoryFile: string) {
  const runbookText = readFileSync(runbookFile, 'utf8');
  const inventoryText = readFileSync(inventoryFile, 'utf8');
  const runbook = loadOrThrow(runbookFile, runbookText, 'Runbook') as Runbook;
  const inventory = loadOrThrow(inventoryFile, inventoryText, 'Inventory') as Inventory;
  const { plan, renderFile } = makePlanFor(runbook, inventory, hashSha256(runbookText), hashSha256(inventoryText));
  return { plan, json: renderFile(), markdown: renderPlanMarkdown(plan) };
}

function loadOrThrow(file: string, text: string, kind: 'Runbook' | 'Inventory'): Runbook | Inventory {
  const loaded = loadDocument(file, text, kind);
  if (!loaded.ok) throw new Error(`${file} is not a valid ${kind}:\n${loaded.diagnostics.map(formatDiagnostic).join('\n')}`);
  return loaded.value as Runbook | Inventory;
}

function makePlanFor(runbook: Runbook, inventory: Inventory, runbookSha: string, inventorySha: string): PlanDocument {
  return makePlanDocument({
    runbook,
    inventory,
    files: { runbook: { path: 'fabric-upgrade.yaml', sha256: runbookSha }, inventory: { path: 'inventory.yaml', sha256: inventorySha } },
    params: parseParamArgs(PARAMS),
    commit: null,
    engineVersion: ENGINE_VERSION,
  });
}

function summarise(samples: number[]): Timing {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { samples, median, min: sorted[0]! };
}

/** One command's wall time, and the CPU time each run spent by `cpuNow` (undefined where it cannot be read). */
function measureRow(name: string, fn: () => unknown, cpuNow: () => number | undefined, options: { runs: number; warmup: number }): PlanBenchRow {
  return measureInTurns([{ name, fn, ...options }], cpuNow)[0]!;
}

/**
 * Several commands measured in turns (a, b, c, a, b, c, ...) rather than one after the other, so that
 * a change in the machine's load during the benchmark weighs on all of them alike and not on their ratio.
 */
function measureInTurns(
  entries: ReadonlyArray<{ name: string; fn: () => unknown; runs: number; warmup: number }>,
  cpuNow: () => number | undefined,
): PlanBenchRow[] {
  for (const { fn, warmup } of entries) for (let i = 0; i < warmup; i++) fn();
  const samples = entries.map(() => ({ wall: [] as number[], cpu: [] as Array<number | undefined> }));
  const rounds = Math.max(...entries.map((e) => e.runs));
  for (let round = 0; round < rounds; round++) {
    entries.forEach(({ fn, runs }, i) => {
      if (round >= runs) return;
      const cpuBefore = cpuNow();
      const start = performance.now();
      fn();
      samples[i]!.wall.push(performance.now() - start);
      const cpuAfter = cpuNow();
      samples[i]!.cpu.push(cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore);
    });
  }
  return entries.map(({ name }, i) => {
    const { wall, cpu } = samples[i]!;
    const row: PlanBenchRow = { name, timing: summarise(wall) };
    return cpu.every((c) => c !== undefined) ? { ...row, cpu: summarise(cpu as number[]) } : row;
  });
}

function ownCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** CPU time of the children this process has waited for (Linux: cutime + cstime in /proc/self/stat), milliseconds. */
function childrenCpuMs(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 16 and 17 of stat(5); this list starts at field 3.
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

function run(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd: options.cwd, env: options.env ?? process.env, encoding: 'utf8', maxBuffer: MAX_OUTPUT });
}

function runOk(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): string {
  const result = run(command, args, options);
  if (result.error || result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}):\n${result.stderr.slice(0, 2000)}`);
  }
  return result.stdout;
}

/** The number of hosts Ansible listed over all plays: the baseline must list the same hosts as the plan. */
function countListedHosts(listing: string): number {
  return [...listing.matchAll(/^\s+hosts \((\d+)\):/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

function findAnsible(): { version?: string; missing?: string } {
  const probe = run('ansible-playbook', ['--version'], { cwd: tmpdir() });
  if (probe.error) return { missing: `ansible-playbook not found (${probe.error.message}); install it with \`apt-get install -y ansible-core\`` };
  if (probe.status !== 0) return { missing: `\`ansible-playbook --version\` exited ${probe.status}: ${probe.stderr.trim().slice(0, 300)}` };
  return { version: probe.stdout.split('\n')[0]?.trim() };
}

export function runPlanBench(options: PlanBenchOptions = {}): PlanBenchResult {
  const { hosts = 10_000, runs = 5, warmup = 1, ansibleRuns = 3, build = true, write = (line: string) => console.log(line) } = options;
  const inputs = writeInputs(hosts);
  try {
    return measureAll(inputs, { hosts, runs, warmup, ansibleRuns, build, write });
  } finally {
    rmSync(inputs.folder, { recursive: true, force: true });
  }
}

function measureAll(inputs: Inputs, options: Required<PlanBenchOptions>): PlanBenchResult {
  const { hosts, runs, warmup, ansibleRuns, build, write } = options;
  const { folder, runbookFile, inventoryFile } = inputs;

  // The happy path only means something if the plan is what CI would accept.
  const reference = planInProcess(runbookFile, inventoryFile);
  const errors = reference.plan.checks.filter((c) => c.severity === 'error');
  if (errors.length > 0) throw new Error(`the benchmark plan has errors: ${errors.map((c) => `${c.code} ${c.message}`).join('; ')}`);

  const runbookText = readFileSync(runbookFile, 'utf8');
  const inventoryText = readFileSync(inventoryFile, 'utf8');
  const runbook = loadOrThrow(runbookFile, runbookText, 'Runbook') as Runbook;
  const inventory = loadOrThrow(inventoryFile, inventoryText, 'Inventory') as Inventory;
  writeFileSync(join(folder, 'playbook.yml'), renderAnsiblePlaybook(runbook, reference.plan.params));
  const shas = [hashSha256(runbookText), hashSha256(inventoryText)] as const;
  const plan = reference.plan;
  const document = makePlanFor(runbook, inventory, ...shas);
  const timed = { runs, warmup };
  const inProcessRow = (name: string, fn: () => unknown) => measureRow(name, fn, ownCpuMs, timed);
  const inProcess: PlanBenchRow[] = [
    inProcessRow('load runbook (read, parse, schema, rules)', () => loadOrThrow(runbookFile, readFileSync(runbookFile, 'utf8'), 'Runbook')),
    inProcessRow('load inventory (read, parse, schema, rules)', () => loadOrThrow(inventoryFile, readFileSync(inventoryFile, 'utf8'), 'Inventory')),
    inProcessRow('makePlan (stages, templates, checks, hash)', () => makePlanFor(runbook, inventory, ...shas)),
    inProcessRow('JSON plan (joined from what the hash serialised)', () => document.renderFile()),
    inProcessRow('plan hash from scratch (apply checking a plan file)', () => computePlanHash(plan)),
    inProcessRow('Markdown', () => renderPlanMarkdown(plan)),
    inProcessRow('end to end', () => planInProcess(runbookFile, inventoryFile)),
  ];

  let buildNote = 'not rebuilt (--no-build)';
  if (build) {
    const built = run('npm', ['run', 'build', '--silent'], { cwd: REPOSITORY });
    buildNote = built.status === 0 ? 'rebuilt with npm run build' : `npm run build exited ${built.status}: measuring dist/ as built`;
    if (built.status !== 0) write(`warning: ${buildNote}\n${(built.stdout + built.stderr).trim().split('\n').slice(0, 10).join('\n')}`);
  }
  if (!existsSync(join(REPOSITORY, 'dist', 'engine', 'cli.js'))) throw new Error('dist/engine/cli.js is missing: run `npm run build` first');

  const env = { ...process.env, NO_COLOR: '1' };
  // The CLI runs as operators run it, through its shebang (and the Node flags it gives).
  const planArgs = ['plan', 'fabric-upgrade.yaml', '-i', 'inventory.yaml', ...PARAMS.flatMap((p) => ['--param', p]), '--out', 'plan.json'];
  const processRow = (name: string, fn: () => unknown, options = timed) => measureRow(name, fn, childrenCpuMs, options);
  const processes: PlanBenchRow[] = [processRow('runbook --version (node start-up)', () => runOk(CLI, ['--version'], { cwd: folder, env }))];
  // The CLI's own answer first: the same plan as in process, and the Markdown it prints.
  const markdown = runOk(CLI, planArgs, { cwd: folder, env });
  const planFile = JSON.parse(readFileSync(join(folder, 'plan.json'), 'utf8')) as Plan;
  if (planFile.hash !== plan.hash) throw new Error(`the CLI's plan hash ${planFile.hash} differs from the in-process one ${plan.hash}`);
  const sizes = { markdown: markdown.length, json: statSync(join(folder, 'plan.json')).size };
  const planTurn = { name: CLI_PLAN, fn: () => runOk(CLI, planArgs, { cwd: folder, env }), runs, warmup };

  const ansible = findAnsible();
  let ratio: number | undefined;
  let cpuRatio: number | undefined;
  let inProcessRatio: number | undefined;
  if (ansible.version) {
    const ansibleTemp = join(folder, 'ansible-home');
    mkdirSync(ansibleTemp);
    const ansibleEnv = (plugins?: string) => ({
      ...process.env,
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_HOME: ansibleTemp,
      ANSIBLE_LOCAL_TEMP: join(ansibleTemp, 'tmp'),
      ANSIBLE_RETRY_FILES_ENABLED: 'false',
      ...(plugins ? { ANSIBLE_INVENTORY_ENABLED: plugins } : {}),
    });
    const listArgs = ['-i', 'ansible-inventory.yml', 'playbook.yml', '--list-hosts', '--list-tasks'];
    const listed = countListedHosts(runOk('ansible-playbook', listArgs, { cwd: folder, env: ansibleEnv('yaml') }));
    if (listed !== hosts) throw new Error(`Ansible listed ${listed} hosts, the plan has ${hosts}: the baseline is not equivalent`);
    processes.push(
      processRow('ansible-playbook --version (python start-up)', () => runOk('ansible-playbook', ['--version'], { cwd: folder, env: ansibleEnv() })),
      ...measureInTurns(
        [
          planTurn,
          { name: ANSIBLE_LISTING, fn: () => runOk('ansible-playbook', listArgs, { cwd: folder, env: ansibleEnv('yaml') }), runs: ansibleRuns, warmup: 0 },
          {
            name: '  same, default inventory plugins (auto parses the file too)',
            fn: () => runOk('ansible-playbook', listArgs, { cwd: folder, env: ansibleEnv() }),
            runs: ansibleRuns,
            warmup: 0,
          },
        ],
        childrenCpuMs,
      ),
    );
    const row = (name: string, rows: PlanBenchRow[]) => rows.find((r) => r.name === name)!;
    const [ansibleRow, cliRow] = [row(ANSIBLE_LISTING, processes), row(CLI_PLAN, processes)];
    ratio = ansibleRow.timing.median / cliRow.timing.median;
    if (ansibleRow.cpu && cliRow.cpu) cpuRatio = ansibleRow.cpu.median / cliRow.cpu.median;
    inProcessRatio = ansibleRow.timing.median / row('end to end', inProcess).timing.median;
  } else {
    processes.push(...measureInTurns([planTurn], childrenCpuMs));
  }

  const fleet = `${hosts} hosts (${plan.stages.map((s) => `${s.batches.reduce((n, b) => n + b.length, 0)} ${s.name}`).join(', ')}; leaves in MLAG pairs)`;
  const steps = `${plan.runbook.prechecks.length} pre-checks, ${plan.runbook.steps.length} steps, ${plan.runbook.rollback.length} rollback steps`;
  write(`plan benchmark: ${fleet}, ${plan.stages.reduce((n, s) => n + s.batches.length, 0)} batches`);
  write(`runbook: ${inputs.runbookSource}, ${steps}; --param ${PARAMS.join(' --param ')}; node ${process.version}; CLI ${buildNote}`);
  write(`baseline: ${ansible.version ?? `MISSING: ${ansible.missing}`}`);
  write('');
  write(`in-process (no git lookup, no file writes), milliseconds, median and min of ${runs} runs after ${warmup} warm-up run(s); CPU = user + system, all threads:`);
  write('');
  const cpuCell = (r: PlanBenchRow) => (r.cpu ? formatMs(r.cpu.median) : '-');
  write(formatTable(['phase', 'median', 'min', 'CPU median'], inProcess.map((r) => [r.name, formatMs(r.timing.median), formatMs(r.timing.min), cpuCell(r)])));
  write('');
  write(
    `processes, wall milliseconds (start-ups: ${runs} runs after ${warmup} warm-up; runbook plan (${runs} runs after ${warmup} warm-up) and the Ansible listings ` +
      `(${ansibleRuns} runs each, after the equivalence check) measured in turns, so that a change of load weighs on both; ` +
      'CPU = user + system of the process and its children:',
  );
  write('');
  write(
    formatTable(
      ['command', 'runs', 'median', 'min', 'CPU median'],
      processes.map((r) => [r.name, String(r.timing.samples.length), formatMs(r.timing.median), formatMs(r.timing.min), cpuCell(r)]),
    ),
  );
  write('');
  if (ratio !== undefined && inProcessRatio !== undefined) {
    write(
      `Ansible listing / runbook plan (CLI process), wall: ${ratio.toFixed(2)}x (target: at least ${TARGET_RATIO}x) ${ratio >= TARGET_RATIO ? 'OK' : 'BELOW TARGET'}; ` +
        `CPU: ${cpuRatio === undefined ? 'not measured' : `${cpuRatio.toFixed(2)}x`}; Ansible listing / in-process end to end, wall: ${inProcessRatio.toFixed(2)}x`,
    );
  } else {
    write(`Ansible baseline missing: ${ansible.missing}; no ratio`);
  }
  write(
    `sizes: Markdown ${sizes.markdown.toLocaleString('en-US')} characters (limit ${MARKDOWN_LIMIT.toLocaleString('en-US')}) ${sizes.markdown < MARKDOWN_LIMIT ? 'OK' : 'OVER LIMIT'}; ` +
      `JSON plan ${(sizes.json / 1024 / 1024).toFixed(1)} MiB as written by --out (canonical JSON)`,
  );
  return {
    hosts,
    runbookSource: inputs.runbookSource,
    inProcess,
    processes,
    ratio,
    cpuRatio,
    inProcessRatio,
    target: TARGET_RATIO,
    sizes,
    ...(ansible.missing ? { baselineMissing: ansible.missing } : {}),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { hosts: { type: 'string' }, 'no-build': { type: 'boolean' } } });
  runPlanBench({ hosts: values.hosts ? Number(values.hosts) : undefined, build: !values['no-build'] });
}

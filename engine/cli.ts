import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { EXIT_CODES, RunbookError } from './errors.js';
import { formatDiagnostic } from './load/diagnostic.js';
import { STOP_SIGNALS } from './run/events.js';
import { ENGINE_VERSION } from './version.js';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/**
 * The process's entry point. A reader that goes away (`runbook plan ... | head`: EPIPE) or a
 * terminal that closes (SIGHUP, then EIO on every write) must not kill the command: what is left
 * to print is dropped, and the command finishes (a run still journals and releases its locks).
 */
export async function runCommandLine(argv: readonly string[]): Promise<number> {
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  return main(argv);
}

/** Parses arguments and runs one command; the only place errors become exit codes. */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let exitCode: number = EXIT_CODES.ok;
  const program = new Command('runbook')
    .description('Declarative GitOps runbooks: validate, plan, approve and apply upgrade procedures over SSH.')
    .version(ENGINE_VERSION)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run `runbook --help` for usage)');

  program
    .command('validate')
    .description('Validate runbooks and inventories; folders are walked for .yaml and .yml files')
    .argument('<paths...>', 'files or folders')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (paths: string[], options: { format: 'text' | 'json' }) => {
      const { runValidate } = await import('./commands/validate.js');
      exitCode = runValidate(paths, { format: options.format, write: io.stdout });
    });

  program
    .command('plan')
    .description('Dry-run plan: Markdown fit for a pull-request comment, and a JSON plan with a content hash')
    .argument('<runbook>', 'runbook file')
    .requiredOption('-i, --inventory <file>', 'inventory file')
    .option('--param <name=value>', 'a parameter value (repeatable)', collect, [])
    .addOption(new Option('--format <format>', 'output format').choices(['markdown', 'json']).default('markdown'))
    .option('--out <file>', 'also write the JSON plan to this file')
    .option('--check', 'also run the read-only pre-checks against the hosts', false)
    .action(async (runbookPath: string, options: { inventory: string; param: string[]; format: 'markdown' | 'json'; out?: string; check: boolean }) => {
      const { runPlan } = await import('./commands/plan.js');
      exitCode = await runPlan({
        runbookPath,
        inventoryPath: options.inventory,
        params: options.param,
        format: options.format,
        out: options.out,
        check: options.check,
        env: process.env,
        write: io.stdout,
        writeError: io.stderr,
      });
    });

  program
    .command('apply')
    .description('Execute a plan file, or plan and execute a runbook against an inventory')
    .argument('[plan-or-runbook]', 'a plan made by `runbook plan --out`, or a runbook with -i')
    .option('-i, --inventory <file>', 'inventory file (when applying a runbook)')
    .option('--param <name=value>', 'a parameter value (repeatable; with a runbook)', collect, [])
    .option('--yes', 'approve approval steps without asking', false)
    .option('--max-parallel <n>', 'most hosts worked on at once', parsePositiveInteger)
    .option('--no-progress', 'plain timestamped lines instead of the live display')
    .option('--no-commit', 'write the run report without committing it')
    .option('--push', 'push the report commit', false)
    .option('--allow-reapply', 'apply a plan hash that was applied before', false)
    .option('--allow-dirty', 'with -i: run the runbook and inventory as they are on disk, not as committed (the report says so)', false)
    .option('--base <ref>', 'for self-approval, also count the commits since the branch left REF (default: RUNBOOK_BASE)')
    .option('--resume <run-id>', 'continue a run that was killed or interrupted, from its journal')
    .option('--rerun-interrupted', 'with --resume: run again the changing steps a crash or a stop cut off (check the hosts first)', false)
    .option('--mark-done <host:step>', 'with --resume: that cut-off step completed (you checked); recorded with your git identity (repeatable)', collect, [])
    .option('--mark-failed <host:step>', 'with --resume: that cut-off step did not complete: handle it as a failure, rolling back when asked (repeatable)', collect, [])
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (target: string | undefined, options: ApplyFlags) => {
      const stops = listenForStopSignals();
      try {
        const { runApply } = await import('./commands/apply.js');
        exitCode = await runApply({
          target,
          inventory: options.inventory,
          params: options.param,
          yes: options.yes,
          maxParallel: options.maxParallel,
          noProgress: !options.progress,
          format: options.format,
          isTty: Boolean(process.stdout.isTTY && process.stdin.isTTY),
          write: io.stdout,
          writeError: io.stderr,
          env: process.env,
          signal: stops.stop,
          abortCommands: stops.abort,
          commit: options.commit,
          push: options.push,
          allowReapply: options.allowReapply,
          allowDirty: options.allowDirty,
          base: options.base ?? (process.env.RUNBOOK_BASE || undefined),
          resume: options.resume,
          rerunInterrupted: options.rerunInterrupted,
          markDone: options.markDone,
          markFailed: options.markFailed,
        });
      } finally {
        stops.dispose();
      }
    });

  program
    .command('approve')
    .description('Commit the approval of a plan hash; the approver is your git identity (the commit author)')
    .argument('<plan>', 'a plan made by `runbook plan --out`')
    .option('--base <ref>', 'for self-approval, also count the commits since the branch left REF (default: RUNBOOK_BASE)')
    // Refused with an explanation: the approver is the commit's git identity, never a flag.
    .addOption(new Option('--by <name>').hideHelp())
    .action(async (planPath: string, options: { by?: string; base?: string }) => {
      const { runApprove } = await import('./commands/approve.js');
      exitCode = await runApprove({ planPath, by: options.by, base: options.base ?? (process.env.RUNBOOK_BASE || undefined), write: io.stdout, writeError: io.stderr });
    });

  program
    .command('runs')
    .description('List runs with their state (running, succeeded, failed, crashed, interrupted)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (options: { format: 'text' | 'json' }) => {
      const { runRuns } = await import('./commands/runs.js');
      exitCode = runRuns({ stateDir: await findStateDir(), machine: hostname(), format: options.format, write: io.stdout });
    });

  const snapshot = program.command('snapshot').description('Network snapshots: create, list, show, delete');
  snapshot
    .command('create')
    .description('Capture a snapshot of the inventory hosts into reports/snapshots/NAME.json')
    .argument('<name>', 'the snapshot name')
    .requiredOption('-i, --inventory <file>', 'inventory file')
    .option('--profile <profile>', 'collection profile (name or file)', 'fabric')
    .option('--targets <hosts...>', 'only these hosts (names, or one comma-separated list)')
    .action(async (name: string, options: { inventory: string; profile: string; targets?: string[] }) => {
      const [{ runSnapshotCreate }, { createInventoryExec }] = await Promise.all([import('./commands/snapshot.js'), import('./commands/host-access.js')]);
      exitCode = await runSnapshotCreate(name, {
        inventoryPath: options.inventory,
        profile: options.profile,
        targets: options.targets,
        folder: await findSnapshotFolder(),
        createExec: (hosts, context) => createInventoryExec(hosts, context.inventoryPath, process.env),
        write: io.stdout,
        writeError: io.stderr,
      });
    });
  snapshot
    .command('list')
    .description('List snapshots: name, time, hosts, element counts')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (options: { format: 'text' | 'json' }) => {
      const { runSnapshotList } = await import('./commands/snapshot.js');
      exitCode = runSnapshotList({ folder: await findSnapshotFolder(), format: options.format, write: io.stdout });
    });
  snapshot
    .command('show')
    .description('Show a snapshot, or one element of it')
    .argument('<name>', 'the snapshot name')
    .option('--element <element>', 'only this element (bgp, lldp, route, ...)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (name: string, options: { element?: string; format: 'text' | 'json' }) => {
      const { runSnapshotShow } = await import('./commands/snapshot.js');
      exitCode = runSnapshotShow(name, { folder: await findSnapshotFolder(), element: options.element, format: options.format, write: io.stdout });
    });
  snapshot
    .command('delete')
    .description('Delete snapshots')
    .argument('<names...>', 'snapshot names')
    .action(async (names: string[]) => {
      const { runSnapshotDelete } = await import('./commands/snapshot.js');
      exitCode = runSnapshotDelete(names, { folder: await findSnapshotFolder(), write: io.stdout });
    });

  program
    .command('diff')
    .description('Compare two snapshots (A is before, B is after): counts, added, removed, changed')
    .argument('<a>', 'snapshot name or file (before)')
    .argument('<b>', 'snapshot name or file (after)')
    .addOption(new Option('--format <format>', 'output format').choices(['markdown', 'json']).default('markdown'))
    .option('--element <element>', 'only this element (repeatable)', collect, [])
    .option('--exclude <field>', 'also ignore this field or element.field (repeatable)', collect, [])
    .option('--no-default-exclusions', 'compare volatile fields (uptimes, counters, timers, ages) too')
    .option('--tolerance <rule>', 'element.field=RULE, RULE like 10%, +5 or -5% (repeatable)', collect, [])
    .action(async (a: string, b: string, options: { format: 'markdown' | 'json'; element: string[]; exclude: string[]; defaultExclusions: boolean; tolerance: string[] }) => {
      const { runDiff } = await import('./commands/diff.js');
      exitCode = runDiff(a, b, {
        format: options.format,
        elements: options.element,
        exclude: options.exclude,
        defaultExclusions: options.defaultExclusions,
        tolerances: options.tolerance,
        folder: await findSnapshotFolder(),
        write: io.stdout,
      });
    });

  program
    .command('unlock')
    .description('Release the lock a run holds on a host (after checking that run is dead)')
    .argument('<host>', 'the locked host')
    .requiredOption('--lock-id <id>', 'the lock id, as the refusal or `runbook runs` shows it')
    .action(async (host: string, options: { lockId: string }) => {
      const { runUnlock } = await import('./commands/unlock.js');
      exitCode = runUnlock({ stateDir: await findStateDir(), host, lockId: options.lockId, write: io.stdout });
    });

  program
    .command('lab')
    .description('Serve the embedded lab of simulated devices over SSH until Ctrl-C')
    .option('--port <port>', 'SSH port of every device (each has its own 127.0.10.x address)', parsePositiveInteger, 2222)
    .option('--inventory-out <file>', 'write the inventory that reaches the lab to this file instead of printing it')
    .action(async (options: { port: number; inventoryOut?: string }) => {
      const { serveLab } = await import('../lab/cli-lab.js');
      const served = await serveLab({ port: options.port, inventoryOut: options.inventoryOut, print: io.stdout });
      await served.stopped;
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    return reportError(error, io);
  }
}

interface ApplyFlags {
  inventory?: string;
  param: string[];
  yes: boolean;
  maxParallel?: number;
  progress: boolean;
  commit: boolean;
  push: boolean;
  allowReapply: boolean;
  allowDirty: boolean;
  base?: string;
  resume?: string;
  rerunInterrupted: boolean;
  markDone: string[];
  markFailed: string[];
  format: 'text' | 'json';
}

/**
 * SIGINT, SIGTERM and SIGHUP stop a run instead of killing the process: the first stops new commands
 * and waits (its name is the abort reason), the second aborts the commands running too. Either way
 * the run journals the stop and releases its locks before it exits.
 */
function listenForStopSignals() {
  const stop = new AbortController();
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stop.signal.aborted) {
      process.stderr.write(`\n${signal}: stopping; no new command starts (send it again to abort the commands running)\n`);
      stop.abort(signal);
    } else if (!abort.signal.aborted) {
      process.stderr.write(`\n${signal} again: aborting the commands running\n`);
      abort.abort(signal);
    }
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  return {
    stop: stop.signal,
    abort: abort.signal,
    dispose: () => {
      for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
    },
  };
}

/** The root of the repository holding the working folder (or the working folder): where runs keep their state. */
async function findRoot(): Promise<string> {
  const { describeRepository } = await import('./git/repository.js');
  return (await describeRepository(process.cwd()))?.root ?? process.cwd();
}

async function findStateDir(): Promise<string> {
  const { STATE_FOLDER } = await import('./io/journal.js');
  return join(await findRoot(), STATE_FOLDER);
}

async function findSnapshotFolder(): Promise<string> {
  const { DEFAULT_SNAPSHOT_FOLDER } = await import('./io/snapshot-store.js');
  return join(await findRoot(), DEFAULT_SNAPSHOT_FOLDER);
}

function parsePositiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of 1 or more');
  return n;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function reportError(error: unknown, io: CliIo): number {
  if (error instanceof CommanderError) {
    // Help and version are successful exits; anything else is a usage error.
    return error.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.badInput;
  }
  if (error instanceof RunbookError) {
    for (const d of error.diagnostics) io.stderr(`${formatDiagnostic(d)}\n`);
    io.stderr(`error ${error.code}: ${error.message}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? (process.env.RUNBOOK_DEBUG ? (error.stack ?? error.message) : error.message) : String(error);
  io.stderr(`internal error: ${message}\n(this is a bug in runbook; set RUNBOOK_DEBUG=1 for the stack trace and report it)\n`);
  return EXIT_CODES.failed;
}

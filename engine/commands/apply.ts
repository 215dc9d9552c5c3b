import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { EXIT_CODES, createInputError, type ExitCode } from '../errors.js';
import { describeRepository } from '../git/repository.js';
import { displayPath, readText } from '../io/files.js';
import { validateAgainstSchema } from '../load/validate-schema.js';
import { parseYamlSource } from '../load/yaml-source.js';
import { computePlanHash } from '../plan/make-plan.js';
import { systemClock, type Clock } from '../run/clock.js';
import type { RunEvent } from '../run/events.js';
import { executePlan, type ExecutorDeps, type RunResult } from '../run/execute-plan.js';
import { createLimiter } from '../run/limiter.js';
import type { ApprovalRequest } from '../run/run-step.js';
import { Plan } from '../schema/plan.js';
import { createLocalTransport } from '../transport/local.js';
import { resolveConnectTarget } from '../transport/resolve-target.js';
import { createSshTransport } from '../transport/ssh.js';
import { selectProgress } from '../ui/select-progress.js';
import { planFromFiles } from './plan.js';

export interface ApplyOptions {
  /** A plan JSON file, or a runbook when `inventory` is given. */
  target: string;
  inventory?: string;
  params: readonly string[];
  yes: boolean;
  maxParallel?: number;
  noProgress: boolean;
  format: 'text' | 'json';
  isTty: boolean;
  write: (text: string) => void;
  writeError: (text: string) => void;
  env: NodeJS.ProcessEnv;
  clock?: Clock;
  signal?: AbortSignal;
  /** Extra consumers of the run's events (the journal, tests). */
  onEvent?: (event: RunEvent) => void;
}

export interface LoadedPlan {
  plan: Plan;
  /** Folder that relative key and known_hosts paths of the inventory resolve against. */
  inventoryDir: string;
}

/** Reads a plan file, refusing one that is malformed or whose content no longer matches its hash. */
export async function readPlanFile(path: string): Promise<LoadedPlan> {
  const source = parseYamlSource(displayPath(path), readText(path));
  const diagnostics = source.diagnostics.length > 0 ? source.diagnostics : validateAgainstSchema(source, Plan);
  if (diagnostics.length > 0) throw createInputError('RB3001', `${displayPath(path)} is not a valid plan; make it again with \`runbook plan --out\``, diagnostics);
  const plan = source.value as Plan;
  if (computePlanHash(plan) !== plan.hash) {
    throw createInputError('RB3002', `${displayPath(path)} was edited after it was made (its content no longer matches ${plan.hash}); make it again with \`runbook plan --out\``);
  }
  const repository = await describeRepository(dirname(resolve(path)));
  const root = repository?.root ?? process.cwd();
  return { plan, inventoryDir: resolve(root, dirname(plan.inputs.inventory.path)) };
}

export async function loadPlanForApply(options: Pick<ApplyOptions, 'target' | 'inventory' | 'params'>): Promise<LoadedPlan> {
  if (options.inventory) {
    const plan = await planFromFiles({ runbookPath: options.target, inventoryPath: options.inventory, params: options.params });
    return { plan, inventoryDir: dirname(resolve(options.inventory)) };
  }
  if (options.params.length > 0) throw createInputError('RB3003', '--param applies when planning a runbook; a plan file already holds its params');
  return readPlanFile(options.target);
}

export function createRunId(runbook: string, now: number): string {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `${stamp}-${runbook}-${randomBytes(2).toString('hex')}`;
}

/** `runbook apply`: exit 0 when every host succeeded, 1 when any failed or was rolled back, 2 for bad input. */
export async function runApply(options: ApplyOptions): Promise<ExitCode> {
  const { plan, inventoryDir } = await loadPlanForApply(options);
  const refused = plan.checks.filter((c) => c.severity === 'error');
  if (refused.length > 0) {
    throw createInputError('RB3004', `the plan has failed checks: ${refused.map((c) => `${c.code} ${c.message} (${c.hint})`).join('; ')}`);
  }
  const hasApprovals = plan.runbook.steps.some((s) => s.kind === 'approval');
  if (hasApprovals && !options.yes && !options.isTty) {
    throw createInputError('RB3005', 'the runbook has approval steps and there is no terminal to ask on; run it from a terminal or pass --yes to approve them');
  }
  const clock = options.clock ?? systemClock;
  const runId = createRunId(plan.runbook.name, clock.now());
  options.writeError(
    `run ${runId}: ${plan.runbook.name} ${plan.runbook.version}, plan ${plan.hash}, ${Object.keys(plan.hosts).length} host(s) in ${plan.stages.length} stage(s)\n`,
  );
  const result = await executeWithProgress(plan, inventoryDir, runId, clock, options);
  options.writeError(`run ${runId} ${result.outcome}${result.message ? `: ${result.message}` : ''}\n`);
  return result.outcome === 'succeeded' ? EXIT_CODES.ok : EXIT_CODES.failed;
}

async function executeWithProgress(plan: Plan, inventoryDir: string, runId: string, clock: Clock, options: ApplyOptions): Promise<RunResult> {
  const progress = selectProgress({ format: options.format, noProgress: options.noProgress, isTty: options.isTty, write: options.write, stream: process.stdout });
  const ssh = createSshTransport();
  const local = createLocalTransport();
  const askOneAtATime = createLimiter(1);
  const deps: ExecutorDeps = {
    clock,
    emit: (event) => {
      progress.handle(event);
      options.onEvent?.(event);
    },
    connect: async (host) => {
      const target = resolveConnectTarget(host, plan.hosts[host]!, { inventoryDir, env: options.env });
      return (target.transport === 'local' ? local : ssh).connect(target);
    },
    approve: (request) => (options.yes ? Promise.resolve(true) : askOneAtATime(() => askApproval(request))),
  };
  try {
    return await executePlan(plan, deps, { runId, maxParallel: options.maxParallel, signal: options.signal });
  } finally {
    await progress.close();
  }
}

async function askApproval(request: ApprovalRequest): Promise<boolean> {
  const readline = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await readline.question(`\n${request.host}: ${request.message}\nApprove step ${request.stepId}? [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    readline.close();
  }
}

import { dirname, relative, resolve } from 'node:path';
import type { RunResult } from '../run/execute-plan.js';
import { EXIT_CODES, createInputError, type ExitCode } from '../errors.js';
import { describeRepository } from '../git/repository.js';
import { displayPath, readText, writeFileAtomic } from '../io/files.js';
import { loadDocument, type DocumentKind } from '../load/load-document.js';
import { hashSha256, toCanonicalJson } from '../plan/canonical-json.js';
import { makePlanDocument, type PlanDocument } from '../plan/make-plan.js';
import { parseParamArgs } from '../plan/params.js';
import { renderPlanMarkdown } from '../plan/render-plan-markdown.js';
import type { Inventory } from '../schema/inventory.js';
import type { Plan } from '../schema/plan.js';
import type { Runbook } from '../schema/runbook.js';
import { ENGINE_VERSION } from '../version.js';
import { checkPlanSecrets } from './secrets.js';
import { loadCommittedTopology } from '../git/committed-topology.js';

export interface PlanRequest {
  runbookPath: string;
  inventoryPath: string;
  params: readonly string[];
}

function loadOrThrow<K extends DocumentKind>(path: string, kind: K) {
  const text = readText(path);
  const doc = loadDocument(displayPath(path), text, kind);
  if (!doc.ok) throw createInputError(doc.diagnostics[0]?.code ?? 'RB1003', `${displayPath(path)} is not a valid ${kind}; fix the problems above`, doc.diagnostics);
  return { value: doc.value as K extends 'Runbook' ? Runbook : Inventory, sha256: hashSha256(text) };
}

/** Reads, validates and plans; paths in the plan are relative to the repository root, so hashes agree across machines. */
export async function planFromFiles(request: PlanRequest): Promise<PlanDocument> {
  const runbook = loadOrThrow(request.runbookPath, 'Runbook');
  const inventory = loadOrThrow(request.inventoryPath, 'Inventory');
  const repository = await describeRepository(dirname(resolve(request.runbookPath)));
  const base = repository?.root ?? process.cwd();
  const portable = (path: string) => relative(base, resolve(path)).split('\\').join('/');
  return makePlanDocument({
    runbook: runbook.value,
    inventory: inventory.value,
    files: {
      runbook: { path: portable(request.runbookPath), sha256: runbook.sha256 },
      inventory: { path: portable(request.inventoryPath), sha256: inventory.sha256 },
    },
    params: parseParamArgs(request.params),
    commit: repository?.head ?? null,
    engineVersion: ENGINE_VERSION,
    ...(runbook.value.strategy?.isolation ? { topology: await loadCommittedTopology(repository?.head ? repository.root : undefined) } : {}),
  });
}

/** The plan file: its canonical JSON, the very text its hash is defined over (with `hash` and `commit` added). */
export function renderPlanJson(plan: Plan): string {
  return `${toCanonicalJson(plan)}\n`;
}

export interface PlanCommandOptions extends PlanRequest {
  format: 'markdown' | 'json';
  out?: string;
  /** `--check`: also run the read-only pre-checks against the hosts. */
  check?: boolean;
  env?: NodeJS.ProcessEnv;
  write: (text: string) => void;
  writeError: (text: string) => void;
}

/** `runbook plan`: exit 0, or 1 when the planner (or, with --check, a pre-check) found an error. */
export async function runPlan(options: PlanCommandOptions): Promise<ExitCode> {
  const { plan, renderFile } = await planFromFiles(options);
  checkPlanSecrets(plan, options.env ?? process.env);
  let file: Buffer | undefined;
  const planFile = () => (file ??= renderFile());
  if (options.out) {
    writePlanFile(options.out, planFile());
    options.writeError(`wrote plan ${plan.hash} to ${options.out}\n`);
  }
  const checked = options.check ? await runPrechecksOnly(plan, dirname(resolve(options.inventoryPath)), options) : undefined;
  if (options.format === 'json') {
    options.write(planFile().toString('utf8'));
    if (checked) options.writeError(renderPrecheckResults(checked));
  } else {
    options.write(renderPlanMarkdown(plan) + (checked ? `\n${renderPrecheckResults(checked)}` : ''));
  }
  const errors = plan.checks.filter((c) => c.severity === 'error');
  if (errors.length > 0) {
    options.writeError(`${errors.length} plan check(s) failed: ${errors.map((c) => `${c.code} ${c.message}`).join('; ')}\n`);
    return EXIT_CODES.failed;
  }
  if (checked && checked.outcome !== 'succeeded') {
    options.writeError(`${checked.message ?? 'pre-checks failed'}\n`);
    return EXIT_CODES.failed;
  }
  return EXIT_CODES.ok;
}

/** `--out`: a path that cannot take a file (a folder, a read-only place) is the user's to fix. */
function writePlanFile(path: string, content: Buffer): void {
  try {
    writeFileAtomic(path, content);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === undefined) throw error;
    throw createInputError('RB2009', `--out ${displayPath(path)}: the plan cannot be written there (${code}); give the path of a file in a folder you can write to`);
  }
}

/** The dry run's `--check`: only the pre-checks, which are read-only, on every targeted host. */
async function runPrechecksOnly(plan: Plan, inventoryDir: string, options: PlanCommandOptions): Promise<RunResult> {
  // Loaded here: a plain dry run never opens a connection, and SSH and the executor cost start-up time.
  const [{ executePlan }, { createHostAccess }, { systemClock }, { createPreviousRunsHook }] = await Promise.all([
    import('../run/execute-plan.js'),
    import('./host-access.js'),
    import('../run/clock.js'),
    import('./previous-runs.js'),
  ]);
  return executePlan(
    plan,
    {
      ...createHostAccess(plan, inventoryDir, options.env ?? process.env),
      ...createPreviousRunsHook(dirname(resolve(options.runbookPath)), plan.runbook.name),
      clock: systemClock,
      emit: () => {},
      // Pre-checks never ask; a check-only run has no approval steps to reach.
      approve: async () => false,
    },
    { runId: `check-${plan.hash.slice(7, 19)}`, checkOnly: true },
  );
}

/** Pre-check results with severity and hint, as NetQ's validation cards show them. */
export function renderPrecheckResults(result: RunResult): string {
  const rows = Object.entries(result.hosts).flatMap(([host, h]) =>
    h.prechecks.map((r) => {
      const outcome = r.status === 'succeeded' ? '✅ passed' : r.status === 'skipped' ? 'skipped' : r.severity === 'warning' ? '⚠️ warning' : '❌ failed';
      const detail = r.status === 'succeeded' ? '' : (r.message ?? '');
      return `| \`${host}\` | \`${r.id}\` | ${r.severity ?? 'error'} | ${outcome} | ${detail.replace(/\|/g, '\\|').replace(/\n/g, ' ')} | ${r.status === 'succeeded' ? '' : (r.hint ?? '').replace(/\|/g, '\\|')} |`;
    }),
  );
  const failed = Object.values(result.hosts).flatMap((h) => h.prechecks).filter((r) => r.status === 'failed').length;
  return [
    '### Pre-check results (--check)',
    '',
    failed === 0 ? 'Every pre-check passed on every host.' : `${failed} pre-check result(s) did not pass.`,
    '',
    '| host | check | severity | result | detail | hint |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

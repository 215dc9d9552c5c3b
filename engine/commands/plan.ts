import { dirname, relative, resolve } from 'node:path';
import { EXIT_CODES, createInputError, type ExitCode } from '../errors.js';
import { describeRepository } from '../git/repository.js';
import { displayPath, readText, writeFileAtomic } from '../io/files.js';
import { loadDocument, type DocumentKind } from '../load/load-document.js';
import { hashSha256, toCanonicalJson } from '../plan/canonical-json.js';
import { makePlan } from '../plan/make-plan.js';
import { parseParamArgs } from '../plan/params.js';
import { renderPlanMarkdown } from '../plan/render-plan-markdown.js';
import type { Inventory } from '../schema/inventory.js';
import type { Plan } from '../schema/plan.js';
import type { Runbook } from '../schema/runbook.js';
import { ENGINE_VERSION } from '../version.js';

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
export async function planFromFiles(request: PlanRequest): Promise<Plan> {
  const runbook = loadOrThrow(request.runbookPath, 'Runbook');
  const inventory = loadOrThrow(request.inventoryPath, 'Inventory');
  const repository = await describeRepository(dirname(resolve(request.runbookPath)));
  const base = repository?.root ?? process.cwd();
  const portable = (path: string) => relative(base, resolve(path)).split('\\').join('/');
  return makePlan({
    runbook: runbook.value,
    inventory: inventory.value,
    files: {
      runbook: { path: portable(request.runbookPath), sha256: runbook.sha256 },
      inventory: { path: portable(request.inventoryPath), sha256: inventory.sha256 },
    },
    params: parseParamArgs(request.params),
    commit: repository?.head ?? null,
    engineVersion: ENGINE_VERSION,
  });
}

export function renderPlanJson(plan: Plan): string {
  return `${toCanonicalJson(plan, 2)}\n`;
}

export interface PlanCommandOptions extends PlanRequest {
  format: 'markdown' | 'json';
  out?: string;
  write: (text: string) => void;
  writeError: (text: string) => void;
}

/** `runbook plan`: exit 0, or 1 when the planner found an error-level problem. */
export async function runPlan(options: PlanCommandOptions): Promise<ExitCode> {
  const plan = await planFromFiles(options);
  if (options.out) {
    writeFileAtomic(options.out, renderPlanJson(plan));
    options.writeError(`wrote plan ${plan.hash} to ${options.out}\n`);
  }
  options.write(options.format === 'json' ? renderPlanJson(plan) : renderPlanMarkdown(plan));
  const errors = plan.checks.filter((c) => c.severity === 'error');
  if (errors.length > 0) {
    options.writeError(`${errors.length} plan check(s) failed: ${errors.map((c) => `${c.code} ${c.message}`).join('; ')}\n`);
    return EXIT_CODES.failed;
  }
  return EXIT_CODES.ok;
}

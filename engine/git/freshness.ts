import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { RunbookError, createInputError } from '../errors.js';
import { loadDocument } from '../load/load-document.js';
import { hashSha256, toCanonicalJson } from '../plan/canonical-json.js';
import { makePlan } from '../plan/make-plan.js';
import { resolveParams, type ParamValue } from '../plan/params.js';
import type { Inventory } from '../schema/inventory.js';
import type { Plan } from '../schema/plan.js';
import type { Runbook } from '../schema/runbook.js';
import { ENGINE_VERSION } from '../version.js';
import { describeRepository, readFileAtCommit, type BlobRead } from './repository.js';

export interface FreshnessOptions {
  /** Read the inputs at this commit rather than at HEAD (a resume checks its admitted plan so). */
  commit?: string;
  /** Defaults to this engine's version: a plan made by another version is stale. */
  engineVersion?: string;
}

interface InputSource {
  /** How the messages name where the files were read: `HEAD (abc1234)` or `the working folder`. */
  label: string;
  commit: string | null;
  read(path: string): Promise<BlobRead>;
}

/**
 * Refuses (exit 2) a plan that differs from the plan its inputs make now. The inputs are read at
 * HEAD, so uncommitted edits do not count; the params are the plan's own. Outside git the files on
 * disk are the reference. The error says what changed: which input file, which params, the engine.
 */
export async function checkPlanFreshness(plan: Plan, root: string, options: FreshnessOptions = {}): Promise<void> {
  const source = await openInputSource(root, options.commit);
  const engineVersion = options.engineVersion ?? ENGINE_VERSION;
  const stale = (reasons: string[], diagnostics: RunbookError['diagnostics'] = []) =>
    createInputError(
      'RB4001',
      `plan ${plan.hash} is stale: ${reasons.join('; ')}. Make the plan again from ${source.label} (\`runbook plan ${plan.inputs.runbook.path} -i ${plan.inputs.inventory.path} --out PLAN\`)` +
        `${plan.policy.requireApproval ? ' and have it approved' : ''}`,
      diagnostics,
    );

  const texts: Record<'runbook' | 'inventory', string> = { runbook: '', inventory: '' };
  for (const which of ['runbook', 'inventory'] as const) {
    const { path } = plan.inputs[which];
    if (isAbsolute(path) || path.startsWith('../')) {
      throw createInputError('RB4002', `the plan's ${which} ${path} is outside the repository at ${root}; its freshness cannot be checked. Keep runbooks and inventories in the repository`);
    }
    const read = await source.read(path);
    if (!read.ok) {
      throw createInputError('RB4002', `the plan's ${which} ${path} is not in ${source.label} (${read.reason}); commit it, then make the plan again`);
    }
    texts[which] = read.text;
  }

  const changes: string[] = [];
  for (const which of ['runbook', 'inventory'] as const) {
    const sha256 = hashSha256(texts[which]);
    if (sha256 !== plan.inputs[which].sha256) {
      changes.push(`${which} ${plan.inputs[which].path} changed (sha256 ${plan.inputs[which].sha256.slice(0, 12)}… in the plan, ${sha256.slice(0, 12)}… in ${source.label})`);
    }
  }
  if (engineVersion !== plan.engineVersion) changes.push(`the engine is ${engineVersion}, the plan was made by ${plan.engineVersion}`);

  const load = (which: 'runbook' | 'inventory') => {
    const doc = loadDocument(plan.inputs[which].path, texts[which], which === 'runbook' ? 'Runbook' : 'Inventory');
    if (!doc.ok) throw stale([...changes, `${plan.inputs[which].path} in ${source.label} is not a valid ${which}`], doc.diagnostics);
    return doc.value;
  };
  const runbook = load('runbook') as Runbook;
  const inventory = load('inventory') as Inventory;
  const declared = runbook.params ?? {};
  const given: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(plan.params)) {
    if (Object.hasOwn(declared, name)) given[name] = String(value);
    else changes.push(`param ${name} is no longer declared by the runbook`);
  }

  let fresh: Plan;
  try {
    fresh = makePlan({
      runbook,
      inventory,
      files: {
        runbook: { path: plan.inputs.runbook.path, sha256: hashSha256(texts.runbook) },
        inventory: { path: plan.inputs.inventory.path, sha256: hashSha256(texts.inventory) },
      },
      params: given,
      commit: source.commit,
      engineVersion,
    });
  } catch (error) {
    if (error instanceof RunbookError) throw stale([...changes, `planning from ${source.label} fails: ${error.message}`], error.diagnostics);
    throw error;
  }
  if (fresh.hash === plan.hash) return;

  for (const name of Object.keys(fresh.params)) {
    if (!(name in plan.params)) changes.push(`param ${name} is new (${JSON.stringify(fresh.params[name])} in ${source.label})`);
  }
  // The plan's params were replayed as given; a default that moved is still worth naming.
  const defaults = resolveDefaults(runbook, plan.params);
  for (const [name, value] of Object.entries(defaults)) {
    if (name in plan.params && plan.params[name] !== value) {
      changes.push(`param ${name} is ${JSON.stringify(plan.params[name])} in the plan; its default in ${source.label} is ${JSON.stringify(value)}`);
    }
  }
  if (changes.length === 0) changes.push(`its ${describeDifferentSections(plan, fresh).join(', ')} differ from a plan made now`);
  throw stale(changes);
}

/** The values the defaults of `runbook` give, the params without a default taken from the plan. */
function resolveDefaults(runbook: Runbook, params: Plan['params']): Record<string, ParamValue> {
  const declared = runbook.params ?? {};
  const given = Object.fromEntries(
    Object.entries(params)
      .filter(([name]) => Object.hasOwn(declared, name) && declared[name]!.default === undefined)
      .map(([name, value]) => [name, String(value)]),
  );
  try {
    const resolved = resolveParams(declared, given);
    return Object.fromEntries(Object.entries(resolved).filter(([name]) => declared[name]!.default !== undefined));
  } catch {
    return {};
  }
}

async function openInputSource(root: string, at?: string): Promise<InputSource> {
  const repository = await describeRepository(root);
  if (!repository) {
    return {
      label: 'the working folder',
      commit: null,
      read: async (path) => {
        try {
          return { ok: true, text: await readFile(join(root, path), 'utf8') };
        } catch (error) {
          return { ok: false, reason: (error as NodeJS.ErrnoException).code ?? 'cannot be read' };
        }
      },
    };
  }
  if (at !== undefined) return { label: `commit ${at.slice(0, 12)}`, commit: at, read: (path) => readFileAtCommit(repository.root, at, path) };
  const head = repository.head;
  if (!head) {
    return { label: 'HEAD', commit: null, read: async () => ({ ok: false, reason: 'the repository has no commit yet' }) };
  }
  return { label: `HEAD (${head.slice(0, 12)})`, commit: head, read: (path) => readFileAtCommit(repository.root, head, path) };
}

function describeDifferentSections(plan: Plan, fresh: Plan): string[] {
  const keys = (['runbook', 'inputs', 'params', 'policy', 'strategy', 'hosts', 'stages', 'hostPlans', 'checks'] as const).filter(
    (key) => toCanonicalJson(plan[key]) !== toCanonicalJson(fresh[key]),
  );
  return keys.length > 0 ? keys : ['contents'];
}

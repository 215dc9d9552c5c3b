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
import type { Topology } from '../plan/isolation.js';

export interface PlanRequest {
  runbookPath: string;
  inventoryPath: string;
  params: readonly string[];
  /** For `strategy.isolation`: these links instead of the latest committed snapshot's (`--check` reads them live). */
  topology?: Topology;
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
    ...(runbook.value.strategy?.isolation ? { topology: request.topology ?? (await loadCommittedTopology(repository?.head ? repository.root : undefined)) } : {}),
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
  const live = options.check && plan.strategy.isolation ? await checkLiveTopology(plan, options) : undefined;
  const checkSections = (checked ? renderPrecheckResults(checked) : '') + (live ? `\n${live.markdown}` : '');
  if (options.format === 'json') {
    options.write(planFile().toString('utf8'));
    if (checked) options.writeError(checkSections);
  } else {
    options.write(renderPlanMarkdown(plan) + (checked ? `\n${checkSections}` : ''));
  }
  if (live?.failed) {
    options.writeError('the live LLDP neighbours give other batches than the plan, or isolate a host (see "Topology, live")\n');
    return EXIT_CODES.failed;
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

/**
 * `--check` with `strategy.isolation`: the LLDP neighbours read now on the targets, the plan made
 * again with them, and whether its batches and findings agree with the plan's (from a snapshot).
 */
async function checkLiveTopology(plan: Plan, options: PlanCommandOptions): Promise<{ markdown: string; failed: boolean }> {
  const [{ createInventoryExec }, { readProfile }, { captureSnapshot }, { resolveHosts }, { createTopology }] = await Promise.all([
    import('./host-access.js'),
    import('../io/snapshot-store.js'),
    import('../snapshot/capture.js'),
    import('../plan/inventory.js'),
    import('../plan/isolation.js'),
  ]);
  const hosts = resolveHosts(loadOrThrow(options.inventoryPath, 'Inventory').value).filter((h) => plan.hosts[h.name] !== undefined);
  const profile = readProfile(plan.strategy.snapshot.profile);
  const session = createInventoryExec(hosts, options.inventoryPath, options.env ?? process.env);
  let snapshot;
  try {
    snapshot = await captureSnapshot({
      name: 'live-lldp',
      profile: { ...profile, collectors: profile.collectors.filter((c) => c.element === 'lldp') },
      hosts: hosts.map((h) => (h.platform === undefined ? { name: h.name } : { name: h.name, platform: h.platform })),
      exec: session.exec,
      engineVersion: ENGINE_VERSION,
    });
  } finally {
    await session.close?.();
  }
  const lldp = snapshot.elements.lldp;
  const unread = Object.entries(lldp.hosts).flatMap(([host, status]) => (status.status === 'notCollected' ? [`${host} (${status.reason})`] : []));
  const topology = createTopology({ snapshot: 'live', createdAt: snapshot.createdAt }, lldp.records);
  const { plan: livePlan } = await planFromFiles({ ...options, topology });
  const same = toCanonicalJson(livePlan.stages) === toCanonicalJson(plan.stages);
  const findings = livePlan.checks.filter((c) => c.code === 'RB2050');
  const from = plan.topology?.snapshot ? `snapshot \`${plan.topology.snapshot}\`` : 'no topology';
  const describeStages = (p: Plan) => p.stages.map((s) => `${s.name}: ${s.batches.map((b) => `[${b.join(', ')}]`).join(' ')}`).join('; ');
  const lines = [
    '### Topology, live (--check)',
    '',
    `LLDP read now on ${hosts.length - unread.length} of ${hosts.length} host(s): ${livePlan.topology?.links ?? 0} link(s) between inventory hosts.${unread.length > 0 ? ` Not read on: ${unread.join(', ')}.` : ''}`,
    '',
    same
      ? `The batches planned from ${from} stand with the live neighbours.`
      : `${plan.strategy.isolation === 'error' ? '❌' : '⚠️'} With the live neighbours the batches would be ${describeStages(livePlan)}; planned from ${from}: ${describeStages(plan)}. Take a snapshot of the fabric now, commit it, and plan again.`,
    ...findings.map((c) => `- ${c.severity === 'error' ? '❌' : '⚠️'} ${c.code} ${c.message}. ${c.hint}`),
    '',
  ];
  return { markdown: lines.join('\n'), failed: plan.strategy.isolation === 'error' && (!same || findings.some((c) => c.severity === 'error')) };
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

import { createInputError } from '../errors.js';
import type { Inventory } from '../schema/inventory.js';
import type { HostPlan, Plan, PlanCheck, PlannedHost, PlannedStep } from '../schema/plan.js';
import type { Precheck, Runbook, Step } from '../schema/runbook.js';
import { READ_ONLY_KINDS, type StepKind } from '../schema/vocabulary.js';
import { hashSha256, joinCanonicalFields, toCanonicalFields, toCanonicalJson } from './canonical-json.js';
import { describeHopContext, resolveHops, sequenceSteps } from './hops.js';
import { matchesSelector, resolveHosts, selectTargets, type ResolvedHost } from './inventory.js';
import { resolveParams, type ParamValue } from './params.js';
import { createIsolationRule, type IsolationRule, type Topology } from './isolation.js';
import { formatTransferCommand, nameArtifact } from './transfer-command.js';
import { RuntimeValue, UnsafeValueError, analyseTemplateOnce, hasTemplate, renderTemplate, type TemplateContext } from './template.js';

export const NO_ROLE_STAGE = '(no role)';
export const DEFAULT_MAX_CONCURRENT_RUNS = 5;
export const DEFAULT_SNAPSHOT_PROFILE = 'fabric';

export interface PlanFile {
  path: string;
  sha256: string;
}

export interface PlanInputs {
  runbook: Runbook;
  inventory: Inventory;
  files: { runbook: PlanFile; inventory: PlanFile };
  /** Values given on the command line, as text. */
  params: Record<string, string>;
  commit: string | null;
  engineVersion: string;
  /** LLDP links for `strategy.isolation`, from the latest committed snapshot; absent or source null when none. */
  topology?: Topology;
}

export interface PlanDocument {
  plan: Plan;
  /** The plan file: the plan's canonical JSON and a newline, in UTF-8, joined from what the hash already serialised. */
  renderFile(): Buffer;
}

/** Pure: runbook + inventory + params -> Plan. Throws an input error (exit 2) for what cannot be planned. */
export function makePlan(inputs: PlanInputs): Plan {
  return makePlanDocument(inputs).plan;
}

/** `makePlan`, with the plan's canonical JSON at the cost of a join rather than a second serialisation. */
export function makePlanDocument(inputs: PlanInputs): PlanDocument {
  const { runbook, inventory } = inputs;
  const params = resolveParams(runbook.params ?? {}, inputs.params);
  const inventoryHosts = resolveHosts(inventory);
  const targets = selectPlanTargets(runbook, inventoryHosts);
  const strategy = resolveStrategy(runbook);
  // A runbook that changes nothing takes no host down: its batches are not split for MLAG pairs.
  const changing = [...runbook.steps, ...(runbook.rollback ?? [])].some((step) => isChanging(step.kind ?? 'command'));
  const isolation = planIsolation(runbook, inputs.topology, inventoryHosts, changing);
  const stages = arrangeStages(targets, strategy.order, strategy.batchSize, changing, isolation);

  const hostPlans: Plan['hostPlans'] = {};
  const commands = new Map<string, string>();
  const hops = runbook.hops === undefined ? undefined : resolveHops(runbook.hops, params);
  const once = <S extends { id: string }>(steps: readonly S[]) => steps.map((step) => ({ step, id: step.id, hop: undefined as number | undefined }));
  const sections = [
    { steps: once(runbook.prechecks ?? []), defaultKind: 'check', name: 'precheck' },
    { steps: sequenceSteps(runbook.steps, runbook.hops, hops?.length ?? 0), defaultKind: 'command', name: 'step' },
    { steps: once(runbook.rollback ?? []), defaultKind: 'command', name: 'rollback step' },
  ] as const;
  // When no command names a host field, a host's plan depends only on which steps select it: hosts
  // with the same selection share one frozen host plan, which the plan's JSON then serialises once.
  const shared = sections.every(({ steps }) => steps.every(({ step }) => [step.run, step.reconnect?.check, 'completedWhen' in step ? step.completedWhen?.run : undefined, step.remote, step.artifact, step.file].every((t) => t === undefined || isHostIndependent(t))))
    ? new Map<string, HostPlan>()
    : undefined;
  for (const host of targets) {
    const selected = sections.map(({ steps }) => steps.filter(({ step }) => matchesSelector(host, step.on)));
    const selection = shared && selected.map((steps) => steps.map((step) => step.id).join(',')).join('|');
    const known = selection === undefined ? undefined : shared?.get(selection);
    if (known) {
      hostPlans[host.name] = known;
      continue;
    }
    const context = createPlanContext(params, host);
    const [prechecks, steps, rollback] = sections.map(({ defaultKind, name }, i) =>
      selected[i]!.map(({ step, id, hop }) =>
        hop === undefined
          ? planStep(step, defaultKind, context, host, name, commands)
          : planStep({ ...step, id }, defaultKind, { ...context, hop: describeHopContext(hop, hops!) }, host, name, commands, hop),
      ),
    ) as [PlannedStep[], PlannedStep[], PlannedStep[]];
    // Keys in canonical (sorted) order: the plan hash and the JSON output then reuse these objects as they are.
    const hostPlan: HostPlan = { prechecks, rollback, steps };
    if (selection !== undefined) shared?.set(selection, deepFreeze(hostPlan));
    hostPlans[host.name] = hostPlan;
  }

  const withoutHash: Omit<Plan, 'hash' | 'commit'> = {
    apiVersion: 'runbook/v1',
    kind: 'Plan',
    engineVersion: inputs.engineVersion,
    runbook: {
      name: runbook.metadata.name,
      version: runbook.metadata.version,
      description: runbook.metadata.description,
      prechecks: runbook.prechecks ?? [],
      steps: runbook.steps,
      rollback: runbook.rollback ?? [],
      hops: runbook.hops,
    },
    inputs: inputs.files,
    params,
    policy: resolvePolicy(runbook, inventory),
    strategy,
    hosts: Object.fromEntries(targets.map((host) => [host.name, describeHost(host)])),
    stages,
    hostPlans,
    checks: [...checkPlan(targets, strategy.order, inventoryHosts), ...(isolation?.findings ?? [])],
    ...(isolation ? { topology: isolation.topology } : {}),
    hops,
  };
  const fields = toCanonicalFields(withoutHash, ['hosts', 'hostPlans']);
  const hash = formatPlanHash(joinCanonicalFields(fields));
  return {
    plan: { ...withoutHash, hash, commit: inputs.commit },
    renderFile: () => joinCanonicalFields({ ...fields, hash: Buffer.from(JSON.stringify(hash)), commit: Buffer.from(JSON.stringify(inputs.commit)) }, '\n'),
  };
}

/** A host plan shared by many hosts must not be changed through any of them. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

/** The content hash: the canonical JSON of the plan without `hash` and `commit`. */
export function computePlanHash(plan: Omit<Plan, 'hash' | 'commit'> | Plan): string {
  const { hash: _hash, commit: _commit, ...content } = plan as Plan;
  return formatPlanHash(toCanonicalJson(content));
}

function formatPlanHash(canonicalContent: string | Uint8Array): string {
  return `sha256:${hashSha256(canonicalContent)}`;
}

function selectPlanTargets(runbook: Runbook, hosts: readonly ResolvedHost[]): ResolvedHost[] {
  const names = new Set(hosts.map((h) => h.name));
  const unknown = (runbook.targets.hosts ?? []).filter((name) => !names.has(name));
  if (unknown.length > 0) {
    throw createInputError(
      'RB2005',
      `targets name host(s) not in the inventory: ${unknown.join(', ')}; add them to the inventory or fix the runbook's targets`,
    );
  }
  const targets = selectTargets(runbook.targets, hosts);
  if (targets.length === 0) {
    throw createInputError(
      'RB2005',
      `the runbook's targets (${JSON.stringify(runbook.targets)}) select no host of the inventory; check the group, host names and labels`,
    );
  }
  return targets;
}

function resolveStrategy(runbook: Runbook): Plan['strategy'] {
  const s = runbook.strategy ?? {};
  const batchSize = s.batchSize ?? 1;
  return {
    order: s.order ?? [],
    batchSize,
    maxFailures: s.maxFailures ?? 0,
    maxParallel: s.maxParallel ?? batchSize,
    rollbackOnFailure: s.rollbackOnFailure ?? false,
    ...(s.isolation ? { isolation: s.isolation } : {}),
    snapshot: {
      before: s.snapshot?.before ?? false,
      after: s.snapshot?.after ?? false,
      profile: s.snapshot?.profile ?? DEFAULT_SNAPSHOT_PROFILE,
    },
  };
}

/** The stricter of the runbook's and the inventory's policies. */
function resolvePolicy(runbook: Runbook, inventory: Inventory): Plan['policy'] {
  const a = runbook.policy ?? {};
  const b = inventory.policy ?? {};
  // The signing fields are left out when unset, so plans made without them keep their hash.
  const signers = [...new Set([a.allowedSignersFile, b.allowedSignersFile].filter((file) => file !== undefined))].sort();
  return {
    requireApproval: Boolean(a.requireApproval || b.requireApproval),
    forbidSelfApproval: Boolean(a.forbidSelfApproval || b.forbidSelfApproval),
    maxConcurrentRuns: Math.min(a.maxConcurrentRuns ?? DEFAULT_MAX_CONCURRENT_RUNS, b.maxConcurrentRuns ?? DEFAULT_MAX_CONCURRENT_RUNS),
    ...(a.requireSignedApprovals || b.requireSignedApprovals ? { requireSignedApprovals: true } : {}),
    ...(signers.length > 0 ? { allowedSignersFiles: signers } : {}),
  };
}

/**
 * Stages by role in `order`; hosts whose role is not listed form a last stage. Within a stage, one peer of
 * every MLAG pair goes before all second peers, so that batches never take both peers of a pair down at once.
 */
function isChanging(kind: StepKind): boolean {
  return !READ_ONLY_KINDS.includes(kind) && kind !== 'approval';
}

interface IsolationPlan {
  rule?: IsolationRule;
  severity: 'error' | 'warning';
  topology: NonNullable<Plan['topology']>;
  findings: PlanCheck[];
}

/** `strategy.isolation`: batches are cut so that no neighbour is isolated, by the topology the plan names. */
function planIsolation(runbook: Runbook, topology: Topology | undefined, hosts: readonly ResolvedHost[], changing: boolean): IsolationPlan | undefined {
  const severity = runbook.strategy?.isolation;
  if (severity === undefined || !changing) return undefined;
  const source = topology?.source ?? null;
  if (source === null || topology === undefined) {
    return {
      severity,
      topology: { snapshot: null },
      findings: [
        {
          code: 'RB2051',
          severity: 'warning',
          message: 'no LLDP topology: no committed snapshot holds LLDP records of these hosts, so the batches are not checked for isolated neighbours',
          hint: 'Take a snapshot of the fabric and commit it (runbook apply runbooks/network-snapshot.yaml), then plan again.',
          hosts: [],
        },
      ],
    };
  }
  // Servers and the management switch are LLDP neighbours too; only links between inventory hosts count.
  const names = new Set(hosts.map((h) => h.name));
  const links = topology.links.filter(([a, b]) => names.has(a) && names.has(b)).length;
  return { severity, rule: createIsolationRule(topology, hosts), topology: { snapshot: source.snapshot, createdAt: source.createdAt, links }, findings: [] };
}

function arrangeStages(hosts: readonly ResolvedHost[], order: readonly string[], batchSize: number, changing: boolean, isolation?: IsolationPlan): Plan['stages'] {
  const stages = order.map((role) => ({ name: role, hosts: hosts.filter((h) => h.role === role).map((h) => h.name) }));
  const rest = hosts.filter((h) => h.role === undefined || !order.includes(h.role)).map((h) => h.name);
  if (rest.length > 0) stages.push({ name: NO_ROLE_STAGE, hosts: rest });
  const byName = new Map(hosts.map((h) => [h.name, h]));
  return stages
    .filter((s) => s.hosts.length > 0)
    .map((s) => {
      const members = s.hosts.map((n) => byName.get(n)!);
      if (!changing) return { name: s.name, batches: chunk(s.hosts, batchSize) };
      return { name: s.name, batches: cutBatches(spreadMlagPeers(members).map((n) => byName.get(n)!), batchSize, isolation) };
    });
}

function chunk(names: readonly string[], size: number): string[][] {
  const batches: string[][] = [];
  for (let i = 0; i < names.length; i += size) batches.push(names.slice(i, i + size));
  return batches;
}

/**
 * Batches of at most `batchSize`, a batch closed early rather than holding a host and its MLAG peer,
 * or hosts that together would leave a neighbour isolated. A host that isolates a neighbour on its
 * own goes in a batch alone, and the plan says so.
 */
function cutBatches(hosts: readonly ResolvedHost[], batchSize: number, isolation?: IsolationPlan): string[][] {
  if (isolation?.rule) return packBatches(hosts, batchSize, isolation, isolation.rule);
  const batches: string[][] = [];
  let current: string[] = [];
  let members = new Set<string>();
  let named = new Set<string>();
  const rule = isolation?.rule;
  for (const host of hosts) {
    const peer = host.labels.mlagPeer;
    const alone = rule?.isolatedBy(new Set([host.name])) ?? [];
    if (alone.length > 0) reportIsolation(isolation!, host.name, alone);
    const isolates = rule !== undefined && current.length > 0 && (alone.length > 0 || rule.isolatedBy(new Set([...members, host.name])).length > 0);
    if (current.length >= batchSize || named.has(host.name) || (peer !== undefined && members.has(peer)) || isolates) {
      batches.push(current);
      current = [];
      members = new Set();
      named = new Set();
    }
    current.push(host.name);
    members.add(host.name);
    if (peer !== undefined) named.add(peer);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * With isolation: each host goes into the first open batch it fits in (room left, not its MLAG
 * peer, isolating no neighbour together with its members), else a new one; so the first spine of
 * every pod shares a batch and the second spines follow, instead of a batch per spine.
 */
function packBatches(hosts: readonly ResolvedHost[], batchSize: number, isolation: IsolationPlan, rule: IsolationRule): string[][] {
  const batches: Array<{ names: string[]; members: Set<string>; named: Set<string>; closed: boolean }> = [];
  const open = (name: string, peer: string | undefined, closed: boolean) =>
    batches.push({ names: [name], members: new Set([name]), named: new Set(peer === undefined ? [] : [peer]), closed });
  for (const host of hosts) {
    const peer = host.labels.mlagPeer;
    const alone = rule.isolatedBy(new Set([host.name]));
    if (alone.length > 0) {
      reportIsolation(isolation, host.name, alone);
      open(host.name, peer, true);
      continue;
    }
    const fits = (batch: (typeof batches)[number]) =>
      !batch.closed &&
      !(peer !== undefined && batch.members.has(peer)) &&
      !batch.named.has(host.name) &&
      !rule.isolatesWith(batch.members, host.name);
    const found = batches.find(fits);
    if (found === undefined) {
      open(host.name, peer, batchSize <= 1);
      continue;
    }
    found.names.push(host.name);
    found.members.add(host.name);
    if (peer !== undefined) found.named.add(peer);
    if (found.names.length >= batchSize) found.closed = true;
  }
  return batches.map((batch) => batch.names);
}

function reportIsolation(isolation: IsolationPlan, host: string, isolated: ReadonlyArray<{ host: string; role: string }>): void {
  const names = isolated.map((entry) => entry.host);
  isolation.findings.push({
    code: 'RB2050',
    severity: isolation.severity,
    message: `\`${host}\` cannot be changed without isolating ${names.map((n) => `\`${n}\``).join(', ')}, its neighbour(s) with no other ${[...new Set(isolated.map((e) => e.role))].join(' or ')} (LLDP)`,
    hint: `Give ${names.join(', ')} a redundant link to another ${[...new Set(isolated.map((e) => e.role))].join(' or ')}, or accept losing them while ${host} is changed (strategy.isolation: warning).`,
    hosts: [host, ...names],
  });
}

function spreadMlagPeers(hosts: readonly ResolvedHost[]): string[] {
  const first: string[] = [];
  const second: string[] = [];
  const inFirst = new Set<string>();
  for (const host of hosts) {
    const peer = host.labels.mlagPeer;
    if (peer !== undefined && inFirst.has(peer)) second.push(host.name);
    else {
      first.push(host.name);
      inFirst.add(host.name);
    }
  }
  return [...first, ...second];
}

// Keys in canonical (sorted) order, as in hostPlans.
function describeHost(host: ResolvedHost): PlannedHost {
  return {
    address: host.address,
    auth: host.auth,
    hostKey: host.hostKey,
    labels: host.labels,
    platform: host.platform,
    port: host.port,
    role: host.role,
    transport: host.transport,
    user: host.user,
  };
}

export function describeHostContext(name: string, host: Omit<PlannedHost, 'auth' | 'hostKey' | 'transport'>) {
  return { name, address: host.address, port: host.port, user: host.user, role: host.role, platform: host.platform, labels: host.labels };
}

function createPlanContext(params: Record<string, ParamValue>, host: ResolvedHost): TemplateContext {
  return { params, host: describeHostContext(host.name, host), run: { id: new RuntimeValue('run.id') }, captures: {} };
}

/** `commands` holds the rendered commands that read no host field: the same on every host, rendered once per plan. */
function planStep(
  step: Step | Precheck,
  defaultKind: StepKind,
  context: TemplateContext,
  host: ResolvedHost,
  section: string,
  commands: Map<string, string>,
  hop?: number,
): PlannedStep {
  const kind = step.kind ?? defaultKind;
  // A step of the path renders differently in each hop: its commands are shared within the hop only.
  const key = (source: string) => (hop === undefined ? source : `${hop}\u0000${source}`);
  const renderCommand = (source: string) => {
    try {
      return renderTemplate(source, withCapturesOf(source, context), { shell: true });
    } catch (error) {
      if (error instanceof UnsafeValueError) {
        throw createInputError('RB2004', `${section} \`${step.id}\` on host \`${host.name}\`: ${error.message}`);
      }
      throw error;
    }
  };
  let command: string | undefined;
  if (kind === 'fetch' || kind === 'put') command = describeTransfer(step as Step, kind, context);
  else if ('previousAttempts' in step && step.previousAttempts) command = describePreviousAttempts(step.previousAttempts.steps);
  else if (step.run !== undefined) {
    command = commands.get(key(step.run));
    if (command === undefined) {
      command = renderCommand(step.run);
      if (isHostIndependent(step.run)) commands.set(key(step.run), command);
    }
  }
  // The reconnection check and the completion probe run on the host too: the same refusal of
  // unsafe values, at plan time.
  for (const extra of [step.reconnect?.check, 'completedWhen' in step ? step.completedWhen?.run : undefined]) {
    if (extra === undefined || commands.has(key(extra))) continue;
    const rendered = renderCommand(extra);
    if (isHostIndependent(extra)) commands.set(key(extra), rendered);
  }
  // Keys in canonical (sorted) order, as in hostPlans.
  return {
    command,
    hop,
    id: step.id,
    kind,
    mutating: !READ_ONLY_KINDS.includes(kind) && kind !== 'approval',
    when: step.when,
  };
}

/** A `previousAttempts` pre-check runs no command: what it reads instead, for plans and reports. */
export function describePreviousAttempts(steps: readonly string[]): string {
  return `read reports/runs: did ${steps.join(', ')} fail in the last run?`;
}

/** What a fetch or put moves, for the plan (the executor names its transfer the same way). */
function describeTransfer(step: Step, kind: 'fetch' | 'put', context: TemplateContext): string {
  const render = (source: string) => renderTemplate(source, withCapturesOf(source, context), { shell: false });
  const remote = render(step.remote ?? '');
  const artifact = nameArtifact(remote, step.artifact === undefined ? undefined : render(step.artifact));
  return formatTransferCommand(kind, { remote, artifact, ...(step.file === undefined ? {} : { file: render(step.file) }) });
}

/** A template that names no host field (and nothing the analysis refused) renders the same for every host. */
function isHostIndependent(source: string): boolean {
  if (!hasTemplate(source)) return true;
  const { refs, problems } = analyseTemplateOnce(source);
  return problems.length === 0 && refs.every((ref) => ref.scope !== 'host');
}

/** The plan context with each captured name the template uses bound to its run-time placeholder. */
function withCapturesOf(source: string, context: TemplateContext): TemplateContext {
  if (!hasTemplate(source)) return context;
  const captures: Record<string, unknown> = Object.create(null);
  for (const ref of analyseTemplateOnce(source).refs) if (ref.scope === 'capture') captures[ref.name] = new RuntimeValue(ref.name);
  return { ...context, captures };
}

function checkPlan(
  targets: readonly ResolvedHost[],
  order: readonly string[],
  inventoryHosts: readonly ResolvedHost[],
): PlanCheck[] {
  const checks: PlanCheck[] = [];
  const noAddress = targets.filter((h) => h.transport === 'ssh' && !h.address);
  if (noAddress.length > 0) {
    checks.push({
      code: 'RB2101',
      severity: 'error',
      message: `${noAddress.length} host(s) have no address`,
      hint: 'Add `address` to each host (or `transport: local` for the controller itself).',
      hosts: noAddress.map((h) => h.name),
    });
  }
  const noAuth = targets.filter((h) => h.transport === 'ssh' && !h.auth);
  if (noAuth.length > 0) {
    checks.push({
      code: 'RB2104',
      severity: 'error',
      message: `${noAuth.length} host(s) have no credentials`,
      hint: 'Set `auth` (keyFile, agent or passwordEnv) on the hosts or in the inventory defaults.',
      hosts: noAuth.map((h) => h.name),
    });
  }
  const allRoles = new Set(inventoryHosts.flatMap((h) => (h.role ? [h.role] : [])));
  for (const role of order) {
    if (!targets.some((h) => h.role === role)) {
      checks.push({
        code: 'RB2102',
        severity: 'warning',
        message: `no targeted host has role \`${role}\` named in strategy.order${allRoles.has(role) ? ' (hosts with it exist but are not targeted)' : ''}`,
        hint: 'Fix the role name in `strategy.order`, or the roles in the inventory.',
        hosts: [],
      });
    }
  }
  checks.push(...checkMlagPairs(targets, inventoryHosts));
  return checks;
}

/** MLAG peers (label `mlagPeer`) must never be down at once: not in one batch. A peer left out is reported too. */
function checkMlagPairs(targets: readonly ResolvedHost[], inventoryHosts: readonly ResolvedHost[]): PlanCheck[] {
  const checks: PlanCheck[] = [];
  const byName = new Map(inventoryHosts.map((h) => [h.name, h]));
  const targeted = new Set(targets.map((h) => h.name));
  for (const host of targets) {
    const peer = host.labels.mlagPeer;
    if (peer === undefined) continue;
    const other = byName.get(peer);
    if (other?.labels.mlagPeer !== host.name) {
      checks.push({
        code: 'RB2103',
        severity: 'warning',
        message: other
          ? `MLAG labels disagree: \`${host.name}\` names \`${peer}\` as its peer, \`${peer}\` names ${other.labels.mlagPeer ? `\`${other.labels.mlagPeer}\`` : 'none'}`
          : `MLAG peer \`${peer}\` of \`${host.name}\` is not in the inventory`,
        hint: 'Give both switches of a pair `mlagPeer` labels naming each other; the planner keeps peers out of one batch by them.',
        hosts: [host.name],
      });
    } else if (!targeted.has(peer) && host.name < peer) {
      checks.push({
        code: 'RB2105',
        severity: 'warning',
        message: `MLAG peer \`${peer}\` of \`${host.name}\` is not targeted: the pair would run different versions`,
        hint: 'Target both peers of an MLAG pair in the same run.',
        hosts: [host.name],
      });
    }
  }
  return checks;
}

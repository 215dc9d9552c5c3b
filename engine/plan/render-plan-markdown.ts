import type { Plan, PlannedStep } from '../schema/plan.js';
import { describePreviousAttempts } from './make-plan.js';

/** GitHub refuses comments over 65,536 characters; stay well under with room for a CI preamble. */
export const MARKDOWN_LIMIT = 60_000;
const BATCH_ROWS_SHOWN = 40;
const NAMES_PER_BATCH_SHOWN = 12;

export function renderPlanMarkdown(plan: Plan, limit = MARKDOWN_LIMIT): string {
  const head = [renderHeader(plan), renderChecks(plan), renderPrechecks(plan), renderStages(plan), renderHops(plan), renderFlowchart(plan)]
    .filter(Boolean)
    .join('\n');
  const hostNames = Object.keys(plan.hostPlans);
  // Grouped by hand: the first toLocaleString of a process loads ICU's locale data, a noticeable part of a plan's time.
  const limitText = String(limit).replace(/\B(?=(\d{3})+$)/g, ',');
  const footer = (shown: number) =>
    shown < hostNames.length
      ? `\n_${hostNames.length - shown} more host(s) not shown to keep this comment under ${limitText} characters; their steps are in the JSON plan (\`runbook plan --out plan.json\`)._\n`
      : '';
  const parts: string[] = [];
  let size = head.length + 200;
  for (const name of hostNames) {
    const block = renderHost(plan, name);
    if (size + block.length + footer(parts.length + 1).length > limit) break;
    parts.push(block);
    size += block.length;
  }
  return `${head}\n### Hosts\n\n${parts.join('')}${footer(parts.length)}`;
}

function renderHeader(plan: Plan): string {
  const hosts = Object.keys(plan.hosts).length;
  const batches = plan.stages.reduce((n, s) => n + s.batches.length, 0);
  const firstName = Object.keys(plan.hostPlans)[0];
  const first = firstName === undefined ? undefined : plan.hostPlans[firstName];
  const mutating = first?.steps.filter((s) => s.mutating).length ?? 0;
  const params = Object.entries(plan.params)
    .map(([k, v]) => `\`${k}=${String(v)}\``)
    .join(', ');
  const policy = [
    plan.policy.requireApproval ? 'approval required' : 'no approval required',
    plan.policy.forbidSelfApproval ? 'no self-approval' : undefined,
    plan.policy.requireSignedApprovals ? 'signed approvals' : undefined,
    `at most ${plan.policy.maxConcurrentRuns} concurrent runs`,
  ].filter(Boolean);
  const s = plan.strategy;
  const rows: Array<[string, string]> = [
    ['Runbook', `\`${plan.runbook.name}\` ${plan.runbook.version} (\`${plan.inputs.runbook.path}\`)`],
    ['Inventory', `\`${plan.inputs.inventory.path}\``],
    ['Commit', plan.commit ? `\`${plan.commit.slice(0, 12)}\`` : 'not in a git repository'],
    ['Plan hash', `\`${plan.hash}\``],
    ['Engine', plan.engineVersion],
    ['Hosts', `${hosts} in ${plan.stages.length} stage(s), ${batches} batch(es) of up to ${s.batchSize}`],
    ['Steps', `${plan.runbook.prechecks.length} pre-check(s); ${plan.runbook.steps.length} step(s)${plan.hops && first ? ` (${first.steps.length} run over ${plan.hops.length} hop(s))` : ''}, ${mutating} of them changing the host (first host); ${plan.runbook.rollback.length} rollback step(s)`],
    ['Failures', `stop after ${s.maxFailures + 1} failed host(s)${s.rollbackOnFailure ? '; failed hosts are rolled back' : ''}`],
    ['Snapshots', s.snapshot.before || s.snapshot.after ? `${[s.snapshot.before && 'before', s.snapshot.after && 'after'].filter(Boolean).join(' and ')} (profile \`${s.snapshot.profile}\`)` : 'none'],
    ...(plan.topology
      ? ([['Topology', plan.topology.snapshot === null ? 'none available: batches not checked for isolated neighbours (RB2051)' : `LLDP of snapshot \`${plan.topology.snapshot}\` taken ${plan.topology.createdAt ?? '?'} (${plan.topology.links ?? 0} links); batches cut so that no neighbour is isolated`]] as Array<[string, string]>)
      : []),
    ['Params', params || 'none'],
    ...(plan.hops ? [['Hops', describeHops(plan)] as [string, string]] : []),
    ['Policy', policy.join('; ')],
  ];
  return [
    `## Plan: ${plan.runbook.name} ${plan.runbook.version}`,
    '',
    plan.runbook.description ? `${plan.runbook.description}\n` : '',
    '| | |',
    '| --- | --- |',
    ...rows.map(([k, v]) => `| ${k} | ${escapeCell(v)} |`),
    '',
  ].join('\n');
}

function renderChecks(plan: Plan): string {
  if (plan.checks.length === 0) return '### Checks\n\nNo findings.\n';
  const icon = (severity: string) => (severity === 'error' ? '❌ error' : '⚠️ warning');
  return [
    '### Checks',
    '',
    '| severity | code | finding | hint | hosts |',
    '| --- | --- | --- | --- | --- |',
    ...plan.checks.map(
      (c) => `| ${icon(c.severity)} | ${c.code} | ${escapeCell(c.message)} | ${escapeCell(c.hint)} | ${escapeCell(summariseNames(c.hosts))} |`,
    ),
    '',
  ].join('\n');
}

function renderPrechecks(plan: Plan): string {
  if (plan.runbook.prechecks.length === 0) return '';
  return [
    '### Pre-checks',
    '',
    'Run on every targeted host before any change; an `error` stops the run, a `warning` is reported.',
    '',
    '| check | severity | command | hint |',
    '| --- | --- | --- | --- |',
    ...plan.runbook.prechecks.map(
      (p) => `| \`${p.id}\` | ${p.severity ?? 'error'} | ${codeCell(p.previousAttempts ? describePreviousAttempts(p.previousAttempts.steps) : (p.run ?? ''))} | ${escapeCell(p.hint ?? '')} |`,
    ),
    '',
  ].join('\n');
}

function renderStages(plan: Plan): string {
  const rows: string[] = [];
  const total = plan.stages.reduce((n, s) => n + s.batches.length, 0);
  let index = 0;
  for (const stage of plan.stages) {
    stage.batches.forEach((batch, b) => {
      index++;
      if (total > BATCH_ROWS_SHOWN && index > BATCH_ROWS_SHOWN - 5 && index <= total - 5) {
        if (index === BATCH_ROWS_SHOWN - 4) rows.push(`| … | … | ${total - BATCH_ROWS_SHOWN} more batch(es) |`);
        return;
      }
      rows.push(`| ${escapeCell(stage.name)} | ${b + 1} of ${stage.batches.length} | ${escapeCell(summariseNames(batch))} |`);
    });
  }
  return ['### Stages and batches', '', '| stage | batch | hosts |', '| --- | --- | --- |', ...rows, ''].join('\n');
}

function describeHops(plan: Plan): string {
  const { firstStep, lastStep } = plan.runbook.hops!;
  return `${plan.hops!.map((h) => `\`${h.value}\``).join(' → ')}: steps \`${firstStep}\` to \`${lastStep}\` once per hop, in order; a hop that fails stops the path`;
}

/** One section per hop: its value and what the runbook says it does. */
function renderHops(plan: Plan): string {
  if (!plan.hops) return '';
  const count = plan.hops.length;
  return [
    '### Hops',
    '',
    ...plan.hops.map((h) => `**Hop ${h.index} of ${count}: \`${h.value}\`**${h.description ? `\n\n${h.description.trim()}` : ''}\n`),
  ].join('\n');
}

function renderFlowchart(plan: Plan): string {
  const nodes: string[] = ['  start([start])'];
  const chain = ['start'];
  const add = (id: string, label: string) => {
    nodes.push(`  ${id}["${label.replace(/"/g, "'")}"]`);
    chain.push(id);
  };
  if (plan.runbook.prechecks.length > 0) add('pre', `pre-checks on ${Object.keys(plan.hosts).length} host(s)`);
  if (plan.strategy.snapshot.before) add('snapBefore', 'snapshot before');
  plan.stages.forEach((stage, i) => {
    const hosts = stage.batches.reduce((n, b) => n + b.length, 0);
    add(`stage${i}`, `${stage.name}: ${hosts} host(s) in ${stage.batches.length} batch(es)`);
  });
  if (plan.strategy.snapshot.after) add('snapAfter', 'snapshot after and compare');
  nodes.push('  done([done])');
  chain.push('done');
  return ['```mermaid', 'flowchart LR', ...nodes, `  ${chain.join(' --> ')}`, '```', ''].join('\n');
}

function renderHost(plan: Plan, name: string): string {
  const host = plan.hosts[name]!;
  const hostPlan = plan.hostPlans[name]!;
  const facts = [host.role, host.address ? `${host.address}:${host.port}` : 'no address', host.platform].filter(Boolean).join(', ');
  const table = (steps: PlannedStep[], first = 1) =>
    [
      '| # | step | kind | command |',
      '| --- | --- | --- | --- |',
      ...steps.map(
        (s, i) =>
          `| ${i + first} | \`${s.id}\`${s.when ? ` (when ${codeCell(s.when)})` : ''} | ${s.kind}${s.mutating ? ' ✎' : ''} | ${s.command === undefined ? '' : codeCell(s.command)} |`,
      ),
    ].join('\n');
  const sections = plan.hops ? splitByHop(plan, hostPlan.steps, table) : [`**Steps** (✎ changes the host)\n\n${table(hostPlan.steps)}`];
  if (hostPlan.rollback.length > 0) sections.push(`**Rollback** (if this host fails)\n\n${table(hostPlan.rollback)}`);
  return `<details><summary><b>${escapeHtml(name)}</b> (${escapeHtml(facts)}): ${hostPlan.steps.length} step(s)</summary>\n\n${sections.join('\n\n')}\n\n</details>\n`;
}

/** A host's steps as tables: those before the path, one per hop, those after; numbered throughout. */
function splitByHop(plan: Plan, steps: PlannedStep[], table: (steps: PlannedStep[], first: number) => string): string[] {
  const count = plan.hops!.length;
  const groups: Array<{ title: string; steps: PlannedStep[] }> = [];
  for (const step of steps) {
    const title = step.hop === undefined
      ? groups.some((g) => g.title.startsWith('**Hop')) ? '**After the hops**' : '**Steps** (✎ changes the host)'
      : `**Hop ${step.hop} of ${count}: \`${plan.hops![step.hop - 1]?.value ?? ''}\`**`;
    const last = groups[groups.length - 1];
    if (last?.title === title) last.steps.push(step);
    else groups.push({ title, steps: [step] });
  }
  let first = 1;
  return groups.map((g) => {
    const text = `${g.title}\n\n${table(g.steps, first)}`;
    first += g.steps.length;
    return text;
  });
}

function summariseNames(names: readonly string[]): string {
  if (names.length <= NAMES_PER_BATCH_SHOWN) return names.join(', ');
  return `${names.slice(0, NAMES_PER_BATCH_SHOWN).join(', ')} (+${names.length - NAMES_PER_BATCH_SHOWN} more)`;
}

/** A code span inside a table cell: pipes escaped, a fence longer than any backtick run inside. */
function codeCell(text: string): string {
  const oneLine = text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
  const longest = Math.max(0, ...(oneLine.match(/`+/g) ?? []).map((m) => m.length));
  const fence = '`'.repeat(longest + 1);
  return longest > 0 ? `${fence} ${oneLine} ${fence}` : `${fence}${oneLine}${fence}`;
}

function escapeCell(text: string): string {
  return text.replace(/\n/g, ' ').replace(/\|/g, '\\|');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

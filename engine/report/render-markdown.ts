import Handlebars from 'handlebars';
import type { ReportHost, ReportStep, RunReport } from '../schema/report.js';
import { renderGantt, DEFAULT_MAX_GANTT_BARS } from './gantt.js';
import { loadReportTemplates } from './templates.js';

export interface RenderReportOptions {
  /** The snapshot comparison as Markdown (a `## ` section), e.g. from the snapshot module's `renderDiffMarkdown`; without it the counts in the report are shown. */
  snapshotSection?: string;
  maxGanttBars?: number;
}

const ICONS: Record<string, string> = {
  succeeded: '✅',
  failed: '❌',
  'rolled-back': '↩️',
  'rollback-failed': '🛑',
  skipped: '⏭️',
  interrupted: '⚠️',
  pending: '⏸️',
  running: '⏳',
};

const LABELS: Record<string, string> = { 'rolled-back': 'rolled back', 'rollback-failed': 'rollback failed' };
const STATE_ORDER = ['succeeded', 'failed', 'rolled-back', 'rollback-failed', 'interrupted', 'skipped', 'pending', 'running'];
const MAX_NOTE = 300;

let compiled: Handlebars.TemplateDelegate | undefined;

/** The run report as Markdown that reads well on a git host: a summary table first, details collapsed. */
export function renderRunReportMarkdown(report: RunReport, options: RenderReportOptions = {}): string {
  compiled ??= compileTemplates();
  const text = compiled(describeReport(report, options));
  return `${text.replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}

function compileTemplates(): Handlebars.TemplateDelegate {
  const templates = loadReportTemplates();
  const handlebars = Handlebars.create();
  for (const [name, helper] of Object.entries(HELPERS)) handlebars.registerHelper(name, helper);
  handlebars.registerPartial('host', handlebars.compile(templates.host, { noEscape: true, strict: true }));
  return handlebars.compile(templates.report, { noEscape: true, strict: true });
}

function describeReport(report: RunReport, options: RenderReportOptions) {
  const hosts = Object.entries(report.hosts).map(([name, host]) => describeHost(name, host, report.hops));
  const precheckProblems = Object.entries(report.hosts).flatMap(([name, host]) =>
    host.prechecks
      .filter((step) => step.status === 'failed' || step.status === 'interrupted')
      .map((step) => ({ host: name, step, severity: step.errorCode ? 'unreachable' : (step.severity ?? 'error') })),
  );
  const precheckCount = Object.values(report.hosts).reduce((n, h) => n + h.prechecks.length, 0);
  return {
    report,
    hostCount: hosts.length,
    hostSummary: describeHostSummary(report),
    approvalText: describeApprovals(report),
    runByText: describeRunner(report.runBy),
    paramRows: Object.entries(report.params).map(([k, v]) => `${k}=${String(v)}`),
    hosts,
    precheckProblems,
    precheckSummary:
      precheckCount === 0
        ? 'The runbook has no pre-checks.'
        : precheckProblems.length === 0
          ? `All ${precheckCount} pre-check results passed.`
          : `${precheckProblems.length} of ${precheckCount} pre-check results did not pass; warnings are reported, errors stop the run before any change.`,
    stepWarnings: Object.entries(report.hosts).flatMap(([name, host]) =>
      [...host.steps, ...host.rollback].filter((step) => step.severity === 'warning' && step.status === 'failed').map((step) => ({ host: name, step })),
    ),
    transfers: Object.entries(report.hosts).flatMap(([name, host]) =>
      [...host.steps, ...host.rollback].flatMap((step) => (step.transfer && step.status === 'succeeded' ? [{ host: name, step, transfer: step.transfer }] : [])),
    ),
    snapshotSection: options.snapshotSection?.trim() || describeSnapshots(report),
    historySection: describeHistory(report),
    gantt: renderGantt(report, options.maxGanttBars ?? DEFAULT_MAX_GANTT_BARS),
  };
}

function describeHost(name: string, host: ReportHost, hops: RunReport['hops']) {
  const ran = host.steps.filter((s) => s.status === 'succeeded').length;
  const tables = [
    { title: 'Pre-checks', note: '', steps: host.prechecks },
    ...(hops ? describeHopTables(host.steps, hops) : [{ title: 'Steps', note: '', steps: host.steps }]),
    { title: 'Rollback', note: '', steps: host.rollback },
  ].filter((t) => t.steps.length > 0);
  const logs = [
    ...host.prechecks.flatMap((step) => describeStepLog(step, 'pre-check ')),
    ...host.steps.flatMap((step) => describeStepLog(step, '')),
    ...host.rollback.flatMap((step) => describeStepLog(step, 'rollback ')),
  ];
  return { name, host, tables, logs, stepTally: `${ran}/${host.steps.length} succeeded${host.rollback.length > 0 ? `, ${host.rollback.length} rollback step${host.rollback.length === 1 ? '' : 's'}` : ''}` };
}

/** A host's steps in one table per hop (its outcome in the title), with those before and after the path. */
function describeHopTables(steps: readonly ReportStep[], hops: NonNullable<RunReport['hops']>) {
  const tables: Array<{ title: string; note: string; steps: ReportStep[]; hop?: number }> = [];
  for (const step of steps) {
    const last = tables[tables.length - 1];
    if (last && last.hop === step.hop && (step.hop !== undefined || last.title !== 'Steps' || !tables.some((t) => t.hop !== undefined))) {
      last.steps.push(step);
      continue;
    }
    const hop = step.hop === undefined ? undefined : hops[step.hop - 1];
    tables.push(
      hop
        ? { title: `Hop ${hop.index} of ${hops.length}: ${hop.value}`, note: hop.description?.trim().replace(/\s*\n\s*/g, ' ') ?? '', steps: [step], hop: hop.index }
        : { title: tables.some((t) => t.hop !== undefined) ? 'After the hops' : 'Steps', note: '', steps: [step] },
    );
  }
  for (const table of tables) if (table.hop !== undefined) table.title += ` (${describeHopOutcome(table.steps)})`;
  return tables;
}

function describeHopOutcome(steps: readonly ReportStep[]): string {
  if (steps.some((s) => s.status === 'failed')) return 'failed';
  if (steps.some((s) => s.status === 'interrupted')) return 'interrupted';
  if (steps.every((s) => s.status === 'skipped' && s.attempts === 0 && s.message?.startsWith('not run'))) return 'not run';
  return 'succeeded';
}

/** A step's command and outputs, one collapsed block; a failed step's block is open, being the one a reader came for. */
function describeStepLog(step: ReportStep, prefix: string) {
  if (step.attempts === 0 && !step.stdout && !step.stderr) return [];
  const blocks: Array<{ caption: string; text: string; fence: string }> = [];
  const add = (caption: string, text: string) => {
    const clean = cleanOutput(text);
    blocks.push({ caption, text: clean, fence: fenceFor(clean) });
  };
  if (step.command) add('command', step.command);
  for (const stream of ['stdout', 'stderr'] as const) {
    const excerpt = step[stream];
    if (!excerpt) continue;
    const shown = excerpt.text === '' ? 0 : excerpt.text.split('\n').length;
    const extent = excerpt.droppedBytes
      ? `first and last lines, ${excerpt.droppedBytes} bytes dropped between`
      : excerpt.truncated
      ? `last ${shown} of ${excerpt.totalLines} lines (${excerpt.totalBytes} bytes)`
      : `${excerpt.totalLines} line${excerpt.totalLines === 1 ? '' : 's'}`;
    add(`${stream}, ${extent}`, excerpt.text);
  }
  if (blocks.length === 0) return [];
  const exit = step.exitCode === null ? '' : `, exit ${step.exitCode}`;
  const tries = step.attempts > 1 ? `, ${step.attempts} attempts` : '';
  return [{ title: `${prefix}${step.id}: ${step.status}${exit}${tries}`, open: step.status === 'failed' || step.status === 'interrupted', blocks }];
}

function describeHostSummary(report: RunReport): string {
  const total = Object.keys(report.hosts).length;
  const parts = STATE_ORDER.filter((s) => (report.summary[s] ?? 0) > 0).map((s) => `${report.summary[s]} ${LABELS[s] ?? s}`);
  return `${total}: ${parts.join(', ')}`;
}

function describeApprovals(report: RunReport): string {
  if (report.approvals.length === 0) return report.policy.requireApproval ? 'no approval found (required)' : 'not approved (not required)';
  const where = (a: RunReport['approvals'][number]) => (a.approvalCommit ? ` (approval commit ${a.approvalCommit.slice(0, 12)})` : a.commit ? ` (commit ${a.commit.slice(0, 12)})` : '');
  return report.approvals.map((a) => `${a.approver} at ${a.approvedAt}${where(a)}`).join('; ');
}

function describeRunner(runBy: RunReport['runBy']): string {
  const git = runBy.gitName || runBy.gitEmail ? ` (git: ${[runBy.gitName, runBy.gitEmail ? `<${runBy.gitEmail}>` : undefined].filter(Boolean).join(' ')})` : '';
  return `${runBy.user} on ${runBy.machine}${git}`;
}

/** Each stop of a resumed run, and who decided what about the steps it cut off. */
function describeHistory(report: RunReport): string {
  const history = report.history;
  if (!history) return '';
  const lines = ['## Interruptions and decisions', '', `The run was worked on by ${history.processes} process${history.processes === 1 ? '' : 'es'}.`, ''];
  lines.push('| when | host | step | what | by |', '| --- | --- | --- | --- | --- |');
  const rows = [
    ...history.interruptions.map((i) => ({
      at: i.at,
      cells: ['', '', `stopped: ${i.reason}${i.cutOff.length > 0 ? `; cut off: ${i.cutOff.map((c) => `${c.host}:${c.step}`).join(', ')}` : ''}`, ''],
    })),
    ...history.decisions.map((d) => ({ at: d.at, cells: [d.host, `${d.section === 'rollback' ? 'rollback ' : ''}${d.step}`, `${d.decision}: ${d.reason}`, d.by] })),
  ].sort((a, b) => a.at.localeCompare(b.at));
  for (const row of rows) lines.push(`| ${row.at} | ${row.cells.map((cell) => escapeCell(clip(cell))).join(' | ')} |`);
  return lines.join('\n');
}

function describeSnapshots(report: RunReport): string {
  const { before, after, comparison } = report.snapshots;
  if (!before && !after && !comparison) return '';
  const lines: string[] = [];
  if (!comparison) {
    lines.push('## Snapshots', '');
    lines.push(`Before: ${before ? inlineCode(before.name) : 'none'}. After: ${after ? inlineCode(after.name) : 'none'}. No comparison is available.`);
    return lines.join('\n');
  }
  lines.push(`## Snapshot comparison: ${inlineCode(comparison.before)} → ${inlineCode(comparison.after)}`, '');
  lines.push('| element | before | after | added | removed | changed |', '| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const [type, e] of Object.entries(comparison.elements)) {
    const count = (n: number | null) => (n === null ? 'not collected' : String(n));
    lines.push(`| ${escapeCell(type)} | ${count(e.before)} | ${count(e.after)} | ${e.added} | ${e.removed} | ${e.changed} |`);
  }
  const { added, removed, changed } = comparison.totals;
  lines.push('', added + removed + changed === 0 ? 'No differences.' : `In all: ${added} added, ${removed} removed, ${changed} changed.`);
  if (comparison.notCollected.length > 0) lines.push('', `Not compared on every host: ${comparison.notCollected.join(', ')}.`);
  return lines.join('\n');
}

// ---------------------------------------------------------------- helpers

/** Text inside a table cell: pipes escaped, line breaks kept as <br>, HTML neutralised. */
function escapeCell(text: string): string {
  return escapeHtml(text).replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** An inline code span that survives backticks in the text and table pipes. */
function inlineCode(text: string): string {
  const flat = text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
  const longest = Math.max(0, ...[...flat.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = '`'.repeat(longest + 1);
  const pad = longest > 0 || flat.startsWith('`') || flat.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${flat}${pad}${ticks}`;
}

/** A code fence longer than any backtick run in the text, so the text cannot close it. */
function fenceFor(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`{3,}/g)].map((m) => m[0].length));
  return '`'.repeat(Math.max(3, longest + 1));
}

/** Terminal escapes and control characters mean nothing on a web page and can break the layout. */
function cleanOutput(text: string): string {
  return text.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\r(?!\n)/g, '\n').replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '');
}

function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const totalSeconds = Math.round(ms / 1000);
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m ${String(s).padStart(2, '0')}s`;
}

function clip(text: unknown): string {
  if (typeof text !== 'string') return '';
  return text.length > MAX_NOTE ? `${text.slice(0, MAX_NOTE - 1)}…` : text;
}

const HELPERS: Record<string, Handlebars.HelperDelegate> = {
  icon: (state: string) => ICONS[state] ?? '',
  label: (state: string) => LABELS[state] ?? state,
  duration: (ms: number) => formatDuration(ms),
  count: (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`,
  cell: (text: unknown) => (typeof text === 'string' ? escapeCell(text) : ''),
  code: (text: unknown) => inlineCode(String(text)),
  html: (text: unknown) => escapeHtml(String(text)),
  inline: (text: unknown) => escapeHtml(String(text)).replace(/\r?\n/g, ' '),
  short: (commit: string) => commit.slice(0, 12),
  clip,
  isNumber: (value: unknown) => typeof value === 'number',
  note: (step: ReportStep) => [step.message, step.errorCode ? `(${step.errorCode})` : undefined].filter(Boolean).join(' '),
};

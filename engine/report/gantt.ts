import type { ReportStep, RunReport } from '../schema/report.js';

export const DEFAULT_MAX_GANTT_BARS = 120;

export interface GanttChart {
  /** The fenced ```mermaid block. */
  block: string;
  bars: number;
  /** Says what was left out or merged when the run had more bars than the cap; empty otherwise. */
  note: string;
}

interface Bar {
  name: string;
  tag: 'done' | 'crit' | 'active';
  start: number;
  end: number;
}

// Lines starting with these words are directives, not tasks, in Mermaid's Gantt grammar.
const DIRECTIVES = /^(title|section|dateformat|axisformat|tickinterval|excludes|includes|todaymarker|weekday|weekend|inclusiveenddates|topaxis|click|acctitle|accdescr|displaymode)\b/i;

/**
 * A Mermaid Gantt chart of the run: one section per host (named with its stage), a bar per step.
 * Above `maxBars` the chart shows one bar per host instead; above that, the first `maxBars` hosts.
 */
export function renderGantt(report: RunReport, maxBars = DEFAULT_MAX_GANTT_BARS): GanttChart {
  const perStep = Object.entries(report.hosts).map(([name, host]) => ({ name, section: `${host.stage} · ${name}`, bars: stepBars(host) }));
  const stepCount = perStep.reduce((n, h) => n + h.bars.length, 0);
  let sections = perStep;
  let note = '';
  if (stepCount > maxBars) {
    sections = Object.entries(report.hosts)
      .map(([name, host]) => ({ name, section: host.stage, bars: hostBar(name, host) }))
      .filter((s) => s.bars.length > 0);
    note = `The run has ${stepCount} step bars, more than ${maxBars}: the chart shows one bar per host.`;
    if (sections.length > maxBars) {
      note = `The run has ${stepCount} step bars and ${sections.length} hosts: the chart shows the first ${maxBars} hosts, one bar each.`;
      sections = sections.slice(0, maxBars);
    }
    sections = mergeSections(sections);
  }

  const lines = ['```mermaid', 'gantt', `    title ${escapeMermaid(`${report.runbook.name} ${report.runbook.version} run ${report.runId}`)}`, '    dateFormat x', '    axisFormat %H:%M:%S'];
  let bars = 0;
  for (const section of sections) {
    if (section.bars.length === 0) continue;
    lines.push(`    section ${escapeMermaid(section.section)}`);
    for (const bar of section.bars) {
      lines.push(`    ${taskName(bar.name)} :${bar.tag}, ${bar.start}, ${Math.max(bar.end, bar.start + 1)}`);
      bars++;
    }
  }
  lines.push('```');
  return { block: lines.join('\n'), bars, note };
}

/** Characters Mermaid reads as syntax in a task or section name (`:` data, `;` statement end, `#` entity, `%%` comment) become spaces. */
export function escapeMermaid(text: string): string {
  return text
    .replace(/[#:;%<>`\r\n\t{}[\]"\\]/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim() || '_';
}

function taskName(name: string): string {
  const safe = escapeMermaid(name);
  return DIRECTIVES.test(safe) ? `step ${safe}` : safe;
}

function stepBars(host: RunReport['hosts'][string]): Bar[] {
  const bars: Bar[] = [];
  const ran = host.prechecks.filter(hasRun);
  if (ran.length > 0) {
    const start = Math.min(...ran.map(startOf));
    const end = Math.max(...ran.map(endOf));
    bars.push({ name: 'pre-checks', tag: ran.some((s) => s.status === 'failed' && s.severity !== 'warning') ? 'crit' : 'done', start, end });
  }
  for (const step of host.steps.filter(hasRun)) bars.push({ name: step.id, tag: step.status === 'succeeded' ? 'done' : 'crit', start: startOf(step), end: endOf(step) });
  for (const step of host.rollback.filter(hasRun)) {
    bars.push({ name: `rollback ${step.id}`, tag: step.status === 'succeeded' ? 'active' : 'crit', start: startOf(step), end: endOf(step) });
  }
  return bars;
}

function hostBar(name: string, host: RunReport['hosts'][string]): Bar[] {
  const all = [...host.prechecks, ...host.steps, ...host.rollback].filter(hasRun);
  if (all.length === 0) return [];
  const start = host.startedAt !== undefined ? Date.parse(host.startedAt) : Math.min(...all.map(startOf));
  const end = host.finishedAt !== undefined ? Date.parse(host.finishedAt) : Math.max(...all.map(endOf));
  const tag = host.state === 'succeeded' ? 'done' : host.state === 'rolled-back' ? 'active' : 'crit';
  return [{ name, tag, start, end }];
}

/** One section per stage when hosts are merged into single bars. */
function mergeSections(sections: Array<{ name: string; section: string; bars: Bar[] }>) {
  const merged = new Map<string, { name: string; section: string; bars: Bar[] }>();
  for (const s of sections) {
    const existing = merged.get(s.section);
    if (existing) existing.bars.push(...s.bars);
    else merged.set(s.section, { ...s, bars: [...s.bars] });
  }
  return [...merged.values()];
}

function hasRun(step: ReportStep): boolean {
  return step.attempts > 0 || step.status === 'failed' || step.status === 'interrupted';
}

function startOf(step: ReportStep): number {
  return Date.parse(step.startedAt);
}

function endOf(step: ReportStep): number {
  return Date.parse(step.startedAt) + step.durationMs;
}

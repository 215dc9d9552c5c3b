import type { ElementDiff, SnapshotDiff } from '../schema/snapshot.js';
import { plural } from './assertions.js';
import { ELEMENT_SPECS, describeKey, formatValue, isElementType, listFields, type ElementRecord, type ElementType } from './element-model.js';

export interface RenderDiffOptions {
  /** Rows shown per added, removed or changed section; the JSON export has them all. */
  maxRows?: number;
  /** Heading level of the title (default 2). */
  headingLevel?: number;
}

export const DEFAULT_MAX_ROWS = 50;

/** A NetQ-style compare card: a summary table, then each element's differences in collapsed blocks. */
export function renderDiffMarkdown(diff: SnapshotDiff, options: RenderDiffOptions = {}): string {
  const maxRows = options.maxRows ?? DEFAULT_MAX_ROWS;
  const h = '#'.repeat(options.headingLevel ?? 2);
  const out: string[] = [];
  out.push(`${h} Snapshot comparison: \`${diff.before.name}\` → \`${diff.after.name}\``, '');
  out.push(
    `Before (A): ${describeSide(diff.before)}. After (B): ${describeSide(diff.after)}. ` +
      'Added means only in B, removed only in A; records are matched by identity key.',
    '',
  );
  out.push(describeOptions(diff), '');

  const entries = Object.entries(diff.elements).filter((entry): entry is [ElementType, ElementDiff] => isElementType(entry[0]));
  const withNotes = entries.some(([, d]) => noteOf(d) !== '');
  out.push(`| element | before | after | added | removed | changed |${withNotes ? ' notes |' : ''}`);
  out.push(`| --- | ---: | ---: | ---: | ---: | ---: |${withNotes ? ' --- |' : ''}`);
  for (const [type, d] of entries) {
    const cells =
      d.status === 'notCollected'
        ? [type, 'not collected', 'not collected', '', '', '']
        : [type, String(d.counts.before), String(d.counts.after), String(d.counts.added), String(d.counts.removed), String(d.counts.changed)];
    if (withNotes) cells.push(noteOf(d));
    out.push(`| ${cells.map(escapeCell).join(' | ')} |`);
  }
  out.push('');
  const { added, removed, changed } = diff.totals;
  out.push(
    added + removed + changed === 0 && diff.totals.notCollected.length === 0
      ? 'No differences.'
      : `In all: ${added} added, ${removed} removed, ${changed} changed.`,
    '',
  );

  for (const [type, d] of entries) {
    const sections = renderElement(type, d, maxRows);
    if (sections.length === 0) continue;
    out.push(`${h}# ${type}`, '', ...sections);
  }
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}

export function renderDiffJson(diff: SnapshotDiff): string {
  return `${JSON.stringify(diff, null, 2)}\n`;
}

function describeSide(side: SnapshotDiff['before']): string {
  const origin = side.live ? ', captured live (not stored)' : side.commit ? `, as committed in ${side.commit.slice(0, 12)}` : '';
  return `\`${side.name}\`, taken ${side.createdAt}${origin}${side.note ? ` (note: ${escapeInline(side.note)})` : ''}`;
}

function describeOptions(diff: SnapshotDiff): string {
  const parts: string[] = [];
  parts.push(
    diff.options.defaultExclusions
      ? 'Volatile fields (uptimes, counters, timers, ages) are left out.'
      : 'Volatile fields are compared too (default exclusions off).',
  );
  if (diff.options.exclude.length > 0) parts.push(`Also left out: ${diff.options.exclude.map((f) => `\`${f}\``).join(', ')}.`);
  const tolerances = Object.entries(diff.options.tolerances);
  if (tolerances.length > 0) parts.push(`Tolerances: ${tolerances.map(([f, rules]) => `\`${f}\` ${rules.join(' ')}`).join(', ')}.`);
  const filter = diff.options.filter;
  if (filter) parts.push(`Filtered: only ${filter.only.join(', ')}${filter.hosts ? ` of ${filter.hosts.map((h) => `\`${h}\``).join(', ')}` : ''} (before and after count every record).`);
  return parts.join(' ');
}

function noteOf(d: ElementDiff): string {
  const notes: string[] = [];
  if (d.status === 'partial') notes.push(`partial: ${d.notCompared.map((n) => n.host).join(', ')} not compared`);
  if (d.status === 'notCollected' && d.notCompared.length > 0) notes.push(summarizeReasons(d));
  if (d.duplicates.length > 0) notes.push(plural(d.duplicates.length, 'duplicate key'));
  if (d.counts.tolerated > 0) notes.push(`${d.counts.tolerated} within tolerance`);
  return notes.join('; ');
}

function summarizeReasons(d: ElementDiff): string {
  const first = d.notCompared[0]!;
  return d.notCompared.length === 1 ? `${first.host}: ${first.reason}` : `${d.notCompared.length} hosts, e.g. ${first.host}: ${first.reason}`;
}

function renderElement(type: ElementType, d: ElementDiff, maxRows: number): string[] {
  const out: string[] = [];
  if (d.notCompared.length > 0) {
    out.push(d.status === 'notCollected' ? 'Not collected, so not compared:' : 'Not compared on these hosts:', '');
    for (const n of d.notCompared.slice(0, maxRows)) out.push(`- ${n.host}: ${escapeInline(n.reason)}`);
    if (d.notCompared.length > maxRows) out.push(`- and ${d.notCompared.length - maxRows} more hosts`);
    out.push('');
  }
  if (d.duplicates.length > 0) {
    out.push('Identity keys held by more than one record (left out of added, removed and changed):', '');
    for (const k of d.duplicates.slice(0, maxRows)) out.push(`- ${escapeInline(describeKey(type, k.key))}: ${k.count} records ${k.side}`);
    if (d.duplicates.length > maxRows) out.push(`- and ${d.duplicates.length - maxRows} more`);
    out.push('');
  }
  if (d.removed.length > 0) out.push(...details(`${d.counts.removed} removed`, recordTable(type, d.removed, maxRows)));
  if (d.added.length > 0) out.push(...details(`${d.counts.added} added`, recordTable(type, d.added, maxRows)));
  if (d.changed.length > 0) out.push(...details(`${d.counts.changed} changed`, changeTable(type, d, maxRows)));
  return out;
}

function details(summary: string, body: string[]): string[] {
  return ['<details>', `<summary>${summary}</summary>`, '', ...body, '', '</details>', ''];
}

/** Key fields, then the compared and carried fields any shown row has: volatile ones would only be noise. */
function recordTable(type: ElementType, records: readonly ElementRecord[], maxRows: number): string[] {
  const shown = records.slice(0, maxRows);
  const spec = ELEMENT_SPECS[type];
  const others = listFields(type, ['compared', 'carried']).filter((f) => shown.some((r) => r[f] !== undefined));
  const columns = [...spec.key, ...others];
  const rows = [`| ${columns.join(' | ')} |`, `| ${columns.map(() => '---').join(' | ')} |`];
  for (const record of shown) rows.push(`| ${columns.map((c) => escapeCell(formatValue(record[c]))).join(' | ')} |`);
  if (records.length > maxRows) rows.push('', moreRows(records.length - maxRows));
  return rows;
}

function changeTable(type: ElementType, d: ElementDiff, maxRows: number): string[] {
  const rows = ['| record | field | before | after |', '| --- | --- | --- | --- |'];
  for (const change of d.changed.slice(0, maxRows)) {
    change.fields.forEach((f, i) => {
      const record = i === 0 ? escapeCell(describeKey(type, change.key)) : '';
      rows.push(`| ${record} | ${f.field} | ${escapeCell(formatValue(f.before))} | ${escapeCell(formatValue(f.after))} |`);
    });
  }
  if (d.changed.length > maxRows) rows.push('', moreRows(d.changed.length - maxRows));
  return rows;
}

function moreRows(count: number): string {
  return `… and ${count} more; the JSON export (\`--format json\`) has them all.`;
}

function escapeCell(text: string): string {
  return escapeInline(text).replace(/\|/g, '\\|');
}

function escapeInline(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

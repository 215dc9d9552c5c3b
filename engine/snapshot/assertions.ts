import type { SnapshotDiffExpect } from '../schema/runbook.js';
import type { ElementDiff, SnapshotDiff } from '../schema/snapshot.js';
import { describeKey, isElementType, type ElementRecord, type ElementType } from './element-model.js';

export interface DiffAssertionResult {
  ok: boolean;
  failures: string[];
}

/** Records named in a failure message; the rest are counted. */
const LISTED = 5;

/**
 * Checks a `snapshotDiff` expectation against a comparison. An element that could not be compared
 * on every host fails the assertion: what was not collected cannot be shown to be unchanged.
 */
export function evaluateDiffAssertions(diff: SnapshotDiff, expect: SnapshotDiffExpect): DiffAssertionResult {
  const failures: string[] = [];
  const check = (element: string, rule: string, test: (type: ElementType, d: ElementDiff) => string | undefined) => {
    const problem = describeUncomparable(diff, element, rule);
    if (problem) {
      failures.push(problem);
      return;
    }
    const type = element as ElementType;
    const failure = test(type, diff.elements[type]!);
    if (failure) failures.push(failure);
  };

  for (const element of expect.noRemoved ?? []) {
    check(element, 'noRemoved', (type, d) =>
      d.counts.removed === 0 ? undefined : `${type}: ${plural(d.counts.removed, 'record')} removed: ${listRecords(type, d.removed)}`,
    );
  }
  for (const element of expect.noAdded ?? []) {
    check(element, 'noAdded', (type, d) =>
      d.counts.added === 0 ? undefined : `${type}: ${plural(d.counts.added, 'record')} added: ${listRecords(type, d.added)}`,
    );
  }
  for (const [element, limit] of Object.entries(expect.maxChanged ?? {})) {
    check(element, 'maxChanged', (type, d) => {
      const before = d.counts.before ?? 0;
      const percent = typeof limit === 'string' ? Number(limit.slice(0, -1)) : undefined;
      const allowed = percent === undefined ? (limit as number) : (before * percent) / 100;
      if (d.counts.changed <= allowed) return undefined;
      const share = before === 0 ? '' : ` (${formatPercent((d.counts.changed / before) * 100)} of ${before} before)`;
      const bound = percent === undefined ? `${limit}` : `${limit} (${formatCount(allowed)} records)`;
      const examples = d.changed
        .slice(0, LISTED)
        .map((c) => `${describeKey(type, c.key)} (${c.fields.map((f) => f.field).join(', ')})`)
        .join('; ');
      const more = d.counts.changed > LISTED ? `; and ${d.counts.changed - LISTED} more` : '';
      return `${type}: ${plural(d.counts.changed, 'record')} changed${share}, more than the ${bound} allowed: ${examples}${more}`;
    });
  }
  return { ok: failures.length === 0, failures };
}

function describeUncomparable(diff: SnapshotDiff, element: string, rule: string): string | undefined {
  if (!isElementType(element)) return `${element}: not an element type, so \`${rule}\` cannot be checked`;
  const d = diff.elements[element];
  if (!d) return `${element}: not part of the comparison, so \`${rule}\` cannot be checked`;
  const hosts = d.notCompared.map((n) => `${n.host}: ${n.reason}`).join('; ');
  if (d.status === 'notCollected') return `${element}: not collected, so \`${rule}\` cannot be checked (${hosts})`;
  if (d.status === 'partial') return `${element}: not compared on every host, so \`${rule}\` cannot be checked (${hosts})`;
  if (d.duplicates.length > 0) {
    const keys = d.duplicates.slice(0, LISTED).map((k) => `${describeKey(element, k.key)} ${k.count} times ${k.side}`);
    return `${element}: ${plural(d.duplicates.length, 'identity key')} held by several records, so \`${rule}\` cannot be checked: ${keys.join('; ')}`;
  }
  return undefined;
}

function listRecords(type: ElementType, records: readonly ElementRecord[]): string {
  const shown = records.slice(0, LISTED).map((r) => describeKey(type, r));
  return `${shown.join('; ')}${records.length > LISTED ? `; and ${records.length - LISTED} more` : ''}`;
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function formatPercent(value: number): string {
  return `${Number(value.toFixed(1))}%`;
}

function formatCount(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

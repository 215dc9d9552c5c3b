import type { ElementDiff, SnapshotDiff } from '../schema/snapshot.js';
import type { ElementType } from './element-types.js';

export const DIFF_KINDS = ['added', 'removed', 'changed'] as const;
export type DiffKind = (typeof DIFF_KINDS)[number];

export interface DiffFilter {
  /** Only these kinds of difference; all when empty or absent. */
  only?: readonly DiffKind[];
  /** Only the records of these hosts; all when empty or absent. */
  hosts?: readonly string[];
}

/**
 * The comparison narrowed as NetQ's detailed comparison card filters it (by kind of change, by
 * host). The counts before and after stay those of the whole element; added, removed and changed
 * count what is left, and the filter is recorded in the options.
 */
export function filterDiff(diff: SnapshotDiff, filter: DiffFilter): SnapshotDiff {
  const only = new Set<DiffKind>(filter.only && filter.only.length > 0 ? filter.only : DIFF_KINDS);
  const hosts = filter.hosts && filter.hosts.length > 0 ? new Set(filter.hosts) : undefined;
  if (only.size === DIFF_KINDS.length && hosts === undefined) return diff;
  const keep = (record: Record<string, unknown>) => hosts === undefined || hosts.has(String(record.host));
  const elements: SnapshotDiff['elements'] = {};
  for (const [type, element] of Object.entries(diff.elements) as Array<[ElementType, ElementDiff]>) {
    const added = only.has('added') ? element.added.filter(keep) : [];
    const removed = only.has('removed') ? element.removed.filter(keep) : [];
    const changed = only.has('changed') ? element.changed.filter((c) => keep(c.key)) : [];
    elements[type] = {
      ...element,
      counts: { ...element.counts, added: added.length, removed: removed.length, changed: changed.length },
      added,
      removed,
      changed,
      notCompared: element.notCompared.filter((n) => hosts === undefined || hosts.has(n.host)),
    };
  }
  const all = Object.values(elements) as ElementDiff[];
  const total = (kind: DiffKind) => all.reduce((sum, element) => sum + element.counts[kind], 0);
  return {
    ...diff,
    options: { ...diff.options, filter: { only: DIFF_KINDS.filter((kind) => only.has(kind)), ...(hosts ? { hosts: [...hosts] } : {}) } },
    elements,
    totals: { ...diff.totals, added: total('added'), removed: total('removed'), changed: total('changed') },
  };
}

/** Whether the comparison holds any added, removed or changed record: `diff --exit-code`. */
export function hasDifferences(diff: SnapshotDiff): boolean {
  return diff.totals.added + diff.totals.removed + diff.totals.changed > 0;
}

import { createInputError } from '../errors.js';
import { suggestName } from '../load/suggest.js';
import type { DuplicateKey, ElementDiff, FieldChange, NotCompared, RecordChange, Snapshot, SnapshotDiff } from '../schema/snapshot.js';
import {
  ELEMENT_SPECS,
  ELEMENT_TYPES,
  isElementType,
  listDefaultExclusions,
  listFields,
  parseElementType,
  type ElementRecord,
  type ElementType,
  type FieldValue,
} from './element-model.js';
import { KeyIndex, pickFields } from './records.js';

/** How two snapshots are compared. Pure data, so a runbook step or a CLI flag can give it. */
export interface CompareOptions {
  /** Only these elements; default all. */
  elements?: readonly ElementType[];
  /** More fields to leave out: `field` (every element that has it) or `element.field`. */
  exclude?: readonly string[];
  /** Leave out each element's volatile fields (uptimes, counters, timers, ages). Default true. */
  defaultExclusions?: boolean;
  /** `element.field` (or `field`) to numeric tolerance rules: `10%`, `±5`, `+5`, `-5%`. */
  tolerances?: Readonly<Record<string, string | readonly string[]>>;
}

/** One numeric allowance: how far a value may move, in which direction, absolutely or relatively. */
export interface ToleranceRule {
  text: string;
  increase: boolean;
  decrease: boolean;
  amount: number;
  relative: boolean;
}

const TOLERANCE = /^(\+-|±|\+|-)?(\d+(?:\.\d+)?)(%)?$/;
const EPSILON = 1e-9;

export function parseToleranceRule(text: string): ToleranceRule {
  const match = TOLERANCE.exec(text.trim());
  if (!match) {
    throw createInputError(
      'RB1505',
      `tolerance \`${text}\` is not a rule: use \`10%\` or \`±10%\` (either way), \`+5\` (increase only), \`-5%\` (decrease only)`,
    );
  }
  const sign = match[1];
  return {
    text: text.trim(),
    increase: sign !== '-',
    decrease: sign !== '+',
    amount: Number(match[2]),
    relative: match[3] === '%',
  };
}

/** Whether a move from `before` to `after` stays within any of the rules. */
export function isWithinTolerance(before: number, after: number, rules: readonly ToleranceRule[]): boolean {
  const delta = after - before;
  return rules.some((rule) => {
    if (delta > 0 ? !rule.increase : !rule.decrease) return false;
    const allowed = rule.relative ? (Math.abs(before) * rule.amount) / 100 : rule.amount;
    return Math.abs(delta) <= allowed + EPSILON;
  });
}

interface ElementPlan {
  type: ElementType;
  fields: string[];
  excluded: string[];
  tolerances: Map<string, ToleranceRule[]>;
}

/** Checks the options against the element model; an unknown element or field is bad input, with a suggestion. */
export function resolveCompareOptions(options: CompareOptions = {}): ElementPlan[] {
  const elements = options.elements ?? ELEMENT_TYPES;
  for (const element of elements) parseElementType(element);
  const extra = new Map<ElementType, Set<string>>();
  for (const entry of options.exclude ?? []) {
    for (const [type, field] of resolveFieldReference(entry, 'exclude')) {
      if (!extra.has(type)) extra.set(type, new Set());
      extra.get(type)!.add(field);
    }
  }
  const tolerances = new Map<ElementType, Map<string, ToleranceRule[]>>();
  for (const [reference, given] of Object.entries(options.tolerances ?? {})) {
    const rules = (typeof given === 'string' ? [given] : given).map(parseToleranceRule);
    const targets = resolveFieldReference(reference, 'tolerance').filter(([type, field]) => {
      const fieldType = ELEMENT_SPECS[type].fields[field]!.type;
      return fieldType === 'integer' || fieldType === 'number';
    });
    if (targets.length === 0) {
      throw createInputError('RB1505', `tolerance for \`${reference}\`: the field is not a number, so a numeric tolerance cannot apply`);
    }
    for (const [type, field] of targets) {
      if (!tolerances.has(type)) tolerances.set(type, new Map());
      const byField = tolerances.get(type)!;
      byField.set(field, [...(byField.get(field) ?? []), ...rules]);
    }
  }
  return elements.map((type) => {
    const excluded = new Set([...(options.defaultExclusions === false ? [] : listDefaultExclusions(type)), ...(extra.get(type) ?? [])]);
    return {
      type,
      fields: listFields(type, ['compared', 'volatile']).filter((f) => !excluded.has(f)),
      excluded: listFields(type, ['compared', 'volatile']).filter((f) => excluded.has(f)),
      tolerances: tolerances.get(type) ?? new Map(),
    };
  });
}

/** `field` or `element.field` to the (element, field) pairs it names; key fields cannot be excluded or tolerated. */
function resolveFieldReference(reference: string, option: 'exclude' | 'tolerance'): Array<[ElementType, string]> {
  const dot = reference.indexOf('.');
  const scoped = dot > 0 && isElementType(reference.slice(0, dot));
  const types: readonly ElementType[] = scoped ? [reference.slice(0, dot) as ElementType] : ELEMENT_TYPES;
  if (dot > 0 && !scoped) parseElementType(reference.slice(0, dot), `--${option} ${reference}: `);
  const field = scoped ? reference.slice(dot + 1) : reference;
  const found = types.filter((type) => ELEMENT_SPECS[type].fields[field] !== undefined);
  if (found.length === 0) {
    const candidates = [...new Set(types.flatMap((type) => listFields(type, ['compared', 'volatile', 'carried'])))];
    const suggestion = suggestName(field, candidates);
    const where = scoped ? `\`${types[0]}\`` : 'any element';
    throw createInputError(
      'RB1501',
      `--${option} ${reference}: \`${field}\` is not a field of ${where}${suggestion ? `; did you mean \`${suggestion}\`?` : ''}`,
    );
  }
  const usable = found.filter((type) => ELEMENT_SPECS[type].fields[field]!.role !== 'key');
  if (usable.length === 0) {
    throw createInputError(
      'RB1501',
      `--${option} ${reference}: \`${field}\` is part of the identity key of ${found.join(', ')}; records are matched by it, it cannot be ${option === 'exclude' ? 'excluded' : 'tolerated'}`,
    );
  }
  return usable.map((type) => [type, field]);
}

/**
 * Compares `before` (A) with `after` (B) per element, matching records by identity key. Hosts whose
 * element was not collected on either side are left out and listed, never counted as removed or added.
 */
export function compareSnapshots(before: Snapshot, after: Snapshot, options: CompareOptions = {}): SnapshotDiff {
  const plans = resolveCompareOptions(options);
  const elements: SnapshotDiff['elements'] = {};
  for (const plan of plans) elements[plan.type] = compareElement(before, after, plan);
  const diffs = Object.entries(elements) as Array<[ElementType, ElementDiff]>;
  const tolerances: Record<string, string[]> = {};
  for (const plan of plans) for (const [field, rules] of plan.tolerances) tolerances[`${plan.type}.${field}`] = rules.map((r) => r.text);
  return {
    apiVersion: 'runbook/v1',
    kind: 'SnapshotDiff',
    before: describeSide(before),
    after: describeSide(after),
    options: { defaultExclusions: options.defaultExclusions !== false, exclude: [...(options.exclude ?? [])], tolerances },
    elements,
    totals: {
      added: sum(diffs.map(([, d]) => d.counts.added)),
      removed: sum(diffs.map(([, d]) => d.counts.removed)),
      changed: sum(diffs.map(([, d]) => d.counts.changed)),
      notCollected: diffs.filter(([, d]) => d.status !== 'compared').map(([type]) => type),
      duplicates: sum(diffs.map(([, d]) => d.duplicates.length)),
    },
  };
}

function describeSide(snapshot: Snapshot): SnapshotDiff['before'] {
  return { name: snapshot.name, createdAt: snapshot.createdAt, ...(snapshot.note === undefined ? {} : { note: snapshot.note }) };
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function compareElement(before: Snapshot, after: Snapshot, plan: ElementPlan): ElementDiff {
  const { type, fields, tolerances } = plan;
  const key = ELEMENT_SPECS[type].key;
  const entryBefore = before.elements[type];
  const entryAfter = after.elements[type];

  const { comparable, notCompared } = findComparableHosts(before, after, type);
  const allComparable = notCompared.length === 0;
  const status: ElementDiff['status'] = allComparable ? 'compared' : comparable.size === 0 ? 'notCollected' : 'partial';
  const take = (records: readonly ElementRecord[]) =>
    allComparable ? records : records.filter((r) => comparable.has(r.host as string));
  const recordsBefore = status === 'notCollected' ? [] : take(entryBefore?.records ?? []);
  const recordsAfter = status === 'notCollected' ? [] : take(entryAfter?.records ?? []);

  // Hash join: index A by key, probe with B. A key seen twice on one side is a duplicate, reported apart.
  const index = new KeyIndex(key, recordsBefore.length);
  /** Id in `index` of a key held by several records before, to how many. */
  const duplicatesBefore = new Map<number, number>();
  const matched = new Uint8Array(recordsBefore.length);
  for (let i = 0; i < recordsBefore.length; i++) {
    const id = index.add(recordsBefore[i]!);
    if (id < 0) duplicatesBefore.set(-id - 1, (duplicatesBefore.get(-id - 1) ?? 1) + 1);
  }

  const addedIndex = new KeyIndex(key);
  const changed: Array<{ id: number; change: RecordChange }> = [];
  /** Keys held by several records after: those also before by id in `index`, the others by id in `addedIndex`. */
  const duplicatesAfter = new Map<number, number>();
  const duplicatesAdded = new Map<number, number>();
  let unchanged = 0;
  let tolerated = 0;
  for (let j = 0; j < recordsAfter.length; j++) {
    const b = recordsAfter[j]!;
    const id = index.find(b);
    if (id < 0) {
      const added = addedIndex.add(b);
      if (added < 0) duplicatesAdded.set(-added - 1, (duplicatesAdded.get(-added - 1) ?? 1) + 1);
      continue;
    }
    if (matched[id] === 1) {
      duplicatesAfter.set(id, (duplicatesAfter.get(id) ?? 1) + 1);
      continue;
    }
    matched[id] = 1;
    if (duplicatesBefore.has(id)) continue;
    const a = index.record(id);
    let changes: FieldChange[] | undefined;
    let usedTolerance = false;
    for (const field of fields) {
      const va = a[field];
      const vb = b[field];
      if (va === vb || isSameValue(va, vb)) continue;
      const rules = tolerances.get(field);
      if (rules && typeof va === 'number' && typeof vb === 'number' && isWithinTolerance(va, vb, rules)) {
        usedTolerance = true;
        continue;
      }
      (changes ??= []).push({ field, before: va ?? null, after: vb ?? null });
    }
    if (changes) changed.push({ id, change: { key: pickFields(b, key), fields: changes } });
    else {
      unchanged++;
      if (usedTolerance) tolerated++;
    }
  }

  // Records before that nothing after matched; the repeats of a duplicated key are in neither list.
  const removed: ElementRecord[] = [];
  for (let id = 0; id < index.size; id++) {
    if (matched[id] === 0 && !duplicatesBefore.has(id)) removed.push(index.record(id));
  }

  const duplicates: DuplicateKey[] = [
    ...[...duplicatesBefore].map(([id, count]) => ({ side: 'before' as const, key: pickFields(index.record(id), key), count })),
    ...[...duplicatesAfter].map(([id, count]) => ({ side: 'after' as const, key: pickFields(index.record(id), key), count })),
    ...[...duplicatesAdded].map(([id, count]) => ({ side: 'after' as const, key: pickFields(addedIndex.record(id), key), count })),
  ];
  // A key repeated after cannot be matched to one record: it counts as a duplicate, not as added or changed.
  const addedRecords: ElementRecord[] = [];
  for (let id = 0; id < addedIndex.size; id++) if (!duplicatesAdded.has(id)) addedRecords.push(addedIndex.record(id));
  const changedRecords = duplicatesAfter.size === 0 ? changed.map((c) => c.change) : changed.filter((c) => !duplicatesAfter.has(c.id)).map((c) => c.change);
  return {
    status,
    counts: {
      before: status === 'notCollected' ? null : recordsBefore.length,
      after: status === 'notCollected' ? null : recordsAfter.length,
      added: addedRecords.length,
      removed: removed.length,
      changed: changedRecords.length,
      unchanged,
      tolerated,
    },
    excluded: plan.excluded,
    added: addedRecords,
    removed,
    changed: changedRecords,
    notCompared,
    duplicates,
  };
}

function isSameValue(a: FieldValue | undefined, b: FieldValue | undefined): boolean {
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Hosts whose element both snapshots collected; the others with why they are left out. */
function findComparableHosts(before: Snapshot, after: Snapshot, type: ElementType): { comparable: Set<string>; notCompared: NotCompared[] } {
  const hostsBefore = before.elements[type]?.hosts ?? {};
  const hostsAfter = after.elements[type]?.hosts ?? {};
  const names = [...new Set([...before.hosts.map((h) => h.name), ...after.hosts.map((h) => h.name)])];
  const comparable = new Set<string>();
  const notCompared: NotCompared[] = [];
  for (const host of names) {
    const a = hostsBefore[host];
    const b = hostsAfter[host];
    if (a?.status === 'collected' && b?.status === 'collected') {
      comparable.add(host);
      continue;
    }
    const reasons: string[] = [];
    if (!a) reasons.push(`not in snapshot \`${before.name}\` (before)`);
    else if (a.status === 'notCollected') reasons.push(`not collected before: ${a.reason}`);
    if (!b) reasons.push(`not in snapshot \`${after.name}\` (after)`);
    else if (b.status === 'notCollected') reasons.push(`not collected after: ${b.reason}`);
    notCompared.push({ host, reason: reasons.join('; ') });
  }
  return { comparable, notCompared };
}

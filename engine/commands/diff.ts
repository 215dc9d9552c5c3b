import { EXIT_CODES, createInputError, type ExitCode } from '../errors.js';
import { DEFAULT_SNAPSHOT_FOLDER, resolveSnapshot } from '../io/snapshot-store.js';
import type { SnapshotDiff } from '../schema/snapshot.js';
import { compareSnapshots, type CompareOptions } from '../snapshot/compare.js';
import { parseElementType } from '../snapshot/element-model.js';
import { DIFF_KINDS, filterDiff, hasDifferences, type DiffKind } from '../snapshot/filter-diff.js';
import { renderDiffJson, renderDiffMarkdown } from '../snapshot/render-diff.js';
import type { SnapshotSource } from './snapshot-sources.js';

export interface DiffCommandOptions {
  format: 'markdown' | 'json';
  /** `--element E` (repeatable, or comma-separated): only these elements. */
  elements?: readonly string[];
  /** `--exclude field` or `--exclude element.field` (repeatable). */
  exclude?: readonly string[];
  /** false with `--no-default-exclusions`: compare volatile fields too. */
  defaultExclusions?: boolean;
  /** `--tolerance element.field=RULE` (repeatable), RULE like `10%`, `+5`, `-5%`. */
  tolerances?: readonly string[];
  /** `--only added|removed|changed` (repeatable, or comma-separated): only these kinds of difference. */
  only?: readonly string[];
  /** `--host H` (repeatable, or comma-separated): only the records of these hosts. */
  hosts?: readonly string[];
  /** `--exit-code`: exit 1 when a difference is left after the filters. */
  exitCode?: boolean;
  /** Rows per section in Markdown. */
  maxRows?: number;
  /** Folder snapshot names are looked up in; default reports/snapshots. */
  folder?: string;
  write: (text: string) => void;
}

/**
 * `runbook diff A B`: A is before, B is after; each a snapshot name or a path to a snapshot file.
 * Exit 0 whatever the differences, unless `exitCode` (then 1 when any is left after the filters,
 * for CI); 2 for bad input.
 */
export function runDiff(before: SnapshotSource, after: SnapshotSource, options: DiffCommandOptions): ExitCode {
  const diff = filterDiff(diffSnapshots(before, after, options), { only: parseKinds(options.only), hosts: splitList(options.hosts) });
  options.write(options.format === 'json' ? renderDiffJson(diff) : renderDiffMarkdown(diff, options.maxRows === undefined ? {} : { maxRows: options.maxRows }));
  return options.exitCode && hasDifferences(diff) ? EXIT_CODES.failed : EXIT_CODES.ok;
}

function splitList(values: readonly string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

function parseKinds(values: readonly string[] | undefined): DiffKind[] {
  return splitList(values).map((kind) => {
    if ((DIFF_KINDS as readonly string[]).includes(kind)) return kind as DiffKind;
    throw createInputError('RB1510', `--only ${kind}: write one of ${DIFF_KINDS.join(', ')}`);
  });
}

/** Loads both snapshots and compares them with the command-line options. */
export function diffSnapshots(before: SnapshotSource, after: SnapshotSource, options: Omit<DiffCommandOptions, 'format' | 'write'>): SnapshotDiff {
  const compareOptions = parseCompareArgs(options);
  const folder = options.folder ?? DEFAULT_SNAPSHOT_FOLDER;
  const load = (source: SnapshotSource) => (typeof source === 'string' ? resolveSnapshot(folder, source) : source.snapshot);
  const diff = compareSnapshots(load(before), load(after), compareOptions);
  // Where a side came from, when not from the snapshot folder: the output names it.
  const origin = (source: SnapshotSource) =>
    typeof source === 'string' ? {} : { ...(source.commit ? { commit: source.commit } : {}), ...(source.live ? { live: true } : {}) };
  return { ...diff, before: { ...diff.before, ...origin(before) }, after: { ...diff.after, ...origin(after) } };
}

export function parseCompareArgs(options: Pick<DiffCommandOptions, 'elements' | 'exclude' | 'defaultExclusions' | 'tolerances'>): CompareOptions {
  const out: CompareOptions = {};
  const elements = (options.elements ?? []).flatMap((e) => e.split(',')).map((e) => e.trim()).filter((e) => e !== '');
  if (elements.length > 0) out.elements = elements.map((e) => parseElementType(e, '--element: '));
  if (options.exclude && options.exclude.length > 0) out.exclude = options.exclude.flatMap((e) => e.split(',')).map((e) => e.trim()).filter((e) => e !== '');
  if (options.defaultExclusions === false) out.defaultExclusions = false;
  if (options.tolerances && options.tolerances.length > 0) {
    const tolerances: Record<string, string[]> = {};
    for (const entry of options.tolerances) {
      const equals = entry.indexOf('=');
      if (equals <= 0) throw createInputError('RB1505', `--tolerance ${entry}: write FIELD=RULE, e.g. \`route.metric=10%\` or \`bgp.prefixesReceived=-5%\``);
      const field = entry.slice(0, equals).trim();
      tolerances[field] = [...(tolerances[field] ?? []), entry.slice(equals + 1).trim()];
    }
    out.tolerances = tolerances;
  }
  return out;
}

import { EXIT_CODES, createInputError, type ExitCode } from '../errors.js';
import { displayPath, readText } from '../io/files.js';
import {
  DEFAULT_SNAPSHOT_FOLDER,
  assertSnapshotAbsent,
  assertSnapshotExists,
  deleteSnapshot,
  listSnapshots,
  loadSnapshot,
  readProfile,
  saveSnapshot,
} from '../io/snapshot-store.js';
import { loadDocument } from '../load/load-document.js';
import { suggestName } from '../load/suggest.js';
import { resolveHosts, type ResolvedHost } from '../plan/inventory.js';
import type { Inventory } from '../schema/inventory.js';
import type { Snapshot, SnapshotElement } from '../schema/snapshot.js';
import { captureSnapshot, type CaptureClock, type CaptureEvent, type ExecFunction } from '../snapshot/capture.js';
import { ELEMENT_SPECS, ELEMENT_TYPES, formatValue, listFields, parseElementType, type ElementType } from '../snapshot/element-model.js';
import { formatTextTable } from '../snapshot/text-table.js';
import { ENGINE_VERSION } from '../version.js';

export const DEFAULT_PROFILE = 'fabric';

interface Output {
  /** Folder of the snapshots; default reports/snapshots under the working folder. */
  folder?: string;
  write: (text: string) => void;
}

// ---------------------------------------------------------------- list

export interface SnapshotListOptions extends Output {
  format: 'text' | 'json';
}

/** `runbook snapshot list`: name, time, hosts and records per element of every snapshot. */
export function runSnapshotList(options: SnapshotListOptions): ExitCode {
  const folder = options.folder ?? DEFAULT_SNAPSHOT_FOLDER;
  const summaries = listSnapshots(folder);
  if (options.format === 'json') {
    options.write(`${JSON.stringify(summaries, null, 2)}\n`);
    return EXIT_CODES.ok;
  }
  if (summaries.length === 0) {
    options.write(`no snapshots in ${displayPath(folder)}; take one with \`runbook snapshot create NAME -i INVENTORY\`\n`);
    return EXIT_CODES.ok;
  }
  const rows = summaries.map((s) =>
    s.ok
      ? [
          s.name,
          s.createdAt,
          String(s.hosts.length),
          s.profile,
          ELEMENT_TYPES.filter((t) => s.counts[t] !== null).map((t) => `${t} ${s.counts[t]}`).join(', '),
          s.incomplete.length === 0 ? '' : s.incomplete.join(', '),
          s.note ?? '',
        ]
      : [s.name, '-', '-', '-', `unreadable: ${s.error}`, '', ''],
  );
  options.write(formatTextTable(['NAME', 'CREATED', 'HOSTS', 'PROFILE', 'RECORDS', 'NOT COLLECTED EVERYWHERE', 'NOTE'], rows));
  return EXIT_CODES.ok;
}

// ---------------------------------------------------------------- show

export interface SnapshotShowOptions extends Output {
  element?: string;
  format: 'text' | 'json';
  /** The snapshot, already read from history (`NAME@TIME`, `@TIME`), and its commit. */
  committed?: { snapshot: Snapshot; commit?: string };
}

/** `runbook snapshot show NAME [--element E]`: the records, per element, with what was not collected. */
export function runSnapshotShow(name: string, options: SnapshotShowOptions): ExitCode {
  const snapshot = options.committed?.snapshot ?? loadSnapshot(options.folder ?? DEFAULT_SNAPSHOT_FOLDER, name);
  const commit = options.committed?.commit;
  const types = options.element === undefined ? ELEMENT_TYPES : [parseElementType(options.element, '--element: ')];
  if (options.format === 'json') {
    options.write(`${JSON.stringify(options.element === undefined ? snapshot : snapshot.elements[types[0]!], null, 2)}\n`);
    return EXIT_CODES.ok;
  }
  const out: string[] = [
    `snapshot ${snapshot.name}: taken ${snapshot.createdAt} in ${snapshot.durationMs} ms with profile ${snapshot.profile}, ${snapshot.hosts.length} host(s): ${snapshot.hosts.map((h) => h.name).join(', ')}`,
    ...(commit === undefined ? [] : [`as committed in ${commit}`]),
    ...(snapshot.note === undefined ? [] : [`note: ${snapshot.note}`]),
    '',
  ];
  for (const type of types) out.push(...describeElement(type, snapshot.elements[type]), '');
  options.write(`${out.join('\n').trimEnd()}\n`);
  return EXIT_CODES.ok;
}

function describeElement(type: ElementType, element: SnapshotElement): string[] {
  const failures = Object.entries(element.hosts).filter(([, h]) => h.status === 'notCollected');
  const head = `${type} (${ELEMENT_SPECS[type].title}): ${element.status === 'notCollected' ? 'not collected' : `${element.records.length} record(s)`}${element.status === 'partial' ? ', not collected on every host' : ''}`;
  const lines = [head];
  for (const [host, status] of failures) if (status.status === 'notCollected') lines.push(`  not collected on ${host} (${status.cause}): ${status.reason}`);
  if (element.records.length > 0) {
    const columns = listFields(type, ['key', 'compared', 'volatile', 'carried']).filter((f) => element.records.some((r) => r[f] !== undefined));
    const table = formatTextTable(
      columns,
      element.records.map((r) => columns.map((c) => formatValue(r[c]))),
    );
    lines.push(...table.trimEnd().split('\n').map((line) => `  ${line}`));
  }
  return lines;
}

// ---------------------------------------------------------------- delete

/** `runbook snapshot delete NAME...`: all names are checked before any file is removed. */
export function runSnapshotDelete(names: readonly string[], options: Output): ExitCode {
  const folder = options.folder ?? DEFAULT_SNAPSHOT_FOLDER;
  for (const name of names) assertSnapshotExists(folder, name);
  for (const name of names) options.write(`deleted snapshot ${name} (${displayPath(deleteSnapshot(folder, name))})\n`);
  return EXIT_CODES.ok;
}

// ---------------------------------------------------------------- create

export interface ExecSession {
  exec: ExecFunction;
  close?(): Promise<void> | void;
}

/** Opens the way to the hosts (the SSH transport in the CLI); the session is closed after the capture. */
export type ExecFactory = (hosts: readonly ResolvedHost[], context: { inventoryPath: string }) => Promise<ExecSession> | ExecSession;

export interface SnapshotCreateOptions extends Output {
  inventoryPath: string;
  /** Profile name or path; default `fabric`. */
  profile?: string;
  /** Host names (or one comma-separated string); default every host of the inventory. */
  targets?: readonly string[];
  /** `--group G`: only the hosts of this inventory group (with `targets`, both must hold). */
  group?: string;
  /** `--note TEXT`: a description kept with the snapshot, shown by list, show and diff. */
  note?: string;
  createExec: ExecFactory;
  writeError?: (text: string) => void;
  clock?: CaptureClock;
  concurrency?: number;
  /** Folders profile names are looked up in; default ./profiles, then the shipped ones. */
  profileFolders?: readonly string[];
  onProgress?: (event: CaptureEvent) => void;
}

/**
 * `runbook snapshot create NAME -i INVENTORY [--profile P] [--targets h1,h2]`: exit 0 when every
 * element the profile has a collector for was collected, 1 when some were not (the snapshot is saved
 * all the same), 2 for bad input.
 */
export async function runSnapshotCreate(name: string, options: SnapshotCreateOptions): Promise<ExitCode> {
  const folder = options.folder ?? DEFAULT_SNAPSHOT_FOLDER;
  // Refuse before connecting to anything: a capture can take minutes.
  assertSnapshotAbsent(folder, name);
  const hosts = selectGroup(selectHosts(loadInventory(options.inventoryPath), options.targets ?? [], options.inventoryPath), options.group, options.inventoryPath);
  const profile = options.profile === undefined ? readProfile(DEFAULT_PROFILE, options.profileFolders) : readProfile(options.profile, options.profileFolders);
  const session = await options.createExec(hosts, { inventoryPath: options.inventoryPath });
  let snapshot: Snapshot;
  try {
    snapshot = await captureSnapshot({
      name,
      profile,
      hosts: hosts.map((h) => (h.platform === undefined ? { name: h.name } : { name: h.name, platform: h.platform })),
      exec: session.exec,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      engineVersion: ENGINE_VERSION,
    });
  } finally {
    await session.close?.();
  }
  if (options.note !== undefined && options.note.trim() !== '') snapshot = { ...snapshot, note: options.note.trim() };
  const saved = saveSnapshot(folder, snapshot);
  const counts = ELEMENT_TYPES.filter((t) => snapshot.elements[t].status !== 'notCollected').map((t) => `${t} ${snapshot.elements[t].records.length}`);
  options.write(`saved snapshot ${name} to ${displayPath(saved)}: ${snapshot.hosts.length} host(s); ${counts.join(', ') || 'no records'}\n`);
  let failed = 0;
  const report = options.writeError ?? options.write;
  // A host the profile has no collector for at all is one line, not one per element.
  const uncovered = snapshot.hosts.filter((h) => ELEMENT_TYPES.every((t) => isNoCollector(snapshot.elements[t].hosts[h.name])));
  if (uncovered.length > 0) {
    const described = uncovered.map((h) => `${h.name} (${h.platform ?? 'no platform'})`).join(', ');
    report(`note: profile ${snapshot.profile} has no collector for the platform of ${uncovered.length} host(s), so nothing was collected there: ${described}\n`);
  }
  const skipped = new Set(uncovered.map((h) => h.name));
  for (const type of ELEMENT_TYPES) {
    for (const [host, status] of Object.entries(snapshot.elements[type].hosts)) {
      if (status.status !== 'notCollected' || skipped.has(host)) continue;
      if (status.cause !== 'noCollector') failed++;
      report(`${status.cause === 'noCollector' ? 'note' : 'warning'}: ${type} not collected on ${host} (${status.cause}): ${status.reason}\n`);
    }
  }
  if (failed > 0) report(`${failed} element collection(s) failed; the snapshot records them as not collected, never as empty\n`);
  return failed > 0 ? EXIT_CODES.failed : EXIT_CODES.ok;
}

export interface LiveCaptureOptions {
  inventoryPath: string;
  profile?: string;
  /** The hosts to capture (those of the other side of the comparison); default every inventory host. */
  hosts?: readonly string[];
  createExec: ExecFactory;
  profileFolders?: readonly string[];
}

/** `live` in `runbook diff`: the hosts captured now, compared, never stored. */
export async function captureLiveSnapshot(options: LiveCaptureOptions): Promise<Snapshot> {
  const inventory = resolveHosts(loadInventory(options.inventoryPath));
  const hosts = options.hosts === undefined ? inventory : inventory.filter((h) => options.hosts!.includes(h.name));
  if (hosts.length === 0) throw createInputError('RB1508', `live: none of ${options.hosts?.join(', ')} is in ${displayPath(options.inventoryPath)}`);
  const profile = readProfile(options.profile ?? DEFAULT_PROFILE, options.profileFolders);
  const session = await options.createExec(hosts, { inventoryPath: options.inventoryPath });
  try {
    return await captureSnapshot({
      name: 'live',
      profile,
      hosts: hosts.map((h) => (h.platform === undefined ? { name: h.name } : { name: h.name, platform: h.platform })),
      exec: session.exec,
      engineVersion: ENGINE_VERSION,
    });
  } finally {
    await session.close?.();
  }
}

function loadInventory(path: string): Inventory {
  const doc = loadDocument(displayPath(path), readText(path), 'Inventory');
  if (!doc.ok) throw createInputError(doc.diagnostics[0]?.code ?? 'RB1003', `${displayPath(path)} is not a valid inventory; fix the problems above`, doc.diagnostics);
  return doc.value as Inventory;
}

function isNoCollector(status: SnapshotElement['hosts'][string] | undefined): boolean {
  return status?.status === 'notCollected' && status.cause === 'noCollector';
}

function selectGroup(hosts: ResolvedHost[], group: string | undefined, inventoryPath: string): ResolvedHost[] {
  if (group === undefined) return hosts;
  const selected = hosts.filter((h) => h.groups.includes(group));
  if (selected.length > 0) return selected;
  const groups = [...new Set(hosts.flatMap((h) => h.groups))].sort();
  const suggestion = suggestName(group, groups);
  throw createInputError(
    'RB1512',
    `--group: no host of group \`${group}\` in ${displayPath(inventoryPath)}${suggestion ? `; did you mean \`${suggestion}\`?` : `; groups: ${groups.join(', ') || 'none'}`}`,
  );
}

function selectHosts(inventory: Inventory, targets: readonly string[], inventoryPath: string): ResolvedHost[] {
  const hosts = resolveHosts(inventory);
  const wanted = targets.flatMap((t) => t.split(',')).map((t) => t.trim()).filter((t) => t !== '');
  if (wanted.length === 0) return hosts;
  const names = hosts.map((h) => h.name);
  for (const name of wanted) {
    if (!names.includes(name)) {
      const suggestion = suggestName(name, names);
      throw createInputError(
        'RB1508',
        `--targets: no host \`${name}\` in ${displayPath(inventoryPath)}; ${suggestion ? `did you mean \`${suggestion}\`?` : `hosts: ${names.join(', ')}`}`,
      );
    }
  }
  return hosts.filter((h) => wanted.includes(h.name));
}

/**
 * The configuration database of one NSO node: leaves set by committed transactions, the ids of
 * those commits (so that a node overwritten by its primary can tell which of its own commits it
 * lost), the release whose format the files are in, and the write log that `ncs --cdb-compact`
 * folds in (seed 002, "Single Instance Upgrade", step 4).
 */
export interface Cdb {
  /** Leaf path (its words joined by spaces) to value. */
  entries: Map<string, string>;
  /** Ids of the commits this database holds, oldest first. */
  commits: string[];
  /** The release that last wrote the files; a start of an older release cannot read them. */
  version: string;
  /** Transactions appended to the write log since the last compaction. */
  writeLog: number;
}

export const CDB_DIR = '/var/opt/ncs/cdb';

/** What every node of the lab holds at start: two managed devices and an address pool. */
const INITIAL_CONFIG: ReadonlyArray<readonly [string, string]> = [
  ['devices device ce0 address', '10.0.0.10'],
  ['devices device ce0 device-type cli ned-id', 'cisco-ios-cli-6.100'],
  ['devices device pe0 address', '10.0.0.20'],
  ['devices device pe0 device-type cli ned-id', 'cisco-iosxr-cli-7.52'],
  ['resource-pools ip-address-pool mgmt subnet', '10.0.0.0/24'],
];

export function createCdb(version: string): Cdb {
  return { entries: new Map(INITIAL_CONFIG), commits: ['initial'], version, writeLog: 0 };
}

export function cloneCdb(cdb: Cdb): Cdb {
  return { entries: new Map(cdb.entries), commits: [...cdb.commits], version: cdb.version, writeLog: cdb.writeLog };
}

/** Sizes of the CDB files, so `ls -l` shows the write log growing and a compaction shrinking it. */
export function cdbFileSizes(cdb: Cdb): { 'A.cdb': number; 'O.cdb': number } {
  return { 'A.cdb': 8192 + cdb.entries.size * 96 + cdb.writeLog * 4096, 'O.cdb': 16_384 };
}

/** `show running-config [words...]`: one `path value` line per leaf under the words, in path order. */
export function formatRunningConfig(cdb: Cdb, prefix: readonly string[]): string {
  const under = prefix.join(' ');
  const lines = [...cdb.entries]
    .filter(([path]) => under === '' || path === under || path.startsWith(`${under} `))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([path, value]) => `${path} ${/^[\w./:@-]+$/.test(value) ? value : JSON.stringify(value)}`);
  return lines.length === 0 ? '% No entries found.\n' : `${lines.join('\n')}\n`;
}

/** Changes staged in configuration mode, applied by `commit`. */
export interface StagedChanges {
  set: Map<string, string>;
  deleted: Set<string>;
}

export function createStagedChanges(): StagedChanges {
  return { set: new Map(), deleted: new Set() };
}

/** Stages one configuration-mode line: `PATH... VALUE` sets a leaf, `no PATH...` deletes it and what is under it. */
export function stageLine(staged: StagedChanges, words: readonly string[]): string | undefined {
  if (words[0] === 'no') {
    if (words.length < 2) return 'syntax error: incomplete path';
    staged.deleted.add(words.slice(1).join(' '));
    return undefined;
  }
  if (words.length < 2) return `syntax error: ${words.join(' ')}: a leaf needs a value`;
  staged.set.set(words.slice(0, -1).join(' '), words[words.length - 1] as string);
  return undefined;
}

/** Applies staged changes as one commit; false when they change nothing. */
export function applyCommit(cdb: Cdb, staged: StagedChanges, commitId: string): boolean {
  let changed = false;
  for (const path of staged.deleted) {
    for (const key of [...cdb.entries.keys()]) {
      if (key === path || key.startsWith(`${path} `)) changed = cdb.entries.delete(key) || changed;
    }
  }
  for (const [path, value] of staged.set) {
    if (cdb.entries.get(path) !== value) changed = true;
    cdb.entries.set(path, value);
  }
  if (changed) {
    cdb.commits.push(commitId);
    cdb.writeLog += 1;
  }
  return changed;
}

import { DEFAULT_SNAPSHOT_FOLDER } from '../io/snapshot-store.js';
import { listCommittedFiles, readCommittedFiles } from './committed-files.js';
import type { Topology } from '../plan/isolation.js';
import { parseSnapshot } from '../snapshot/snapshot-file.js';

/**
 * The LLDP links of the newest snapshot committed at `ref` that holds LLDP records (by the time it
 * was taken): what `strategy.isolation` plans by. A plan and its freshness check read the same
 * commit, so they agree. Source null when there is none.
 */
export async function loadCommittedTopology(root: string | undefined, ref = 'HEAD'): Promise<Topology> {
  if (root === undefined) return { source: null, links: [] };
  const folder = DEFAULT_SNAPSHOT_FOLDER.split('\\').join('/');
  const files = (await listCommittedFiles(root, folder, ref)).filter((path) => path.endsWith('.json') && !path.slice(folder.length + 1).includes('/'));
  let best: Topology | undefined;
  let bestAt = '';
  for (const { path, text } of await readCommittedFiles(root, files, ref)) {
    let snapshot;
    try {
      snapshot = parseSnapshot(text, path);
    } catch {
      continue;
    }
    const records = snapshot.elements.lldp.records;
    if (records.length === 0 || snapshot.createdAt <= bestAt) continue;
    const links = new Map<string, readonly [string, string]>();
    for (const record of records) {
      const a = String(record.host);
      const b = typeof record.peerHostname === 'string' ? record.peerHostname : undefined;
      if (b === undefined || a === b) continue;
      const pair = [a, b].sort() as [string, string];
      links.set(pair.join('\n'), pair);
    }
    best = { source: { snapshot: snapshot.name, createdAt: snapshot.createdAt }, links: [...links.values()].sort((x, y) => x.join().localeCompare(y.join())) };
    bestAt = snapshot.createdAt;
  }
  return best ?? { source: null, links: [] };
}

import { DEFAULT_SNAPSHOT_FOLDER } from '../io/snapshot-store.js';
import { listCommittedFiles, readCommittedFiles } from './committed-files.js';
import { createTopology, type Topology } from '../plan/isolation.js';
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
    best = createTopology({ snapshot: snapshot.name, createdAt: snapshot.createdAt }, records);
    bestAt = snapshot.createdAt;
  }
  return best ?? { source: null, links: [] };
}

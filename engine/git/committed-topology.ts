import { posix } from 'node:path';
import { DEFAULT_SNAPSHOT_FOLDER } from '../io/snapshot-store.js';
import { execGit, readFileAtCommit } from './repository.js';
import { createTopology, type Topology } from '../plan/isolation.js';
import { parseSnapshot } from '../snapshot/snapshot-file.js';

/**
 * The LLDP links of the snapshot most recently committed (as of `ref`) that holds LLDP records:
 * what `strategy.isolation` plans by. Snapshots are read newest commit first and the search stops
 * at the first with LLDP records, so a long history of large snapshots is not read whole. A plan
 * and its freshness check read the same commit, so they agree. Source null when there is none.
 */
export async function loadCommittedTopology(root: string | undefined, ref = 'HEAD'): Promise<Topology> {
  if (root === undefined) return { source: null, links: [] };
  const folder = DEFAULT_SNAPSHOT_FOLDER.split('\\').join('/');
  const log = await execGit(root, ['log', '--format=', '--name-only', '--diff-filter=AM', ref, '--', `${folder}/`]);
  if (log.code !== 0) return { source: null, links: [] };
  const seen = new Set<string>();
  for (const path of log.stdout.split('\n')) {
    if (!path.endsWith('.json') || posix.dirname(path) !== folder || seen.has(path)) continue;
    seen.add(path);
    // As the file is at `ref`: a snapshot deleted since is not there any more.
    const blob = await readFileAtCommit(root, ref, path);
    if (!blob.ok) continue;
    let snapshot;
    try {
      snapshot = parseSnapshot(blob.text, path);
    } catch {
      continue;
    }
    const records = snapshot.elements.lldp.records;
    if (records.length > 0) return createTopology({ snapshot: snapshot.name, createdAt: snapshot.createdAt }, records);
  }
  return { source: null, links: [] };
}

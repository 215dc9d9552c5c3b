import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCommittedTopology } from '../../engine/git/committed-topology.js';
import { serializeSnapshotText } from '../../engine/snapshot/snapshot-file.js';
import { buildSnapshot } from '../snapshot/build-snapshot.js';
import { createTempRepository, type TempRepository } from './temp-repository.js';

// The topology `strategy.isolation` plans by: the LLDP records of the snapshot most recently
// committed that has any, read from git (never from the working tree).

let repo: TempRepository;
beforeEach(async () => {
  repo = await createTempRepository();
});
afterEach(() => repo.remove());

const lldp = (host: string, peerHostname: string) => ({ host, ifname: `swp-${peerHostname}`, peerHostname, peerIfname: `swp-${host}` });
const save = (name: string, records: ReturnType<typeof lldp>[], createdAt: string) =>
  repo.write(`reports/snapshots/${name}.json`, serializeSnapshotText(buildSnapshot(name, { lldp: records }, { hosts: ['leaf01', 'spine01', 'spine02'], createdAt })));

describe('loadCommittedTopology', () => {
  it('reads the most recently committed snapshot with LLDP records, as of the given commit', async () => {
    save('old', [lldp('leaf01', 'spine01')], '2026-01-01T00:00:00.000Z');
    const first = await repo.commitAll('old');
    save('new', [lldp('leaf01', 'spine01'), lldp('leaf01', 'spine02'), lldp('spine01', 'leaf01'), lldp('leaf01', 'server01')], '2026-01-02T00:00:00.000Z');
    await repo.commitAll('new');
    // No LLDP records: not a topology, so the one before stands.
    save('empty', [], '2026-01-03T00:00:00.000Z');
    await repo.commitAll('empty');
    // Not committed: not read.
    save('draft', [lldp('leaf01', 'spine09')], '2026-01-04T00:00:00.000Z');

    const topology = await loadCommittedTopology(repo.root);
    expect(topology.source).toEqual({ snapshot: 'new', createdAt: '2026-01-02T00:00:00.000Z' });
    expect(topology.links).toEqual([
      ['leaf01', 'server01'],
      ['leaf01', 'spine01'],
      ['leaf01', 'spine02'],
    ]);
    expect((await loadCommittedTopology(repo.root, first)).source?.snapshot).toBe('old');
  });

  it('has no topology without a repository, or when the snapshot was deleted since', async () => {
    expect(await loadCommittedTopology(undefined)).toEqual({ source: null, links: [] });
    save('gone', [lldp('leaf01', 'spine01')], '2026-01-01T00:00:00.000Z');
    await repo.commitAll('gone');
    await repo.git.rm(['reports/snapshots/gone.json']);
    await repo.git.commit('delete');
    expect(await loadCommittedTopology(repo.root)).toEqual({ source: null, links: [] });
  });
});

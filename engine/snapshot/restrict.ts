import type { Snapshot, SnapshotElement } from '../schema/snapshot.js';

/** The part of a snapshot that covers some hosts: to compare one host's state with the run's snapshot before. */
export function restrictSnapshot(snapshot: Snapshot, hosts: readonly string[]): Snapshot {
  const keep = new Set(hosts);
  const elements = Object.fromEntries(
    Object.entries(snapshot.elements).map(([type, element]) => {
      const perHost = Object.fromEntries(Object.entries(element.hosts).filter(([host]) => keep.has(host)));
      const collected = Object.values(perHost).filter((h) => h.status === 'collected').length;
      const total = Object.keys(perHost).length;
      const status: SnapshotElement['status'] = collected === total ? 'collected' : collected === 0 ? 'notCollected' : 'partial';
      return [type, { status, hosts: perHost, records: element.records.filter((r) => keep.has(String(r.host))) }];
    }),
  ) as Snapshot['elements'];
  return { ...snapshot, hosts: snapshot.hosts.filter((h) => keep.has(h.name)), elements };
}

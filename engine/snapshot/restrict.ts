import type { Snapshot, SnapshotElement } from '../schema/snapshot.js';
import { ELEMENT_SPECS, ELEMENT_TYPES } from './element-model.js';
import { compareRecordKeys } from './records.js';

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

/**
 * One snapshot of the hosts of both: a runbook's snapshot step runs once per batch, and each later
 * batch adds its hosts to the snapshot the first one took. A host in both keeps its later records.
 */
export function mergeSnapshots(first: Snapshot, later: Snapshot): Snapshot {
  const replaced = new Set(later.hosts.map((h) => h.name));
  const kept = restrictSnapshot(first, first.hosts.map((h) => h.name).filter((name) => !replaced.has(name)));
  const elements = Object.fromEntries(
    ELEMENT_TYPES.map((type) => {
      const a = kept.elements[type];
      const b = later.elements[type];
      const perHost = { ...a.hosts, ...b.hosts };
      const states = Object.values(perHost).map((h) => h.status);
      const status: SnapshotElement['status'] = states.every((s) => s === 'collected') ? 'collected' : states.every((s) => s === 'notCollected') ? 'notCollected' : 'partial';
      const records = [...a.records, ...b.records].sort(compareRecordKeys(ELEMENT_SPECS[type].key));
      return [type, { status, hosts: perHost, records }];
    }),
  ) as Snapshot['elements'];
  return { ...first, hosts: [...kept.hosts, ...later.hosts], durationMs: first.durationMs + later.durationMs, elements };
}

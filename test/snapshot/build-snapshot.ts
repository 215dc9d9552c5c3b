import type { HostCollection, Snapshot, SnapshotElement } from '../../engine/schema/snapshot.js';
import { ELEMENT_TYPES, type ElementRecord, type ElementType } from '../../engine/snapshot/element-model.js';

export interface BuildOptions {
  hosts?: string[];
  createdAt?: string;
  /** Element -> host -> reason: that element was not collected on that host. */
  notCollected?: Partial<Record<ElementType, Record<string, string>>>;
}

/** A hand-made snapshot: records given per element, every other element collected and empty. */
export function buildSnapshot(name: string, records: Partial<Record<ElementType, ElementRecord[]>>, options: BuildOptions = {}): Snapshot {
  const hosts = options.hosts ?? ['leaf01', 'leaf02'];
  const elements = {} as Record<ElementType, SnapshotElement>;
  for (const type of ELEMENT_TYPES) {
    const failed = options.notCollected?.[type] ?? {};
    const status: Record<string, HostCollection> = {};
    for (const host of hosts) {
      status[host] =
        host in failed
          ? { status: 'notCollected', cause: 'timeout', reason: failed[host]! }
          : { status: 'collected', records: (records[type] ?? []).filter((r) => r.host === host).length };
    }
    const collected = hosts.filter((h) => !(h in failed)).length;
    elements[type] = {
      status: collected === hosts.length ? 'collected' : collected === 0 ? 'notCollected' : 'partial',
      hosts: status,
      records: (records[type] ?? []).filter((r) => !((r.host as string) in failed)),
    };
  }
  return {
    apiVersion: 'runbook/v1',
    kind: 'Snapshot',
    name,
    createdAt: options.createdAt ?? '2024-05-01T10:00:00.000Z',
    durationMs: 1200,
    engineVersion: '0.1.0',
    profile: 'fabric',
    hosts: hosts.map((h) => ({ name: h, platform: 'cumulus' })),
    elements,
  };
}

export const bgp = (host: string, peer: string, asn: number, extra: ElementRecord = {}): ElementRecord => ({
  host,
  vrf: 'default',
  peer,
  asn,
  state: 'Established',
  localAsn: 65101,
  prefixesReceived: 10,
  uptime: 3600,
  messagesReceived: 100,
  ...extra,
});

export const route = (host: string, prefix: string, extra: ElementRecord = {}): ElementRecord => ({
  host,
  vrf: 'default',
  prefix,
  protocol: 'bgp',
  nexthops: ['via fe80::1 dev swp51', 'via fe80::2 dev swp52'],
  metric: 0,
  ...extra,
});

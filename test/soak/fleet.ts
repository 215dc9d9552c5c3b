import { startLab, type Inventory, type Lab, type LabTimings } from '../../lab/index.js';

/**
 * A fleet of lab fabrics ("pods") served side by side and run as one inventory. One lab fabric has
 * at most 8 spines and 48 leaves, and its BGP model searches paths over the whole fabric on every
 * `net show bgp summary json`: about 0.1 s on a leaf and 6 s on a spine of a 2x48 fabric, 25 and
 * 35 ms with 18 leaves, 7 and 22 ms with 8. Each pod has its own address prefix (127.0.<n>.x) and
 * its hosts are named `pNN-<device>` in the inventory, with labels `pod` and `bgpPeers`.
 */
export interface FleetShape {
  pods: number;
  spinesPerPod: number;
  leavesPerPod: number;
  /** Third byte of the first pod's addresses (127.0.<byte>.x); the next pods count up from it. */
  firstPrefixByte: number;
  timings: Partial<LabTimings>;
}

export interface FleetHost {
  /** The name in the inventory: `p01-leaf03`. */
  name: string;
  /** The device's name in its pod's lab: `leaf03`. */
  device: string;
  role: 'spine' | 'leaf';
  /** `p01`... */
  pod: string;
  lab: Lab;
  address: string;
  port: number;
  /** The MLAG peer's inventory name, for leaves that have one. */
  mlagPeer?: string;
}

export interface Fleet {
  hosts: FleetHost[];
  host(name: string): FleetHost;
  /** The inventory of the given hosts (default all), credentials from RUNBOOK_LAB_PASSWORD. */
  inventory(names?: readonly string[]): Inventory;
  stop(): Promise<void>;
}

const podName = (index: number) => `p${String(index + 1).padStart(2, '0')}`;

export async function startFleet(shape: FleetShape): Promise<Fleet> {
  const labs: Lab[] = [];
  try {
    for (let pod = 0; pod < shape.pods; pod++) {
      labs.push(
        await startLab({
          topology: { spines: shape.spinesPerPod, leaves: shape.leavesPerPod, storageNodes: 0, nso: false, chassis: false },
          addressPrefix: `127.0.${shape.firstPrefixByte + pod}`,
          timings: shape.timings,
        }),
      );
    }
  } catch (error) {
    await Promise.all(labs.map((lab) => lab.stop()));
    throw error;
  }
  const merged: Inventory = { apiVersion: 'runbook/v1', kind: 'Inventory', groups: {}, hosts: {} };
  const hosts: FleetHost[] = [];
  labs.forEach((lab, pod) => {
    const rename = (device: string) => `${podName(pod)}-${device}`;
    const inventory = lab.inventory();
    Object.assign(merged.groups, inventory.groups);
    for (const [device, entry] of Object.entries(inventory.hosts)) {
      const mlagPeer = entry.labels.mlagPeer === undefined ? undefined : rename(entry.labels.mlagPeer);
      // The sessions the switch is cabled for, as a source of truth would say: every leaf of its pod, or every spine.
      const bgpPeers = String(entry.role === 'spine' ? shape.leavesPerPod : shape.spinesPerPod);
      const labels = { ...entry.labels, pod: podName(pod), bgpPeers, ...(mlagPeer ? { mlagPeer } : {}) };
      merged.hosts[rename(device)] = { ...entry, labels };
      hosts.push({ name: rename(device), device, role: entry.role as 'spine' | 'leaf', pod: podName(pod), lab, address: entry.address, port: entry.port, mlagPeer });
    }
  });
  const byName = new Map(hosts.map((host) => [host.name, host]));
  return {
    hosts,
    host: (name) => {
      const host = byName.get(name);
      if (!host) throw new Error(`no fleet host ${name}`);
      return host;
    },
    inventory: (names = hosts.map((h) => h.name)) => ({
      ...merged,
      hosts: Object.fromEntries(names.map((name) => [name, merged.hosts[name]!])),
    }),
    stop: async () => {
      await Promise.all(labs.map((lab) => lab.stop()));
    },
  };
}

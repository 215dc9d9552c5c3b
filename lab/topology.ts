import type { Platform } from './device.js';
import { planFabric, type FabricPlan } from './devices/fabric.js';

/** How many devices of each family the lab runs. */
export interface LabTopology {
  spines: number;
  leaves: number;
  storageNodes: number;
  /** The NSO devices: the pair nso1 (primary) and nso2 (secondary), and those below. */
  nso: boolean;
  /** A third NSO node, nso3 (with `nso`): a secondary that is not the fail-over one (seed 002's 3-node setup). */
  nsoThirdNode: boolean;
  /** A standalone NSO, nso0, for the single-instance upgrade (with `nso`). */
  nsoStandalone: boolean;
  /** The chassis bd01. */
  chassis: boolean;
}

export const DEFAULT_TOPOLOGY: LabTopology = { spines: 2, leaves: 4, storageNodes: 4, nso: true, nsoThirdNode: false, nsoStandalone: true, chassis: true };

export const GROUPS = {
  fabric: 'Cumulus Linux spine-leaf fabric: eBGP unnumbered, MLAG leaf pairs',
  storage: 'Qumulo-style storage cluster, one SSH server per node',
  ha: 'Cisco NSO-style HA controller pair',
  nso: 'Cisco NSO-style standalone instance',
  chassis: 'ExtremeXOS-style chassis with dual supervisors (MSM-A, MSM-B)',
} as const;
export type GroupName = keyof typeof GROUPS;

/** One device to run: what the inventory says of it. */
export interface DeviceSpec {
  name: string;
  platform: Platform;
  role: string;
  group: GroupName;
  labels: Record<string, string>;
  address: string;
}

export const STORAGE_CLUSTER = 'lab-cluster';
const MAX_STORAGE_NODES = 16;

/**
 * Last address byte per device: spines 1-8, leaves 11-58, storage nodes 61-76, the standalone nso0 80,
 * nso1/nso2/nso3 81/82/83, the chassis 91. A family keeps its block whatever the size of the others.
 */
export function planDevices(
  topology: LabTopology,
  addressPrefix: string,
  addresses: Readonly<Record<string, string>>,
): { devices: DeviceSpec[]; fabric: FabricPlan } {
  if (topology.storageNodes > MAX_STORAGE_NODES) throw new Error(`the lab runs at most ${MAX_STORAGE_NODES} storage nodes`);
  const fabric = planFabric(topology.spines, topology.leaves);
  const devices: DeviceSpec[] = [];
  const add = (spec: Omit<DeviceSpec, 'address'>, hostByte: number): void => {
    devices.push({ ...spec, address: addresses[spec.name] ?? `${addressPrefix}.${hostByte}` });
  };
  for (const plan of fabric.switches) {
    add(
      {
        name: plan.name,
        platform: 'cumulus',
        role: plan.role,
        group: 'fabric',
        labels: { site: 'lab', ...(plan.mlag ? { mlagPeer: plan.mlag.peer } : {}) },
      },
      plan.role === 'spine' ? plan.index : 10 + plan.index,
    );
  }
  for (let index = 1; index <= topology.storageNodes; index++) {
    add({ name: `qumulo${index}`, platform: 'qumulo', role: 'node', group: 'storage', labels: { site: 'lab', cluster: STORAGE_CLUSTER } }, 60 + index);
  }
  if (topology.nso && topology.nsoStandalone) {
    add({ name: 'nso0', platform: 'nso', role: 'standalone', group: 'nso', labels: { site: 'lab' } }, 80);
  }
  if (topology.nso) {
    add({ name: 'nso1', platform: 'nso', role: 'primary', group: 'ha', labels: { site: 'lab', haPeer: 'nso2' } }, 81);
    add({ name: 'nso2', platform: 'nso', role: 'secondary', group: 'ha', labels: { site: 'lab', haPeer: 'nso1' } }, 82);
    if (topology.nsoThirdNode) {
      add({ name: 'nso3', platform: 'nso', role: 'non-failover-secondary', group: 'ha', labels: { site: 'lab', haPrimary: 'nso1' } }, 83);
    }
  }
  if (topology.chassis) {
    add({ name: 'bd01', platform: 'exos', role: 'chassis', group: 'chassis', labels: { site: 'lab' } }, 91);
  }
  return { devices, fabric };
}

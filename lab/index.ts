import { appendFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import { systemClock, Timers, type Clock } from './clock.js';
import type { DeviceEnv, LabTimings, Platform, SimulatedDevice } from './device.js';
import { DeviceHost, type CommandLogEntry, type DeviceEvent } from './device-host.js';
import { imageStoreFiles } from './devices/cumulus-config.js';
import { CumulusSwitch, type CumulusOptions } from './devices/cumulus.js';
import { ExosChassis, type ExosOptions } from './devices/exos.js';
import { Fabric, type SwitchPlan } from './devices/fabric.js';
import { NsoCluster, NsoNode, type NsoIdentity, type NsoOptions } from './devices/nso.js';
import { QumuloCluster, QumuloNode, type QumuloOptions } from './devices/qumulo.js';
import { checkFault, type Fault } from './faults.js';
import { deriveHostKey } from './host-key.js';
import { buildInventory, formatInventoryYaml, PASSWORD_ENV, type Inventory, type InventoryAuth } from './inventory.js';
import { DEFAULT_TOPOLOGY, planDevices, type DeviceSpec, type LabTopology } from './topology.js';

export type { Clock } from './clock.js';
export type { LabTimings, Platform } from './device.js';
export type { CommandLogEntry, DeviceEvent } from './device-host.js';
export { IMAGE_STORE_URL, imageFileName, type CumulusPlatformName } from './devices/cumulus-config.js';
export type { CommandPattern, Fault, FaultKind } from './faults.js';
export { FAULT_KINDS } from './faults.js';
export { deriveHostKey, fingerprintOf, type HostKey } from './host-key.js';
export { PASSWORD_ENV, type Inventory, type InventoryAuth, type InventoryHost } from './inventory.js';
export { DEFAULT_TOPOLOGY, type LabTopology } from './topology.js';

export interface LabOptions {
  /** Device counts; default 2 spines, 4 leaves, 4 storage nodes, a standalone NSO, the NSO pair and the chassis. */
  topology?: Partial<LabTopology>;
  /** First three bytes of every device address (default `127.0.10`). */
  addressPrefix?: string;
  /** Addresses of single devices, overriding the prefix. */
  addresses?: Record<string, string>;
  /** SSH port of every device; 0 (default) gives each device its own free port. */
  port?: number;
  user?: string;
  password?: string;
  /** Public keys (OpenSSH `ssh-ed25519 AAAA...` lines) accepted for `user`. */
  authorizedKeys?: ReadonlyArray<string | Buffer>;
  timings?: Partial<LabTimings>;
  cumulus?: Partial<CumulusOptions>;
  qumulo?: Partial<QumuloOptions>;
  nso?: Partial<NsoOptions>;
  exos?: Partial<ExosOptions>;
  /** Faults per device name, active from the start. */
  faults?: Record<string, Fault[]>;
  /** Appends every command log entry to this file as a JSON line. */
  commandLogFile?: string;
  clock?: Clock;
}

export interface LabDevice {
  name: string;
  platform: Platform;
  role: string;
  address: string;
  port: number;
  /** Pinned host key fingerprint, `SHA256:<base64>`. */
  hostKey: string;
  /** `ssh-ed25519 AAAA... name`, for a known_hosts file. */
  publicKey: string;
  groups: string[];
  labels: Record<string, string>;
}

export interface Lab {
  readonly devices: readonly LabDevice[];
  readonly user: string;
  readonly password: string;
  device(name: string): LabDevice;
  /** The inventory that reaches the lab; `auth` defaults to `{ passwordEnv: RUNBOOK_LAB_PASSWORD }`. */
  inventory(options?: { auth?: InventoryAuth }): Inventory;
  inventoryYaml(options?: { auth?: InventoryAuth }): string;
  /** Adds a fault; resolves once the device's listener reflects it. */
  injectFault(host: string, fault: Fault): Promise<void>;
  /** Removes a device's faults (and brings back a device a `neverReturns` fault kept down). */
  clearFaults(host: string): Promise<void>;
  commandLog(host?: string): CommandLogEntry[];
  /**
   * Power and device events in the order they happened: `down`, `up`, and for Cumulus switches
   * `fresh-install` (an ONIE install booted, /etc wiped), `serving` / `not-serving` (uplinks
   * configured and BGP running, or no longer).
   */
  eventLog(host?: string): DeviceEvent[];
  /** The device's simulated state, for tests' assertions only. */
  state(host: string): Record<string, unknown>;
  /** Resolves once every device's listener matches its state (after a reboot ends, say). */
  settled(): Promise<void>;
  /** Closes every server and connection and cancels every timer. */
  stop(): Promise<void>;
}

export const DEFAULT_TIMINGS: LabTimings = {
  rebootDelayMs: 1000,
  syncDelayMs: 1000,
  failoverDelayMs: 500,
  prepareMs: 1000,
  commitMs: 1000,
};

export const DEFAULT_USER = 'lab';
export const DEFAULT_PASSWORD = 'lab-password';

const DEFAULT_CUMULUS: CumulusOptions = { version: '4.3.0', images: ['4.3.0', '4.4.0', '5.9.1'], bgpPassword: 'lab-bgp-md5' };
const DEFAULT_QUMULO: QumuloOptions = {
  version: '7.0.0.1',
  images: ['qumulo_core_7.0.2.qimg', 'qumulo_core_7.1.0.1.qimg', 'qumulo_core_7.2.3.1.qimg'],
  deployment: 'on-prem',
  nodeFailures: 1,
  containerRestartMs: 500,
  restripeMs: 100,
};
const DEFAULT_NSO: NsoOptions = {
  version: '6.1.4',
  installers: ['6.2.3', '6.1.7'],
  packageReleases: ['6.1', '6.2'],
  diskAvailableKb: 20_971_520,
  packageUpdates: [
    { name: 'cisco-ios-cli-6.100', version: '6.100.3', builtFor: '6.1' },
    { name: 'cisco-ios-cli-6.100', version: '6.100.3', builtFor: '6.2' },
  ],
  misbuiltPackages: {},
  brokenReleases: [],
  slowStartMs: 0,
  commitQueueItemMs: 300,
  files: {},
};
/** How each NSO role of the topology is configured in its HA cluster. */
const NSO_IDENTITIES: Record<string, NsoIdentity> = {
  primary: { nominalRole: 'primary', failoverPrimary: false },
  secondary: { nominalRole: 'secondary', failoverPrimary: true },
  'non-failover-secondary': { nominalRole: 'secondary', failoverPrimary: false },
  standalone: { nominalRole: 'none', failoverPrimary: false },
};
const DEFAULT_EXOS: ExosOptions = {
  version: '31.7.1.4',
  secondaryVersion: '31.6.1.3',
  // 32.1.1.6 carries another I/O module image (32.1): upgrading to it meets the I/O module warning.
  images: ['bdX-31.7.1.4.xos', 'bdX-31.7.2.3.xos', 'bdX-32.1.1.6.xos', 'bdX-31.7.1.4-ssh.xmod', 'bdX-31.7.2.3-ssh.xmod'],
  ioModuleImages: {},
  withoutHitless: [],
};

const IDENTS: Record<Platform, string> = {
  cumulus: 'OpenSSH_7.9p1 Debian-10+deb10u2',
  qumulo: 'OpenSSH_8.2p1 Ubuntu-4ubuntu0.5',
  nso: 'OpenSSH_8.0',
  exos: 'OpenSSH_7.5 ExtremeXOS',
};

export async function startLab(options: LabOptions = {}): Promise<Lab> {
  const clock = options.clock ?? systemClock;
  const timers = new Timers(clock);
  const timings = { ...DEFAULT_TIMINGS, ...options.timings };
  const user = options.user ?? DEFAULT_USER;
  const password = options.password ?? DEFAULT_PASSWORD;
  const topology = { ...DEFAULT_TOPOLOGY, ...options.topology };
  const { devices: specs, fabric: fabricPlan } = planDevices(topology, options.addressPrefix ?? '127.0.10', options.addresses ?? {});
  const authorizedKeys = (options.authorizedKeys ?? []).map(parseAuthorizedKey);
  const log: CommandLogEntry[] = [];
  // Fail now, not on the first command, when the log file cannot be written.
  if (options.commandLogFile) appendFileSync(options.commandLogFile, '');
  const record = (entry: CommandLogEntry): void => {
    log.push(entry);
    // Synchronous, so the file holds every entry even if the process is killed right after.
    if (options.commandLogFile) appendFileSync(options.commandLogFile, `${JSON.stringify(entry)}\n`);
  };
  const events: DeviceEvent[] = [];
  const fabric = new Fabric(fabricPlan, clock);
  const createDevice = deviceFactory(options, clock, timers, timings, fabric);
  const entries = specs.map((spec) => {
    const hostKey = deriveHostKey(spec.name);
    const host = new DeviceHost({
      name: spec.name,
      address: spec.address,
      port: options.port ?? 0,
      hostKey,
      ident: IDENTS[spec.platform],
      user,
      password,
      authorizedKeys,
      timers,
      timings,
      log: record,
      note: (event) => events.push(event),
      createDevice: (env) => createDevice(spec, env),
    });
    return { spec, hostKey, host };
  });
  const hosts = new Map(entries.map(({ spec, host }) => [spec.name, host]));
  const hostOf = (name: string): DeviceHost => {
    const host = hosts.get(name);
    if (host === undefined) throw new Error(`unknown lab device "${name}"; devices: ${[...hosts.keys()].join(', ')}`);
    return host;
  };
  const checkDeviceFault = (name: string, fault: Fault): void => {
    hostOf(name);
    checkFault(fault);
    if (fault.kind === 'bgpSessionDrop' && fabric.uplinkBetween(name, fault.peer) === undefined) {
      throw new Error(`bgpSessionDrop: ${name} has no BGP session with "${fault.peer}"`);
    }
  };
  for (const [name, faults] of Object.entries(options.faults ?? {})) for (const fault of faults) checkDeviceFault(name, fault);

  const started = await Promise.allSettled([...hosts.values()].map((host) => host.start(options.faults?.[host.name] ?? [])));
  const failed = started.findIndex((result) => result.status === 'rejected');
  if (failed >= 0) {
    timers.cancelAll();
    await Promise.all([...hosts.values()].map((host) => host.stop()));
    const spec = specs[failed] as DeviceSpec;
    const reason = (started[failed] as PromiseRejectedResult).reason as Error;
    throw new Error(`lab: ${spec.name} cannot listen on ${spec.address}:${options.port ?? 0}: ${reason.message}`);
  }

  const devices: LabDevice[] = entries.map(({ spec, hostKey, host }) => ({
    name: spec.name,
    platform: spec.platform,
    role: spec.role,
    address: spec.address,
    port: host.endpoint.port,
    hostKey: hostKey.fingerprint,
    publicKey: hostKey.publicKeyLine,
    groups: [spec.group],
    labels: spec.labels,
  }));
  let stopping: Promise<void> | undefined;
  const inventory = (inventoryOptions: { auth?: InventoryAuth } = {}): Inventory =>
    buildInventory(devices, user, inventoryOptions.auth ?? { passwordEnv: PASSWORD_ENV });

  return {
    devices,
    user,
    password,
    device: (name) => {
      const device = devices.find((candidate) => candidate.name === name);
      if (device === undefined) throw new Error(`unknown lab device "${name}"`);
      return device;
    },
    inventory,
    inventoryYaml: (inventoryOptions) => formatInventoryYaml(inventory(inventoryOptions)),
    injectFault: async (name, fault) => {
      checkDeviceFault(name, fault);
      const host = hostOf(name);
      host.injectFault(fault);
      await host.settled();
    },
    clearFaults: async (name) => {
      const host = hostOf(name);
      host.clearFaults();
      await host.settled();
    },
    commandLog: (name) => log.filter((entry) => name === undefined || entry.host === name).map((entry) => ({ ...entry })),
    eventLog: (name) => events.filter((entry) => name === undefined || entry.host === name).map((entry) => ({ ...entry })),
    state: (name) => {
      const host = hostOf(name);
      return { name, platform: host.device.platform, ...host.status(), ...host.device.state() };
    },
    settled: async () => {
      await Promise.all([...hosts.values()].map((host) => host.settled()));
    },
    stop: () => {
      stopping ??= (async () => {
        timers.cancelAll();
        await Promise.all([...hosts.values()].map((host) => host.stop()));
      })();
      return stopping;
    },
  };
}

function parseAuthorizedKey(key: string | Buffer): ParsedKey {
  const parsed = ssh2.utils.parseKey(key);
  if (parsed instanceof Error) throw new Error(`invalid authorized key: ${parsed.message}`);
  return parsed;
}

/** Builds each family's simulator; devices of one family share their cluster, pair or fabric. */
function deviceFactory(
  options: LabOptions,
  clock: Clock,
  timers: Timers,
  timings: LabTimings,
  fabric: Fabric,
): (spec: DeviceSpec, env: DeviceEnv) => SimulatedDevice {
  const cumulus = { ...DEFAULT_CUMULUS, ...options.cumulus };
  const imageStore = imageStoreFiles(cumulus.images);
  const cluster = new QumuloCluster(clock, timers, timings, { ...DEFAULT_QUMULO, ...options.qumulo });
  const nsoClusters = new Map<string, NsoCluster>();
  const nsoCluster = (group: string): NsoCluster => nsoClusters.get(group) ?? nsoClusters.set(group, new NsoCluster()).get(group)!;
  const nso = { ...DEFAULT_NSO, ...options.nso };
  const exos = { ...DEFAULT_EXOS, ...options.exos };
  return (spec, env) => {
    switch (spec.platform) {
      case 'cumulus':
        return new CumulusSwitch(env, fabric.switchPlan(spec.name) as SwitchPlan, fabric, cumulus, imageStore);
      case 'qumulo':
        return new QumuloNode(env, cluster);
      case 'nso':
        return new NsoNode(env, nsoCluster(spec.group), NSO_IDENTITIES[spec.role] ?? NSO_IDENTITIES.standalone!, nso);
      case 'exos':
        return new ExosChassis(env, exos);
    }
  };
}

import { createInputError } from '../errors.js';
import { suggestName } from '../load/suggest.js';
import { ELEMENT_TYPES, type ElementType } from './element-types.js';

/**
 * The element model of DESIGN section 6, declared once as data: every element's fields with
 * their type and role. Capture coerces values by type, compare matches by the key fields,
 * the snapshot schema is generated from it, and the profile loader checks mappings against it.
 */

/** `list` is a list of strings, kept sorted so that order never reads as a change. */
export type FieldType = 'string' | 'integer' | 'number' | 'boolean' | 'list';

/**
 * key: identity, never compared; compared: a difference is a change; volatile: compared only when
 * default exclusions are off (uptimes, counters, timers, ages); carried: stored and shown, never compared.
 */
export type FieldRole = 'key' | 'compared' | 'volatile' | 'carried';

export interface FieldSpec {
  type: FieldType;
  role: FieldRole;
  description: string;
}

export interface ElementSpec {
  type: ElementType;
  title: string;
  description: string;
  /** Key fields in identity order; `host` is always first and set by capture. */
  key: readonly string[];
  fields: Readonly<Record<string, FieldSpec>>;
}

/** A field missing from the output is absent from the record, never null. */
export type FieldValue = string | number | boolean | string[];
/** One element record: flat, typed by the element model. */
export type ElementRecord = Record<string, FieldValue>;

type FieldRow = readonly [FieldType, string];
interface ElementRow {
  title: string;
  description: string;
  key: Record<string, FieldRow>;
  compared: Record<string, FieldRow>;
  volatile?: Record<string, FieldRow>;
  carried?: Record<string, FieldRow>;
}

const HOST: FieldRow = ['string', 'The inventory name of the host the record was collected from.'];
const VRF: FieldRow = ['string', 'The VRF, `default` for the main table.'];

const TABLE: Record<ElementType, ElementRow> = {
  bgp: {
    title: 'BGP session',
    description: 'One BGP peering of a host.',
    key: { host: HOST, vrf: VRF, peer: ['string', 'The peer: its address, or the interface of an unnumbered session.'], asn: ['integer', "The peer's AS number."] },
    compared: {
      state: ['string', 'The session state: Established, Idle, Active, Connect, OpenSent, OpenConfirm.'],
      localAsn: ['integer', "The host's own AS number."],
      peerHostname: ['string', 'The host name the peer announces.'],
      peerRouterId: ['string', "The peer's router id."],
      routerId: ['string', "The host's router id in this VRF."],
      prefixesReceived: ['integer', 'IPv4 unicast prefixes accepted from the peer.'],
      prefixesSent: ['integer', 'IPv4 unicast prefixes sent to the peer.'],
      evpnPrefixesReceived: ['integer', 'L2VPN EVPN prefixes accepted from the peer.'],
    },
    volatile: {
      uptime: ['integer', 'Seconds since the session last changed state.'],
      messagesReceived: ['integer', 'Messages received (counter).'],
      messagesSent: ['integer', 'Messages sent (counter).'],
      connectionsEstablished: ['integer', 'Times the session was established (counter).'],
      connectionsDropped: ['integer', 'Times the session went down (counter).'],
    },
    carried: { description: ['string', 'The configured peer description.'] },
  },
  clag: {
    title: 'CLAG (MLAG) pair',
    description: "A host's MLAG membership, as clagd reports it.",
    key: { host: HOST, sysmac: ['string', 'The MLAG system MAC shared by the pair.'] },
    compared: {
      role: ['string', "The host's role: primary or secondary."],
      peerRole: ['string', "The peer's role."],
      peerAlive: ['boolean', 'The peer answers on the peer link.'],
      peerIf: ['string', 'The peer link interface (usually peerlink.4094).'],
      peerIp: ['string', "The peer's address on the peer link."],
      backupIp: ['string', 'The backup link address.'],
      backupActive: ['boolean', 'The backup link is up.'],
      priority: ['integer', "The host's MLAG priority."],
      bonds: ['list', 'MLAG bonds as `bond:clagId:status`, status dual (both switches) or single.'],
      conflicts: ['list', 'Bonds in conflict or proto-down, as `bond:reason`.'],
    },
    volatile: {},
  },
  interface: {
    title: 'Interface',
    description: 'A switch interface (port, bond, bridge, SVI, loopback) with its state.',
    key: { host: HOST, ifname: ['string', 'The interface name.'] },
    compared: {
      type: ['string', 'The interface type or mode as the platform reports it, e.g. BondMember, 802.3ad, Loopback, VRF.'],
      adminState: ['string', 'The administrative state: up or down.'],
      operState: ['string', 'The operational state: up or down.'],
      mtu: ['integer', 'The MTU in bytes.'],
      speed: ['string', 'The link speed, e.g. 100G.'],
      mac: ['string', 'The MAC address.'],
      vrf: ['string', 'The VRF the interface is in, when any.'],
      master: ['string', 'The bond or bridge the interface is enslaved to, when any.'],
      vlans: ['list', 'Bridge VLANs on the interface.'],
    },
    volatile: {
      rxPackets: ['integer', 'Packets received (counter).'],
      txPackets: ['integer', 'Packets sent (counter).'],
      rxErrors: ['integer', 'Receive errors (counter).'],
      txErrors: ['integer', 'Transmit errors (counter).'],
      rxDrops: ['integer', 'Receive drops (counter).'],
      txDrops: ['integer', 'Transmit drops (counter).'],
      carrierChanges: ['integer', 'Carrier transitions (counter).'],
      lastChange: ['string', 'When the state last changed.'],
    },
    carried: { description: ['string', 'The alias, or the one-line summary the platform gives.'] },
  },
  address: {
    title: 'IP address',
    description: 'An IPv4 or IPv6 address configured on an interface.',
    key: {
      host: HOST,
      prefix: ['string', 'The address, without the mask.'],
      mask: ['integer', 'The prefix length.'],
      ifname: ['string', 'The interface holding the address.'],
    },
    compared: {
      family: ['string', 'ipv4 or ipv6.'],
      vrf: ['string', 'The VRF of the interface.'],
      scope: ['string', 'The address scope: global, link, host.'],
    },
    volatile: {
      validLifetime: ['integer', 'Seconds the address stays valid (counts down).'],
      preferredLifetime: ['integer', 'Seconds the address stays preferred (counts down).'],
    },
  },
  link: {
    title: 'Link',
    description: 'A kernel network link, as `ip link` shows it.',
    key: {
      host: HOST,
      ifname: ['string', 'The link name.'],
      kind: ['string', 'The link kind: device (a port or the loopback), bond, bridge, vlan, vxlan, vrf.'],
    },
    compared: {
      operState: ['string', 'The operational state: UP, DOWN, UNKNOWN.'],
      adminUp: ['boolean', 'The link is administratively up.'],
      mtu: ['integer', 'The MTU in bytes.'],
      mac: ['string', 'The link-layer address.'],
      master: ['string', 'The master device, when any.'],
    },
    volatile: { carrierChanges: ['integer', 'Carrier transitions (counter).'] },
  },
  lldp: {
    title: 'LLDP neighbour',
    description: 'The LLDP neighbour seen on an interface.',
    key: { host: HOST, ifname: ['string', 'The local interface.'] },
    compared: {
      peerHostname: ['string', "The neighbour's system name."],
      peerIfname: ['string', "The neighbour's port id or description."],
      peerMac: ['string', "The neighbour's chassis id."],
      peerMgmtIp: ['string', "The neighbour's management address."],
      peerPlatform: ['string', "The neighbour's system description."],
    },
    volatile: { age: ['string', 'Time since the neighbour was first seen.'] },
  },
  mac: {
    title: 'MAC address',
    description: 'A MAC address table (FDB) entry.',
    key: { host: HOST, mac: ['string', 'The MAC address, lower case.'], vlan: ['integer', 'The VLAN; 0 when untagged.'] },
    compared: {
      ifname: ['string', 'The port the address was learnt or configured on.'],
      remoteVtep: ['string', 'The remote VTEP for addresses learnt over VXLAN.'],
      origin: ['string', 'How the entry came to be: learned, static, permanent.'],
      local: ['boolean', "The address is the host's own."],
    },
    volatile: { age: ['integer', 'Seconds since the entry was last refreshed.'] },
  },
  neighbor: {
    title: 'IP neighbour',
    description: 'An ARP (IPv4) or ND (IPv6) neighbour entry.',
    key: {
      host: HOST,
      vrf: VRF,
      ifname: ['string', 'The interface the neighbour is on.'],
      ip: ['string', "The neighbour's address."],
    },
    compared: {
      mac: ['string', "The neighbour's link-layer address."],
      family: ['string', 'ipv4 or ipv6.'],
      router: ['boolean', 'The neighbour announces itself as a router.'],
    },
    volatile: { state: ['string', 'The NUD state: REACHABLE, STALE, DELAY, PROBE, FAILED, PERMANENT.'] },
  },
  node: {
    title: 'Node',
    description: 'The host itself: software, hardware and identity.',
    key: { host: HOST },
    compared: {
      hostname: ['string', 'The host name the device reports.'],
      os: ['string', 'The operating system name.'],
      version: ['string', 'The operating system version.'],
      platform: ['string', 'The hardware platform or model.'],
      serial: ['string', 'The serial number.'],
      asic: ['string', 'The switching ASIC.'],
      cpu: ['string', 'The CPU model.'],
      memoryKb: ['integer', 'Total memory in KiB.'],
    },
    volatile: {
      uptime: ['integer', 'Seconds since boot.'],
      bootTime: ['string', 'When the host last booted.'],
      load: ['number', 'The one-minute load average.'],
    },
  },
  ospf: {
    title: 'OSPF neighbour',
    description: 'An OSPF adjacency of a host.',
    key: {
      host: HOST,
      ifname: ['string', 'The local interface of the adjacency.'],
      area: ['string', 'The OSPF area, dotted.'],
      peerId: ['string', "The neighbour's router id."],
    },
    compared: {
      state: ['string', 'The adjacency state, e.g. Full/DR, Full/-.'],
      peerIp: ['string', "The neighbour's interface address."],
      priority: ['integer', "The neighbour's priority."],
      vrf: ['string', 'The VRF of the adjacency.'],
    },
    volatile: {
      uptime: ['integer', 'Seconds since the adjacency came up.'],
      deadTimer: ['integer', 'Milliseconds until the neighbour is declared dead.'],
      stateChanges: ['integer', 'State changes (counter).'],
    },
  },
  route: {
    title: 'Route',
    description: 'A route in a routing table (VRF).',
    key: { host: HOST, vrf: VRF, prefix: ['string', 'The destination prefix as the platform prints it (iproute2 leaves /32 off host routes).'] },
    compared: {
      protocol: ['string', 'Where the route came from: connected, kernel, static, bgp, ospf.'],
      nexthops: ['list', 'The next hops, as `via ADDRESS dev IFNAME` (or `dev IFNAME`).'],
      distance: ['integer', 'The administrative distance.'],
      metric: ['integer', 'The metric.'],
      selected: ['boolean', 'The route is the selected (best) one.'],
      family: ['string', 'ipv4 or ipv6.'],
    },
    volatile: { uptime: ['string', 'Time since the route was installed.'] },
  },
  sensor: {
    title: 'Sensor',
    description: 'An environment sensor: fan, temperature or power supply.',
    key: {
      host: HOST,
      kind: ['string', 'The sensor kind: fan, temp, psu.'],
      name: ['string', 'The sensor name.'],
    },
    compared: {
      state: ['string', 'The sensor state as the platform reports it, e.g. OK, ABSENT, BAD.'],
      max: ['number', 'The upper threshold.'],
      min: ['number', 'The lower threshold.'],
    },
    volatile: { value: ['number', 'The current reading (degrees, RPM, volts).'] },
    carried: { description: ['string', 'What the sensor measures.'] },
  },
  service: {
    title: 'Service',
    description: 'A system service (systemd unit) and its state.',
    key: {
      host: HOST,
      name: ['string', 'The service name, without `.service`.'],
      vrf: ['string', 'The VRF the service runs in, `default` for the main one.'],
    },
    compared: {
      enabled: ['boolean', 'The service starts at boot.'],
      active: ['string', 'The active state: active, inactive, failed, activating.'],
      subState: ['string', 'The sub-state: running, exited, dead.'],
    },
    volatile: {
      pid: ['integer', 'The main process id.'],
      uptime: ['integer', 'Seconds since the service entered its state.'],
      restarts: ['integer', 'Restarts (counter).'],
    },
    carried: { description: ['string', 'The unit description.'] },
  },
};

function buildSpec(type: ElementType, row: ElementRow): ElementSpec {
  const fields: Record<string, FieldSpec> = {};
  const add = (role: FieldRole, rows: Record<string, FieldRow> = {}) => {
    for (const [name, [fieldType, description]] of Object.entries(rows)) fields[name] = { type: fieldType, role, description };
  };
  add('key', row.key);
  add('compared', row.compared);
  add('volatile', row.volatile);
  add('carried', row.carried);
  return { type, title: row.title, description: row.description, key: Object.keys(row.key), fields };
}

/** Every element's specification, in ELEMENT_TYPES order. */
export const ELEMENT_SPECS: Readonly<Record<ElementType, ElementSpec>> = Object.fromEntries(
  ELEMENT_TYPES.map((type) => [type, buildSpec(type, TABLE[type])]),
) as Record<ElementType, ElementSpec>;

export function isElementType(name: string): name is ElementType {
  return (ELEMENT_TYPES as readonly string[]).includes(name);
}

/** An element name given by a person: a misspelt one is bad input with a suggestion. */
export function parseElementType(name: string, context = ''): ElementType {
  if (isElementType(name)) return name;
  const suggestion = suggestName(name, ELEMENT_TYPES);
  return failElement(
    `${context}\`${name}\` is not an element type; ${suggestion ? `did you mean \`${suggestion}\`?` : `use one of ${ELEMENT_TYPES.join(', ')}`}`,
  );
}

function failElement(message: string): never {
  throw createInputError('RB1501', message);
}

/** Field names of an element with the given roles, in declaration order. */
export function listFields(type: ElementType, roles: readonly FieldRole[]): string[] {
  return Object.entries(ELEMENT_SPECS[type].fields)
    .filter(([, spec]) => roles.includes(spec.role))
    .map(([name]) => name);
}

/** The volatile fields compare leaves out unless default exclusions are turned off. */
export function listDefaultExclusions(type: ElementType): string[] {
  return listFields(type, ['volatile']);
}

/** "leaf01 vrf default peer swp51 asn 65101": a record's identity, for messages and reports. */
export function describeKey(type: ElementType, record: Readonly<Record<string, unknown>>): string {
  const [first, ...rest] = ELEMENT_SPECS[type].key;
  const parts = [formatValue(record[first!])];
  for (const field of rest) parts.push(`${field} ${formatValue(record[field])}`);
  return parts.join(' ');
}

export function formatValue(value: unknown): string {
  if (value === undefined || value === null) return '-';
  if (Array.isArray(value)) return value.length === 0 ? '[]' : value.join(', ');
  return String(value);
}

export { ELEMENT_TYPES, type ElementType };

import type { SwitchPlan } from './fabric.js';

/**
 * What a Cumulus Linux switch keeps under /etc, and the hardware it runs on. The document
 * (shared/seeds/000_4b255f1ae4f79528.txt, "Cumulus Linux Upgrade", pre-check "Version
 * Compatibility") names images by Cumulus Linux version, ASIC vendor (Mellanox or Broadcom) and CPU
 * architecture (x86 or ARM): each lab switch has one such platform, and images are named after it.
 */

export const CUMULUS_PLATFORMS = {
  'mlx-amd64': {
    asicVendor: 'Mellanox',
    asicModel: 'Spectrum',
    cpuArch: 'x86',
    debArch: 'amd64',
    machine: 'x86_64',
    onie: 'x86_64-mlnx_msn2700-r0',
    detect: 'mlnx,x86_MSN2700',
    model: 'Mellanox Technologies Ltd. MSN2700',
    fans: 8,
  },
  'bcm-amd64': {
    asicVendor: 'Broadcom',
    asicModel: 'Trident3',
    cpuArch: 'x86',
    debArch: 'amd64',
    machine: 'x86_64',
    onie: 'x86_64-accton_as7326_56x-r0',
    detect: 'accton,as7326_56x',
    model: 'Edgecore AS7326-56X',
    fans: 6,
  },
  'bcm-armel': {
    asicVendor: 'Broadcom',
    asicModel: 'Helix4',
    cpuArch: 'ARM',
    debArch: 'armel',
    machine: 'armv7l',
    onie: 'arm-accton_as4610_54-r0',
    detect: 'accton,as4610_54',
    model: 'Edgecore AS4610-54P',
    fans: 2,
  },
} as const;
export type CumulusPlatformName = keyof typeof CUMULUS_PLATFORMS;
export type CumulusPlatform = (typeof CUMULUS_PLATFORMS)[CumulusPlatformName];
export const PLATFORM_NAMES = Object.keys(CUMULUS_PLATFORMS) as CumulusPlatformName[];

/** The lab's image repository, as LCM keeps one: reached by the switches over the management network. */
export const IMAGE_STORE_URL = 'http://192.168.200.1/images';

const IMAGE_FILE = /^cumulus-linux-(\d+\.\d+\.\d+)-(mlx|bcm)-(amd64|armel)\.bin$/;

export function imageFileName(version: string, platform: CumulusPlatformName): string {
  return `cumulus-linux-${version}-${platform}.bin`;
}

/** The version and platform an installer image is for, from its file name; undefined when it is not one. */
export function parseImageName(name: string): { version: string; platform: CumulusPlatformName } | undefined {
  const match = IMAGE_FILE.exec(name);
  return match ? { version: match[1] as string, platform: `${match[2]}-${match[3]}` as CumulusPlatformName } : undefined;
}

/** The store's files: a version stands for its image on every platform, a file name for itself. */
export function imageStoreFiles(images: readonly string[]): Set<string> {
  const files = new Set<string>();
  for (const image of images) {
    if (/^\d+\.\d+\.\d+$/.test(image)) for (const platform of PLATFORM_NAMES) files.add(imageFileName(image, platform));
    else if (parseImageName(image)) files.add(image);
    else throw new Error(`cumulus.images: "${image}" is neither a version (4.4.0) nor an image name (cumulus-linux-4.4.0-mlx-amd64.bin)`);
  }
  return files;
}

/** The unit link that `systemctl enable frr` makes: FRR starts at boot only when it exists. */
export const FRR_ENABLED_LINK = '/etc/systemd/system/multi-user.target.wants/frr.service';

// ---------------------------------------------------------------- /etc/network/interfaces

/** One `iface` stanza: its name and its attribute lines (`bond-slaves swp49 swp50` gives `bond-slaves`). */
export interface Stanza {
  name: string;
  attributes: Record<string, string>;
}

/** Reads the stanzas of an ifupdown2 file; comments and `auto` lines are ignored. */
export function parseInterfaces(text: string): Map<string, Stanza> {
  const stanzas = new Map<string, Stanza>();
  let current: Stanza | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const [word, ...rest] = line.split(/\s+/);
    if (word === 'iface') {
      current = { name: rest[0] ?? '', attributes: {} };
      stanzas.set(current.name, current);
    } else if (word === 'auto') {
      current = undefined;
    } else if (current && word !== undefined) {
      const value = rest.join(' ');
      current.attributes[word] = word in current.attributes ? `${current.attributes[word]}\n${value}` : value;
    }
  }
  return stanzas;
}

/** What a fresh install writes: the loopback and eth0 on DHCP in the management VRF (Cumulus Linux 4 defaults). */
export const DEFAULT_INTERFACES = [
  '# This file describes the network interfaces available on your system',
  '# and how to activate them. For more information, see interfaces(5).',
  '',
  'source /etc/network/interfaces.d/*.intf',
  '',
  '# The loopback network interface',
  'auto lo',
  'iface lo inet loopback',
  '',
  '# The primary network interface',
  'auto eth0',
  'iface eth0 inet dhcp',
  '    vrf mgmt',
  '',
  'auto mgmt',
  'iface mgmt',
  '    address 127.0.0.1/8',
  '    address ::1/128',
  '    vrf-table auto',
  '',
].join('\n');

interface PortLink {
  ifname: string;
  alias: string;
}

/** The switch's own configuration, as the fabric was cabled and set up. */
export function planInterfaces(plan: SwitchPlan, uplinks: readonly PortLink[]): string {
  const lines = DEFAULT_INTERFACES.replace('iface lo inet loopback', `iface lo inet loopback\n    address ${plan.loopback}/32`).split('\n');
  const stanza = (name: string, attributes: string[]) => lines.push(`auto ${name}`, `iface ${name}`, ...attributes.map((a) => `    ${a}`), '');
  for (const port of uplinks) stanza(port.ifname, [`alias ${port.alias}`]);
  const { mlag, pair } = plan;
  if (plan.role === 'leaf' && pair !== undefined) {
    lines.splice(lines.indexOf(`    address ${plan.loopback}/32`) + 1, 0, `    vxlan-local-tunnelip ${plan.loopback}`, ...(mlag ? [`    clagd-vxlan-anycast-ip ${anycastIp(pair)}`] : []));
    for (const port of [1, 2]) {
      stanza(`bond${port}`, [`bond-slaves swp${port}`, ...(mlag ? [`clag-id ${port}`] : []), `bridge-access ${port * 10}`, 'mtu 9000']);
    }
    if (mlag) {
      stanza('peerlink', ['bond-slaves swp49 swp50']);
      stanza('peerlink.4094', [
        `address ${mlag.peerlinkIp}/30`,
        `clagd-peer-ip ${mlag.peerPeerlinkIp}`,
        `clagd-backup-ip ${mlag.backupIp} vrf mgmt`,
        `clagd-sys-mac ${mlag.sysmac}`,
        `clagd-priority ${mlag.role === 'primary' ? 1000 : 2000}`,
      ]);
    }
    for (const vlan of [10, 20]) stanza(`vni${vlan}`, [`vxlan-id ${vlan}`, `bridge-access ${vlan}`, 'bridge-learning off']);
    stanza('bridge', ['bridge-vlan-aware yes', `bridge-ports bond1 bond2${mlag ? ' peerlink' : ''} vni10 vni20`, 'bridge-vids 10 20']);
    for (const vlan of [10, 20]) {
      stanza(`vlan${vlan}`, [
        `address ${sviAddress(plan, vlan)}/24`,
        `address-virtual ${VRR_MAC} ${gatewayOf(pair, vlan)}/24`,
        `vlan-id ${vlan}`,
        'vlan-raw-device bridge',
      ]);
    }
  }
  return lines.join('\n');
}

/** VRR's virtual MAC, shared by both switches of an MLAG pair. */
export const VRR_MAC = '00:00:5e:00:01:01';

export function anycastIp(pair: number): string {
  return `10.0.1.${pair}`;
}

export function sviAddress(plan: SwitchPlan, vlan: number): string {
  return `10.${plan.pair}.${vlan}.${plan.index % 2 === 1 ? 2 : 3}`;
}

export function gatewayOf(pair: number, vlan: number): string {
  return `10.${pair}.${vlan}.1`;
}

// ---------------------------------------------------------------- FRR

export function defaultFrrConfig(): string {
  return ['frr version 7.4+cl4u1', 'frr defaults datacenter', 'hostname cumulus', 'log syslog informational', 'service integrated-vtysh-config', '!', 'line vty', '!', ''].join('\n');
}

export function frrDaemons(bgp: boolean, ospf: boolean): string {
  return [`zebra=yes`, `bgpd=${bgp ? 'yes' : 'no'}`, `ospfd=${ospf ? 'yes' : 'no'}`, 'ospf6d=no', 'ripd=no', 'isisd=no', 'staticd=no', 'vtysh_enable=yes', ''].join('\n');
}

export function planFrrConfig(plan: SwitchPlan, neighbours: readonly string[]): string {
  const lines = ['frr version 7.4+cl4u1', 'frr defaults datacenter', `hostname ${plan.name}`, 'log syslog informational', 'service integrated-vtysh-config', '!'];
  if (plan.mlag) lines.push('interface peerlink.4094', ' ip ospf area 0.0.0.0', ' ip ospf network point-to-point', '!');
  lines.push(`router bgp ${plan.asn}`, ` bgp router-id ${plan.loopback}`, ' bgp bestpath as-path multipath-relax');
  for (const ifname of neighbours) lines.push(` neighbor ${ifname} interface remote-as external`);
  lines.push(' !', ' address-family ipv4 unicast', `  network ${plan.loopback}/32`, ' exit-address-family', '!');
  if (plan.mlag) lines.push('router ospf', ` ospf router-id ${plan.loopback}`, '!');
  return `${lines.join('\n')}\nline vty\n!\n`;
}

/** The daemons FRR runs, from /etc/frr/daemons. */
export function parseDaemons(text: string | undefined): { bgp: boolean; ospf: boolean } {
  const on = (name: string) => new RegExp(`^${name}=yes\\s*$`, 'm').test(text ?? '');
  return { bgp: on('bgpd'), ospf: on('ospfd') };
}

/** The interfaces BGP unnumbered peers on, from frr.conf. */
export function parseBgpNeighbours(text: string | undefined): Set<string> {
  const found = new Set<string>();
  for (const match of (text ?? '').matchAll(/^\s*neighbor\s+(\S+)\s+interface\b/gm)) found.add(match[1] as string);
  return found;
}

// ---------------------------------------------------------------- tar archives

/**
 * The lab's `tar` writes its own archive format (a header line, then the entries as JSON), not a
 * real gzipped tar: what matters to the runbooks is that what was archived comes back, byte for byte.
 */
const ARCHIVE_HEADER = 'runbook-lab tar archive v1\n';

export interface ArchiveEntry {
  /** Without the leading `/`, as tar stores member names. */
  name: string;
  kind: 'file' | 'dir' | 'link';
  content?: string;
  target?: string;
}

export function writeArchive(entries: readonly ArchiveEntry[]): string {
  return `${ARCHIVE_HEADER}${JSON.stringify(entries)}\n`;
}

export function readArchive(text: string): ArchiveEntry[] | undefined {
  if (!text.startsWith(ARCHIVE_HEADER)) return undefined;
  try {
    const entries = JSON.parse(text.slice(ARCHIVE_HEADER.length)) as unknown;
    return Array.isArray(entries) ? (entries as ArchiveEntry[]) : undefined;
  } catch {
    return undefined;
  }
}

import type { Clock } from '../clock.js';

/**
 * The switch fabric as a whole: who is cabled to whom, and which BGP sessions are up. Each switch
 * renders its own view of it, so both ends of a link always agree.
 */

export const SPINE_ASN = 65199;

export interface MlagPlan {
  peer: string;
  role: 'primary' | 'secondary';
  sysmac: string;
  /** 169.254.1.1 (primary) or .2 on peerlink.4094. */
  peerlinkIp: string;
  peerPeerlinkIp: string;
  /** The peer's management address, which clagd checks over the mgmt VRF when the peer link fails. */
  backupIp: string;
}

export interface SwitchPlan {
  name: string;
  role: 'spine' | 'leaf';
  /** 1-based position within its role. */
  index: number;
  asn: number;
  loopback: string;
  mgmtIp: string;
  /** The MAC of the bridge, loopback and LLDP chassis id; ports derive theirs from it. */
  baseMac: string;
  /** 1-based MLAG pair of a leaf (leaf01/leaf02 are pair 1), also its server block. */
  pair?: number;
  mlag?: MlagPlan;
}

export interface LinkEnd {
  host: string;
  ifname: string;
}

export interface FabricLink {
  id: string;
  /** `uplink`: a leaf-spine BGP unnumbered link; `peerlink`: an MLAG peer link member. */
  kind: 'uplink' | 'peerlink';
  a: LinkEnd;
  b: LinkEnd;
}

export interface FabricPlan {
  switches: SwitchPlan[];
  links: FabricLink[];
}

export interface SwitchStatus {
  up: boolean;
  upSince: number;
  downSince: number | undefined;
  version: string;
  /** The running hostname, which LLDP and BGP tell the neighbours. */
  hostname: string;
  /** What LLDP says the switch runs (`Cumulus Linux version X running on MODEL`). */
  description: string;
  /** The port is configured (admin up); its link is up when the other end's is too. */
  portUp(ifname: string): boolean;
  /** FRR runs BGP with a neighbour on this port. */
  bgpOn(ifname: string): boolean;
  /** clagd runs with the MLAG configuration. */
  clag: boolean;
  /** FRR runs OSPF. */
  ospf: boolean;
  /** When the interface configuration or FRR last changed (configured, wiped, restarted). */
  configSince: number;
}

export interface SessionView {
  link: FabricLink;
  local: LinkEnd;
  remote: LinkEnd;
  established: boolean;
  /** Established since, or down since. */
  since: number;
}

export interface BgpRoute {
  prefix: string;
  nexthops: string[];
}

const MAX_SPINES = 8;
const MAX_LEAVES = 48;

export const switchName = (role: 'spine' | 'leaf', index: number): string => `${role}${String(index).padStart(2, '0')}`;

const hex2 = (value: number): string => value.toString(16).padStart(2, '0');

/** Spines x leaves full mesh of BGP unnumbered links; leaves paired for MLAG (01/02, 03/04...). */
export function planFabric(spines: number, leaves: number): FabricPlan {
  if (spines > MAX_SPINES || leaves > MAX_LEAVES) {
    throw new Error(`the lab fabric has at most ${MAX_SPINES} spines and ${MAX_LEAVES} leaves`);
  }
  const switches: SwitchPlan[] = [];
  const links: FabricLink[] = [];
  for (let index = 1; index <= spines; index++) {
    switches.push({
      name: switchName('spine', index),
      role: 'spine',
      index,
      asn: SPINE_ASN,
      loopback: `10.10.10.${100 + index}`,
      mgmtIp: `192.168.200.${20 + index}`,
      baseMac: `44:38:39:01:${hex2(index)}:00`,
    });
  }
  for (let index = 1; index <= leaves; index++) {
    const pair = Math.ceil(index / 2);
    const first = index % 2 === 1;
    const peerIndex = first ? index + 1 : index - 1;
    const hasPeer = peerIndex <= leaves;
    switches.push({
      name: switchName('leaf', index),
      role: 'leaf',
      index,
      asn: 65100 + index,
      loopback: `10.10.10.${index}`,
      mgmtIp: `192.168.200.${30 + index}`,
      baseMac: `44:38:39:02:${hex2(index)}:00`,
      pair,
      ...(hasPeer
        ? {
            mlag: {
              peer: switchName('leaf', peerIndex),
              role: first ? 'primary' : 'secondary',
              sysmac: `44:38:39:ff:00:${hex2(pair)}`,
              peerlinkIp: first ? '169.254.1.1' : '169.254.1.2',
              peerPeerlinkIp: first ? '169.254.1.2' : '169.254.1.1',
              backupIp: `192.168.200.${30 + peerIndex}`,
            },
          }
        : {}),
    });
    for (let spine = 1; spine <= spines; spine++) {
      const a = { host: switchName('spine', spine), ifname: `swp${index}` };
      const b = { host: switchName('leaf', index), ifname: `swp${50 + spine}` };
      links.push({ id: `${a.host}:${a.ifname}--${b.host}:${b.ifname}`, kind: 'uplink', a, b });
    }
    if (first && hasPeer) {
      for (const ifname of ['swp49', 'swp50']) {
        const a = { host: switchName('leaf', index), ifname };
        const b = { host: switchName('leaf', peerIndex), ifname };
        links.push({ id: `${a.host}:${ifname}--${b.host}:${ifname}`, kind: 'peerlink', a, b });
      }
    }
  }
  return { switches, links };
}

/** The MAC of a switch port: the switch's base MAC with the port number as last byte. */
export function portMac(plan: SwitchPlan, ifname: string): string {
  const port = /^swp(\d+)$/.exec(ifname)?.[1];
  return port === undefined ? plan.baseMac : `${plan.baseMac.slice(0, -2)}${hex2(Number(port))}`;
}

/** IPv6 link-local address of a MAC (modified EUI-64), as BGP unnumbered peers use. */
export function linkLocalOf(mac: string): string {
  const bytes = mac.split(':').map((part) => Number.parseInt(part, 16));
  bytes[0] = (bytes[0] as number) ^ 0x02;
  const eui = [...bytes.slice(0, 3), 0xff, 0xfe, ...bytes.slice(3)];
  const groups: string[] = [];
  for (let index = 0; index < eui.length; index += 2) {
    groups.push((((eui[index] as number) << 8) | (eui[index + 1] as number)).toString(16));
  }
  return `fe80::${groups.join(':')}`;
}

export class Fabric {
  private readonly statuses = new Map<string, () => SwitchStatus>();
  private readonly byName: Map<string, SwitchPlan>;
  /** Sessions held down by a `bgpSessionDrop` fault, by link id. */
  private readonly dropped = new Set<string>();
  /** When a dropped session was let up again, by link id. */
  private readonly restoredAt = new Map<string, number>();

  constructor(
    readonly plan: FabricPlan,
    private readonly clock: Clock,
  ) {
    this.byName = new Map(plan.switches.map((entry) => [entry.name, entry]));
  }

  register(name: string, status: () => SwitchStatus): void {
    this.statuses.set(name, status);
  }

  switchPlan(name: string): SwitchPlan | undefined {
    return this.byName.get(name);
  }

  status(name: string): SwitchStatus {
    const status = this.statuses.get(name);
    if (status === undefined) throw new Error(`switch ${name} is not part of the fabric`);
    return status();
  }

  /** The links of a switch, seen from that switch. */
  linksOf(name: string): Array<{ link: FabricLink; local: LinkEnd; remote: LinkEnd }> {
    return this.plan.links.flatMap((link) => {
      if (link.a.host === name) return [{ link, local: link.a, remote: link.b }];
      if (link.b.host === name) return [{ link, local: link.b, remote: link.a }];
      return [];
    });
  }

  /** Carrier on both ends: both switches up, and the port configured on both. */
  linkUp(link: FabricLink): boolean {
    const a = this.status(link.a.host);
    const b = this.status(link.b.host);
    return a.up && b.up && a.portUp(link.a.ifname) && b.portUp(link.b.ifname);
  }

  /** Since when the link has carrier, or lost it. */
  linkSince(link: FabricLink): number {
    const a = this.status(link.a.host);
    const b = this.status(link.b.host);
    if (a.up && b.up) return Math.max(a.upSince, b.upSince, a.configSince, b.configSince);
    return Math.max(a.downSince ?? 0, b.downSince ?? 0);
  }

  uplinkBetween(host: string, peer: string): FabricLink | undefined {
    return this.plan.links.find(
      (link) =>
        link.kind === 'uplink' &&
        ((link.a.host === host && link.b.host === peer) || (link.a.host === peer && link.b.host === host)),
    );
  }

  /** Holds the session between host and peer down; false when they have none. */
  dropSession(host: string, peer: string): boolean {
    const link = this.uplinkBetween(host, peer);
    if (link === undefined) return false;
    this.dropped.add(link.id);
    return true;
  }

  restoreSessions(host: string): void {
    for (const { link } of this.linksOf(host)) {
      if (this.dropped.delete(link.id)) this.restoredAt.set(link.id, this.clock.now());
    }
  }

  /**
   * BGP sessions of a switch: one per port FRR has a neighbour on (a session held down by a fault is
   * absent, as if unconfigured); established when the other end peers back over a link with carrier.
   */
  sessionsOf(name: string): SessionView[] {
    const own = this.status(name);
    return this.linksOf(name)
      .filter(({ link, local }) => link.kind === 'uplink' && !this.dropped.has(link.id) && own.up && own.bgpOn(local.ifname))
      .map(({ link, local, remote }) => {
        const established = this.linkUp(link) && this.status(remote.host).bgpOn(remote.ifname) && !this.dropped.has(link.id);
        const since = established ? Math.max(this.linkSince(link), this.restoredAt.get(link.id) ?? 0) : this.linkSince(link);
        return { link, local, remote, established, since };
      });
  }

  /** MLAG peers see each other over the peer link when both run clagd. */
  clagPeerAlive(name: string, peer: string): boolean {
    const peerlink = this.linksOf(name).filter(({ link, remote }) => link.kind === 'peerlink' && remote.host === peer);
    return this.status(name).clag && this.status(peer).clag && peerlink.some(({ link }) => this.linkUp(link));
  }

  /** eBGP best paths from a switch to every other loopback: shortest AS paths without a loop. */
  routesOf(name: string): BgpRoute[] {
    const routes: BgpRoute[] = [];
    for (const destination of this.plan.switches) {
      if (destination.name === name) continue;
      const paths = this.bestPaths(name, destination.name);
      if (paths.length === 0) continue;
      const nexthops = new Set<string>();
      for (const path of paths) {
        const session = this.sessionsOf(name).find((entry) => entry.remote.host === path[1]);
        if (session) nexthops.add(session.local.ifname);
      }
      routes.push({ prefix: destination.loopback, nexthops: [...nexthops].sort() });
    }
    return routes;
  }

  /** Prefixes `name` accepts from `peer`: the peer's loopback and its routes whose AS path spares ours. */
  prefixesFrom(name: string, peer: string): number {
    const own = this.byName.get(name) as SwitchPlan;
    let count = 1;
    for (const destination of this.plan.switches) {
      if (destination.name === name || destination.name === peer) continue;
      const paths = this.bestPaths(peer, destination.name);
      if (paths.some((path) => !path.some((hop) => this.byName.get(hop)?.asn === own.asn))) count++;
    }
    return count;
  }

  private neighbours(name: string): string[] {
    return this.sessionsOf(name)
      .filter((session) => session.established)
      .map((session) => session.remote.host);
  }

  private bestPaths(from: string, to: string): string[][] {
    if (!this.status(from).up || !this.status(to).up) return [];
    let best: string[][] = [];
    const walk = (path: string[], asns: Set<number>): void => {
      const here = path[path.length - 1] as string;
      if (here === to) {
        if (best.length === 0 || path.length < (best[0] as string[]).length) best = [path];
        else if (path.length === (best[0] as string[]).length) best.push(path);
        return;
      }
      if (best.length > 0 && path.length >= (best[0] as string[]).length) return;
      for (const next of this.neighbours(here)) {
        const asn = (this.byName.get(next) as SwitchPlan).asn;
        if (path.includes(next) || asns.has(asn)) continue;
        walk([...path, next], new Set([...asns, asn]));
      }
    };
    walk([from], new Set([(this.byName.get(from) as SwitchPlan).asn]));
    return best;
  }
}

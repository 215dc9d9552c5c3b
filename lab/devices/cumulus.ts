import type { DeviceEnv, SimulatedDevice } from '../device.js';
import { formatDaysClock, formatFrrUptime, stableNumber, toJson } from '../format.js';
import { EXIT_USAGE, type CommandContext, type CommandIo, type CommandTable } from '../shell.js';
import { VirtualFs } from '../vfs.js';
import { linkLocalOf, portMac, type Fabric, type SwitchPlan } from './fabric.js';
import { createLinuxCommands, homeOf, runLinuxLine } from './linux.js';

export interface CumulusOptions {
  version: string;
  /** Versions whose images are staged in /var/images as cumulus-linux-<v>.bin. */
  images: readonly string[];
  /** The BGP MD5 password the switch keeps in /etc/frr/bgp-password (readable by the lab user). */
  bgpPassword: string;
}

const IMAGE_NAME = /cumulus-linux-(\d+\.\d+\.\d+)[^/]*\.bin$/;
const BGP_KEEPALIVE_S = 3;
const OOB_SWITCH = 'oob-mgmt-switch';
const OOB_GATEWAY = '192.168.200.1';
const OOB_GATEWAY_MAC = '44:38:39:00:00:01';

interface Service {
  name: string;
  unit: string;
  vrf: string;
  description: string;
}

const SERVICES: readonly Service[] = [
  { name: 'frr', unit: 'frr.service', vrf: 'default', description: 'FRRouting' },
  { name: 'lldpd', unit: 'lldpd.service', vrf: 'default', description: 'LLDP daemon' },
  { name: 'switchd', unit: 'switchd.service', vrf: 'default', description: 'Cumulus Linux Switch Daemon' },
  { name: 'clagd', unit: 'clagd.service', vrf: 'default', description: 'Cumulus Linux Multi-chassis LAG Daemon' },
  { name: 'ssh', unit: 'ssh@mgmt.service', vrf: 'mgmt', description: 'OpenBSD Secure Shell server' },
  { name: 'ntp', unit: 'ntp@mgmt.service', vrf: 'mgmt', description: 'Network Time Service' },
];

interface Address {
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
  scope: 'host' | 'global' | 'link';
}

interface Neighbour {
  /** A lab switch, or a name outside the lab (servers, the out-of-band switch). */
  host: string;
  port: string;
  chassisId: string;
  descr: string;
  mgmtIp: string;
}

/** One interface as the switch sees it now. */
interface Interface {
  ifname: string;
  ifindex: number;
  kind: 'loopback' | 'ether' | 'bond' | 'bridge' | 'vlan' | 'vrf';
  mac: string;
  mtu: number;
  up: boolean;
  /** Since when it has been in its current state. */
  since: number;
  master?: string;
  /** The parent of a VLAN sub-interface. */
  link?: string;
  speed: string;
  mode: string;
  summary: string;
  addresses: Address[];
  neighbour?: Neighbour;
}

/** A Cumulus Linux switch: NCLU `net show ... json`, iproute2 JSON, ONIE installs, reboots. */
export class CumulusSwitch implements SimulatedDevice {
  readonly platform = 'cumulus';
  private version: string;
  /** The version ONIE installs on the next reboot. */
  private pendingVersion: string | undefined;
  private bootCount = 1;
  private readonly fs: VirtualFs;
  private readonly commands: CommandTable;
  private readonly bgpPassword: string;

  constructor(
    private readonly env: DeviceEnv,
    private readonly plan: SwitchPlan,
    private readonly fabric: Fabric,
    options: CumulusOptions,
  ) {
    this.version = options.version;
    this.bgpPassword = options.bgpPassword;
    this.fs = new VirtualFs(env.clock);
    this.fs.mkdir(homeOf(env.user));
    this.fs.mkdir('/var/backups');
    for (const version of options.images) {
      this.fs.writeFile(`/var/images/cumulus-linux-${version}.bin`, '', 700_000_000 + (stableNumber(version) % 100_000_000));
    }
    this.writeSystemFiles();
    fabric.register(plan.name, () => ({
      up: env.power.up,
      upSince: env.power.upSince,
      downSince: env.power.downSince,
      version: this.version,
    }));
    this.commands = {
      ...createLinuxCommands({
        fs: this.fs,
        clock: env.clock,
        hostname: () => plan.name,
        bootTime: () => env.power.upSince,
        disk: () => ({ filesystem: '/dev/vda4', mount: '/', totalKb: 6_061_632, availableKb: 3_214_848 }),
      }),
      tar: (context) => this.tar(context),
      'onie-install': (context) => this.onieInstall(context),
      reboot: () => this.reboot(),
      shutdown: ({ argv, io }) => {
        if (argv.includes('-r')) return this.reboot();
        io.err('shutdown: the lab only simulates `shutdown -r now`\n');
        return 1;
      },
      systemctl: (context) => this.systemctl(context),
      net: (context) => this.net(context),
      ip: (context) => this.ip(context),
      bridge: (context) => this.bridge(context),
    };
  }

  prompt(): string {
    return `${this.plan.name}# `;
  }

  run(line: string, user: string, io: CommandIo): Promise<number> {
    return runLinuxLine(line, this.commands, this.fs, user, io);
  }

  state(): Record<string, unknown> {
    return {
      hostname: this.plan.name,
      role: this.plan.role,
      version: this.version,
      pendingVersion: this.pendingVersion ?? null,
      bootCount: this.bootCount,
      images: this.fs.list('/var/images') ?? [],
      backups: this.fs.list('/var/backups') ?? [],
      bgpPeers: this.fabric.sessionsOf(this.plan.name).map((session) => ({
        ifname: session.local.ifname,
        peer: session.remote.host,
        established: session.established,
      })),
    };
  }

  faultsCleared(): void {
    this.fabric.restoreSessions(this.plan.name);
  }

  private boot(): void {
    if (this.pendingVersion !== undefined) this.version = this.pendingVersion;
    this.pendingVersion = undefined;
    this.bootCount++;
    this.writeSystemFiles();
    const drop = this.env.faults.find('bgpSessionDrop');
    if (drop) this.fabric.dropSession(this.plan.name, drop.peer);
  }

  private writeSystemFiles(): void {
    const description = `Cumulus Linux ${this.version}`;
    this.fs.writeFile(
      '/etc/lsb-release',
      `DISTRIB_ID="Cumulus Linux"\nDISTRIB_RELEASE=${this.version}\nDISTRIB_DESCRIPTION="${description}"\n`,
    );
    this.fs.writeFile(
      '/etc/os-release',
      `NAME="Cumulus Linux"\nVERSION_ID=${this.version}\nVERSION="${description}"\nPRETTY_NAME="${description}"\nID=cumulus-linux\nID_LIKE=debian\nHOME_URL="http://www.cumulusnetworks.com/"\n`,
    );
    this.fs.writeFile('/etc/hostname', `${this.plan.name}\n`);
    this.fs.writeFile('/etc/frr/frr.conf', this.frrConfig());
    // A secret on the device, for runbooks that read one (captures marked `secret: true`).
    this.fs.writeFile('/etc/frr/bgp-password', `${this.bgpPassword}\n`);
  }

  private frrConfig(): string {
    const lines = ['frr defaults datacenter', `hostname ${this.plan.name}`, 'log syslog informational', '!'];
    lines.push(`router bgp ${this.plan.asn}`, ` bgp router-id ${this.plan.loopback}`, ' bgp bestpath as-path multipath-relax');
    for (const { local } of this.fabric.linksOf(this.plan.name).filter(({ link }) => link.kind === 'uplink')) {
      lines.push(` neighbor ${local.ifname} interface remote-as external`);
    }
    lines.push(' !', ' address-family ipv4 unicast', `  network ${this.plan.loopback}/32`, ' exit-address-family', '!');
    return `${lines.join('\n')}\nline vty\n!\n`;
  }

  private reboot(): number {
    this.env.power.reboot({ onUp: () => this.boot() });
    return 0;
  }

  private onieInstall({ argv, io, user }: CommandContext): number {
    const activate = argv.slice(1).some((arg) => /^-[a-z]*a[a-z]*$/.test(arg));
    const imageIndex = argv.indexOf('-i');
    const image = imageIndex > 0 ? argv[imageIndex + 1] : undefined;
    if (image === undefined) {
      io.err('onie-install: ERROR: an image is required: onie-install -a -i <image>\n');
      return 1;
    }
    if (/^[a-z]+:\/\//.test(image)) {
      io.err(`onie-install: ERROR: unable to fetch ${image}: the lab has no network; use an image in /var/images\n`);
      return 1;
    }
    const path = VirtualFs.normalize(image, homeOf(user));
    const version = IMAGE_NAME.exec(path)?.[1];
    if (this.fs.stat(path)?.kind !== 'file') {
      io.err(`onie-install: ERROR: image file not found: ${image}\n`);
      return 1;
    }
    if (version === undefined) {
      io.err(`onie-install: ERROR: ${image} is not a Cumulus Linux installer image\n`);
      return 1;
    }
    io.out(`Fetching installer: ${path}\n`);
    const failure = this.env.faults.take('installFails');
    if (failure) {
      io.err(`onie-install: ERROR: ${failure.message ?? `image verification failed: ${path}: checksum mismatch`}\n`);
      return 1;
    }
    io.out('Verifying image checksum ... OK.\nPreparing image archive ... OK.\n');
    if (!activate) {
      io.out('Image staged; run "onie-select -i" to activate ONIE install mode.\n');
      return 0;
    }
    this.pendingVersion = version;
    io.out(`Updating ONIE install mode: install\nCumulus Linux ${version} will be installed on the next reboot.\n`);
    return 0;
  }

  private tar({ argv, io, user }: CommandContext): number {
    const mode = (argv[1] ?? '').replace(/^-/, '');
    if (!mode.includes('c') || !mode.includes('f')) {
      io.err('tar: the lab only creates archives: tar czf FILE PATH...\n');
      return EXIT_USAGE;
    }
    const file = argv[2];
    const paths = argv.slice(3);
    if (file === undefined || paths.length === 0) {
      io.err('tar: Cowardly refusing to create an empty archive\n');
      return EXIT_USAGE;
    }
    const missing = paths.filter((path) => this.fs.stat(VirtualFs.normalize(path, homeOf(user))) === undefined);
    if (paths.some((path) => path.startsWith('/'))) io.err("tar: Removing leading `/' from member names\n");
    if (missing.length > 0) {
      for (const path of missing) io.err(`tar: ${path}: Cannot stat: No such file or directory\n`);
      io.err('tar: Exiting with failure status due to previous errors\n');
      return EXIT_USAGE;
    }
    const target = VirtualFs.normalize(file, homeOf(user));
    if (this.fs.stat(VirtualFs.normalize('..', target))?.kind !== 'dir') {
      io.err(`tar: ${file}: Cannot open: No such file or directory\n`);
      return EXIT_USAGE;
    }
    this.fs.writeFile(target, `tar archive of ${paths.join(' ')}\n`, 40_960 + (stableNumber(target) % 20_000));
    return 0;
  }

  private systemctl({ argv, io }: CommandContext): number {
    const verb = argv[1];
    if (verb === 'is-active') {
      const names = argv.slice(2).filter((arg) => !arg.startsWith('-'));
      if (names.length === 0) {
        io.err('Too few arguments.\n');
        return 1;
      }
      const states = names.map((name) => {
        const service = this.findService(name);
        return service && this.serviceActive(service) ? 'active' : 'inactive';
      });
      io.out(states.map((state) => `${state}\n`).join(''));
      return states.every((state) => state === 'active') ? 0 : 3;
    }
    if (verb === 'list-units') {
      if (!argv.some((arg) => arg === '--output=json' || arg === '-o' || arg === 'json')) {
        io.err('systemctl: the lab only simulates `systemctl list-units --output=json`\n');
        return 1;
      }
      const all = argv.includes('--all') || argv.includes('-a');
      const units = SERVICES.filter((service) => all || this.serviceActive(service)).map((service) => {
        const active = this.serviceActive(service);
        return {
          unit: service.unit,
          load: 'loaded',
          active: active ? 'active' : 'inactive',
          sub: active ? 'running' : 'dead',
          description: service.description,
        };
      });
      io.out(`${JSON.stringify(units)}\n`);
      return 0;
    }
    if (verb === 'reboot') return this.reboot();
    io.err(`Unknown command verb ${verb ?? ''}.\n`);
    return 1;
  }

  private findService(name: string): Service | undefined {
    const bare = name.replace(/\.service$/, '');
    return SERVICES.find((service) => service.name === bare || service.unit === `${bare}.service`);
  }

  private serviceActive(service: Service): boolean {
    return service.name !== 'clagd' || this.plan.mlag !== undefined;
  }

  private net({ argv, io }: CommandContext): number {
    const words = argv.slice(1);
    const topic = words.join(' ');
    if (topic === 'show version') {
      io.out(`NCLU_VERSION=1.0-cl${this.version}u1\nDISTRIB_ID="Cumulus Linux"\nDISTRIB_RELEASE=${this.version}\nDISTRIB_DESCRIPTION="Cumulus Linux ${this.version}"\n`);
      return 0;
    }
    const views: Record<string, () => unknown> = {
      'show bgp summary': () => this.bgpSummary(),
      'show clag': () => this.clag(),
      'show interface': () => this.interfaceView(),
      'show interface all': () => this.interfaceView(),
      'show lldp': () => this.lldp(),
      'show ospf neighbor': () => this.ospfNeighbours(),
      'show system': () => this.system(),
      'show system sensors': () => this.sensors(),
      'show system services': () => this.services(),
    };
    const json = words[words.length - 1] === 'json';
    const view = views[words.slice(0, json ? -1 : undefined).join(' ')];
    if (view === undefined) {
      io.err(`ERROR: Command not found.\n\n    net ${topic}\n`);
      return 1;
    }
    if (!json) {
      io.err(`ERROR: the lab answers only the JSON form: net ${topic} json\n`);
      return 1;
    }
    io.out(toJson(view()));
    return 0;
  }

  private ip({ argv, io }: CommandContext): number {
    let json = false;
    let details = false;
    let index = 1;
    for (; index < argv.length && (argv[index] as string).startsWith('-'); index++) {
      const flag = argv[index] as string;
      if (['-j', '-json', '--json'].includes(flag)) json = true;
      else if (['-d', '-details', '--details'].includes(flag)) details = true;
    }
    const object = argv[index] ?? '';
    const rest = argv.slice(index + 1);
    if (rest[0] !== undefined && !['show', 'list', 'ls', 'lst'].includes(rest[0])) {
      io.err(`Command "${rest[0]}" is unknown, try "ip ${object} help".\n`);
      return 255;
    }
    const filters = rest.slice(1);
    if (!json) {
      io.err('ip: the lab answers only the JSON form (ip -j ...)\n');
      return 1;
    }
    const kind = ['a', 'ad', 'addr', 'address'].includes(object)
      ? 'addr'
      : ['l', 'li', 'link'].includes(object)
        ? 'link'
        : ['n', 'ne', 'neigh', 'neighbor', 'neighbour'].includes(object)
          ? 'neigh'
          : ['r', 'ro', 'route'].includes(object)
            ? 'route'
            : undefined;
    if (kind === undefined) {
      io.err(`Object "${object}" is unknown, try "ip help".\n`);
      return 255;
    }
    if (kind === 'route') {
      const vrfIndex = filters.findIndex((word) => word === 'vrf' || word === 'table');
      io.out(`${JSON.stringify(this.routes(vrfIndex >= 0 ? (filters[vrfIndex + 1] ?? '') : 'default'))}\n`);
      return 0;
    }
    const device = filters[0] === 'dev' ? filters[1] : filters[0];
    const interfaces = this.interfaces();
    if (device !== undefined && !interfaces.some((entry) => entry.ifname === device)) {
      io.err(`Device "${device}" does not exist.\n`);
      return 1;
    }
    const selected = interfaces.filter((entry) => device === undefined || entry.ifname === device);
    const answer =
      kind === 'neigh'
        ? this.neighbours().filter((entry) => device === undefined || entry.dev === device)
        : selected.map((entry) => this.iprouteLink(entry, details, kind === 'addr'));
    io.out(`${JSON.stringify(answer)}\n`);
    return 0;
  }

  private bridge({ argv, io }: CommandContext): number {
    const json = argv.some((arg) => ['-j', '-json', '--json'].includes(arg));
    const words = argv.slice(1).filter((arg) => !arg.startsWith('-'));
    if (words[0] !== 'fdb' || (words[1] !== undefined && words[1] !== 'show')) {
      io.err('bridge: the lab only simulates `bridge -j fdb show`\n');
      return 1;
    }
    if (!json) {
      io.err('bridge: the lab answers only the JSON form (bridge -j fdb show)\n');
      return 1;
    }
    io.out(`${JSON.stringify(this.macTable())}\n`);
    return 0;
  }

  // ---- the switch's view of the fabric ----

  private now(): number {
    return this.env.clock.now();
  }

  private peerDescription(host: string): string {
    return `Cumulus Linux version ${this.fabric.status(host).version} running on QEMU Standard PC (i440FX + PIIX, 1996)`;
  }

  private serverName(number: number): string {
    return `server${String(number).padStart(2, '0')}`;
  }

  private serverMac(number: number): string {
    return `52:54:00:11:00:${number.toString(16).padStart(2, '0')}`;
  }

  private interfaces(): Interface[] {
    const { plan } = this;
    const bootTime = this.env.power.upSince;
    const list: Interface[] = [];
    const add = (entry: Omit<Interface, 'ifindex'>): void => {
      list.push({ ...entry, ifindex: list.length + 1 });
    };
    add({
      ifname: 'lo',
      kind: 'loopback',
      mac: '00:00:00:00:00:00',
      mtu: 65536,
      up: true,
      since: bootTime,
      speed: 'N/A',
      mode: 'Loopback',
      summary: `IP: 127.0.0.1/8, ${plan.loopback}/32`,
      addresses: [
        { family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' },
        { family: 'inet', local: plan.loopback, prefixlen: 32, scope: 'global' },
        { family: 'inet6', local: '::1', prefixlen: 128, scope: 'host' },
      ],
    });
    add({
      ifname: 'eth0',
      kind: 'ether',
      mac: `${plan.baseMac.slice(0, -2)}ff`,
      mtu: 1500,
      up: true,
      since: bootTime,
      master: 'mgmt',
      speed: '1G',
      mode: 'Mgmt',
      summary: `Master: mgmt(UP), IP: ${plan.mgmtIp}/24`,
      addresses: [{ family: 'inet', local: plan.mgmtIp, prefixlen: 24, scope: 'global' }],
      neighbour: {
        host: OOB_SWITCH,
        port: `swp${plan.role === 'spine' ? plan.index : 10 + plan.index}`,
        chassisId: OOB_GATEWAY_MAC,
        descr: 'Cumulus Linux version 4.3.0 running on Mellanox SN2010',
        mgmtIp: OOB_GATEWAY,
      },
    });
    add({ ifname: 'mgmt', kind: 'vrf', mac: plan.baseMac, mtu: 65536, up: true, since: bootTime, speed: 'N/A', mode: 'VRF', summary: 'IP: 127.0.0.1/8', addresses: [] });

    const fabricPorts = this.fabric.linksOf(plan.name).map(({ link, local, remote }) => {
      const up = this.fabric.linkUp(link);
      const remotePlan = this.fabric.switchPlan(remote.host) as SwitchPlan;
      const peerlink = link.kind === 'peerlink';
      const entry: Omit<Interface, 'ifindex'> = {
        ifname: local.ifname,
        kind: 'ether',
        mac: portMac(plan, local.ifname),
        mtu: 9216,
        up,
        since: this.fabric.linkSince(link),
        speed: '1G',
        mode: peerlink ? 'BondMember' : 'BGPUnnumbered',
        summary: peerlink ? `Master: peerlink(${up ? 'UP' : 'DN'})` : `BGP peer: ${remote.host} ${remote.ifname}`,
        addresses: !peerlink && up ? [{ family: 'inet6', local: linkLocalOf(portMac(plan, local.ifname)), prefixlen: 64, scope: 'link' }] : [],
        ...(peerlink ? { master: 'peerlink' } : {}),
        ...(up
          ? {
              neighbour: {
                host: remote.host,
                port: remote.ifname,
                chassisId: remotePlan.baseMac,
                descr: this.peerDescription(remote.host),
                mgmtIp: remotePlan.mgmtIp,
              },
            }
          : {}),
      };
      return entry;
    });
    const serverPorts: Array<Omit<Interface, 'ifindex'>> = [];
    if (plan.role === 'leaf' && plan.pair !== undefined) {
      const pair = plan.pair;
      for (const port of [1, 2]) {
        const server = 2 * (pair - 1) + port;
        serverPorts.push({
          ifname: `swp${port}`,
          kind: 'ether',
          mac: portMac(plan, `swp${port}`),
          mtu: 9000,
          up: true,
          since: bootTime,
          master: `bond${port}`,
          speed: '1G',
          mode: 'BondMember',
          summary: `Master: bond${port}(UP)`,
          addresses: [],
          neighbour: {
            host: this.serverName(server),
            port: plan.index % 2 === 1 ? 'eth1' : 'eth2',
            chassisId: this.serverMac(server),
            descr: 'Ubuntu 20.04 LTS Linux 5.4.0-42-generic #46-Ubuntu SMP x86_64',
            mgmtIp: `192.168.200.${100 + server}`,
          },
        });
      }
    }
    for (const port of [...serverPorts, ...fabricPorts].sort((a, b) => portNumber(a.ifname) - portNumber(b.ifname))) add(port);

    if (plan.role === 'leaf' && plan.pair !== undefined) {
      const pair = plan.pair;
      for (const port of [1, 2]) {
        add({
          ifname: `bond${port}`,
          kind: 'bond',
          mac: portMac(plan, `swp${port}`),
          mtu: 9000,
          up: true,
          since: bootTime,
          master: 'bridge',
          speed: '1G',
          mode: '802.3ad',
          summary: `Master: bridge(UP), clag-id: ${port}`,
          addresses: [],
        });
      }
      const peerlinkMembers = fabricPorts.filter((port) => port.master === 'peerlink');
      if (plan.mlag) {
        const up = peerlinkMembers.some((port) => port.up);
        const since = Math.max(...peerlinkMembers.map((port) => port.since));
        add({ ifname: 'peerlink', kind: 'bond', mac: portMac(plan, 'swp49'), mtu: 9216, up, since, master: 'bridge', speed: '2G', mode: '802.3ad', summary: `Master: bridge(UP)`, addresses: [] });
        add({
          ifname: 'peerlink.4094',
          kind: 'vlan',
          mac: portMac(plan, 'swp49'),
          mtu: 9216,
          up,
          since,
          link: 'peerlink',
          speed: '2G',
          mode: 'SubInt/L3',
          summary: `IP: ${plan.mlag.peerlinkIp}/30`,
          addresses: [{ family: 'inet', local: plan.mlag.peerlinkIp, prefixlen: 30, scope: 'global' }],
        });
      }
      add({ ifname: 'bridge', kind: 'bridge', mac: plan.baseMac, mtu: 9216, up: true, since: bootTime, speed: 'N/A', mode: 'Bridge/L2', summary: 'Untagged: bond1, bond2', addresses: [] });
      for (const vlan of [10, 20]) {
        const address = `10.${pair}.${vlan}.${plan.index % 2 === 1 ? 2 : 3}`;
        add({
          ifname: `vlan${vlan}`,
          kind: 'vlan',
          mac: plan.baseMac,
          mtu: 9216,
          up: true,
          since: bootTime,
          link: 'bridge',
          speed: 'N/A',
          mode: 'Interface/L3',
          summary: `IP: ${address}/24`,
          addresses: [{ family: 'inet', local: address, prefixlen: 24, scope: 'global' }],
        });
      }
    }
    return list;
  }

  private counters(entry: Interface): Record<string, number> {
    const seconds = entry.up ? Math.floor((this.now() - Math.max(entry.since, this.env.power.upSince)) / 1000) : 0;
    const rate = 20 + (stableNumber(`${this.plan.name}:${entry.ifname}`) % 60);
    return {
      RX_OK: seconds * rate,
      RX_ERR: 0,
      RX_DRP: Math.floor(seconds / 3600),
      RX_OVR: 0,
      TX_OK: seconds * (rate + 7),
      TX_ERR: 0,
      TX_DRP: 0,
      TX_OVR: 0,
    };
  }

  private interfaceView(): Record<string, unknown> {
    const view: Record<string, unknown> = {};
    for (const entry of this.interfaces()) {
      view[entry.ifname] = {
        linkstate: entry.up ? 'UP' : 'DN',
        mode: entry.mode,
        speed: entry.speed,
        mtu: entry.mtu,
        mac: entry.mac,
        summary: entry.summary,
        iface_obj: {
          counters: this.counters(entry),
          lldp: entry.neighbour ? [{ adj_hostname: entry.neighbour.host, adj_port: entry.neighbour.port }] : [],
          ip_address: entry.addresses.filter((address) => address.family === 'inet').map((address) => `${address.local}/${address.prefixlen}`),
          ...(entry.master ? { master: entry.master } : {}),
        },
      };
    }
    return view;
  }

  private iprouteLink(entry: Interface, details: boolean, withAddresses: boolean): Record<string, unknown> {
    const flags =
      entry.kind === 'loopback'
        ? ['LOOPBACK', 'UP', 'LOWER_UP']
        : ['BROADCAST', 'MULTICAST', ...(entry.kind === 'bond' ? ['MASTER'] : []), 'UP', ...(entry.up ? ['LOWER_UP'] : [])];
    const link: Record<string, unknown> = {
      ifindex: entry.ifindex,
      ...(entry.link ? { link: entry.link } : {}),
      ifname: entry.ifname,
      flags,
      mtu: entry.mtu,
      qdisc: entry.kind === 'ether' ? 'pfifo_fast' : 'noqueue',
      ...(entry.master ? { master: entry.master } : {}),
      operstate: entry.kind === 'loopback' ? 'UNKNOWN' : entry.up ? 'UP' : 'DOWN',
      group: 'default',
      txqlen: 1000,
      link_type: entry.kind === 'loopback' ? 'loopback' : 'ether',
      address: entry.mac,
      broadcast: entry.kind === 'loopback' ? '00:00:00:00:00:00' : 'ff:ff:ff:ff:ff:ff',
    };
    if (details && entry.kind !== 'ether' && entry.kind !== 'loopback') {
      link.linkinfo = { info_kind: entry.kind };
    }
    if (withAddresses) {
      link.addr_info = entry.addresses.map((address) => ({
        family: address.family,
        local: address.local,
        prefixlen: address.prefixlen,
        scope: address.scope,
        ...(address.family === 'inet' && address.scope !== 'link' ? { label: entry.ifname } : {}),
        valid_life_time: 4294967295,
        preferred_life_time: 4294967295,
      }));
    }
    return link;
  }

  private bgpSummary(): Record<string, unknown> {
    const { plan } = this;
    const now = this.now();
    const sessions = this.fabric.sessionsOf(plan.name);
    const peers: Record<string, unknown> = {};
    for (const session of sessions) {
      const remote = this.fabric.switchPlan(session.remote.host) as SwitchPlan;
      const elapsed = now - session.since;
      const messages = 5 + Math.floor(elapsed / 1000 / BGP_KEEPALIVE_S);
      peers[session.local.ifname] = {
        hostname: remote.name,
        remoteAs: remote.asn,
        localAs: plan.asn,
        version: 4,
        msgRcvd: session.established ? messages : 0,
        msgSent: session.established ? messages + 1 : 0,
        tableVersion: 0,
        outq: 0,
        inq: 0,
        peerUptime: formatFrrUptime(elapsed),
        peerUptimeMsec: elapsed,
        ...(session.established
          ? {
              peerUptimeEstablishedEpoch: Math.floor(session.since / 1000),
              pfxRcd: this.fabric.prefixesFrom(plan.name, remote.name),
              pfxSnt: this.fabric.prefixesFrom(remote.name, plan.name),
            }
          : {}),
        state: session.established ? 'Established' : 'Active',
        idType: 'interface',
      };
    }
    const routes = this.fabric.routesOf(plan.name).length + 1;
    return {
      ipv4Unicast: {
        routerId: plan.loopback,
        as: plan.asn,
        vrfId: 0,
        vrfName: 'default',
        tableVersion: routes + this.bootCount,
        ribCount: routes,
        ribMemory: routes * 184,
        peerCount: sessions.length,
        peerMemory: sessions.length * 1_024_264,
        peers,
        failedPeers: sessions.filter((session) => !session.established).length,
        displayedPeers: sessions.length,
        totalPeers: sessions.length,
        dynamicPeers: 0,
        bestPath: { multiPathRelax: 'true' },
      },
    };
  }

  private clag(): Record<string, unknown> {
    const { mlag } = this.plan;
    if (mlag === undefined) return { clagIntfs: {}, status: {} };
    const peer = this.fabric.switchPlan(mlag.peer) as SwitchPlan;
    const peerAlive = this.fabric.status(mlag.peer).up;
    const peerRole = mlag.role === 'primary' ? 'secondary' : 'primary';
    const priority = (role: string): number => (role === 'primary' ? 1000 : 2000);
    return {
      clagIntfs: Object.fromEntries(
        [1, 2].map((port) => [
          `bond${port}`,
          { clagId: port, operstate: 'up', status: peerAlive ? 'dual' : 'single', ...(peerAlive ? { peerIf: `bond${port}` } : {}) },
        ]),
      ),
      status: {
        backupActive: peerAlive,
        backupIp: peer.loopback,
        backupReason: '',
        backupVrf: 'mgmt',
        linklocal: true,
        ourId: this.plan.baseMac,
        ourPriority: priority(mlag.role),
        ourRole: mlag.role,
        peer: peer.name,
        peerAlive,
        peerId: peerAlive ? peer.baseMac : '00:00:00:00:00:00',
        peerIf: 'peerlink.4094',
        peerIp: mlag.peerPeerlinkIp,
        peerPresent: peerAlive,
        peerPriority: peerAlive ? priority(peerRole) : 0,
        peerRole: peerAlive ? peerRole : 'unknown',
        sysMac: mlag.sysmac,
        vxlanAnycast: 'None',
      },
    };
  }

  private lldp(): Record<string, unknown> {
    const now = this.now();
    const neighbours = this.interfaces().flatMap((entry) => {
      const neighbour = entry.neighbour;
      if (neighbour === undefined || !entry.up) return [];
      return [
        {
          name: entry.ifname,
          via: 'LLDP',
          rid: '1',
          age: formatDaysClock(now - Math.max(entry.since, this.env.power.upSince)).replace('days', 'day'),
          chassis: {
            name: neighbour.host,
            id: { type: 'mac', value: neighbour.chassisId },
            descr: neighbour.descr,
            'mgmt-ip': neighbour.mgmtIp,
          },
          port: { id: { type: 'ifname', value: neighbour.port }, descr: neighbour.port, ttl: '120' },
        },
      ];
    });
    return { lldp: { interface: neighbours } };
  }

  private ospfNeighbours(): Record<string, unknown> {
    const { mlag } = this.plan;
    const neighbours: Record<string, unknown> = {};
    const peerlink = this.interfaces().find((entry) => entry.ifname === 'peerlink.4094');
    if (mlag && peerlink?.up) {
      const peer = this.fabric.switchPlan(mlag.peer) as SwitchPlan;
      const upTime = this.now() - Math.max(peerlink.since, this.env.power.upSince);
      neighbours[peer.loopback] = [
        {
          priority: 1,
          state: 'Full/-',
          area: '0.0.0.0',
          upTimeInMsec: upTime,
          deadTimeMsecs: 40_000 - (upTime % 10_000),
          address: mlag.peerPeerlinkIp,
          ifaceName: 'peerlink.4094',
          ifaceAddress: mlag.peerlinkIp,
          retransmitCounter: 0,
          requestCounter: 0,
          dbSummaryCounter: 0,
        },
      ];
    }
    return { neighbors: neighbours };
  }

  private system(): Record<string, unknown> {
    const uptime = this.now() - this.env.power.upSince;
    return {
      hostname: this.plan.name,
      version: this.version,
      os: 'Cumulus Linux',
      build: `Cumulus Linux ${this.version}`,
      platform: 'x86_64-cumulus_vx-r0',
      vendor: 'Cumulus',
      model: 'VX',
      serial: `VX${(stableNumber(this.plan.name) % 1_000_000).toString().padStart(6, '0')}`,
      baseMac: this.plan.baseMac,
      cpu: 'x86_64 QEMU Virtual CPU version 2.5+ x1',
      memoryKb: 1_945_736,
      uptime: formatDaysClock(uptime),
      uptimeSeconds: Math.floor(uptime / 1000),
      bootTime: new Date(this.env.power.upSince).toISOString(),
    };
  }

  private sensors(): Array<Record<string, unknown>> {
    const seed = stableNumber(this.plan.name);
    // Readings move a little from one boot to the next, as real ones do.
    const drift = (this.bootCount % 3) * 0.5;
    const temp = (index: number, description: string, base: number): Record<string, unknown> => ({
      name: `Temp${index}`,
      type: 'temp',
      description,
      state: 'OK',
      input: base + ((seed >> index) % 5) + drift,
      min: 5,
      max: 80,
      crit: 85,
    });
    const fan = (index: number): Record<string, unknown> => ({
      name: `Fan${index}`,
      type: 'fan',
      description: `Fan Tray ${index}`,
      state: 'OK',
      input: 6000 + ((seed >> index) % 800) + drift * 100,
      min: 2500,
      max: 29000,
    });
    const psu = (index: number): Record<string, unknown> => ({ name: `PSU${index}`, type: 'power', description: `PSU${index}`, state: 'OK' });
    return [temp(1, 'Board Sensor near CPU', 38), temp(2, 'Board Sensor Near Virtual Switch', 30), fan(1), fan(2), psu(1), psu(2)];
  }

  private services(): Array<Record<string, unknown>> {
    const uptime = Math.floor((this.now() - this.env.power.upSince) / 1000);
    return SERVICES.map((service) => {
      const active = this.serviceActive(service);
      return {
        name: service.name,
        vrf: service.vrf,
        enabled: active,
        active,
        status: active ? 'ok' : 'inactive',
        uptime: active ? uptime : 0,
      };
    });
  }

  private routes(vrf: string): Array<Record<string, unknown>> {
    if (vrf === 'mgmt') {
      return [
        { type: 'unreachable', dst: 'default', flags: [], metric: 4278198272 },
        { dst: 'default', gateway: OOB_GATEWAY, dev: 'eth0', flags: [] },
        { dst: '192.168.200.0/24', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: this.plan.mgmtIp, flags: [] },
      ];
    }
    if (vrf !== 'default' && vrf !== 'main') return [];
    const bgp = this.fabric.routesOf(this.plan.name).map((route) => {
      const [first, ...others] = route.nexthops;
      if (others.length === 0) {
        return { dst: route.prefix, gateway: '169.254.0.1', dev: first, protocol: 'bgp', metric: 20, flags: ['onlink'] };
      }
      return {
        dst: route.prefix,
        protocol: 'bgp',
        metric: 20,
        flags: [],
        nexthops: route.nexthops.map((dev) => ({ gateway: '169.254.0.1', dev, weight: 1, flags: ['onlink'] })),
      };
    });
    const connected = this.interfaces()
      .filter((entry) => entry.up && entry.master !== 'mgmt' && entry.kind !== 'loopback')
      .flatMap((entry) =>
        entry.addresses
          .filter((address) => address.family === 'inet' && address.prefixlen < 32)
          .map((address) => ({
            dst: networkOf(address.local, address.prefixlen),
            dev: entry.ifname,
            protocol: 'kernel',
            scope: 'link',
            prefsrc: address.local,
            flags: [],
          })),
      );
    return [...bgp, ...connected];
  }

  private neighbours(): Array<Record<string, unknown>> {
    const list: Array<Record<string, unknown>> = [
      { dst: OOB_GATEWAY, dev: 'eth0', lladdr: OOB_GATEWAY_MAC, state: ['REACHABLE'] },
    ];
    for (const session of this.fabric.sessionsOf(this.plan.name)) {
      if (!this.fabric.linkUp(session.link)) continue;
      const peerMac = portMac(this.fabric.switchPlan(session.remote.host) as SwitchPlan, session.remote.ifname);
      list.push({ dst: '169.254.0.1', dev: session.local.ifname, lladdr: peerMac, state: ['PERMANENT'] });
      list.push({ dst: linkLocalOf(peerMac), dev: session.local.ifname, lladdr: peerMac, router: null, state: ['REACHABLE'] });
    }
    const { mlag, pair } = this.plan;
    if (mlag && this.fabric.status(mlag.peer).up) {
      const peer = this.fabric.switchPlan(mlag.peer) as SwitchPlan;
      list.push({ dst: mlag.peerPeerlinkIp, dev: 'peerlink.4094', lladdr: portMac(peer, 'swp49'), state: ['REACHABLE'] });
    }
    if (pair !== undefined) {
      for (const [port, vlan] of [
        [1, 10],
        [2, 20],
      ] as const) {
        const server = 2 * (pair - 1) + port;
        list.push({ dst: `10.${pair}.${vlan}.101`, dev: `vlan${vlan}`, lladdr: this.serverMac(server), state: ['REACHABLE'] });
      }
    }
    return list;
  }

  private macTable(): Array<Record<string, unknown>> {
    const { pair, mlag } = this.plan;
    if (pair === undefined) return [];
    const entries: Array<Record<string, unknown>> = [];
    for (const [port, vlan] of [
      [1, 10],
      [2, 20],
    ] as const) {
      entries.push({ mac: this.serverMac(2 * (pair - 1) + port), ifname: `bond${port}`, vlan, flags: [], master: 'bridge', state: '' });
    }
    if (mlag && this.fabric.status(mlag.peer).up) {
      const peer = this.fabric.switchPlan(mlag.peer) as SwitchPlan;
      for (const vlan of [10, 20]) entries.push({ mac: peer.baseMac, ifname: 'peerlink', vlan, flags: [], master: 'bridge', state: '' });
    }
    for (const vlan of [10, 20]) {
      entries.push({ mac: this.plan.baseMac, ifname: 'bridge', vlan, flags: [], master: 'bridge', state: 'permanent' });
    }
    return entries;
  }
}

function portNumber(ifname: string): number {
  return Number(/\d+$/.exec(ifname)?.[0] ?? 0);
}

function networkOf(address: string, prefixlen: number): string {
  const value = address.split('.').reduce((sum, part) => sum * 256 + Number(part), 0);
  const mask = prefixlen === 0 ? 0 : (0xffffffff << (32 - prefixlen)) >>> 0;
  const network = (value & mask) >>> 0;
  return `${[24, 16, 8, 0].map((shift) => (network >>> shift) & 0xff).join('.')}/${prefixlen}`;
}

import { posix } from 'node:path';
import type { DeviceEnv, SimulatedDevice } from '../device.js';
import { formatDaysClock, formatFrrUptime, stableNumber, toJson } from '../format.js';
import { EXIT_USAGE, type CommandContext, type CommandIo, type CommandTable } from '../shell.js';
import { VirtualFs } from '../vfs.js';
import {
  CUMULUS_PLATFORMS,
  DEFAULT_INTERFACES,
  FRR_ENABLED_LINK,
  IMAGE_STORE_URL,
  VRR_MAC,
  anycastIp,
  defaultFrrConfig,
  frrDaemons,
  gatewayOf,
  parseBgpNeighbours,
  parseDaemons,
  parseImageName,
  parseInterfaces,
  planFrrConfig,
  planInterfaces,
  readArchive,
  sviAddress,
  writeArchive,
  type ArchiveEntry,
  type CumulusPlatform,
  type CumulusPlatformName,
  type Stanza,
} from './cumulus-config.js';
import { linkLocalOf, portMac, type Fabric, type SwitchPlan } from './fabric.js';
import { createLinuxCommands, homeOf, runLinuxLine } from './linux.js';

export interface CumulusOptions {
  version: string;
  /**
   * The lab's image repository (`http://192.168.200.1/images/`): a version stands for its image on
   * every platform, a file name (`cumulus-linux-4.4.0-mlx-amd64.bin`) for that image alone.
   */
  images: readonly string[];
  /** The BGP MD5 password the switch keeps in /etc/frr/bgp-password (readable by the lab user). */
  bgpPassword: string;
  /** Platform per switch name; spines are `mlx-amd64`, leaves `bcm-amd64` unless given here. */
  platforms?: Readonly<Record<string, CumulusPlatformName>>;
}

const BGP_KEEPALIVE_S = 3;
const OOB_SWITCH = 'oob-mgmt-switch';
const OOB_GATEWAY = '192.168.200.1';
const OOB_GATEWAY_MAC = '44:38:39:00:00:01';
/** What a fresh install calls itself until /etc/hostname is restored. */
const DEFAULT_HOSTNAME = 'cumulus';
const IMAGE_SIZE_BASE = 700_000_000;

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
  /** The iproute2 kind of a virtual link; physical ports (`swp*`, `eth0`) are `ether`. */
  kind: 'loopback' | 'ether' | 'bond' | 'bridge' | 'vlan' | 'vrf' | 'vxlan' | 'macvlan';
  mac: string;
  mtu: number;
  /** Configured (admin up). */
  adminUp: boolean;
  /** Carrier. */
  up: boolean;
  /** Since when it has been in its current state. */
  since: number;
  master?: string;
  /** The parent of a VLAN sub-interface or a macvlan. */
  link?: string;
  speed: string;
  mode: string;
  summary: string;
  addresses: Address[];
  neighbour?: Neighbour;
}

/** What runs now, read from /etc at boot, by `ifreload -a` and by `systemctl`. */
interface Running {
  hostname: string;
  stanzas: Map<string, Stanza>;
  frr: boolean;
  bgp: boolean;
  ospf: boolean;
  neighbours: Set<string>;
  clag: boolean;
  configSince: number;
}

/**
 * A Cumulus Linux switch: NCLU `net show ... json`, iproute2 JSON, ONIE installs, reboots, and a
 * configuration under /etc that an ONIE install wipes (a fresh install) until a backup is restored.
 */
export class CumulusSwitch implements SimulatedDevice {
  readonly platform = 'cumulus';
  readonly files: VirtualFs;
  private version: string;
  /** The version ONIE installs on the next reboot. */
  private pendingVersion: string | undefined;
  private bootCount = 1;
  private readonly commands: CommandTable;
  private readonly bgpPassword: string;
  private readonly hardware: CumulusPlatform;
  private readonly platformName: CumulusPlatformName;
  private running: Running;
  private serving = true;
  private installs = 0;

  constructor(
    private readonly env: DeviceEnv,
    private readonly plan: SwitchPlan,
    private readonly fabric: Fabric,
    options: CumulusOptions,
    private readonly imageStore: ReadonlySet<string>,
  ) {
    this.version = options.version;
    this.bgpPassword = options.bgpPassword;
    this.platformName = options.platforms?.[plan.name] ?? (plan.role === 'spine' ? 'mlx-amd64' : 'bcm-amd64');
    this.hardware = CUMULUS_PLATFORMS[this.platformName];
    this.files = new VirtualFs(env.clock);
    this.writeImageFiles();
    this.writeStartupConfig();
    this.running = this.readRunning();
    fabric.register(plan.name, () => ({
      up: env.power.up,
      upSince: env.power.upSince,
      downSince: env.power.downSince,
      version: this.version,
      hostname: this.running.hostname,
      description: `Cumulus Linux version ${this.version} running on ${this.hardware.model}`,
      portUp: (ifname) => this.portConfigured(ifname),
      bgpOn: (ifname) => this.running.frr && this.running.bgp && this.running.neighbours.has(ifname),
      clag: this.running.clag,
      ospf: this.running.frr && this.running.ospf,
      configSince: this.running.configSince,
    }));
    this.commands = {
      ...createLinuxCommands({
        fs: this.files,
        clock: env.clock,
        hostname: () => this.running.hostname,
        bootTime: () => env.power.upSince,
        disk: () => ({ filesystem: '/dev/sda4', mount: '/', totalKb: 6_061_632, availableKb: 3_214_848 }),
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
      ifreload: (context) => this.ifreload(context),
      hostname: (context) => this.hostname(context),
      hostnamectl: (context) => this.hostnamectl(context),
      curl: (context) => this.curl(context),
      uname: ({ argv, io }) => {
        io.out(argv.includes('-m') ? `${this.hardware.machine}\n` : 'Linux\n');
        return 0;
      },
      dpkg: ({ argv, io }) => {
        if (argv[1] !== '--print-architecture') {
          io.err('dpkg: the lab only simulates `dpkg --print-architecture`\n');
          return 1;
        }
        io.out(`${this.hardware.debArch}\n`);
        return 0;
      },
      'platform-detect': ({ io }) => {
        io.out(`${this.hardware.detect}\n`);
        return 0;
      },
      net: (context) => this.net(context),
      ip: (context) => this.ip(context),
      bridge: (context) => this.bridge(context),
    };
  }

  prompt(): string {
    return `${this.running.hostname}# `;
  }

  run(line: string, user: string, io: CommandIo): Promise<number> {
    return runLinuxLine(line, this.commands, this.files, user, io);
  }

  state(): Record<string, unknown> {
    return {
      hostname: this.running.hostname,
      role: this.plan.role,
      platform: this.platformName,
      version: this.version,
      pendingVersion: this.pendingVersion ?? null,
      bootCount: this.bootCount,
      installs: this.installs,
      configured: this.fabricPortsConfigured(),
      frr: this.running.frr,
      clag: this.running.clag,
      images: this.files.list('/var/images') ?? [],
      backups: this.files.list('/var/backups') ?? [],
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

  // ---- install, boot and configuration

  private boot(): void {
    if (this.pendingVersion !== undefined) this.freshInstall(this.pendingVersion);
    this.pendingVersion = undefined;
    this.bootCount++;
    this.running = this.readRunning();
    const drop = this.env.faults.find('bgpSessionDrop');
    if (drop) this.fabric.dropSession(this.plan.name, drop.peer);
    this.noteServing();
  }

  /**
   * ONIE installs the image on an empty disk: /etc holds the image's defaults (no FRR, interface or
   * MLAG configuration, hostname `cumulus`), /var/backups and /var/images are empty.
   */
  private freshInstall(version: string): void {
    this.version = version;
    this.installs++;
    this.files.clear();
    this.writeImageFiles();
    this.env.note('fresh-install', version);
  }

  private writeImageFiles(): void {
    const fs = this.files;
    fs.mkdir(homeOf(this.env.user));
    fs.mkdir('/var/backups');
    fs.mkdir('/var/images');
    const description = `Cumulus Linux ${this.version}`;
    fs.writeFile('/etc/lsb-release', `DISTRIB_ID="Cumulus Linux"\nDISTRIB_RELEASE=${this.version}\nDISTRIB_DESCRIPTION="${description}"\n`);
    fs.writeFile(
      '/etc/os-release',
      `NAME="Cumulus Linux"\nVERSION_ID=${this.version}\nVERSION="${description}"\nPRETTY_NAME="${description}"\nID=cumulus-linux\nID_LIKE=debian\nHOME_URL="http://www.cumulusnetworks.com/"\n`,
    );
    fs.writeFile('/etc/hostname', `${DEFAULT_HOSTNAME}\n`);
    fs.writeFile('/etc/network/interfaces', DEFAULT_INTERFACES);
    fs.writeFile('/etc/frr/frr.conf', defaultFrrConfig());
    fs.writeFile('/etc/frr/daemons', frrDaemons(false, false));
  }

  /** The configuration the fabric was set up with, as it is on the switch when the lab starts. */
  private writeStartupConfig(): void {
    const fs = this.files;
    const links = this.fabric.linksOf(this.plan.name);
    const uplinks = links.filter(({ link }) => link.kind === 'uplink');
    const ports = [
      ...(this.plan.pair === undefined ? [] : [1, 2].map((port) => ({ ifname: `swp${port}`, alias: `to ${this.serverName(2 * (this.plan.pair as number - 1) + port)}` }))),
      ...links.map(({ local, remote }) => ({ ifname: local.ifname, alias: `to ${remote.host} ${remote.ifname}` })),
    ].sort((a, b) => portNumber(a.ifname) - portNumber(b.ifname));
    fs.writeFile('/etc/hostname', `${this.plan.name}\n`);
    fs.writeFile('/etc/network/interfaces', planInterfaces(this.plan, ports));
    fs.writeFile('/etc/frr/frr.conf', planFrrConfig(this.plan, uplinks.map(({ local }) => local.ifname)));
    fs.writeFile('/etc/frr/daemons', frrDaemons(true, this.plan.mlag !== undefined));
    fs.symlink('/lib/systemd/system/frr.service', FRR_ENABLED_LINK);
    // A secret on the device, for runbooks that read one (captures marked `secret: true`).
    fs.writeFile('/etc/frr/bgp-password', `${this.bgpPassword}\n`);
  }

  /** What boot starts from /etc: the hostname, the interfaces (ifup -a), clagd, and FRR when enabled. */
  private readRunning(): Running {
    const stanzas = parseInterfaces(this.files.readFile('/etc/network/interfaces') ?? '');
    const daemons = parseDaemons(this.files.readFile('/etc/frr/daemons'));
    return {
      hostname: (this.files.readFile('/etc/hostname') ?? DEFAULT_HOSTNAME).trim() || DEFAULT_HOSTNAME,
      stanzas,
      frr: this.files.lstat(FRR_ENABLED_LINK) !== undefined,
      bgp: daemons.bgp,
      ospf: daemons.ospf,
      neighbours: parseBgpNeighbours(this.files.readFile('/etc/frr/frr.conf')),
      clag: hasClagConfig(stanzas),
      configSince: this.env.power.upSince,
    };
  }

  /** `ifreload -a`: the interfaces as /etc/network/interfaces says; clagd follows the MLAG settings. */
  private applyInterfaces(): void {
    const stanzas = parseInterfaces(this.files.readFile('/etc/network/interfaces') ?? '');
    this.running = { ...this.running, stanzas, clag: hasClagConfig(stanzas), configSince: this.now() };
    this.noteServing();
  }

  private restartFrr(start: boolean): void {
    const daemons = parseDaemons(this.files.readFile('/etc/frr/daemons'));
    this.running = {
      ...this.running,
      frr: start,
      bgp: daemons.bgp,
      ospf: daemons.ospf,
      neighbours: parseBgpNeighbours(this.files.readFile('/etc/frr/frr.conf')),
      configSince: this.now(),
    };
    this.noteServing();
  }

  private portConfigured(ifname: string): boolean {
    const { stanzas } = this.running;
    if (stanzas.has(ifname)) return true;
    return [...stanzas.values()].some((stanza) => (stanza.attributes['bond-slaves'] ?? '').split(/\s+/).includes(ifname));
  }

  private fabricPortsConfigured(): boolean {
    return this.fabric.linksOf(this.plan.name).every(({ local }) => this.portConfigured(local.ifname));
  }

  /**
   * The event log says when the switch starts or stops carrying the fabric's traffic (its uplinks
   * configured and BGP running), so tests can tell from the lab itself who was cut off when.
   */
  private noteServing(): void {
    const serving = this.fabricPortsConfigured() && this.running.frr && this.running.bgp && this.running.neighbours.size > 0;
    if (serving === this.serving) return;
    this.serving = serving;
    this.env.note(serving ? 'serving' : 'not-serving');
  }

  private reboot(): number {
    this.env.power.reboot({ onUp: () => this.boot() });
    return 0;
  }

  // ---- commands

  private onieInstall({ argv, io, user }: CommandContext): number {
    const activate = argv.slice(1).some((arg) => /^-[a-z]*a[a-z]*$/.test(arg));
    const imageIndex = argv.indexOf('-i');
    const image = imageIndex > 0 ? argv[imageIndex + 1] : undefined;
    if (image === undefined) {
      io.err('onie-install: ERROR: an image is required: onie-install -a -i <image>\n');
      return 1;
    }
    let name: string;
    if (/^[a-z]+:\/\//.test(image)) {
      const file = this.storeFile(image);
      if (file === undefined) {
        io.err(`onie-install: ERROR: unable to fetch ${image}: ${this.storeError(image)}\n`);
        return 1;
      }
      name = file;
    } else {
      const path = VirtualFs.normalize(image, homeOf(user));
      if (this.files.stat(path)?.kind !== 'file') {
        io.err(`onie-install: ERROR: image file not found: ${image}\n`);
        return 1;
      }
      name = posix.basename(path);
    }
    const parsed = parseImageName(name);
    if (parsed === undefined) {
      io.err(`onie-install: ERROR: ${image} is not a Cumulus Linux installer image (cumulus-linux-X.Y.Z-<asic>-<arch>.bin)\n`);
      return 1;
    }
    io.out(`Fetching installer: ${image}\n`);
    if (parsed.platform !== this.platformName) {
      io.err(
        `onie-install: ERROR: Machine mismatch: ${name} is for ${parsed.platform} (${CUMULUS_PLATFORMS[parsed.platform].asicVendor}, ${CUMULUS_PLATFORMS[parsed.platform].cpuArch}); ` +
          `this switch is ${this.hardware.onie} (${this.platformName})\n`,
      );
      return 1;
    }
    const failure = this.env.faults.take('installFails');
    if (failure) {
      io.err(`onie-install: ERROR: ${failure.message ?? `image verification failed: ${name}: checksum mismatch`}\n`);
      return 1;
    }
    io.out('Verifying image checksum ... OK.\nPreparing image archive ... OK.\n');
    if (!activate) {
      io.out('Image staged; run "onie-select -i" to activate ONIE install mode.\n');
      return 0;
    }
    this.pendingVersion = parsed.version;
    io.out(`Updating ONIE install mode: install\nCumulus Linux ${parsed.version} will be installed on the next reboot.\n`);
    return 0;
  }

  /** The image a store URL names, when the store has it. */
  private storeFile(url: string): string | undefined {
    if (!url.startsWith(`${IMAGE_STORE_URL}/`)) return undefined;
    const name = url.slice(IMAGE_STORE_URL.length + 1);
    return this.imageStore.has(name) ? name : undefined;
  }

  private storeError(url: string): string {
    return url.startsWith(`${IMAGE_STORE_URL}/`) ? '404 Not Found' : `Could not resolve host: ${new URL(url).host}`;
  }

  /** `curl [-fsSIL] [-o FILE] URL`: the lab's image repository, and nothing else. */
  private curl({ argv, io, user }: CommandContext): number {
    const args = argv.slice(1);
    let url: string | undefined;
    let output: string | undefined;
    const flags = new Set<string>();
    for (let index = 0; index < args.length; index++) {
      const arg = args[index] as string;
      if (arg === '-o' || arg === '--output') output = args[++index];
      else if (arg === '--head') flags.add('I');
      else if (arg === '--fail') flags.add('f');
      else if (/^-[A-Za-z]+$/.test(arg)) for (const flag of arg.slice(1)) flags.add(flag);
      else url = arg;
    }
    const silent = flags.has('s') && !flags.has('S');
    if (url === undefined) {
      io.err("curl: try 'curl --help' for more information\n");
      return EXIT_USAGE;
    }
    const fail = (code: number, message: string): number => {
      if (!silent) io.err(`curl: (${code}) ${message}\n`);
      return code;
    };
    let host: string;
    try {
      host = new URL(url).host;
    } catch {
      return fail(3, 'URL using bad/illegal format or missing URL');
    }
    if (!url.startsWith(`${IMAGE_STORE_URL}/`)) return fail(6, `Could not resolve host: ${host}`);
    const name = this.storeFile(url);
    if (name === undefined) {
      if (flags.has('f')) return fail(22, 'The requested URL returned error: 404 Not Found');
      io.out(flags.has('I') ? 'HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n\r\n' : '<html><body><h1>404 Not Found</h1></body></html>\n');
      return 0;
    }
    const size = IMAGE_SIZE_BASE + (stableNumber(name) % 100_000_000);
    if (flags.has('I')) {
      io.out(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${size}\r\n\r\n`);
      return 0;
    }
    if (output === undefined) return fail(23, 'Failure writing output to destination (the lab does not print images; use -o FILE or -I)');
    this.files.writeFile(VirtualFs.normalize(output, homeOf(user)), '', size);
    return 0;
  }

  /** `tar czf FILE PATH...`, `tar xzf FILE [-C DIR]`, `tar tzf FILE`. */
  private tar({ argv, io, user }: CommandContext): number {
    const args = argv.slice(1);
    const modes = new Set<string>();
    let file: string | undefined;
    let directory = '/';
    const operands: string[] = [];
    for (let index = 0; index < args.length; index++) {
      const arg = args[index] as string;
      if (arg === '-C' || arg === '--directory') directory = args[++index] ?? '/';
      else if (index === 0 && /^-?[a-zA-Z]+$/.test(arg)) {
        for (const flag of arg.replace(/^-/, '')) modes.add(flag);
        if (modes.has('f')) file = args[++index];
      } else if (/^-[a-zA-Z]+$/.test(arg)) {
        for (const flag of arg.slice(1)) modes.add(flag);
        if (arg.includes('f')) file = args[++index];
      } else operands.push(arg);
    }
    const resolve = (path: string): string => VirtualFs.normalize(path, homeOf(user));
    if (file === undefined || !modes.has('f')) {
      io.err('tar: the lab reads and writes archives only with f: tar czf FILE PATH..., tar xzf FILE [-C DIR], tar tzf FILE\n');
      return EXIT_USAGE;
    }
    if (modes.has('c')) return this.tarCreate(resolve(file), file, operands, resolve, io);
    if (!modes.has('x') && !modes.has('t')) {
      io.err('tar: You must specify one of the `-Acdtrux\', `--delete\' or `--test-label\' options\n');
      return EXIT_USAGE;
    }
    const text = this.files.readFile(resolve(file));
    if (text === undefined) {
      io.err(`tar: ${file}: Cannot open: No such file or directory\ntar: Error is not recoverable: exiting now\n`);
      return EXIT_USAGE;
    }
    const entries = readArchive(text);
    if (entries === undefined) {
      io.err('tar: This does not look like a tar archive\ntar: Exiting with failure status due to previous errors\n');
      return EXIT_USAGE;
    }
    if (modes.has('t')) {
      io.out(entries.map((entry) => `${entry.name}${entry.kind === 'dir' ? '/' : ''}\n`).join(''));
      return 0;
    }
    const base = resolve(directory);
    if (this.files.stat(base)?.kind !== 'dir') {
      io.err(`tar: ${directory}: Cannot open: No such file or directory\n`);
      return EXIT_USAGE;
    }
    for (const entry of entries) {
      const target = posix.join(base, entry.name);
      if (entry.kind === 'dir') this.files.mkdir(target);
      else if (entry.kind === 'link') this.files.symlink(entry.target ?? '', target);
      else this.files.writeFile(target, entry.content ?? '');
    }
    return 0;
  }

  private tarCreate(target: string, file: string, paths: readonly string[], resolve: (path: string) => string, io: CommandIo): number {
    if (paths.length === 0) {
      io.err('tar: Cowardly refusing to create an empty archive\n');
      return EXIT_USAGE;
    }
    const missing = paths.filter((path) => this.files.lstat(resolve(path)) === undefined);
    if (paths.some((path) => path.startsWith('/'))) io.err("tar: Removing leading `/' from member names\n");
    if (missing.length > 0) {
      for (const path of missing) io.err(`tar: ${path}: Cannot stat: No such file or directory\n`);
      io.err('tar: Exiting with failure status due to previous errors\n');
      return EXIT_USAGE;
    }
    if (this.files.stat(posix.dirname(target))?.kind !== 'dir') {
      io.err(`tar: ${file}: Cannot open: No such file or directory\n`);
      return EXIT_USAGE;
    }
    const entries: ArchiveEntry[] = [];
    for (const path of paths) {
      for (const found of this.files.walk(resolve(path))) {
        const node = this.files.lstat(found);
        if (node === undefined || found === target) continue;
        const name = found.replace(/^\//, '');
        if (node.kind === 'dir') entries.push({ name, kind: 'dir' });
        else if (node.kind === 'link') entries.push({ name, kind: 'link', target: node.target });
        else entries.push({ name, kind: 'file', content: node.content });
      }
    }
    this.files.writeFile(target, writeArchive(entries));
    return 0;
  }

  private ifreload({ argv, io }: CommandContext): number {
    if (!argv.includes('-a')) {
      io.err('ifreload: the lab only simulates `ifreload -a`\n');
      return EXIT_USAGE;
    }
    this.applyInterfaces();
    return 0;
  }

  private hostname(context: CommandContext): number {
    const { argv, io } = context;
    if (argv[1] === '-F') {
      const text = this.files.readFile(VirtualFs.normalize(argv[2] ?? '', homeOf(context.user)));
      if (text === undefined) {
        io.err(`hostname: ${argv[2] ?? ''}: No such file or directory\n`);
        return 1;
      }
      this.running = { ...this.running, hostname: text.trim() || DEFAULT_HOSTNAME };
      return 0;
    }
    if (argv.length > 1) {
      io.err('hostname: the lab only simulates `hostname` and `hostname -F FILE`\n');
      return 1;
    }
    io.out(`${this.running.hostname}\n`);
    return 0;
  }

  private hostnamectl({ argv, io }: CommandContext): number {
    if (argv[1] !== 'set-hostname' || argv[2] === undefined) {
      io.err('hostnamectl: the lab only simulates `hostnamectl set-hostname NAME`\n');
      return 1;
    }
    this.files.writeFile('/etc/hostname', `${argv[2]}\n`);
    this.running = { ...this.running, hostname: argv[2] };
    return 0;
  }

  private systemctl({ argv, io }: CommandContext): number {
    const verb = argv[1];
    const names = argv.slice(2).filter((arg) => !arg.startsWith('-'));
    if (verb === 'is-active') {
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
        return { unit: service.unit, load: 'loaded', active: active ? 'active' : 'inactive', sub: active ? 'running' : 'dead', description: service.description };
      });
      io.out(`${JSON.stringify(units)}\n`);
      return 0;
    }
    if (verb === 'reboot') return this.reboot();
    if (verb === 'start' || verb === 'restart' || verb === 'stop' || verb === 'enable' || verb === 'disable' || verb === 'reload') {
      return this.controlUnits(verb, names, argv.includes('--now'), io);
    }
    io.err(`Unknown command verb ${verb ?? ''}.\n`);
    return 1;
  }

  private controlUnits(verb: string, names: readonly string[], now: boolean, io: CommandIo): number {
    if (names.length === 0) {
      io.err('Too few arguments.\n');
      return 1;
    }
    for (const name of names) {
      const bare = name.replace(/\.service$/, '');
      if (bare === 'networking') {
        if (verb !== 'stop' && verb !== 'disable') this.applyInterfaces();
        continue;
      }
      const service = this.findService(name);
      if (service === undefined) {
        io.err(`Failed to ${verb} ${name}: Unit ${name} not found.\n`);
        return 5;
      }
      if (service.name === 'frr') {
        if (verb === 'enable') this.files.symlink('/lib/systemd/system/frr.service', FRR_ENABLED_LINK);
        if (verb === 'disable') this.files.remove(FRR_ENABLED_LINK);
        const starts = verb === 'start' || verb === 'restart' || verb === 'reload' || (verb === 'enable' && now);
        const stops = verb === 'stop' || (verb === 'disable' && now);
        if (starts) this.restartFrr(true);
        if (stops) this.restartFrr(false);
      } else if (service.name === 'clagd' && (verb === 'start' || verb === 'restart')) {
        // clagd exits at once without an MLAG configuration.
        this.running = { ...this.running, clag: hasClagConfig(this.running.stanzas) };
      } else if (service.name === 'clagd' && verb === 'stop') {
        this.running = { ...this.running, clag: false };
      }
    }
    return 0;
  }

  private findService(name: string): Service | undefined {
    const bare = name.replace(/\.service$/, '');
    return SERVICES.find((service) => service.name === bare || service.unit === `${bare}.service`);
  }

  private serviceActive(service: Service): boolean {
    if (service.name === 'frr') return this.running.frr;
    if (service.name === 'clagd') return this.running.clag;
    return true;
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
      const vrf = vrfIndex >= 0 ? (filters[vrfIndex + 1] ?? '') : 'default';
      if (vrf !== 'default' && vrf !== 'main' && !this.running.stanzas.has(vrf)) {
        io.err(`Cannot find device "${vrf}"\n`);
        return 1;
      }
      io.out(`${JSON.stringify(this.routes(vrf))}\n`);
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

  // ---- the switch's view of the fabric

  private now(): number {
    return this.env.clock.now();
  }

  private serverName(number: number): string {
    return `server${String(number).padStart(2, '0')}`;
  }

  private serverMac(number: number): string {
    return `52:54:00:11:00:${number.toString(16).padStart(2, '0')}`;
  }

  private has(ifname: string): boolean {
    return this.running.stanzas.has(ifname);
  }

  /** Since when configured things have been as they are. */
  private configuredSince(): number {
    return Math.max(this.env.power.upSince, this.running.configSince);
  }

  private interfaces(): Interface[] {
    const { plan } = this;
    const bootTime = this.env.power.upSince;
    const since = this.configuredSince();
    const list: Interface[] = [];
    const add = (entry: Omit<Interface, 'ifindex'>): void => {
      list.push({ ...entry, ifindex: list.length + 1 });
    };
    const loopbackConfigured = (this.running.stanzas.get('lo')?.attributes.address ?? '').includes(plan.loopback);
    add({
      ifname: 'lo',
      kind: 'loopback',
      mac: '00:00:00:00:00:00',
      mtu: 65536,
      adminUp: true,
      up: true,
      since: bootTime,
      speed: 'N/A',
      mode: 'Loopback',
      summary: `IP: 127.0.0.1/8${loopbackConfigured ? `, ${plan.loopback}/32` : ''}`,
      addresses: [
        { family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' },
        ...(loopbackConfigured ? [{ family: 'inet' as const, local: plan.loopback, prefixlen: 32, scope: 'global' as const }] : []),
        ...(loopbackConfigured && plan.mlag && this.running.clag && plan.pair !== undefined
          ? [{ family: 'inet' as const, local: anycastIp(plan.pair), prefixlen: 32, scope: 'global' as const }]
          : []),
        { family: 'inet6', local: '::1', prefixlen: 128, scope: 'host' },
      ],
    });
    add({
      ifname: 'eth0',
      kind: 'ether',
      mac: `${plan.baseMac.slice(0, -2)}ff`,
      mtu: 1500,
      adminUp: true,
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
        descr: 'Cumulus Linux version 4.3.0 running on Mellanox Technologies Ltd. MSN2010',
        mgmtIp: OOB_GATEWAY,
      },
    });
    add({ ifname: 'mgmt', kind: 'vrf', mac: plan.baseMac, mtu: 65536, adminUp: true, up: true, since: bootTime, speed: 'N/A', mode: 'VRF', summary: 'IP: 127.0.0.1/8', addresses: [] });

    const fabricPorts = this.fabric.linksOf(plan.name).map(({ link, local, remote }) => {
      const up = this.fabric.linkUp(link);
      const adminUp = this.portConfigured(local.ifname);
      const remoteStatus = this.fabric.status(remote.host);
      const remotePlan = this.fabric.switchPlan(remote.host) as SwitchPlan;
      const peerlink = link.kind === 'peerlink';
      const entry: Omit<Interface, 'ifindex'> = {
        ifname: local.ifname,
        kind: 'ether',
        mac: portMac(plan, local.ifname),
        mtu: 9216,
        adminUp,
        up,
        since: this.fabric.linkSince(link),
        speed: '100G',
        mode: peerlink ? 'BondMember' : adminUp ? 'BGPUnnumbered' : 'NotConfigured',
        summary: peerlink ? `Master: peerlink(${up ? 'UP' : 'DN'})` : `BGP peer: ${remote.host} ${remote.ifname}`,
        addresses: !peerlink && adminUp ? [{ family: 'inet6', local: linkLocalOf(portMac(plan, local.ifname)), prefixlen: 64, scope: 'link' }] : [],
        ...(peerlink && this.has('peerlink') ? { master: 'peerlink' } : {}),
        ...(up
          ? { neighbour: { host: remoteStatus.hostname, port: remote.ifname, chassisId: remotePlan.baseMac, descr: remoteStatus.description, mgmtIp: remotePlan.mgmtIp } }
          : {}),
      };
      return entry;
    });
    const serverPorts: Array<Omit<Interface, 'ifindex'>> = [];
    if (plan.role === 'leaf' && plan.pair !== undefined) {
      const pair = plan.pair;
      for (const port of [1, 2]) {
        const server = 2 * (pair - 1) + port;
        const adminUp = this.portConfigured(`swp${port}`);
        serverPorts.push({
          ifname: `swp${port}`,
          kind: 'ether',
          mac: portMac(plan, `swp${port}`),
          mtu: 9000,
          adminUp,
          up: adminUp,
          since,
          ...(this.has(`bond${port}`) ? { master: `bond${port}` } : {}),
          speed: '25G',
          mode: adminUp ? 'BondMember' : 'NotConfigured',
          summary: `Master: bond${port}(${adminUp ? 'UP' : 'DN'})`,
          addresses: [],
          ...(adminUp
            ? {
                neighbour: {
                  host: this.serverName(server),
                  port: plan.index % 2 === 1 ? 'eth1' : 'eth2',
                  chassisId: this.serverMac(server),
                  descr: 'Ubuntu 20.04 LTS Linux 5.4.0-42-generic #46-Ubuntu SMP x86_64',
                  mgmtIp: `192.168.200.${100 + server}`,
                },
              }
            : {}),
        });
      }
    }
    for (const port of [...serverPorts, ...fabricPorts].sort((a, b) => portNumber(a.ifname) - portNumber(b.ifname))) add(port);
    if (plan.role === 'leaf' && plan.pair !== undefined) this.addLeafInterfaces(add, plan.pair, fabricPorts, since);
    return list;
  }

  /** Bonds, the peer link, VXLAN, the bridge, SVIs and their VRR macvlans: only what is configured. */
  private addLeafInterfaces(add: (entry: Omit<Interface, 'ifindex'>) => void, pair: number, fabricPorts: ReadonlyArray<Omit<Interface, 'ifindex'>>, since: number): void {
    const { plan } = this;
    const bridgeUp = this.has('bridge');
    for (const port of [1, 2]) {
      if (!this.has(`bond${port}`)) continue;
      add({
        ifname: `bond${port}`,
        kind: 'bond',
        mac: portMac(plan, `swp${port}`),
        mtu: 9000,
        adminUp: true,
        up: this.portConfigured(`swp${port}`),
        since,
        ...(bridgeUp ? { master: 'bridge' } : {}),
        speed: '25G',
        mode: '802.3ad',
        summary: `Master: bridge(UP)${plan.mlag ? `, clag-id: ${port}` : ''}`,
        addresses: [],
      });
    }
    if (plan.mlag && this.has('peerlink')) {
      const members = fabricPorts.filter((port) => port.ifname === 'swp49' || port.ifname === 'swp50');
      const up = members.some((port) => port.up);
      const linkSince = Math.max(...members.map((port) => port.since));
      add({ ifname: 'peerlink', kind: 'bond', mac: portMac(plan, 'swp49'), mtu: 9216, adminUp: true, up, since: linkSince, ...(bridgeUp ? { master: 'bridge' } : {}), speed: '200G', mode: '802.3ad', summary: 'Master: bridge(UP)', addresses: [] });
      if (this.has('peerlink.4094')) {
        add({
          ifname: 'peerlink.4094',
          kind: 'vlan',
          mac: portMac(plan, 'swp49'),
          mtu: 9216,
          adminUp: true,
          up,
          since: linkSince,
          link: 'peerlink',
          speed: '200G',
          mode: 'SubInt/L3',
          summary: `IP: ${plan.mlag.peerlinkIp}/30`,
          addresses: [{ family: 'inet', local: plan.mlag.peerlinkIp, prefixlen: 30, scope: 'global' }],
        });
      }
    }
    for (const vlan of [10, 20]) {
      if (!this.has(`vni${vlan}`)) continue;
      add({ ifname: `vni${vlan}`, kind: 'vxlan', mac: `${plan.baseMac.slice(0, -2)}${vlan.toString(16).padStart(2, '0')}`, mtu: 9000, adminUp: true, up: true, since, ...(bridgeUp ? { master: 'bridge' } : {}), speed: 'N/A', mode: 'Access/L2', summary: `Master: bridge(UP), VxLAN id: ${vlan}`, addresses: [] });
    }
    if (bridgeUp) {
      add({ ifname: 'bridge', kind: 'bridge', mac: plan.baseMac, mtu: 9000, adminUp: true, up: true, since, speed: 'N/A', mode: 'Bridge/L2', summary: 'Untagged: bond1, bond2', addresses: [] });
    }
    for (const vlan of [10, 20]) {
      if (!this.has(`vlan${vlan}`)) continue;
      const address = sviAddress(plan, vlan);
      add({
        ifname: `vlan${vlan}`,
        kind: 'vlan',
        mac: plan.baseMac,
        mtu: 9000,
        adminUp: true,
        up: bridgeUp,
        since,
        link: 'bridge',
        speed: 'N/A',
        mode: 'Interface/L3',
        summary: `IP: ${address}/24`,
        addresses: [{ family: 'inet', local: address, prefixlen: 24, scope: 'global' }],
      });
      if ((this.running.stanzas.get(`vlan${vlan}`)?.attributes['address-virtual'] ?? '') !== '') {
        add({
          ifname: `vlan${vlan}-v0`,
          kind: 'macvlan',
          mac: VRR_MAC,
          mtu: 9000,
          adminUp: true,
          up: bridgeUp,
          since,
          link: `vlan${vlan}`,
          speed: 'N/A',
          mode: 'VRR',
          summary: `IP: ${gatewayOf(pair, vlan)}/24`,
          addresses: [{ family: 'inet', local: gatewayOf(pair, vlan), prefixlen: 24, scope: 'global' }],
        });
      }
    }
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
        linkstate: entry.adminUp ? (entry.up ? 'UP' : 'DN') : 'ADMDN',
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
        : ['BROADCAST', 'MULTICAST', ...(entry.kind === 'bond' ? ['MASTER'] : []), ...(entry.adminUp ? ['UP'] : []), ...(entry.up ? ['LOWER_UP'] : [])];
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
    // FRR with no BGP instance answers an empty object.
    if (!this.running.frr || !this.running.bgp || this.running.neighbours.size === 0) return {};
    const now = this.now();
    const sessions = this.fabric.sessionsOf(plan.name);
    const peers: Record<string, unknown> = {};
    for (const session of sessions) {
      const remote = this.fabric.switchPlan(session.remote.host) as SwitchPlan;
      const elapsed = now - session.since;
      const messages = 5 + Math.floor(elapsed / 1000 / BGP_KEEPALIVE_S);
      peers[session.local.ifname] = {
        hostname: this.fabric.status(remote.name).hostname,
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
    const { mlag, pair } = this.plan;
    if (mlag === undefined || pair === undefined || !this.running.clag) return { clagIntfs: {}, status: {} };
    const peer = this.fabric.switchPlan(mlag.peer) as SwitchPlan;
    const peerAlive = this.fabric.clagPeerAlive(this.plan.name, mlag.peer);
    const peerStatus = this.fabric.status(mlag.peer);
    const backupActive = peerStatus.up && peerStatus.clag;
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
        backupActive,
        backupIp: mlag.backupIp,
        backupReason: '',
        backupVrf: 'mgmt',
        linklocal: true,
        ourId: this.plan.baseMac,
        ourPriority: priority(mlag.role),
        ourRole: mlag.role,
        peer: peerStatus.hostname,
        peerAlive,
        peerId: peerAlive ? peer.baseMac : '00:00:00:00:00:00',
        peerIf: 'peerlink.4094',
        peerIp: mlag.peerPeerlinkIp,
        peerPresent: peerAlive,
        peerPriority: peerAlive ? priority(peerRole) : 0,
        peerRole: peerAlive ? peerRole : 'unknown',
        sysMac: mlag.sysmac,
        vxlanAnycast: anycastIp(pair),
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
    if (mlag && peerlink?.up && this.running.frr && this.running.ospf && this.fabric.status(mlag.peer).ospf) {
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
    const { hardware } = this;
    return {
      hostname: this.running.hostname,
      version: this.version,
      os: 'Cumulus Linux',
      build: `Cumulus Linux ${this.version}`,
      platform: hardware.onie,
      vendor: hardware.model.split(' ')[0],
      model: hardware.model,
      asic: { vendor: hardware.asicVendor, model: hardware.asicModel },
      cpuArch: hardware.cpuArch,
      serial: `MT${(stableNumber(this.plan.name) % 1_000_000).toString().padStart(6, '0')}`,
      baseMac: this.plan.baseMac,
      cpu: hardware.cpuArch === 'ARM' ? 'ARMv7 Processor rev 0 (v7l) x2' : 'x86_64 Intel Atom C2558 2.40GHz x4',
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
    const fans = Array.from({ length: this.hardware.fans }, (_, index) => fan(index + 1));
    return [temp(1, 'Board Sensor near CPU', 38), temp(2, 'Board Sensor Near Switch ASIC', 42), temp(3, 'Ambient Port Side', 27), ...fans, psu(1), psu(2)];
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
      .filter((entry) => entry.up && entry.master !== 'mgmt' && entry.kind !== 'loopback' && entry.kind !== 'vrf')
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
    const peerlink = this.interfaces().find((entry) => entry.ifname === 'peerlink.4094');
    if (mlag && peerlink?.up) {
      const peer = this.fabric.switchPlan(mlag.peer) as SwitchPlan;
      list.push({ dst: mlag.peerPeerlinkIp, dev: 'peerlink.4094', lladdr: portMac(peer, 'swp49'), state: ['REACHABLE'] });
    }
    if (pair !== undefined) {
      for (const [port, vlan] of [
        [1, 10],
        [2, 20],
      ] as const) {
        if (!this.has(`vlan${vlan}`) || !this.has(`bond${port}`)) continue;
        const server = 2 * (pair - 1) + port;
        list.push({ dst: `10.${pair}.${vlan}.101`, dev: `vlan${vlan}`, lladdr: this.serverMac(server), state: ['REACHABLE'] });
      }
    }
    return list;
  }

  private macTable(): Array<Record<string, unknown>> {
    const { pair, mlag } = this.plan;
    if (pair === undefined || !this.has('bridge')) return [];
    const entries: Array<Record<string, unknown>> = [];
    for (const [port, vlan] of [
      [1, 10],
      [2, 20],
    ] as const) {
      if (!this.has(`bond${port}`)) continue;
      entries.push({ mac: this.serverMac(2 * (pair - 1) + port), ifname: `bond${port}`, vlan, flags: [], master: 'bridge', state: '' });
    }
    if (mlag && this.fabric.clagPeerAlive(this.plan.name, mlag.peer)) {
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

/** clagd runs when the peer link sub-interface carries its settings. */
function hasClagConfig(stanzas: ReadonlyMap<string, Stanza>): boolean {
  return [...stanzas.values()].some((stanza) => stanza.attributes['clagd-peer-ip'] !== undefined);
}

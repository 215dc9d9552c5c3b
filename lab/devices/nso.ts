import { posix } from 'node:path';
import type { DeviceEnv, SimulatedDevice } from '../device.js';
import { stableNumber } from '../format.js';
import { splitWords } from '../command-line.js';
import { confirm, EXIT_NOT_FOUND, EXIT_USAGE, type CommandContext, type CommandIo, type CommandTable } from '../shell.js';
import { VirtualFs } from '../vfs.js';
import { createFileCommands } from './file-commands.js';
import { compareDottedVersions } from '../versions.js';
import { createLinuxCommands, homeOf, runLinuxLine } from './linux.js';
import { applyCommit, CDB_DIR, cdbFileSizes, cloneCdb, createCdb, createStagedChanges, formatRunningConfig, stageLine, type Cdb, type StagedChanges } from './nso-cdb.js';
import {
  branchOf,
  DEFAULT_PACKAGES,
  describePackageSet,
  formatPackageMeta,
  LOAD_PATH,
  operStatusOf,
  packageFileName,
  parsePackageMeta,
  STORE,
  type LoadedPackage,
  type PackageMeta,
} from './nso-packages.js';

// Cisco NSO as seed 002 (`../shared/seeds/002_05ac0b52f447c85e.txt`) describes it: a System Install
// under /opt/ncs with a `current` link, packages per release with links in the load path, ncs-backup,
// the init script, CDB compaction, and rule-based HA whose configuration databases really diverge.

export interface PackageRelease {
  name: string;
  version: string;
  builtFor: string;
}

export interface NsoOptions {
  /** The version installed and running at start. */
  version: string;
  /** Versions whose installers wait in /tmp as nso-<v>.linux.x86_64.installer.bin. */
  installers: readonly string[];
  /** Branches (major.minor) for which every package is built, in /opt/ncs/packages/ncs-<branch>-<name>-<version>.tar.gz. */
  packageReleases: readonly string[];
  /** Free space that `df` reports on /; each install takes 1 500 000 KB of it. */
  diskAvailableKb: number;
  /** Newer packages waiting in /tmp/packages (the operator's package store) as ncs-<builtFor>-<name>-<version>.tar.gz. */
  packageUpdates: readonly PackageRelease[];
  /** Archives of /opt/ncs/packages whose name says one branch but that were compiled for another: file name -> branch. */
  misbuiltPackages: Readonly<Record<string, string>>;
  /** Releases that install fine but whose data upgrade fails when they start (a failed upgrade to recover from). */
  brokenReleases: readonly string[];
  /** When above 0, a start takes this long, longer than the init system waits: it reports a timeout while NSO still comes up. */
  slowStartMs: number;
  /** How long an item of the commit queue takes to reach its device. */
  commitQueueItemMs: number;
  /** Extra files on every NSO node, path -> content (a prepared ncs.conf, say). */
  files: Readonly<Record<string, string>>;
  /** Awaited before each command line runs: a test's application acting at that moment. */
  beforeCommand?: (node: string, line: string) => void | Promise<void>;
}

/** How a node is configured in the HA cluster (the `ha-node` list of the seed's example configuration). */
export interface NsoIdentity {
  nominalRole: 'primary' | 'secondary' | 'none';
  /** The designated secondary that takes over from the primary; a third node is not one. */
  failoverPrimary: boolean;
}

type HaMode = 'primary' | 'secondary' | 'none';

interface HaState {
  enabled: boolean;
  assigned: HaMode;
  /** For a secondary: the node it is told to follow. */
  primaryId: string | undefined;
  readOnly: boolean;
}

interface Backup {
  version: string;
  cdb: Cdb;
  ncsConf: string;
  packagesInUse: LoadedPackage[];
  /** The load path's entries: a link's target, or a file's content. */
  loadPath: Array<{ name: string; link?: string; content?: string }>;
}

interface QueueItem {
  id: string;
}

const INSTALL_SIZE_KB = 1_500_000;
const DISK_TOTAL_KB = 52_403_200;
const NCS_DIR = '/opt/ncs';
const CURRENT = `${NCS_DIR}/current`;
const BACKUPS = '/var/opt/ncs/backups';
const NCS_CONF = '/etc/ncs/ncs.conf';
const PACKAGE_UPDATES = '/tmp/packages';
const INSTALLER_NAME = /(?:^|\/)nso-(\d+\.\d+(?:\.\d+)*)\.linux\.x86_64\.installer\.bin$/;
/** NSO 5.3 added AES-256 encrypted strings, whose key ncs.conf must then hold (seed 002, "Preparing for Upgrade"). */
const AES256_SINCE = '5.3';
const HA_DISABLED: HaState = { enabled: false, assigned: 'none', primaryId: undefined, readOnly: false };
const SYSTEM_UPGRADE = [
  '>>> System upgrade is starting.',
  '>>> Sessions in configure mode must exit to operational mode.',
  '>>> No configuration changes can be performed until upgrade has completed.',
  '>>> System upgrade has completed successfully.',
];

/** The nodes of one HA cluster (a standalone node is a cluster of one). */
export class NsoCluster {
  private readonly nodes: NsoNode[] = [];

  add(node: NsoNode): void {
    this.nodes.push(node);
  }

  find(name: string | undefined): NsoNode | undefined {
    return this.nodes.find((node) => node.name === name);
  }

  nominalPrimary(): NsoNode | undefined {
    return this.nodes.find((node) => node.identity.nominalRole === 'primary');
  }

  /** The secondaries connected to `primary` now. */
  secondariesOf(primary: NsoNode): NsoNode[] {
    return this.nodes.filter((node) => node !== primary && this.primaryOf(node) === primary);
  }

  /**
   * The primary `node` is connected to: the one it was told to follow, or, for a secondary that is not a
   * fail-over one, the failover-primary acting as primary (seed 002, "NSO HA Version Upgrade", on why the
   * third node is disabled first). Both must run the same release with the same packages.
   */
  primaryOf(node: NsoNode): NsoNode | undefined {
    if (!node.isUp() || !node.ha.enabled || node.ha.assigned !== 'secondary') return undefined;
    const told = this.find(node.ha.primaryId);
    const failover = node.identity.failoverPrimary ? [] : this.nodes.filter((other) => other.identity.failoverPrimary);
    return [told, ...failover].find((candidate) => candidate !== undefined && candidate !== node && candidate.servesAsPrimary() && sameSoftware(node, candidate));
  }

  /**
   * Brings every secondary in line with its primary, after each command: a secondary that connects
   * (or stays connected) holds the primary's database, and whatever it committed alone is lost.
   */
  settle(): void {
    for (const node of this.nodes) {
      const primary = this.primaryOf(node);
      if (primary !== node.connectedTo && primary !== undefined && !node.identity.failoverPrimary && primary.identity.failoverPrimary) {
        // A non-fail-over secondary joining the failover-primary ends its read-only mode.
        primary.ha.readOnly = false;
      }
      node.connectedTo = primary;
      if (primary) node.replicateFrom(primary);
    }
  }
}

function sameSoftware(a: NsoNode, b: NsoNode): boolean {
  return a.runningVersion === b.runningVersion && describePackageSet(a.packagesInUse).join() === describePackageSet(b.packagesInUse).join();
}

/** A Cisco NSO system install: init script, installer, backups, packages, CDB and rule-based HA. */
export class NsoNode implements SimulatedDevice {
  readonly platform = 'nso';
  private readonly fs: VirtualFs;
  private readonly commands: CommandTable;
  private running = true;
  /** Set while a slow start is under way: the daemon runs, the CLI does not answer yet. */
  private cancelStart: (() => void) | undefined;
  runningVersion: string | undefined;
  packagesInUse: LoadedPackage[] = [];
  ha: HaState;
  connectedTo: NsoNode | undefined;
  private cdb: Cdb;
  /** Commits this node made that a primary's database later replaced. */
  private readonly discarded: string[] = [];
  private commitCount = 0;
  private diskAvailableKb: number;
  private readonly backups = new Map<string, Backup>();
  private queue: QueueItem[] = [];
  /** Set while `packages ha sync and-reload { wait-commit-queue-empty }` drains the queue. */
  private queueClosed = false;
  private queueDrained: Array<() => void> = [];

  constructor(
    private readonly env: DeviceEnv,
    private readonly cluster: NsoCluster,
    readonly identity: NsoIdentity,
    private readonly options: NsoOptions,
  ) {
    this.diskAvailableKb = options.diskAvailableKb;
    this.fs = new VirtualFs(env.clock);
    this.fs.mkdir(homeOf(env.user));
    this.fs.mkdir(BACKUPS);
    this.fs.writeFile('/etc/init.d/ncs', '#!/bin/sh\n# NSO init script\n');
    this.fs.writeFile(NCS_CONF, formatNcsConf(options.version, env.name, identity.nominalRole !== 'none'));
    this.writeInstallation(options.version);
    this.fs.symlink(`${NCS_DIR}/ncs-${options.version}`, CURRENT);
    for (const version of options.installers) {
      this.fs.writeFile(`/tmp/nso-${version}.linux.x86_64.installer.bin`, '', 900_000_000 + (stableNumber(version) % 100_000_000));
    }
    this.writePackageStore();
    for (const [path, content] of Object.entries(options.files)) this.fs.writeFile(path, content);
    this.cdb = createCdb(options.version);
    this.writeCdbFiles();
    this.runningVersion = options.version;
    this.packagesInUse = this.readLoadPath().packages;
    // A cluster starts converged: HA enabled in the nominal roles, secondaries following the primary.
    this.ha =
      identity.nominalRole === 'none'
        ? { ...HA_DISABLED }
        : { enabled: true, assigned: identity.nominalRole, primaryId: identity.nominalRole === 'secondary' ? cluster.nominalPrimary()?.name : undefined, readOnly: false };
    cluster.add(this);
    const linux = createLinuxCommands({
      fs: this.fs,
      clock: env.clock,
      hostname: () => env.name,
      bootTime: () => env.power.upSince,
      disk: () => ({ filesystem: '/dev/sda1', mount: '/', totalKb: DISK_TOTAL_KB, availableKb: this.diskAvailableKb }),
    });
    this.commands = {
      ...linux,
      ...createFileCommands(this.fs),
      // The lab's archives hold their package-meta-data.xml as it is: zgrep reads them as grep does.
      zgrep: linux.grep as CommandTable[string],
      ncs: (context) => this.ncs(context),
      ncs_cli: (context) => this.ncsCli(context),
      'ncs-backup': (context) => this.ncsBackup(context),
      sh: (context) => this.installer(context),
      bash: (context) => this.installer(context),
      '/etc/init.d/ncs': ({ argv, io }) => this.initScript(argv[1], io),
      service: ({ argv, io }) => {
        if (argv[1] === 'ncs') return this.initScript(argv[2], io);
        io.err(`${argv[1] ?? ''}: unrecognized service\n`);
        return 1;
      },
      reboot: () => {
        env.power.reboot({ onUp: () => this.boot() });
        return 0;
      },
    };
  }

  get name(): string {
    return this.env.name;
  }

  prompt(): string {
    return `${this.env.name}# `;
  }

  async run(line: string, user: string, io: CommandIo): Promise<number> {
    await this.options.beforeCommand?.(this.name, line);
    try {
      return await runLinuxLine(line, this.commands, this.fs, user, io);
    } finally {
      this.cluster.settle();
    }
  }

  state(): Record<string, unknown> {
    return {
      running: this.isUp(),
      starting: this.cancelStart !== undefined,
      runningVersion: this.isUp() ? (this.runningVersion ?? null) : null,
      installedVersion: this.installedVersion() ?? null,
      current: this.fs.readlink(CURRENT) ?? null,
      packages: {
        inUse: this.packagesInUse.map((p) => `${p.name}@${p.version} (built for ${p.builtFor})`),
        loadPath: this.fs.list(LOAD_PATH) ?? [],
      },
      ha: { ...this.ha, mode: this.haMode(), connectedTo: this.connectedTo?.name ?? null },
      cdb: {
        version: this.cdb.version,
        entries: Object.fromEntries(this.cdb.entries),
        commits: [...this.cdb.commits],
        writeLog: this.cdb.writeLog,
        discarded: [...this.discarded],
      },
      commitQueue: this.queue.length,
      backups: [...this.backups.keys()],
      diskAvailableKb: this.diskAvailableKb,
    };
  }

  /** Running and serving (a slow start is not serving yet). */
  isUp(): boolean {
    return this.running && this.cancelStart === undefined;
  }

  servesAsPrimary(): boolean {
    return this.isUp() && this.ha.enabled && this.ha.assigned === 'primary';
  }

  /** Takes the primary's database; commits only this node had are lost, and recorded as such. */
  replicateFrom(primary: NsoNode): void {
    const kept = new Set(primary.cdb.commits);
    for (const commit of this.cdb.commits) if (!kept.has(commit) && !this.discarded.includes(commit)) this.discarded.push(commit);
    this.cdb = cloneCdb(primary.cdb);
    this.writeCdbFiles();
  }

  private haMode(): HaMode {
    if (!this.isUp() || !this.ha.enabled) return 'none';
    if (this.ha.assigned === 'secondary') return this.cluster.primaryOf(this) ? 'secondary' : 'none';
    return this.ha.assigned;
  }

  private boot(): void {
    // The init script is enabled at boot; HA waits for an operator, as after any start.
    this.running = false;
    this.startNcs(false);
    this.cluster.settle();
  }

  private installedVersion(): string | undefined {
    const home = this.fs.realpath(CURRENT);
    const changes = home === undefined ? undefined : this.fs.readFile(`${home}/CHANGES`);
    return changes === undefined ? undefined : /^NSO (\S+)/.exec(changes)?.[1];
  }

  private writeInstallation(version: string): void {
    const home = `${NCS_DIR}/ncs-${version}`;
    this.fs.writeFile(`${home}/CHANGES`, formatChanges(version));
    this.fs.writeFile(`${home}/bin/ncs`, '', 42_000_000);
    this.fs.writeFile(`${home}/ncsrc`, `export NCS_DIR=${home}\n`);
  }

  private writePackageStore(): void {
    const { options } = this;
    for (const branch of options.packageReleases) {
      for (const entry of DEFAULT_PACKAGES) {
        const file = packageFileName({ ...entry, builtFor: branch });
        const builtFor = options.misbuiltPackages[file] ?? branch;
        this.fs.writeFile(`${STORE}/${file}`, formatPackageMeta({ ...entry, builtFor }), 30_000_000 + (stableNumber(file) % 10_000_000));
      }
    }
    this.fs.mkdir(LOAD_PATH);
    for (const file of this.fs.list(STORE) ?? []) {
      if (file.startsWith(`ncs-${branchOf(options.version)}-`)) this.fs.symlink(`${STORE}/${file}`, `${LOAD_PATH}/${file}`);
    }
    for (const update of options.packageUpdates) {
      const description = DEFAULT_PACKAGES.find((p) => p.name === update.name)?.description ?? update.name;
      this.fs.writeFile(`${PACKAGE_UPDATES}/${packageFileName(update)}`, formatPackageMeta({ ...update, description }), 30_000_000);
    }
  }

  private writeCdbFiles(): void {
    for (const [name, size] of Object.entries(cdbFileSizes(this.cdb))) this.fs.writeFile(`${CDB_DIR}/${name}`, '', size);
  }

  /** The packages of the load path; entries that are not packages (a dangling link, say) are named. */
  private readLoadPath(): { packages: LoadedPackage[]; unreadable: string[] } {
    const packages: LoadedPackage[] = [];
    const unreadable: string[] = [];
    for (const name of this.fs.list(LOAD_PATH) ?? []) {
      const file = this.fs.realpath(`${LOAD_PATH}/${name}`);
      const meta = file === undefined ? undefined : parsePackageMeta(this.fs.readFile(file) ?? '');
      if (file === undefined || meta === undefined) unreadable.push(name);
      else packages.push({ ...meta, file });
    }
    return { packages, unreadable };
  }

  private ncsConf(): string {
    return this.fs.readFile(NCS_CONF) ?? '';
  }

  /** Why NSO `version` cannot start on this node, if it cannot. */
  private startProblem(version: string, next: LoadedPackage[], reload: boolean): string | undefined {
    if (compareDottedVersions(version, AES256_SINCE) >= 0 && !this.ncsConf().includes('<AES256CFB128>')) {
      return `Bad configuration: ${NCS_CONF}: /ncs-config/encrypted-strings/AES256CFB128/key is required by NSO ${AES256_SINCE} and later`;
    }
    if (compareDottedVersions(this.cdb.version, version) > 0) {
      return `CDB in ${CDB_DIR} was upgraded by NSO ${this.cdb.version} and cannot be read by NSO ${version}; restore a backup taken with NSO ${version}`;
    }
    const oldest = oldestDirectUpgrade(version);
    if (compareDottedVersions(this.cdb.version, oldest) < 0) {
      return `CDB upgrade failed: NSO ${version} cannot upgrade data from NSO ${this.cdb.version} directly; upgrade to an intermediate release (NSO ${oldest} or later) first`;
    }
    if (reload) {
      const names = new Set(next.map((p) => p.name));
      const removed = this.packagesInUse.filter((p) => !names.has(p.name)).map((p) => p.name);
      if (removed.length > 0) {
        return `package reload would remove ${removed.join(', ')} and delete their data; put the packages back in ${LOAD_PATH} and start again`;
      }
    }
    return undefined;
  }

  private startNcs(reload: boolean): string | undefined {
    const version = this.installedVersion();
    if (version === undefined) return `${CURRENT}/bin/ncs: No such file or directory`;
    const loadPath = this.readLoadPath();
    if (reload && loadPath.unreadable.length > 0) return `cannot load packages from ${LOAD_PATH}: ${loadPath.unreadable.join(', ')}: not a package`;
    const next = reload || this.packagesInUse.length === 0 ? loadPath.packages : this.packagesInUse;
    const problem = this.startProblem(version, next, reload);
    if (problem) return problem;
    if (this.options.brokenReleases.includes(version)) {
      // The data upgrade began before it failed: the files are no longer the old release's.
      this.cdb.version = version;
      this.writeCdbFiles();
      return `CDB upgrade failed: internal error in the upgrade of /ncs:devices (see /var/log/ncs/ncs.log)`;
    }
    this.cdb.version = version;
    this.running = true;
    this.runningVersion = version;
    this.packagesInUse = next;
    this.ha = { ...HA_DISABLED };
    return undefined;
  }

  private stopNcs(): void {
    this.cancelStart?.();
    this.cancelStart = undefined;
    this.running = false;
    this.ha = { ...HA_DISABLED };
    this.connectedTo = undefined;
  }

  private initScript(action: string | undefined, io: CommandIo): number {
    switch (action) {
      case 'start':
      case 'start-with-package-reload':
        if (this.running) {
          io.out('Starting ncs: ncs is already running.\n');
          return 0;
        }
        return this.start(action === 'start-with-package-reload', io);
      case 'restart':
      case 'restart-with-package-reload':
        io.out('Stopping ncs: .\n');
        this.stopNcs();
        return this.start(action === 'restart-with-package-reload', io);
      case 'stop':
        io.out(this.running ? 'Stopping ncs: .\n' : 'Stopping ncs: ncs is not running.\n');
        this.stopNcs();
        return 0;
      case 'status':
        if (this.running) {
          io.out(`ncs (pid ${1000 + (stableNumber(`${this.env.name}:${this.runningVersion}`) % 30000)}) is running...\n`);
          return 0;
        }
        io.out('ncs is stopped\n');
        return 3;
      default:
        io.err('Usage: /etc/init.d/ncs {start|stop|restart|status|start-with-package-reload|restart-with-package-reload}\n');
        return EXIT_USAGE;
    }
  }

  /** `Starting ncs: ...` as in seed 002; a slow start outlasts the init system, which says it failed. */
  private start(reload: boolean, io: CommandIo): number {
    const error = this.startNcs(reload);
    if (error) {
      io.err(`Starting ncs: ${error}\n`);
      return 1;
    }
    if (this.options.slowStartMs <= 0) {
      io.out(reload ? 'Starting ncs: ...\n' : 'Starting ncs: .\n');
      return 0;
    }
    this.cancelStart = this.env.timers.after(this.options.slowStartMs, () => {
      this.cancelStart = undefined;
      this.cluster.settle();
    });
    io.out(
      'Starting ncs (via systemctl): Job for ncs.service failed\nbecause a timeout was exceeded. See "systemctl status\nncs.service" and "journalctl -xe" for details. [FAILED]\n',
    );
    return 1;
  }

  private ncs({ argv, io }: CommandContext): number {
    const version = this.installedVersion();
    if (version === undefined) {
      io.err('ncs: command not found\n');
      return EXIT_NOT_FOUND;
    }
    switch (argv[1]) {
      case '--version':
        io.out(`${version}\n`);
        return 0;
      case '--stop':
        if (!this.running) {
          io.err('connection refused (stop)\n');
          return 1;
        }
        this.stopNcs();
        return 0;
      case '--cdb-compact':
        return this.compactCdb(argv[2], io);
      default:
        io.err('ncs: the lab answers `ncs --version`, `ncs --stop` and `ncs --cdb-compact DIR`; use /etc/init.d/ncs to start\n');
        return EXIT_USAGE;
    }
  }

  /** `ncs --cdb-compact $NCS_RUN_DIR/cdb` folds the write log into the CDB files, with NSO stopped. */
  private compactCdb(dir: string | undefined, io: CommandIo): number {
    if (dir === undefined || VirtualFs.normalize(dir) !== CDB_DIR) {
      io.err(`ncs: --cdb-compact needs the CDB directory, ${CDB_DIR}\n`);
      return EXIT_USAGE;
    }
    if (this.running) {
      io.err(`ncs: the CDB in ${CDB_DIR} is in use by a running NSO; stop NSO first\n`);
      return 1;
    }
    this.cdb.writeLog = 0;
    this.writeCdbFiles();
    return 0;
  }

  private installer({ argv, io, user }: CommandContext): number {
    const [shell, script, ...flags] = argv;
    if (script === undefined) {
      io.err(`${shell}: the lab runs scripts only, not an interactive shell\n`);
      return EXIT_USAGE;
    }
    const path = VirtualFs.normalize(script, homeOf(user));
    if (this.fs.stat(path)?.kind !== 'file') {
      io.err(`${shell}: 0: cannot open ${script}: No such file\n`);
      return EXIT_USAGE;
    }
    const version = INSTALLER_NAME.exec(path)?.[1];
    if (version === undefined) {
      io.err(`${shell}: the lab can only run NSO installers (nso-<version>.linux.x86_64.installer.bin)\n`);
      return EXIT_USAGE;
    }
    const unknown = flags.filter((flag) => flag !== '--system-install' && flag !== '--non-interactive');
    if (!flags.includes('--system-install') || unknown.length > 0) {
      io.err(`ERROR  the lab simulates only a system install: sh ${script} --system-install [--non-interactive]\n`);
      return 1;
    }
    const home = `${NCS_DIR}/ncs-${version}`;
    const reinstall = this.fs.stat(home) !== undefined;
    io.out(`INFO  Using temporary directory /tmp/ncs_installer.${stableNumber(version) % 100_000} to stage NCS installation bundle\n`);
    const failure = this.env.faults.take('installFails');
    if (failure) {
      io.err(`ERROR  ${failure.message ?? `failed to unpack ${posix.basename(path)}: archive is corrupt`}\n`);
      return 1;
    }
    if (!reinstall && this.diskAvailableKb < INSTALL_SIZE_KB) {
      io.err(`ERROR  Not enough disk space in ${NCS_DIR}: ${INSTALL_SIZE_KB} KB needed, ${this.diskAvailableKb} KB available\n`);
      return 1;
    }
    if (!reinstall) this.diskAvailableKb -= INSTALL_SIZE_KB;
    this.writeInstallation(version);
    io.out(
      [
        `INFO  ${reinstall ? 'Reinstalled' : 'Unpacked'} ncs-${version} in ${home}`,
        'INFO  Found and unpacked corresponding DOCUMENTATION_PACKAGE',
        'INFO  Found and unpacked corresponding EXAMPLE_PACKAGE',
        'INFO  Found and unpacked corresponding JAVA_PACKAGE',
        `INFO  Environment set-up generated in ${home}/ncsrc`,
        'INFO  NSO installation script finished',
        'INFO  NCS installation complete',
        '',
      ].join('\n'),
    );
    return 0;
  }

  private async ncsBackup({ argv, io, user }: CommandContext): Promise<number> {
    if (!argv.includes('--restore')) return this.createBackup(io);
    const operands = argv.slice(1).filter((arg) => !arg.startsWith('--'));
    const file = operands[0];
    const path = file === undefined ? [...this.backups.keys()].pop() : file.includes('/') ? VirtualFs.normalize(file, homeOf(user)) : `${BACKUPS}/${file}`;
    const backup = path === undefined ? undefined : this.backups.get(path);
    if (path === undefined || backup === undefined) {
      io.err(file === undefined ? `ERROR  no backup in ${BACKUPS}\n` : `ERROR  ${file}: no such backup\n`);
      return 1;
    }
    if (this.running) {
      io.err('ERROR  NSO is running; stop it first: /etc/init.d/ncs stop\n');
      return 1;
    }
    const installed = this.installedVersion();
    if (installed !== backup.version) {
      io.err(`ERROR  ${path} was made with NSO ${backup.version} but ${CURRENT} is NSO ${installed ?? 'missing'}; point ${CURRENT} at ncs-${backup.version} first\n`);
      return 1;
    }
    if (!argv.includes('--non-interactive') && !(await confirm(io, 'Restore /etc/ncs and /var/opt/ncs from backup? [y/n] '))) {
      io.out('INFO  Restore aborted\n');
      return 1;
    }
    this.restore(backup);
    io.out(`INFO  Restore /etc/ncs and /var/opt/ncs from ${path}\nINFO  Restore completed successfully (NSO ${backup.version})\n`);
    return 0;
  }

  /** A backup holds /etc/ncs and /var/opt/ncs (CDB, state, load path), not /opt/ncs (seed 002's caution). */
  private createBackup(io: CommandIo): number {
    const version = this.installedVersion() ?? this.runningVersion ?? 'unknown';
    const stamp = new Date(this.env.clock.now()).toISOString().slice(0, 19);
    const path = `${BACKUPS}/ncs-${version}@${stamp}.backup.gz`;
    const loadPath = (this.fs.list(LOAD_PATH) ?? []).map((name) => {
      const link = this.fs.readlink(`${LOAD_PATH}/${name}`);
      return link !== undefined ? { name, link } : { name, content: this.fs.readFile(`${LOAD_PATH}/${name}`) ?? '' };
    });
    this.fs.writeFile(path, '', 25_000_000 + (stableNumber(path) % 5_000_000));
    this.backups.delete(path);
    this.backups.set(path, { version, cdb: cloneCdb(this.cdb), ncsConf: this.ncsConf(), packagesInUse: [...this.packagesInUse], loadPath });
    io.out(`INFO  Backup ${path} created successfully\n`);
    return 0;
  }

  private restore(backup: Backup): void {
    this.cdb = cloneCdb(backup.cdb);
    this.writeCdbFiles();
    this.fs.writeFile(NCS_CONF, backup.ncsConf);
    this.packagesInUse = [...backup.packagesInUse];
    this.replaceLoadPath(backup.loadPath);
    this.queue = [];
  }

  private replaceLoadPath(entries: Backup['loadPath']): void {
    for (const name of this.fs.list(LOAD_PATH) ?? []) this.fs.remove(`${LOAD_PATH}/${name}`);
    this.fs.mkdir(LOAD_PATH);
    for (const entry of entries) {
      if (entry.link !== undefined) this.fs.symlink(entry.link, `${LOAD_PATH}/${entry.name}`);
      else this.fs.writeFile(`${LOAD_PATH}/${entry.name}`, entry.content ?? '', 30_000_000);
    }
  }

  private async ncsCli({ argv, io }: CommandContext): Promise<number> {
    let command: string | undefined;
    for (let index = 1; index < argv.length; index++) {
      const arg = argv[index] as string;
      if (arg === '-c' || arg === '--cmd') command = argv[++index];
      else if (arg === '-u' || arg === '-g') index++;
      else if (!['-C', '-J', '--noaaa', '-n', '--noninteractive'].includes(arg)) {
        io.err(`ncs_cli: unknown option ${arg}\n`);
        return EXIT_USAGE;
      }
    }
    if (!this.isUp()) {
      io.err('Failed to connect to server\n');
      return 1;
    }
    if (command !== undefined) return this.cliCommand(command, io);
    return this.cliScript(io);
  }

  /** Commands piped to `ncs_cli -C`, one a line, configuration mode included. Exit 1 when one failed. */
  private async cliScript(io: CommandIo): Promise<number> {
    let failed = false;
    let staged: StagedChanges | undefined;
    for (;;) {
      const line = (await io.ask(''))?.trim();
      if (line === undefined) break;
      if (line === '' || line.startsWith('!')) continue;
      if (staged === undefined) {
        if (/^config(ure)?( terminal)?$/.test(line)) {
          staged = createStagedChanges();
          io.out('Entering configuration mode terminal\n');
        } else failed = (await this.cliCommand(line, io)) !== 0 || failed;
        continue;
      }
      const words = splitWords(line);
      if (words[0] === 'commit') {
        failed = !this.commit(staged, words.slice(1).join(' '), io) || failed;
        staged = createStagedChanges();
      } else if (['end', 'exit', 'abort'].includes(line)) staged = undefined;
      else if (line !== 'top') {
        const problem = stageLine(staged, words);
        if (problem) {
          io.err(`${problem}\n`);
          failed = true;
        }
      }
    }
    return failed ? 1 : 0;
  }

  /** Why this node refuses writes now, if it does. */
  private writeRefusal(): string | undefined {
    const mode = this.haMode();
    if (this.ha.enabled && mode === 'secondary') return `Aborted: this node is an HA secondary of ${this.connectedTo?.name ?? this.ha.primaryId}; write to the primary`;
    if (this.ha.enabled && mode === 'none') return 'Aborted: high-availability is enabled and this node has no role (none)';
    if (this.ha.readOnly) return 'Aborted: the node is in high-availability read-only mode';
    return undefined;
  }

  private commit(staged: StagedChanges, flags: string, io: CommandIo): boolean {
    if (flags !== '' && flags !== 'commit-queue async') {
      io.err(`syntax error: commit ${flags}: the lab knows commit and commit commit-queue async\n`);
      return false;
    }
    const refusal = this.writeRefusal() ?? (flags !== '' && this.queueClosed ? 'Aborted: the commit queue is being drained for a package upgrade' : undefined);
    if (refusal) {
      io.err(`${refusal}\n`);
      return false;
    }
    if (!applyCommit(this.cdb, staged, `${this.name}-${++this.commitCount}`)) {
      io.out('% No modifications to commit.\n');
      return true;
    }
    this.writeCdbFiles();
    if (flags !== '') io.out(`commit-queue-id ${this.enqueue()}\n`);
    io.out('Commit complete.\n');
    return true;
  }

  private enqueue(): string {
    const item = { id: String(this.env.clock.now() * 10 + this.queue.length) };
    this.queue.push(item);
    this.env.timers.after(this.options.commitQueueItemMs, () => {
      this.queue = this.queue.filter((queued) => queued !== item);
      if (this.queue.length === 0) for (const resolve of this.queueDrained.splice(0)) resolve();
    });
    return item.id;
  }

  private waitForEmptyQueue(): Promise<void> {
    return this.queue.length === 0 ? Promise.resolve() : new Promise((resolve) => this.queueDrained.push(resolve));
  }

  /** One operational-mode command of the NSO CLI. */
  private async cliCommand(command: string, io: CommandIo): Promise<number> {
    const [text, display] = command.split('|').map((part) => part.trim());
    const words = splitWords(text ?? '');
    const json = display !== undefined && /^display\s+json$/.test(display);
    if (display !== undefined && !json) {
      io.err('syntax error: the lab only supports "| display json"\n');
      return 1;
    }
    const phrase = words.join(' ');
    const syntaxError = (): number => {
      io.err(`${'-'.repeat(Math.max(0, (text ?? '').length))}^\nsyntax error: unknown command\n`);
      return 1;
    };
    if (/^config(ure)?\b/.test(phrase)) {
      io.err('the lab enters configuration mode from a script piped to ncs_cli -C, not from -c\n');
      return 1;
    }
    if (phrase === 'show high-availability' || phrase === 'show high-availability status') {
      io.out(json ? `${JSON.stringify({ data: { 'tailf-ncs:high-availability': this.haJson() } }, null, 2)}\n` : this.haText());
      return 0;
    }
    if (phrase === 'show ncs-state version') {
      io.out(json ? `${JSON.stringify({ data: { 'tailf-ncs-monitoring:ncs-state': { version: this.runningVersion } } }, null, 2)}\n` : `ncs-state version ${this.runningVersion}\n`);
      return 0;
    }
    if (words[0] === 'show' && words[1] === 'running-config') {
      io.out(formatRunningConfig(this.cdb, words.slice(2)));
      return 0;
    }
    if (phrase === 'show devices commit-queue') {
      io.out(this.queue.length === 0 ? '% No entries found.\n' : this.queue.map((item) => `devices commit-queue queue-item ${item.id} status executing\n`).join(''));
      return 0;
    }
    if (phrase === 'show packages package oper-status') {
      for (const entry of this.packagesInUse) {
        const { status, info } = operStatusOf(entry, this.runningVersion ?? '');
        io.out(`packages package ${entry.name} oper-status ${status}${info ? ` error-info "${info}"` : ''}\n`);
      }
      return 0;
    }
    if (phrase === 'show packages package package-version') {
      for (const entry of [...this.packagesInUse].sort((a, b) => a.name.localeCompare(b.name))) io.out(`packages package ${entry.name} package-version ${entry.version}\n`);
      return 0;
    }
    if (words[0] === 'software' && words[1] === 'packages') return this.softwarePackages(words.slice(2), io) ?? syntaxError();
    if (words[0] === 'packages') return (await this.packagesAction(words.slice(1), io)) ?? syntaxError();
    if (words[0] !== 'high-availability') return syntaxError();
    return this.haAction(words.slice(1), io) ?? syntaxError();
  }

  /** `software packages list | fetch package-from-file FILE | install package NAME [replace-existing]` (seed 002, "Package Upgrade"). */
  private softwarePackages(words: string[], io: CommandIo): number | undefined {
    const [action, ...args] = words;
    if (action === 'list' && args.length === 0) {
      const inUse = new Set(this.packagesInUse.map((p) => p.file));
      for (const name of this.fs.list(STORE) ?? []) io.out(`package {\n  name ${name}\n${inUse.has(`${STORE}/${name}`) ? '  loaded\n' : ''}}\n`);
      return 0;
    }
    if (action === 'fetch' && args[0] === 'package-from-file' && args.length === 2) {
      const source = this.fs.stat(args[1] as string);
      if (source?.kind !== 'file') {
        io.err(`Error: failed to fetch ${args[1]}: No such file or directory\n`);
        return 1;
      }
      this.fs.writeFile(`${STORE}/${posix.basename(args[1] as string)}`, source.content, source.size);
      return 0;
    }
    if (action === 'install' && args[0] === 'package' && args[1] !== undefined && (args.length === 2 || (args.length === 3 && args[2] === 'replace-existing'))) {
      return this.installPackage(args[1], args[2] === 'replace-existing', io);
    }
    return undefined;
  }

  /** Links a package of the store into the load path; another version of it stays unless replace-existing. */
  private installPackage(name: string, replace: boolean, io: CommandIo): number {
    const branch = branchOf(this.runningVersion ?? '');
    const candidates = [name, `${name}.tar.gz`, `ncs-${branch}-${name}`, `ncs-${branch}-${name}.tar.gz`];
    const entry = candidates.find((candidate) => this.fs.stat(`${STORE}/${candidate}`)?.kind === 'file');
    const meta = entry === undefined ? undefined : parsePackageMeta(this.fs.readFile(`${STORE}/${entry}`) ?? '');
    if (entry === undefined || meta === undefined) {
      io.err(`Error: package ${name} not found in ${STORE}\n`);
      return 1;
    }
    const installed = this.readLoadPath().packages.find((p) => p.name === meta.name);
    const installedEntry = (this.fs.list(LOAD_PATH) ?? []).find((n) => this.fs.realpath(`${LOAD_PATH}/${n}`) === installed?.file);
    if (installed !== undefined && installedEntry !== undefined && installed.file !== `${STORE}/${entry}`) {
      if (!replace) {
        io.err(`Error: package ${meta.name} is already installed (${installedEntry}); add replace-existing to replace it\n`);
        return 1;
      }
      this.fs.remove(`${LOAD_PATH}/${installedEntry}`);
    }
    this.fs.symlink(`${STORE}/${entry}`, `${LOAD_PATH}/${entry}`);
    io.out(`installed ${entry}\n`);
    return 0;
  }

  /** `packages reload [force]`, `packages ha sync and-reload|and-add [{ wait-commit-queue-empty }]`. */
  private async packagesAction(words: string[], io: CommandIo): Promise<number | undefined> {
    const phrase = words.join(' ');
    if (phrase === 'reload' || phrase === 'reload force') return this.reloadPackages(phrase === 'reload force', io);
    const sync = /^ha sync (and-reload|and-add)( \{ ?wait-commit-queue-empty ?\}| wait-commit-queue-empty)?$/.exec(phrase);
    if (sync) return this.haSync(sync[1] === 'and-add', sync[2] !== undefined, io);
    return undefined;
  }

  private reloadPackages(force: boolean, io: CommandIo): number {
    const { packages, unreadable } = this.readLoadPath();
    if (unreadable.length > 0) {
      io.err(`Error: cannot load packages from ${LOAD_PATH}: ${unreadable.join(', ')}: not a package\n`);
      return 1;
    }
    const names = new Set(packages.map((p) => p.name));
    const removed = this.packagesInUse.filter((p) => !names.has(p.name)).map((p) => p.name);
    if (removed.length > 0 && !force) {
      io.err(`Error: the reload would remove ${removed.join(', ')} and delete their data; put them back in ${LOAD_PATH}, or use 'packages reload force'\n`);
      return 1;
    }
    io.out(`${SYSTEM_UPGRADE.join('\n')}\n`);
    return this.load(packages, io) ? 0 : 1;
  }

  /** Loads a package set and prints a reload-result per package; false when one is not up. */
  private load(packages: LoadedPackage[], io: CommandIo): boolean {
    this.packagesInUse = packages;
    let ok = true;
    for (const entry of packages) {
      const { status, info } = operStatusOf(entry, this.runningVersion ?? '');
      ok &&= status === 'up';
      io.out(`reload-result {\n    package ${entry.name}\n    result ${status === 'up'}\n${info ? `    info ${info}\n` : ''}}\n`);
    }
    return ok;
  }

  /**
   * `packages ha sync and-reload` (seed 002, "Package Upgrade"): on the primary, read-only while it runs;
   * optionally waits for an empty commit queue; copies the primary's packages to the connected secondaries
   * as archives, then reloads them all. On success the primary gets its mode back; on an error it is left
   * read-write, as the seed warns.
   */
  private async haSync(addOnly: boolean, waitForQueue: boolean, io: CommandIo): Promise<number> {
    if (this.haMode() !== 'primary') {
      io.err(`Error: packages ha sync runs on the primary node; ${this.name} is ${this.haMode()}\n`);
      return 1;
    }
    const secondaries = this.cluster.secondariesOf(this);
    const mismatch = secondaries.find((node) => loadPathOf(node.ncsConf()) !== loadPathOf(this.ncsConf()));
    if (mismatch) {
      io.err(`Error: the load path differs: ${loadPathOf(this.ncsConf())} on ${this.name}, ${loadPathOf(mismatch.ncsConf())} on ${mismatch.name}; the distribution did not start\n`);
      return 1;
    }
    const readOnlyBefore = this.ha.readOnly;
    this.ha.readOnly = true;
    const fail = (message: string): number => {
      this.ha.readOnly = false;
      io.err(`Error: ${message}\n`);
      return 1;
    };
    if (waitForQueue) {
      this.queueClosed = true;
      await this.waitForEmptyQueue();
      this.queueClosed = false;
    } else if (this.queue.length > 0) {
      return fail(`the commit queue holds ${this.queue.length} item(s) that rely on the old schema; wait for it to empty (wait-commit-queue-empty)`);
    }
    const { packages } = this.readLoadPath();
    if (addOnly) {
      const before = new Map(this.packagesInUse.map((p) => [p.name, p.version]));
      const changed = packages.filter((p) => before.has(p.name) && before.get(p.name) !== p.version).map((p) => p.name);
      if (changed.length > 0 || packages.length < before.size) return fail(`and-add only adds packages; changed or removed: ${changed.join(', ') || 'a package'}; use and-reload`);
    }
    for (const node of secondaries) {
      node.receivePackages(packages.map((p) => ({ name: posix.basename(p.file).replace(/(\.tar\.gz)?$/, '.tar.gz'), content: this.fs.readFile(p.file) ?? '' })));
      io.out(`sync-result {\n    node ${node.name}\n    result true\n}\n`);
    }
    io.out(`${SYSTEM_UPGRADE.join('\n')}\n`);
    const ok = [this, ...secondaries].map((node) => node.load(node.readLoadPath().packages, node === this ? io : silent(io))).every(Boolean);
    if (!ok) return fail('package reload failed; see the reload-result above');
    this.ha.readOnly = readOnlyBefore;
    return 0;
  }

  /** Packages distributed by the primary: the load path holds exactly these archives now. */
  receivePackages(archives: Array<{ name: string; content: string }>): void {
    this.replaceLoadPath(archives);
  }

  /** An HA action; undefined when the words are not one. */
  private haAction(words: string[], io: CommandIo): number | undefined {
    const [action, ...args] = words;
    if (this.identity.nominalRole === 'none' && action !== 'read-only') {
      io.err('Error: high-availability is not enabled in ncs.conf\n');
      return 1;
    }
    const requireEnabled = (): boolean => {
      if (!this.ha.enabled) io.err('Error: high-availability is not enabled\n');
      return this.ha.enabled;
    };
    switch (action) {
      case 'read-only':
        if (args[0] !== 'mode' || (args[1] !== 'true' && args[1] !== 'false')) return undefined;
        this.ha = { ...this.ha, readOnly: args[1] === 'true' };
        return 0;
      case 'disable':
        // Current releases end read-only mode when HA is disabled (seed 002 notes older ones did not).
        this.ha = { ...HA_DISABLED };
        this.connectedTo = undefined;
        return 0;
      case 'enable':
        if (this.ha.enabled) return 0;
        this.ha = {
          ...this.ha,
          enabled: true,
          assigned: this.identity.nominalRole,
          primaryId: this.identity.nominalRole === 'secondary' ? this.cluster.nominalPrimary()?.name : undefined,
        };
        return 0;
      case 'be-primary':
        if (!requireEnabled()) return 1;
        this.ha = { ...this.ha, assigned: 'primary', primaryId: undefined };
        return 0;
      case 'be-secondary-to':
        return this.beSecondaryTo(args, io, requireEnabled);
      default:
        return undefined;
    }
  }

  private beSecondaryTo(args: string[], io: CommandIo, requireEnabled: () => boolean): number | undefined {
    if (args[0] !== 'node' || args[1] === undefined) return undefined;
    if (!requireEnabled()) return 1;
    const target = this.cluster.find(args[1]);
    if (target === undefined || target === this) {
      io.err(`Error: unknown ha-node ${args[1]}\n`);
      return 1;
    }
    this.ha = { ...this.ha, assigned: 'secondary', primaryId: target.name };
    if (this.cluster.primaryOf(this) !== target) {
      io.err(`Error: failed to connect to primary ${target.name}: ${this.connectionProblem(target)}\n`);
      return 1;
    }
    return 0;
  }

  private connectionProblem(target: NsoNode): string {
    if (!target.isUp() || !target.ha.enabled) return 'high-availability is not enabled there';
    if (target.ha.assigned !== 'primary') return 'it is not primary';
    if (target.runningVersion !== this.runningVersion) return `version mismatch (${target.runningVersion} there, ${this.runningVersion} here)`;
    return `package mismatch (${describePackageSet(target.packagesInUse).join(', ')} there, ${describePackageSet(this.packagesInUse).join(', ')} here)`;
  }

  private haJson(): Record<string, unknown> {
    const mode = this.haMode();
    const status: Record<string, unknown> = {
      mode,
      'current-id': this.env.name,
      'assigned-role': this.ha.assigned,
      'read-only-mode': this.ha.readOnly,
    };
    if (mode === 'secondary') status['primary-id'] = this.cluster.primaryOf(this)?.name;
    if (mode === 'primary') {
      status['connected-secondary'] = this.cluster.secondariesOf(this).map((node) => ({ id: node.name, address: node.env.address }));
    }
    return { enabled: this.ha.enabled, status };
  }

  private haText(): string {
    const json = this.haJson();
    const status = json.status as Record<string, unknown>;
    const lines = [`high-availability ${json.enabled ? 'enabled' : 'disabled'}`];
    for (const key of ['mode', 'current-id', 'assigned-role', 'read-only-mode', 'primary-id']) {
      if (status[key] !== undefined) lines.push(`high-availability status ${key} ${String(status[key])}`);
    }
    for (const secondary of (status['connected-secondary'] ?? []) as Array<{ id: string; address: string }>) {
      lines.push(`high-availability status connected-secondary ${secondary.id} address ${secondary.address}`);
    }
    return `${lines.join('\n')}\n`;
  }
}

/** The output of a secondary's part of an HA action is not the caller's. */
function silent(io: CommandIo): CommandIo {
  return { ...io, out: () => {}, err: () => {} };
}

function loadPathOf(ncsConf: string): string {
  const block = /<load-path>([\s\S]*?)<\/load-path>/.exec(ncsConf)?.[1] ?? '';
  return [...block.matchAll(/<dir>([^<]*)<\/dir>/g)].map((match) => match[1]).join(':');
}

/** The oldest release whose data `version` upgrades directly: the lab's rule, stated in each release's CHANGES. */
function oldestDirectUpgrade(version: string): string {
  return `${Math.max(0, Number(version.split('.')[0]) - 1)}.0`;
}

function hexKey(seed: string, bytes: number): string {
  let hex = '';
  for (let i = 0; hex.length < bytes * 2; i++) hex += stableNumber(`${seed}:${i}`).toString(16).padStart(8, '0');
  return hex.slice(0, bytes * 2);
}

/** ncs.conf of a System Install: the load path, the encryption keys of that release, HA on or off. */
function formatNcsConf(version: string, node: string, ha: boolean): string {
  const aes256 = compareDottedVersions(version, AES256_SINCE) >= 0 ? [`    <AES256CFB128>`, `      <key>${hexKey(`${node}:aes256`, 32)}</key>`, `    </AES256CFB128>`] : [];
  return [
    '<ncs-config xmlns="http://tail-f.com/yang/tailf-ncs-config">',
    '  <load-path>',
    `    <dir>${LOAD_PATH}</dir>`,
    '  </load-path>',
    '  <encrypted-strings>',
    '    <DES3CBC>',
    `      <key1>${hexKey(`${node}:des1`, 8)}</key1>`,
    `      <key2>${hexKey(`${node}:des2`, 8)}</key2>`,
    `      <key3>${hexKey(`${node}:des3`, 8)}</key3>`,
    `      <initVector>${hexKey(`${node}:iv`, 8)}</initVector>`,
    '    </DES3CBC>',
    '    <AESCFB128>',
    `      <key>${hexKey(`${node}:aes128`, 16)}</key>`,
    '    </AESCFB128>',
    ...aes256,
    '  </encrypted-strings>',
    `  <ha><enabled>${ha}</enabled></ha>`,
    '</ncs-config>',
    '',
  ].join('\n');
}

/** The CHANGES file of a release: what its upgrade notes tell an operator to prepare. */
function formatChanges(version: string): string {
  const notes = [
    `- Within NSO ${branchOf(version)} (a maintenance upgrade) packages keep working as they are.`,
    `- From an earlier branch (a major upgrade) every package must be rebuilt for NSO ${branchOf(version)}.`,
    `- Data is upgraded directly from NSO ${oldestDirectUpgrade(version)} and later; upgrade older releases to an intermediate release first.`,
    ...(compareDottedVersions(version, AES256_SINCE) >= 0 ? ['- ncs.conf must hold an AES256CFB128 key (/ncs-config/encrypted-strings); generate one with `openssl rand -hex 32`.'] : []),
  ];
  return [`NSO ${version}`, '='.repeat(4 + version.length), '', `Release notes for NSO ${version}.`, '', 'Upgrading', ...notes, ''].join('\n');
}

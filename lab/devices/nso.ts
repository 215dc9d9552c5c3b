import { posix } from 'node:path';
import type { DeviceEnv, SimulatedDevice } from '../device.js';
import { stableNumber } from '../format.js';
import { splitWords } from '../command-line.js';
import { confirm, EXIT_NOT_FOUND, EXIT_USAGE, type CommandContext, type CommandIo, type CommandTable } from '../shell.js';
import { VirtualFs } from '../vfs.js';
import { createLinuxCommands, homeOf, runLinuxLine } from './linux.js';

export interface NsoOptions {
  /** The version installed and running at start. */
  version: string;
  /** Versions whose installers wait in /tmp as nso-<v>.linux.x86_64.installer.bin. */
  installers: readonly string[];
  /** Releases (major.minor) for which packages are built, in /opt/ncs/packages/nso-<major.minor>. */
  packageReleases: readonly string[];
  /** Free space that `df` reports on /; each install takes 1 500 000 KB of it. */
  diskAvailableKb: number;
}

export type HaRole = 'primary' | 'secondary';
type HaMode = HaRole | 'none';

const INSTALL_SIZE_KB = 1_500_000;
const DISK_TOTAL_KB = 52_403_200;
const NCS_DIR = '/opt/ncs';
const CURRENT = `${NCS_DIR}/current`;
const PACKAGES = '/var/opt/ncs/packages';
const BACKUPS = '/var/opt/ncs/backups';
const INSTALLER_NAME = /(?:^|\/)nso-(\d+\.\d+(?:\.\d+)*)\.linux\.x86_64\.installer\.bin$/;
const PACKAGE_NAMES = [
  { name: 'cisco-ios-cli-6.100', version: '6.100.2', description: 'NED package for Cisco IOS' },
  { name: 'cisco-iosxr-cli-7.52', version: '7.52.1', description: 'NED package for Cisco IOS XR' },
  { name: 'resource-manager', version: '4.2.9', description: 'Resource allocation for services' },
];

interface Backup {
  version: string;
  current: string;
  packages: string;
}

interface HaState {
  enabled: boolean;
  assigned: HaMode;
  /** For a secondary: the node it follows. */
  primaryId: string | undefined;
  readOnly: boolean;
}

const HA_DISABLED: HaState = { enabled: false, assigned: 'none', primaryId: undefined, readOnly: false };

const majorMinor = (version: string): string => version.split('.').slice(0, 2).join('.');

/** The two controllers of the pair; each asks it about the other to show HA connectivity. */
export class NsoPair {
  private readonly nodes: NsoNode[] = [];

  add(node: NsoNode): void {
    this.nodes.push(node);
  }

  find(name: string): NsoNode | undefined {
    return this.nodes.find((node) => node.name === name);
  }

  /** The node configured as primary (`nominal-role primary`). */
  nominalPrimary(): NsoNode | undefined {
    return this.nodes.find((node) => node.nominalRole === 'primary');
  }

  secondariesOf(primary: NsoNode): NsoNode[] {
    return this.nodes.filter((node) => node !== primary && node.followedPrimary() === primary);
  }
}

/** A Cisco NSO system install: init script, installer, backups, packages, and rule-based HA. */
export class NsoNode implements SimulatedDevice {
  readonly platform = 'nso';
  private readonly fs: VirtualFs;
  private readonly commands: CommandTable;
  private running = true;
  private runningVersion: string | undefined;
  /** The package folder NSO last loaded (resolved), what `start` keeps and a reload replaces. */
  private loadedPackages: string;
  private ha: HaState;
  private diskAvailableKb: number;
  private readonly backups = new Map<string, Backup>();

  constructor(
    private readonly env: DeviceEnv,
    private readonly pair: NsoPair,
    readonly nominalRole: HaRole,
    options: NsoOptions,
  ) {
    this.diskAvailableKb = options.diskAvailableKb;
    this.fs = new VirtualFs(env.clock);
    this.fs.mkdir(homeOf(env.user));
    this.fs.mkdir(BACKUPS);
    this.fs.writeFile('/etc/ncs/ncs.conf', `<ncs-config xmlns="http://tail-f.com/yang/tailf-ncs-config">\n  <ha><enabled>true</enabled></ha>\n</ncs-config>\n`);
    this.fs.writeFile('/etc/init.d/ncs', '#!/bin/sh\n# NSO init script\n');
    this.writeInstallation(options.version);
    this.fs.symlink(`${NCS_DIR}/ncs-${options.version}`, CURRENT);
    for (const version of options.installers) {
      this.fs.writeFile(`/tmp/nso-${version}.linux.x86_64.installer.bin`, '', 900_000_000 + (stableNumber(version) % 100_000_000));
    }
    for (const release of options.packageReleases) this.writePackages(release);
    this.fs.symlink(`${NCS_DIR}/packages/nso-${majorMinor(options.version)}`, PACKAGES);
    this.loadedPackages = this.fs.realpath(PACKAGES) ?? PACKAGES;
    this.runningVersion = options.version;
    // The pair starts converged: HA enabled in the nominal roles, the secondary following the primary.
    this.ha = {
      ...HA_DISABLED,
      enabled: true,
      assigned: nominalRole,
      primaryId: nominalRole === 'secondary' ? pair.nominalPrimary()?.name : undefined,
    };
    pair.add(this);
    this.commands = {
      ...createLinuxCommands({
        fs: this.fs,
        clock: env.clock,
        hostname: () => env.name,
        bootTime: () => env.power.upSince,
        disk: () => ({ filesystem: '/dev/sda1', mount: '/', totalKb: DISK_TOTAL_KB, availableKb: this.diskAvailableKb }),
      }),
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

  run(line: string, user: string, io: CommandIo): Promise<number> {
    return runLinuxLine(line, this.commands, this.fs, user, io);
  }

  state(): Record<string, unknown> {
    return {
      running: this.running,
      runningVersion: this.running ? (this.runningVersion ?? null) : null,
      installedVersion: this.installedVersion() ?? null,
      current: this.fs.readlink(CURRENT) ?? null,
      packages: this.fs.realpath(PACKAGES) ?? null,
      ha: { ...this.ha, mode: this.haMode() },
      backups: [...this.backups.keys()],
      diskAvailableKb: this.diskAvailableKb,
    };
  }

  /** The primary this node is connected to as a secondary, if any. */
  followedPrimary(): NsoNode | undefined {
    if (!this.running || !this.ha.enabled || this.ha.assigned !== 'secondary' || this.ha.primaryId === undefined) return undefined;
    const primary = this.pair.find(this.ha.primaryId);
    const connected =
      primary !== undefined &&
      primary.running &&
      primary.ha.enabled &&
      primary.ha.assigned === 'primary' &&
      primary.runningVersion === this.runningVersion;
    return connected ? primary : undefined;
  }

  private haMode(): HaMode {
    if (!this.running || !this.ha.enabled) return 'none';
    if (this.ha.assigned === 'secondary') return this.followedPrimary() ? 'secondary' : 'none';
    return this.ha.assigned;
  }

  private boot(): void {
    // The init script is enabled at boot; HA waits for an operator, as after any start.
    this.running = false;
    this.startNcs(false);
  }

  private installedVersion(): string | undefined {
    const home = this.fs.realpath(CURRENT);
    const changes = home === undefined ? undefined : this.fs.readFile(`${home}/CHANGES`);
    return changes === undefined ? undefined : /^NSO (\S+)/.exec(changes)?.[1];
  }

  private writeInstallation(version: string): void {
    const home = `${NCS_DIR}/ncs-${version}`;
    this.fs.writeFile(`${home}/CHANGES`, `NSO ${version}\n${'='.repeat(4 + version.length)}\n\nRelease notes for NSO ${version}.\n`);
    this.fs.writeFile(`${home}/bin/ncs`, '', 42_000_000);
    this.fs.writeFile(`${home}/ncsrc`, `export NCS_DIR=${home}\n`);
  }

  private writePackages(release: string): void {
    for (const entry of PACKAGE_NAMES) {
      this.fs.writeFile(
        `${NCS_DIR}/packages/nso-${release}/${entry.name}/package-meta-data.xml`,
        [
          '<ncs-package xmlns="http://tail-f.com/ns/ncs-packages">',
          `  <name>${entry.name}</name>`,
          `  <package-version>${entry.version}</package-version>`,
          `  <description>${entry.description}</description>`,
          `  <ncs-min-version>${release}</ncs-min-version>`,
          '</ncs-package>',
          '',
        ].join('\n'),
      );
    }
  }

  /** Packages load only on the release they were built for (their ncs-min-version). */
  private packageStatus(): Array<{ name: string; status: string; info: string }> {
    const running = majorMinor(this.runningVersion ?? '');
    return (this.fs.list(this.loadedPackages) ?? []).map((name) => {
      const meta = this.fs.readFile(`${this.loadedPackages}/${name}/package-meta-data.xml`) ?? '';
      const built = /<ncs-min-version>([^<]+)</.exec(meta)?.[1] ?? '';
      if (built === running) return { name, status: 'up', info: '' };
      const newer = built.localeCompare(running, undefined, { numeric: true }) > 0;
      return {
        name,
        status: newer ? 'bad-ncs-version' : 'file-load-error',
        info: `package built for NSO ${built}, running ${this.runningVersion}`,
      };
    });
  }

  private startNcs(reloadPackages: boolean): string | undefined {
    const version = this.installedVersion();
    if (version === undefined) return `${CURRENT}/bin/ncs: No such file or directory`;
    this.running = true;
    this.runningVersion = version;
    this.ha = HA_DISABLED;
    if (reloadPackages) this.loadedPackages = this.fs.realpath(PACKAGES) ?? PACKAGES;
    return undefined;
  }

  private initScript(action: string | undefined, io: CommandIo): number {
    switch (action) {
      case 'start':
      case 'start-with-package-reload':
      case 'restart': {
        if (action === 'restart') this.running = false;
        if (this.running) {
          io.out('Starting ncs: ncs is already running.\n');
          return 0;
        }
        const error = this.startNcs(action === 'start-with-package-reload');
        if (error) {
          io.err(`Starting ncs: ${error}\n`);
          return 1;
        }
        io.out('Starting ncs: .\n');
        return 0;
      }
      case 'stop':
        io.out(this.running ? 'Stopping ncs: .\n' : 'Stopping ncs: ncs is not running.\n');
        this.running = false;
        this.ha = HA_DISABLED;
        return 0;
      case 'status':
        if (this.running) {
          io.out(`ncs (pid ${1000 + (stableNumber(`${this.env.name}:${this.runningVersion}`) % 30000)}) is running...\n`);
          return 0;
        }
        io.out('ncs is stopped\n');
        return 3;
      default:
        io.err('Usage: /etc/init.d/ncs {start|stop|restart|status|start-with-package-reload}\n');
        return EXIT_USAGE;
    }
  }

  private ncs({ argv, io }: CommandContext): number {
    const version = this.installedVersion();
    if (version === undefined) {
      io.err('ncs: command not found\n');
      return EXIT_NOT_FOUND;
    }
    if (argv[1] === '--version') {
      io.out(`${version}\n`);
      return 0;
    }
    io.err('ncs: the lab only answers `ncs --version`; use /etc/init.d/ncs to start and stop\n');
    return 1;
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
    const restoreIndex = argv.indexOf('--restore');
    if (restoreIndex < 0) {
      const version = this.installedVersion() ?? this.runningVersion ?? 'unknown';
      const stamp = new Date(this.env.clock.now()).toISOString().slice(0, 19);
      const path = `${BACKUPS}/ncs-${version}@${stamp}.backup.gz`;
      this.fs.writeFile(path, '', 25_000_000 + (stableNumber(path) % 5_000_000));
      this.backups.set(path, { version, current: this.fs.readlink(CURRENT) ?? '', packages: this.fs.readlink(PACKAGES) ?? '' });
      io.out(`INFO  Backup ${path} created successfully\n`);
      return 0;
    }
    const file = argv[restoreIndex + 1];
    if (file === undefined) {
      io.err('ERROR  --restore needs a backup file\n');
      return EXIT_USAGE;
    }
    const path = file.includes('/') ? VirtualFs.normalize(file, homeOf(user)) : `${BACKUPS}/${file}`;
    const backup = this.backups.get(path);
    if (backup === undefined) {
      io.err(`ERROR  ${file}: no such backup\n`);
      return 1;
    }
    if (this.running) {
      io.err('ERROR  NSO is running; stop it first: /etc/init.d/ncs stop\n');
      return 1;
    }
    if (!argv.includes('--non-interactive')) {
      if (!(await confirm(io, 'Restore /etc/ncs, /var/opt/ncs and /opt/ncs/current from backup? [y/n] '))) {
        io.out('INFO  Restore aborted\n');
        return 1;
      }
    }
    if (backup.current) this.fs.symlink(backup.current, CURRENT);
    this.fs.symlink(backup.packages, PACKAGES);
    this.loadedPackages = this.fs.realpath(PACKAGES) ?? PACKAGES;
    io.out(`INFO  Restore /etc/ncs, /var/opt/ncs and /opt/ncs/current from ${path}\nINFO  Restore completed successfully (NSO ${backup.version})\n`);
    return 0;
  }

  private ncsCli({ argv, io }: CommandContext): number {
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
    if (command === undefined) {
      io.err("ncs_cli: the lab runs one command per call: ncs_cli -C -c 'COMMAND'\n");
      return EXIT_USAGE;
    }
    if (!this.running) {
      io.err('Failed to connect to server\n');
      return 1;
    }
    const [text, display] = command.split('|').map((part) => part.trim());
    const words = splitWords(text ?? '');
    const json = display !== undefined && /^display\s+json$/.test(display);
    if (display !== undefined && !json) {
      io.err(`syntax error: the lab only supports "| display json"\n`);
      return 1;
    }
    const syntaxError = (): number => {
      io.err(`${'-'.repeat(Math.max(0, (text ?? '').length))}^\nsyntax error: unknown command\n`);
      return 1;
    };
    const phrase = words.join(' ');
    if (phrase === 'show high-availability' || phrase === 'show high-availability status') {
      io.out(json ? `${JSON.stringify({ data: { 'tailf-ncs:high-availability': this.haJson() } }, null, 2)}\n` : this.haText());
      return 0;
    }
    if (phrase === 'show ncs-state version') {
      io.out(json ? `${JSON.stringify({ data: { 'tailf-ncs-monitoring:ncs-state': { version: this.runningVersion } } }, null, 2)}\n` : `ncs-state version ${this.runningVersion}\n`);
      return 0;
    }
    if (phrase === 'show packages package oper-status') {
      for (const entry of this.packageStatus()) {
        io.out(`packages package ${entry.name} oper-status ${entry.status}${entry.info ? ` error-info "${entry.info}"` : ''}\n`);
      }
      return 0;
    }
    if (phrase === 'packages reload') {
      this.loadedPackages = this.fs.realpath(PACKAGES) ?? PACKAGES;
      for (const entry of this.packageStatus()) {
        io.out(`reload-result {\n    package ${entry.name}\n    result ${entry.status === 'up'}\n${entry.info ? `    info ${entry.info}\n` : ''}}\n`);
      }
      return 0;
    }
    if (words[0] !== 'high-availability') return syntaxError();
    return this.haAction(words.slice(1), io) ?? syntaxError();
  }

  /** An HA action; undefined when the words are not one. */
  private haAction(words: string[], io: CommandIo): number | undefined {
    const [action, ...args] = words;
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
        this.ha = { ...HA_DISABLED, readOnly: this.ha.readOnly };
        return 0;
      case 'enable': {
        if (this.ha.enabled) return 0;
        const primary = this.pair.nominalPrimary();
        this.ha = {
          ...this.ha,
          enabled: true,
          assigned: this.nominalRole,
          primaryId: this.nominalRole === 'secondary' ? primary?.name : undefined,
        };
        return 0;
      }
      case 'be-primary':
        if (!requireEnabled()) return 1;
        this.ha = { ...this.ha, assigned: 'primary', primaryId: undefined };
        return 0;
      case 'be-secondary-to': {
        if (args[0] !== 'node' || args[1] === undefined) return undefined;
        if (!requireEnabled()) return 1;
        const target = this.pair.find(args[1]);
        if (target === undefined || target === this) {
          io.err(`Error: unknown ha-node ${args[1]}\n`);
          return 1;
        }
        this.ha = { ...this.ha, assigned: 'secondary', primaryId: target.name };
        if (this.followedPrimary() === undefined) {
          io.err(`Error: failed to connect to primary ${target.name}: ${this.connectionProblem(target)}\n`);
          return 1;
        }
        return 0;
      }
      default:
        return undefined;
    }
  }

  private connectionProblem(target: NsoNode): string {
    if (!target.running || !target.ha.enabled) return 'high-availability is not enabled there';
    if (target.ha.assigned !== 'primary') return 'it is not primary';
    return `version mismatch (${target.runningVersion} there, ${this.runningVersion} here)`;
  }

  private haJson(): Record<string, unknown> {
    const mode = this.haMode();
    const status: Record<string, unknown> = {
      mode,
      'current-id': this.env.name,
      'assigned-role': this.ha.assigned,
      'read-only-mode': this.ha.readOnly,
    };
    if (mode === 'secondary') status['primary-id'] = this.ha.primaryId;
    if (mode === 'primary') {
      status['connected-secondary'] = this.pair.secondariesOf(this).map((node) => ({ id: node.name, address: node.env.address }));
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
